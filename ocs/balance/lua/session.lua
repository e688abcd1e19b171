-- session: CCR-I/U/T. Commit each item's usage against its holding, release the rest, reserve
-- the next grant; terminate releases every holding and leaves a tombstone.
-- KEYS: 1 session, 2 account, 3 parent account (or the account again), 4 subscriber,
--       5 live sessions of the account, 6 live sessions of the parent (or 5 again),
--       7 reservation-expiry zset, 8 event stream
-- ARGV[1]: msgpack request (see ocs/balance/codec.py: session_request)
local req = cmsgpack.unpack(ARGV[1])
local now = req.now
local sess = load_session(KEYS[1])
if sess then
  if sess.rn == req.rn and sess.reply then return session_answer(sess.reply, true) end
  if req.rt == 'initial' then return cmsgpack.pack(outcome('SESSION_EXISTS')) end
  if sess.tomb then return cmsgpack.pack(outcome('UNKNOWN_SESSION')) end
  if req.rn < sess.rn then return cmsgpack.pack(outcome('OUT_OF_SEQUENCE', { last = sess.rn })) end
  if sess.acct ~= req.acct or sess.par ~= req.parent or sess.sub ~= req.sub then
    return cmsgpack.pack(outcome('STALE', { acct = sess.acct, parent = sess.par, sub = sess.sub }))
  end
elseif req.rt ~= 'initial' then
  return cmsgpack.pack(outcome('UNKNOWN_SESSION'))
end

local acct, parent, refused = accounts(KEYS[2], KEYS[3], req.parent, req.sub)
if refused then return refused end
local par = req.parent
local sub = fetch(KEYS[4])
if not sub then return cmsgpack.pack(outcome('UNKNOWN_SUBSCRIBER')) end
if sub.acct ~= acct.id then
  return cmsgpack.pack(outcome('STALE', { acct = sub.acct, parent = '', sub = sub.id }))
end
local active = sub.status == 'active' and acct.status == 'active'
  and (parent == nil or parent.status == 'active')

local ctx = new_ctx(now, acct, parent)
local holdings = sess and sess.holdings or {}
local terminate = req.rt == 'terminate'
local items, listed, released = {}, {}, {}
local blocked, final = false, false
for i, item in ipairs(req.items) do
  local key = item.rg
  listed[key] = true
  local hold = holdings[key]
  if hold then item.unit = hold.unit end
  local res = { rg = item.rg, svc = item.svc, unit = item.unit, outcome = 'OK', granted = 0,
    final = false, charged = {}, money_charged = 0, units_from_allowances = 0, unpaid = 0,
    used = 0, released = 0, released_money = 0, reserved = 0, reserved_money = 0,
    was_final = (hold and hold.final) or false }
  if hold or (item.used > 0 and not item.held_only) then settle(ctx, hold, item.used, item, res) end
  holdings[key] = nil
  if item.reserve and not terminate and item.requested > 0 then
    if not active then
      res.outcome = 'DENIED'
      blocked = true
    else
      local h, granted = reserve(ctx, item)
      if h then
        h.exp = now + item.validity + item.grace
        h.final = granted < item.requested
        holdings[key] = h
        res.granted = granted
        res.final = h.final
        res.reserved = held_units(h, 'a')
        res.reserved_money = held_units(h, 'm')
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
    released[#released + 1] = { rg = key, units = units, money = money }
    holdings[key] = nil
  end
end

local rows = {}
for i, res in ipairs(items) do rows[i] = item_row(res) end
local tail = session_tail(acct.buckets.money.balance, rows)
local balances, delta = changes(ctx)
emit(KEYS[8], { id = req.eid, type = 'session', ts = now, cust = acct.cust, acct = acct.id,
  sub = sub.id, sess = req.sid, rn = req.rn, rt = req.rt, items = items, released = released,
  balances = balances, delta = delta, info = req.info, oh = req.oh, orr = req.orr,
  parent = par })
thresholds(ctx, KEYS[8], req.eid, { cust = acct.cust, sub = sub.id, sess = req.sid })
finish_accounts(ctx, KEYS[2], KEYS[3])

if terminate then
  save_tombstone(KEYS[1], req.rn, tail, req.tomb_ttl)
  redis.call('HDEL', KEYS[5], req.sid)
  if par ~= '' then redis.call('HDEL', KEYS[6], req.sid) end
  redis.call('ZREM', KEYS[7], req.sid)
else
  local exp = 0
  for _, h in pairs(holdings) do if h.exp > exp then exp = h.exp end end
  if exp == 0 then exp = now + req.idle end
  local s = sess or { sid = req.sid, acct = acct.id, par = par, sub = sub.id, cust = acct.cust,
    oh = req.oh, orr = req.orr, started = now }
  local state = blocked and 'blocked' or (final and 'final' or 'ok')
  s.rn, s.reply, s.holdings, s.exp, s.zexp, s.live = req.rn, tail, holdings, exp, exp, state
  save_session(KEYS[1], s)
  redis.call('ZADD', KEYS[7], exp, req.sid)
  local entry = live_entry(s, state)
  redis.call('HSET', KEYS[5], req.sid, entry)
  if par ~= '' then redis.call('HSET', KEYS[6], req.sid, entry) end
end
return session_answer(tail, false)
