-- purchase: an offer bought (kind 'purchase') or renewed for a bill period (kind 'renewal'),
-- all at once: charge its price and/or recurring fee from money (the account's money buckets,
-- then a shared pool's within the member's limit; never below the credit floor), add its
-- allowance buckets, put the offer on the subscriber's list (a purchase; a renewal needs it
-- there already), schedule the subscriber's next renewal, and append one `purchase` event
-- whose charges say what each amount paid for. Either everything or nothing (NO_CREDIT,
-- DENIED, INVALID: not recorded, so a later retry may succeed). Idempotent by operation id.
-- KEYS: 1 operation record, 2 account, 3 parent account (or 2 again), 4 subscriber,
--       5 bucket-expiry zset, 6 renewal zset, 7 event stream
-- ARGV[1]: msgpack request (ocs/balance/store.py: purchase)
--   op, eid, now, kind, offer, sub, parent, charges = [{what = 'price' | 'fee', amount,
--   period}], add = [bucket records], renew_at (epoch ms or false), ttl, fp, actor, info
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1], req.fp, 'order_id')
if again then return again end
local acct, parent, refused = accounts(KEYS[2], KEYS[3], req.parent, req.sub)
if refused then return refused end
local sub = fetch(KEYS[4])
if not sub then return cmsgpack.pack(outcome('UNKNOWN_SUBSCRIBER')) end
if sub.acct ~= acct.id then
  return cmsgpack.pack(outcome('STALE', { acct = sub.acct, parent = '', sub = sub.id }))
end
if sub.status ~= 'active' or acct.status ~= 'active' or (parent and parent.status ~= 'active') then
  return cmsgpack.pack(outcome('DENIED'))
end
local held = false
for _, o in ipairs(map(sub.offers)) do if o == req.offer then held = true end end
if req.kind == 'renewal' and not held then
  return cmsgpack.pack(outcome('INVALID', { field = 'offer',
    message = 'the subscriber no longer holds offer ' .. req.offer }))
end
acct.buckets = map(acct.buckets)
for _, b in ipairs(req.add) do
  if acct.buckets[b.id] then
    return cmsgpack.pack(outcome('ALREADY_EXISTS', { field = 'bucket.id',
      message = 'bucket ' .. b.id .. ' already exists on this account' }))
  end
end

local ctx = new_ctx(req.now, acct, parent)
local total = 0
for _, c in ipairs(req.charges) do total = total + c.amount end
local charged = {}
if total > 0 then
  local msrc = sources(ctx, 'money', 0, 'home')
  if total > total_avail(ctx, msrc, 'money') then return cmsgpack.pack(outcome('NO_CREDIT')) end
  draw(ctx, msrc, total, 'money', false, nil, nil, charged)
end
for _, b in ipairs(req.add) do -- stored without its id (the key); the event keeps it
  local id, stored = b.id, {}
  for k, v in pairs(b) do if k ~= 'id' then stored[k] = v end end
  acct.buckets[id] = stored
  ctx.orig[id] = 0
  ctx.touched[#ctx.touched + 1] = { 1, id }
end
if #req.add > 0 then
  local next_expiry = INF
  for _, b in pairs(acct.buckets) do
    if b.expires > 0 and b.expires < next_expiry then next_expiry = b.expires end
  end
  if next_expiry < INF then redis.call('ZADD', KEYS[5], next_expiry, acct.id) end
end
if not held then
  sub.offers = map(sub.offers)
  sub.offers[#sub.offers + 1] = req.offer
  save(KEYS[4], sub)
end
if req.renew_at then redis.call('ZADD', KEYS[6], 'LT', req.renew_at, sub.id) end

local result = { outcome = 'OK', charged = charged, money = total,
  balance = acct.buckets.money.balance, replayed = false }
local balances, delta = changes(ctx)
emit(KEYS[7], { id = req.eid, type = 'purchase', kind = req.kind, ts = req.now, cust = acct.cust,
  acct = acct.id, sub = sub.id, parent = req.parent, order = req.op, offer = req.offer,
  charges = req.charges, money = total, charged = charged, added = req.add,
  balances = balances, delta = delta, actor = req.actor, info = req.info })
thresholds(ctx, KEYS[7], req.eid, { cust = acct.cust, sub = sub.id, sess = '' })
finish_accounts(ctx, KEYS[2], KEYS[3])
record(KEYS[1], 'purchase', acct.id, result, req.ttl, req.fp)
return cmsgpack.pack(result)
