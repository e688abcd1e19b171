-- adjust: an operator's correction of one bucket, with reason and actor; never below the credit
-- floor (nor below what is reserved).
-- KEYS: 1 operation record, 2 account, 3 event stream
-- ARGV[1]: msgpack request (ocs/balance/codec.py: adjust_request)
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1], req.fp, 'adjustment_id')
if again then return again end
local acct = fetch(KEYS[2])
if not acct then return cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
local b = map(acct.buckets)[req.bucket]
if not b then
  return cmsgpack.pack(outcome('INVALID', { field = 'bucket', message = 'no bucket ' ..
    req.bucket .. ' on this account' }))
end
local floor = b.reserved
if req.bucket == 'money' then floor = b.reserved - (acct.credit_limit or 0) end
if b.balance + req.amount < floor then
  return cmsgpack.pack(outcome('INVALID', { field = 'amount',
    message = 'the adjustment would take the bucket below its floor' }))
end
if out_of_range(b.balance + req.amount) then return too_large('amount') end
local ctx = new_ctx(req.now, acct, nil)
touch(ctx, 1, req.bucket, b)
b.balance = b.balance + req.amount
local result = { outcome = 'OK', balance = b.balance, replayed = false }
local balances, delta = changes(ctx)
emit(KEYS[3], { id = req.eid, type = 'adjust', ts = req.now, cust = acct.cust, acct = acct.id,
  bucket = req.bucket, amount = req.amount, reason = req.reason, actor = req.actor,
  balances = balances, delta = delta })
thresholds(ctx, KEYS[3], req.eid, { cust = acct.cust, sub = '', sess = '' })
save(KEYS[2], acct)
record(KEYS[1], 'adjust', acct.id, result, req.ttl, req.fp)
return cmsgpack.pack(result)
