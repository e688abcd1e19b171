-- buckets: add buckets to an account (offer purchase; operation id = order id) and remove
-- buckets (cancellation: the unreserved remainder is forfeited; a bucket still holding
-- reservations is closed now and removed by the sweeper once they are settled).
-- KEYS: 1 operation record, 2 account, 3 bucket-expiry zset, 4 event stream
-- ARGV[1]: msgpack request (ocs/balance/codec.py: buckets_request)
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1], req.fp, 'order_id')
if again then return again end
local acct = fetch(KEYS[2])
if not acct then return cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
acct.buckets = map(acct.buckets)
for _, b in ipairs(req.add) do
  if acct.buckets[b.id] then
    return cmsgpack.pack(outcome('ALREADY_EXISTS', { field = 'bucket.id',
      message = 'bucket ' .. b.id .. ' already exists on this account' }))
  end
end
for _, id in ipairs(req.remove) do
  if id == 'money' or not acct.buckets[id] then
    return cmsgpack.pack(outcome('INVALID', { field = 'remove',
      message = 'cannot remove bucket ' .. id }))
  end
end
local ctx = new_ctx(req.now, acct, nil)
for _, b in ipairs(req.add) do -- stored without its id (the key); the event keeps it
  local id, stored = b.id, {}
  for k, v in pairs(b) do if k ~= 'id' then stored[k] = v end end
  acct.buckets[id] = stored
  ctx.orig[id] = 0
  ctx.touched[#ctx.touched + 1] = { 1, id }
end
local forfeited = {}
for _, id in ipairs(req.remove) do
  local b = acct.buckets[id]
  touch(ctx, 1, id, b)
  forfeited[id] = b.balance - b.reserved
  b.balance = b.reserved
  if b.reserved == 0 then acct.buckets[id] = nil else b.expires = req.now end
end
local next_expiry = INF
for _, b in pairs(acct.buckets) do
  if b.expires > 0 and b.expires < next_expiry then next_expiry = b.expires end
end
if next_expiry < INF then redis.call('ZADD', KEYS[3], next_expiry, acct.id)
else redis.call('ZREM', KEYS[3], acct.id) end
local result = { outcome = 'OK', forfeited = forfeited, replayed = false }
local balances, delta = changes(ctx)
emit(KEYS[4], { id = req.eid, type = 'provision', kind = 'buckets', ts = req.now,
  cust = acct.cust, acct = acct.id, order = req.op, source = req.source, added = req.add,
  removed = req.remove, forfeited = forfeited, balances = balances, delta = delta,
  actor = req.actor })
save(KEYS[2], acct)
record(KEYS[1], 'buckets', acct.id, result, req.ttl, req.fp)
return cmsgpack.pack(result)
