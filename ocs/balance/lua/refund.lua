-- refund: money back, bounded by what was charged. Either
--   * the reversal of an earlier debit of this account (req.of, its operation id): everything
--     it charged and is not refunded yet (req.amount 0), or req.amount of its money; never
--     more than it charged, however many refunds name it; or
--   * an unreferenced amount to the main wallet, only within the account's calendar-month
--     (UTC) allowance req.cap (0: unreferenced refunds are refused).
-- KEYS: 1 operation record, 2 account, 3 parent account (or 2 again),
--       4 the refunded debit's operation record (or 1 again), 5 event stream
-- ARGV[1]: msgpack request (ocs/balance/store.py: refund)
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1], req.fp, 'op_id')
if again then return again end
local acct, parent, refused = accounts(KEYS[2], KEYS[3], req.parent, '')
if refused then return refused end
local par = req.parent
local ctx = new_ctx(req.now, acct, parent)
local credited, lost, money_back = {}, {}, 0

local function bucket_at(label)
  local slash = string.find(label, '/', 1, true)
  if slash then
    local a = ctx.accts[2]
    return 2, string.sub(label, slash + 1), a and map(a.buckets)[string.sub(label, slash + 1)]
  end
  return 1, label, map(acct.buckets)[label]
end

local function credit(label, n)
  local ai, bid, b = bucket_at(label)
  if not b then
    lost[label] = n
    return nil
  end
  if out_of_range(b.balance + n) then return too_large('amount') end
  touch(ctx, ai, bid, b)
  b.balance = b.balance + n
  add(credited, label, n)
  if b.unit == 'money' then money_back = money_back + n end
  return nil
end

local orig, unref = nil, nil
if req.of ~= '' then
  orig = fetch(KEYS[4])
  if not orig or orig.kind ~= 'debit' or orig.acct ~= acct.id then
    return cmsgpack.pack(outcome('INVALID', { field = 'refund_of',
      message = 'no debit with that operation id on this account (or its record expired)' }))
  end
  -- what is left to refund per bucket label, in a fixed order
  local done = map(orig.refunds)
  local left, labels = {}, {}
  for _, item in ipairs(orig.result.items) do
    for k, n in pairs(map(item.charged)) do
      if left[k] == nil then labels[#labels + 1] = k; left[k] = 0 end
      left[k] = left[k] + n
    end
  end
  table.sort(labels)
  local plan, remaining_money = {}, 0
  for _, k in ipairs(labels) do
    left[k] = left[k] - (done[k] or 0)
    local _, _, b = bucket_at(k)
    local is_money = (b and b.unit == 'money') or k == 'money' or string.sub(k, -6) == '/money'
    if left[k] > 0 and is_money then remaining_money = remaining_money + left[k] end
    plan[#plan + 1] = { k, left[k], is_money }
  end
  local want = req.amount
  if want > 0 and want > remaining_money then
    return cmsgpack.pack(outcome('INVALID', { field = 'amount', message = 'the debit has ' ..
      string.format('%d', remaining_money) .. ' of money left to refund, less than asked' }))
  end
  local given = 0
  for _, step in ipairs(plan) do
    local k, n, is_money = step[1], step[2], step[3]
    if n > 0 and (want == 0 or is_money) then
      if want > 0 then n = math.min(n, want - given) end
      if n > 0 then
        local bad = credit(k, n)
        if bad then return bad end
        given = given + n
        done[k] = (done[k] or 0) + n
      end
    end
  end
  if given == 0 then
    return cmsgpack.pack(outcome('INVALID', { field = 'refund_of',
      message = 'that debit is already refunded in full' }))
  end
  orig.refunds = done
else
  local cap = req.cap or 0
  if cap <= 0 then
    return cmsgpack.pack(outcome('INVALID', { field = 'refund_of', message =
      'a refund must name the debit it refunds (unreferenced refunds are turned off)' }))
  end
  local month = month_of(req.now)
  unref = map(acct.unref)
  if unref.period ~= month then unref = { period = month, amount = 0 } end
  if unref.amount + req.amount > cap then
    return cmsgpack.pack(outcome('INVALID', { field = 'amount', message =
      'unreferenced refunds to this account would exceed ' .. string.format('%d', cap) ..
      ' this month (' .. string.format('%d', unref.amount) .. ' refunded so far)' }))
  end
  local bad = credit('money', req.amount)
  if bad then return bad end
  unref.amount = unref.amount + req.amount
  acct.unref = unref
end
local result = { outcome = 'OK', credited = credited, lost = lost, money = money_back,
  balance = acct.buckets.money.balance, replayed = false }
local balances, delta = changes(ctx)
emit(KEYS[5], { id = req.eid, type = 'refund', ts = req.now, cust = acct.cust, acct = acct.id,
  of = req.of, credited = credited, lost = lost, money = money_back, balances = balances,
  delta = delta, unreferenced = (req.of == ''),
  reason = req.reason, actor = req.actor, parent = par, sub = req.sub })
finish_accounts(ctx, KEYS[2], KEYS[3])
if orig then
  orig.refunded = req.op
  redis.call('SET', KEYS[4], cmsgpack.pack(orig), 'KEEPTTL')
end
record(KEYS[1], 'refund', acct.id, result, req.ttl, req.fp)
return cmsgpack.pack(result)
