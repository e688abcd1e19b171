-- sweep: release every holding of a session whose expiry has passed and close the session.
-- Atomic per session; a second sweeper (or a late repeat) finds nothing due and does nothing.
-- KEYS: 1 session, 2 account, 3 parent account (or 2 again), 4 live sessions of the account,
--       5 live sessions of the parent (or 4 again), 6 reservation-expiry zset, 7 event stream
-- ARGV[1]: msgpack request {sid, acct, parent, now, tomb_ttl}
local req = cmsgpack.unpack(ARGV[1])
local sess = load_session(KEYS[1])
if not sess or sess.tomb then
  redis.call('ZREM', KEYS[6], req.sid)
  return cmsgpack.pack({ outcome = 'OK', swept = false })
end
if sess.exp > req.now then
  -- not due yet (session.lua lets the score lag behind the expiry): move the score up
  redis.call('ZADD', KEYS[6], sess.exp, req.sid)
  sess.zexp = sess.exp
  save_session(KEYS[1], sess)
  return cmsgpack.pack({ outcome = 'OK', swept = false })
end
if sess.acct ~= req.acct or sess.par ~= req.parent then
  return cmsgpack.pack(outcome('STALE', { acct = sess.acct, parent = sess.par, sub = sess.sub }))
end
local acct = fetch(KEYS[2])
local parent = nil
if sess.par ~= '' then parent = fetch(KEYS[3]) end
local released = {}
if acct then
  local ctx = new_ctx(req.now, acct, parent)
  for rg, h in pairs(sess.holdings) do
    local units, money = release_hold(ctx, h)
    released[#released + 1] = { rg = rg, units = units, money = money }
  end
  finish_accounts(ctx, KEYS[2], KEYS[3])
end
local rn = sess.rn
emit(KEYS[7], { id = 'expired:' .. req.sid .. ':' .. string.format('%d', rn), type = 'session_expired',
  ts = req.now, cust = sess.cust, acct = sess.acct, sub = sess.sub, sess = req.sid, rn = rn,
  released = released, oh = sess.oh, orr = sess.orr, parent = sess.par })
save_tombstone(KEYS[1], rn, false, req.tomb_ttl)
redis.call('HDEL', KEYS[4], req.sid)
if sess.par ~= '' then redis.call('HDEL', KEYS[5], req.sid) end
redis.call('ZREM', KEYS[6], req.sid)
return cmsgpack.pack({ outcome = 'OK', swept = true, released = released })
