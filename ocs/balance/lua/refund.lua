-- refund: the exact reversal of an earlier debit (by its operation id, per bucket), or a money
-- amount to the main wallet.
-- KEYS: 1 operation record, 2 account, 3 parent account (or 2 again),
--       4 the refunded debit's operation record (or 1 again), 5 event stream
-- ARGV[1]: msgpack request (ocs/balance/codec.py: refund_request)
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1])
if again then return again end
local acct, parent, refused = accounts(KEYS[2], KEYS[3], req.parent, '')
if refused then return refused end
local par = req.parent
local ctx = new_ctx(req.now, acct, parent)
local credited, lost = {}, {}

local function credit(ai, bid, n)
  local a = ctx.accts[ai]
  local b = a and map(a.buckets)[bid]
  if not b then
    lost[label(ctx, ai, bid)] = n
    return
  end
  touch(ctx, ai, bid, b)
  b.balance = b.balance + n
  add(credited, label(ctx, ai, bid), n)
end

local orig = nil
if req.of ~= '' then
  orig = fetch(KEYS[4])
  if not orig or orig.kind ~= 'debit' or orig.acct ~= acct.id then
    return cmsgpack.pack(outcome('INVALID', { field = 'refund_of',
      message = 'no debit with that operation id on this account (or its record expired)' }))
  end
  if orig.refunded then
    return cmsgpack.pack(outcome('INVALID', { field = 'refund_of',
      message = 'that debit was already refunded by ' .. orig.refunded }))
  end
  for _, item in ipairs(orig.result.items) do
    for k, n in pairs(map(item.charged)) do
      local slash = string.find(k, '/', 1, true)
      if slash then credit(2, string.sub(k, slash + 1), n) else credit(1, k, n) end
    end
  end
else
  credit(1, 'money', req.amount)
end
local result = { outcome = 'OK', credited = credited, lost = lost,
  balance = acct.buckets.money.balance, replayed = false }
local balances, delta = changes(ctx)
emit(KEYS[5], { id = req.eid, type = 'refund', ts = req.now, cust = acct.cust, acct = acct.id,
  of = req.of, credited = credited, lost = lost, balances = balances, delta = delta,
  reason = req.reason, actor = req.actor, parent = par })
finish_accounts(ctx, KEYS[2], KEYS[3])
if orig then
  orig.refunded = req.op
  redis.call('SET', KEYS[4], cmsgpack.pack(orig), 'KEEPTTL')
end
record(KEYS[1], 'refund', acct.id, result, req.ttl)
return cmsgpack.pack(result)
