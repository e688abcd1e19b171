-- session: CCR-I/U/T. Commit each item's usage against its holding, release the rest, reserve
-- the next grant; terminate releases every holding and leaves a tombstone.
-- KEYS: 1 session, 2 account, 3 parent account (or the account again), 4 subscriber,
--       5 live sessions of the account, 6 live sessions of the parent (or 5 again),
--       7 reservation-expiry zset, 8 event stream
-- ARGV[1]: the request, Q_* (items W_*); ARGV[2]: the service information, a packed msgpack
-- map, copied into the event as it is. Records are positional (Q_, W_, S_, H_, R_, E_):
-- ocs/balance/records.py declares them.
local r = cmsgpack.unpack(ARGV[1])
local sid, rn, rt, now, want_acct, par, want_sub =
  r[Q_SID], r[Q_RN], r[Q_TYPE], r[Q_NOW], r[Q_ACCT], r[Q_PARENT], r[Q_SUB]
local sess = load_session(KEYS[1])
if sess then
  -- a repeat of the last request gets its answer; a CCR-I naming another subscriber than the
  -- session's is a second session with the same Session-Id, never a repeat
  local same = not (rt == 'initial' and sess[S_SUB] and sess[S_SUB] ~= want_sub)
  if sess[S_RN] == rn and sess[S_REPLY] and same then
    return session_answer(sess[S_REPLY], true)
  end
  if rt == 'initial' then return cmsgpack.pack(outcome('SESSION_EXISTS')) end
  if sess[S_TOMB] then return cmsgpack.pack(outcome('UNKNOWN_SESSION')) end
  if rn < sess[S_RN] then
    return cmsgpack.pack(outcome('OUT_OF_SEQUENCE', { last = sess[S_RN] }))
  end
  if sess[S_ACCT] ~= want_acct or sess[S_PARENT] ~= par or sess[S_SUB] ~= want_sub then
    return cmsgpack.pack(outcome('STALE', { acct = sess[S_ACCT], parent = sess[S_PARENT],
      sub = sess[S_SUB] }))
  end
elseif rt ~= 'initial' then
  return cmsgpack.pack(outcome('UNKNOWN_SESSION'))
end

local acct, parent, refused = accounts(KEYS[2], KEYS[3], par, want_sub)
if refused then return refused end
-- The subscriber record as this session last checked it: the same bytes decode the same, so
-- only a changed record (a status change, a move) is unpacked again.
local sub_raw = redis.call('GET', KEYS[4])
if not sub_raw then return cmsgpack.pack(outcome('UNKNOWN_SUBSCRIBER')) end
local sub_id, sub_status
if sess and sess[S_SUB_RAW] == sub_raw then
  sub_id, sub_status = sess[S_SUB], sess[S_SUB_STATUS]
else
  local sub = cmsgpack.unpack(sub_raw)
  if sub.acct ~= acct.id then
    return cmsgpack.pack(outcome('STALE', { acct = sub.acct, parent = '', sub = sub.id }))
  end
  sub_id, sub_status = sub.id, sub.status
end
local active = sub_status == 'active' and acct.status == 'active'
  and (parent == nil or parent.status == 'active')

local ctx = new_ctx(now, acct, parent)
local holdings = sess and sess[S_HOLDINGS] or {}
local terminate = rt == 'terminate'
local items, listed, released = {}, {}, {}
local blocked, final = false, false
local request_items = r[Q_ITEMS]
for i = 1, #request_items do
  local w = request_items[i]
  local rg, unit, used, requested, tariff, zone =
    w[W_RG], w[W_UNIT], w[W_USED], w[W_REQUESTED], w[W_TARIFF], w[W_ZONE]
  listed[rg] = true
  local hold = holdings[rg]
  if hold then unit = hold[H_UNIT] end
  local was_final = (hold and hold[H_FINAL]) or false
  -- the item's row of the answer (R_*), filled in as it is settled and reserved
  local res = { rg, w[W_SVC], unit, 'OK', 0, {}, 0, 0, 0, 0, false, 0, 0, was_final, 0, 0, false }
  if hold or (used > 0 and not w[W_HELD_ONLY]) then
    -- usage is priced with the tariff it was granted under; the next grant with the item's
    -- (and in the zone it was granted in)
    local parts, priced_with, where = nil, tariff, zone
    if hold then
      parts, priced_with, where = hold[H_PARTS], hold[H_TARIFF], hold[H_ZONE] or zone
    end
    res[R_USED] = used
    res[R_UNITS_FROM_ALLOWANCES], res[R_MONEY_CHARGED], res[R_UNPAID], res[R_RELEASED],
      res[R_RELEASED_MONEY] = settle(ctx, parts, used, unit, rg, priced_with, res[R_CHARGED],
        where)
  end
  holdings[rg] = nil
  if w[W_RESERVE] and not terminate and requested > 0 then
    if not active then
      res[R_OUTCOME] = 'DENIED'
      blocked = true
    else
      local parts, granted, held, held_money = reserve(ctx, unit, rg, requested, tariff, zone)
      if granted > 0 then
        local exp = now + w[W_VALIDITY_MS] + w[W_GRACE_MS]
        local is_final = granted < requested
        holdings[rg] = { parts, granted, unit, tariff, w[W_SVC], exp, is_final, zone }
        res[R_GRANTED], res[R_FINAL], res[R_EXPIRES] = granted, is_final, exp
        res[R_RESERVED], res[R_RESERVED_MONEY] = held, held_money
        final = final or is_final
      else
        res[R_OUTCOME] = 'NO_CREDIT'
        blocked = true
      end
    end
  end
  -- Final units used and nothing new granted: the gateway now redirects or restricts the
  -- subscriber (RFC 8506 5.6), so the session waits for a top-up like a refused one.
  if was_final and res[R_GRANTED] == 0 then blocked = true end
  items[i] = res
end
-- Holdings not reported in this request: released at terminate, or once expired.
for rg, h in pairs(holdings) do
  if not listed[rg] and (terminate or h[H_EXPIRES] <= now) then
    local units, money = release_hold(ctx, h[H_PARTS], h[H_UNIT])
    released[#released + 1] = { rg, units, money }
    holdings[rg] = nil
  end
end

local rows_packed = cmsgpack.pack(items)
local tail = cmsgpack.pack(acct.buckets.money.balance) .. rows_packed
local balances, delta = changes(ctx)
local eid, oh, orr = r[Q_EVENT_ID], r[Q_ORIGIN_HOST], r[Q_ORIGIN_REALM]
-- schema v2 (docs/events.md, E_*): packed in pieces; the item rows and the service
-- information are the bytes already packed for the answer and by the caller
redis.call('XADD', KEYS[8], '*', 'e', array_header(E_COUNT) .. cmsgpack.pack(2, 'session', eid, now,
  acct.cust, acct.id, sub_id, par, sid, rn, rt, oh, orr) .. ARGV[2]
  .. cmsgpack.pack(balances, delta, released) .. rows_packed)
thresholds(ctx, KEYS[8], eid, { cust = acct.cust, sub = sub_id, sess = sid })
finish_accounts(ctx, KEYS[2], KEYS[3])

if terminate then
  save_tombstone(KEYS[1], rn, tail, r[Q_TOMBSTONE_MS], { acct.id, par, sub_id, acct.cust })
  redis.call('HDEL', KEYS[5], sid)
  if par ~= '' then redis.call('HDEL', KEYS[6], sid) end
  redis.call('ZREM', KEYS[7], sid)
else
  local exp = 0
  for _, h in pairs(holdings) do if h[H_EXPIRES] > exp then exp = h[H_EXPIRES] end end
  if exp == 0 then exp = now + r[Q_IDLE_MS] end
  local s = sess or { 2, rn, false, false, acct.id, par, sub_id, acct.cust, sid, oh, orr, now,
    exp, holdings, 0, '', false, false }
  -- The expiry index may hold an earlier score than the session's expiry, never a later one:
  -- the sweeper re-checks the expiry (sweep.lua) and moves an early score up, so an early
  -- score costs one extra look while a late one would hold reservations past their expiry.
  -- The score moves when the expiry comes earlier, or later by more than the time left until
  -- the score is due (so a session in use is not looked at before half its validity is over).
  local z = s[S_EXPIRY_SCORE]
  if exp < z or exp - z > z - now then
    redis.call('ZADD', KEYS[7], exp, sid)
    z = exp
  end
  -- The live-session entry says what top-up and care need (who, which gateway, state); it is
  -- written when the state changes (its expiry is read from this record).
  local state = blocked and 'blocked' or (final and 'final' or 'ok')
  if state ~= s[S_LIVE] then
    local entry = cmsgpack.pack({ sub = sub_id, oh = s[S_ORIGIN_HOST], orr = s[S_ORIGIN_REALM], state = state })
    redis.call('HSET', KEYS[5], sid, entry)
    if par ~= '' then redis.call('HSET', KEYS[6], sid, entry) end
  end
  s[S_RN], s[S_REPLY], s[S_EXPIRES], s[S_HOLDINGS], s[S_EXPIRY_SCORE], s[S_LIVE] =
    rn, tail, exp, holdings, z, state
  s[S_SUB_RAW], s[S_SUB_STATUS] = sub_raw, sub_status
  save_session(KEYS[1], s)
end
return session_answer(tail, false)
