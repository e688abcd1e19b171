-- expire: forfeit the unreserved remainder of an account's buckets past their expiry; a bucket
-- is removed once nothing is reserved on it. Run by the sweeper; safe to run twice.
-- KEYS: 1 account, 2 bucket-expiry zset, 3 event stream
-- ARGV[1]: msgpack request {acct, now}
local req = cmsgpack.unpack(ARGV[1])
local acct = fetch(KEYS[1])
if not acct then
  redis.call('ZREM', KEYS[2], req.acct)
  return cmsgpack.pack({ outcome = 'OK', expired = 0 })
end
local ctx = new_ctx(req.now, acct, nil)
local forfeited, n = {}, 0
local buckets = map(acct.buckets)
for id, b in pairs(buckets) do
  if id ~= 'money' and b.expires > 0 and b.expires <= req.now then
    local left = b.balance - b.reserved
    if left > 0 then
      touch(ctx, 1, id, b)
      b.balance = b.reserved
      forfeited[id] = left
      n = n + 1
    end
    if b.reserved == 0 then
      buckets[id] = nil
      if left <= 0 then n = n + 1 end
    end
  end
end
local next_expiry = INF
for _, b in pairs(buckets) do
  if b.expires > 0 and b.expires < next_expiry then next_expiry = b.expires end
end
if next_expiry < INF then redis.call('ZADD', KEYS[2], next_expiry, acct.id)
else redis.call('ZREM', KEYS[2], acct.id) end
if n > 0 then
  local balances, delta = changes(ctx)
  emit(KEYS[3], { id = 'expire:' .. acct.id .. ':' .. string.format('%d', req.now), type = 'expire', ts = req.now,
    cust = acct.cust, acct = acct.id, forfeited = forfeited, balances = balances,
    delta = delta })
  save(KEYS[1], acct)
end
return cmsgpack.pack({ outcome = 'OK', expired = n })
