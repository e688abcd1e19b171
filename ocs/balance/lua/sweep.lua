-- sweep: release every holding of a session whose expiry has passed and close the session.
-- Atomic per session; a second sweeper (or a late repeat) finds nothing due and does nothing.
-- KEYS: 1 session, 2 account, 3 parent account (or 2 again), 4 live sessions of the account,
--       5 live sessions of the parent (or 4 again), 6 reservation-expiry zset, 7 event stream
-- ARGV[1]: msgpack request {sid, acct, parent, now, tomb_ttl}
local req = cmsgpack.unpack(ARGV[1])
local sess = load_session(KEYS[1]) -- positional: S_* (_lib.lua)
if not sess or sess[S_TOMB] then
  redis.call('ZREM', KEYS[6], req.sid)
  return cmsgpack.pack({ outcome = 'OK', swept = false })
end
local exp, acct_id, par = sess[S_EXPIRES], sess[S_ACCT], sess[S_PARENT]
if exp > req.now then
  -- not due yet (session.lua lets the score lag behind the expiry): move the score up
  redis.call('ZADD', KEYS[6], exp, req.sid)
  sess[S_EXPIRY_SCORE] = exp
  save_session(KEYS[1], sess)
  return cmsgpack.pack({ outcome = 'OK', swept = false })
end
if acct_id ~= req.acct or par ~= req.parent then
  return cmsgpack.pack(outcome('STALE', { acct = acct_id, parent = par, sub = sess[S_SUB] }))
end
local acct = fetch(KEYS[2])
local parent = nil
if par ~= '' then parent = fetch(KEYS[3]) end
local released = {}
if acct then
  local ctx = new_ctx(req.now, acct, parent)
  for rg, h in pairs(sess[S_HOLDINGS]) do
    local units, money = release_hold(ctx, h[H_PARTS], h[H_UNIT])
    released[#released + 1] = { rg = rg, units = units, money = money }
  end
  finish_accounts(ctx, KEYS[2], KEYS[3])
end
local rn = sess[S_RN]
emit(KEYS[7], { id = 'expired:' .. req.sid .. ':' .. string.format('%d', rn),
  type = 'session_expired', ts = req.now, cust = sess[S_CUST], acct = acct_id,
  sub = sess[S_SUB], sess = req.sid, rn = rn, released = released, oh = sess[S_ORIGIN_HOST],
  orr = sess[S_ORIGIN_REALM], parent = par })
save_tombstone(KEYS[1], rn, false, req.tomb_ttl, { acct_id, par, sess[S_SUB], sess[S_CUST] })
redis.call('HDEL', KEYS[4], req.sid)
if par ~= '' then redis.call('HDEL', KEYS[5], req.sid) end
redis.call('ZREM', KEYS[6], req.sid)
return cmsgpack.pack({ outcome = 'OK', swept = true, released = released })
