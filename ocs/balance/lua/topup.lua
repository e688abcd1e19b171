-- topup: money into the main wallet (or a named money bucket); idempotent by payment id.
-- Returns the account's live sessions that are blocked or on their final grant.
-- KEYS: 1 operation record, 2 account, 3 live sessions of the account, 4 event stream
-- ARGV[1]: msgpack request (ocs/balance/codec.py: topup_request)
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1], req.fp, 'payment_id')
if again then return again end
local acct = fetch(KEYS[2])
if not acct then return cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
if acct.currency ~= req.currency then
  return cmsgpack.pack(outcome('CURRENCY_MISMATCH', { currency = acct.currency }))
end
local b = map(acct.buckets)[req.bucket]
if not b or b.unit ~= 'money' then
  return cmsgpack.pack(outcome('INVALID', { field = 'bucket', message = 'no money bucket ' ..
    req.bucket .. ' on this account' }))
end
if out_of_range(b.balance + req.amount) then return too_large('amount') end
local ctx = new_ctx(req.now, acct, nil)
touch(ctx, 1, req.bucket, b)
b.balance = b.balance + req.amount
local sessions = {}
local live = redis.call('HGETALL', KEYS[3])
for i = 1, #live, 2 do
  local entry = cmsgpack.unpack(live[i + 1])
  if entry.state ~= 'ok' then
    sessions[#sessions + 1] = { sid = live[i], sub = entry.sub, oh = entry.oh, orr = entry.orr,
      state = entry.state }
  end
end
local result = { outcome = 'OK', balance = b.balance, sessions = sessions, replayed = false }
local balances, delta = changes(ctx)
emit(KEYS[4], { id = req.eid, type = 'topup', ts = req.now, cust = acct.cust, acct = acct.id,
  payment = req.op, amount = req.amount, currency = req.currency, bucket = req.bucket,
  balances = balances, delta = delta, actor = req.actor, info = req.info })
save(KEYS[2], acct)
record(KEYS[1], 'topup', acct.id, result, req.ttl, req.fp)
return cmsgpack.pack(result)
