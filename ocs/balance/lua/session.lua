-- session: CCR-I/U/T. Commit each item's usage against its holding, release the rest, reserve
-- the next grant; terminate releases every holding and leaves a tombstone.
-- KEYS: 1 session, 2 account, 3 parent account (or the account again), 4 subscriber,
--       5 live sessions of the account, 6 live sessions of the parent (or 5 again),
--       7 reservation-expiry zset, 8 event stream
-- ARGV[1]: msgpack array (ocs/balance/store.py: _session_request)
--   1 session id, 2 request number, 3 'initial' | 'update' | 'terminate', 4 now (epoch ms),
--   5 account, 6 parent ('' if none), 7 subscriber, 8 origin host, 9 origin realm,
--   10 items, 11 event id, 12 tombstone ttl ms, 13 idle ttl ms
--   item: 1 rating group, 2 service id or false, 3 unit, 4 used, 5 requested,
--         6 tariff (packed {segments, counter}) or false, 7 validity ms, 8 grace ms, 9 reserve,
--         10 held only
-- ARGV[2]: the service information, a packed msgpack map: copied into the event as it is
local r = cmsgpack.unpack(ARGV[1])
local sid, rn, rt, now, want_acct, par, want_sub = r[1], r[2], r[3], r[4], r[5], r[6], r[7]
local sess = load_session(KEYS[1])
if sess then
  if sess.rn == rn and sess.reply then return session_answer(sess.reply, true) end
  if rt == 'initial' then return cmsgpack.pack(outcome('SESSION_EXISTS')) end
  if sess.tomb then return cmsgpack.pack(outcome('UNKNOWN_SESSION')) end
  if rn < sess.rn then return cmsgpack.pack(outcome('OUT_OF_SEQUENCE', { last = sess.rn })) end
  if sess.acct ~= want_acct or sess.par ~= par or sess.sub ~= want_sub then
    return cmsgpack.pack(outcome('STALE', { acct = sess.acct, parent = sess.par, sub = sess.sub }))
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
if sess and sess.subraw == sub_raw then
  sub_id, sub_status = sess.sub, sess.substatus
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
local holdings = sess and sess.holdings or {}
local terminate = rt == 'terminate'
local items, listed, released = {}, {}, {}
local blocked, final = false, false
for i, w in ipairs(r[10]) do
  local item = { rg = w[1], svc = w[2], unit = w[3], used = w[4], requested = w[5],
    tariff = w[6], validity = w[7], grace = w[8], reserve = w[9], held_only = w[10] }
  local key = item.rg
  listed[key] = true
  local hold = holdings[key]
  if hold then item.unit = hold.unit end
  local res = { rg = item.rg, svc = item.svc, unit = item.unit, outcome = 'OK', granted = 0,
    final = false, charged = {}, money_charged = 0, units_from_allowances = 0, unpaid = 0,
    used = 0, released = 0, released_money = 0, reserved = 0, reserved_money = 0,
    was_final = (hold and hold.final) or false, expires = false }
  if hold or (item.used > 0 and not item.held_only) then settle(ctx, hold, item.used, item, res) end
  holdings[key] = nil
  if item.reserve and not terminate and item.requested > 0 then
    if not active then
      res.outcome = 'DENIED'
      blocked = true
    else
      local h, granted, held, held_money = reserve(ctx, item)
      if h then
        h.exp = now + item.validity + item.grace
        h.final = granted < item.requested
        holdings[key] = h
        res.granted = granted
        res.final = h.final
        res.reserved = held
        res.reserved_money = held_money
        res.expires = h.exp
        final = final or h.final
      else
        res.outcome = 'NO_CREDIT'
        blocked = true
      end
    end
  end
  -- Final units used and nothing new granted: the gateway now redirects or restricts the
  -- subscriber (RFC 8506 5.6), so the session waits for a top-up like a refused one.
  if res.was_final and res.granted == 0 then blocked = true end
  items[i] = res
end
-- Holdings not reported in this request: released at terminate, or once expired.
for key, h in pairs(holdings) do
  if not listed[key] and (terminate or h.exp <= now) then
    local units, money = release_hold(ctx, h)
    released[#released + 1] = { key, units, money } -- rating group, units, money
    holdings[key] = nil
  end
end

local rows = {}
for i, res in ipairs(items) do rows[i] = item_row(res) end
local rows_packed = cmsgpack.pack(rows)
local tail = cmsgpack.pack(acct.buckets.money.balance) .. rows_packed
local balances, delta = changes(ctx)
local eid, oh, orr = r[11], r[8], r[9]
-- schema v2 (docs/events.md): an array of 18, packed in pieces; the item rows and the service
-- information are the bytes already packed for the answer and by the caller
redis.call('XADD', KEYS[8], '*', 'e', '\220\000\018' .. cmsgpack.pack(2, 'session', eid, now,
  acct.cust, acct.id, sub_id, par, sid, rn, rt, oh, orr) .. ARGV[2]
  .. cmsgpack.pack(balances, delta, released) .. rows_packed)
thresholds(ctx, KEYS[8], eid, { cust = acct.cust, sub = sub_id, sess = sid })
finish_accounts(ctx, KEYS[2], KEYS[3])

if terminate then
  save_tombstone(KEYS[1], rn, tail, r[12])
  redis.call('HDEL', KEYS[5], sid)
  if par ~= '' then redis.call('HDEL', KEYS[6], sid) end
  redis.call('ZREM', KEYS[7], sid)
else
  local exp = 0
  for _, h in pairs(holdings) do if h.exp > exp then exp = h.exp end end
  if exp == 0 then exp = now + r[13] end
  local s = sess or { sid = sid, acct = acct.id, par = par, sub = sub_id, cust = acct.cust,
    oh = oh, orr = orr, started = now }
  -- The expiry index may hold an earlier score than the session's expiry, never a later one:
  -- the sweeper re-checks the expiry (sweep.lua) and moves an early score up, so an early
  -- score costs one extra look while a late one would hold reservations past their expiry.
  -- The score moves when the expiry comes earlier, or later by more than the time left until
  -- the score is due (so a session in use is not looked at before half its validity is over).
  local z = s.zexp or 0
  if exp < z or exp - z > z - now then
    redis.call('ZADD', KEYS[7], exp, sid)
    z = exp
  end
  -- The live-session entry says what top-up and care need (who, which gateway, state); it is
  -- written when the state changes (its expiry is read from this record).
  local state = blocked and 'blocked' or (final and 'final' or 'ok')
  if state ~= s.live then
    local entry = live_entry(s, state)
    redis.call('HSET', KEYS[5], sid, entry)
    if par ~= '' then redis.call('HSET', KEYS[6], sid, entry) end
  end
  s.rn, s.reply, s.holdings, s.exp, s.zexp, s.live = rn, tail, holdings, exp, z, state
  s.subraw, s.substatus = sub_raw, sub_status
  save_session(KEYS[1], s)
end
return session_answer(tail, false)
