-- debit: direct debiting (EVENT): each item is charged in full or not at all (NO_CREDIT).
-- With req.dry: the same decision, nothing written (a balance check: CHECK_BALANCE asks the
-- rules that would charge, so the check and the debit cannot disagree).
-- KEYS: 1 operation record, 2 account, 3 parent account (or 2 again), 4 subscriber (or 2 again),
--       5 event stream
-- ARGV[1]: msgpack request (ocs/balance/store.py: debit); items name their zone
local req = cmsgpack.unpack(ARGV[1])
if not req.dry then
  local again = replayed(KEYS[1], req.fp, 'op_id')
  if again then return again end
end
local acct, parent, refused = accounts(KEYS[2], KEYS[3], req.parent, req.sub)
if refused then return refused end
local par = req.parent
local active = acct.status == 'active' and (parent == nil or parent.status == 'active')
if req.sub ~= '' then
  local sub = fetch(KEYS[4])
  if not sub then return cmsgpack.pack(outcome('UNKNOWN_SUBSCRIBER')) end
  if sub.acct ~= acct.id then
    return cmsgpack.pack(outcome('STALE', { acct = sub.acct, parent = '', sub = sub.id }))
  end
  active = active and sub.status == 'active'
end

local ctx = new_ctx(req.now, acct, parent)
local items, overall = {}, 'OK'
for i, item in ipairs(req.items) do
  local unit, rg, zone = item.unit, item.rg, item.zone
  local res = { rg = rg, svc = item.svc, unit = unit, outcome = 'OK', charged = {},
    used = 0, money_charged = 0, units_from_allowances = 0, unpaid = 0 }
  if not active then
    res.outcome = 'DENIED'
  else
    local asrc = (unit ~= 'money') and sources(ctx, unit, rg, zone) or {}
    local a = math.min(item.units, total_avail(ctx, asrc, unit))
    local price = money_cost(ctx, item.tariff, unit, a, item.units - a, false)
    local msrc = sources(ctx, 'money', rg, zone)
    if price > total_avail(ctx, msrc, 'money') then
      res.outcome = 'NO_CREDIT'
    else
      draw(ctx, asrc, a, unit, false, nil, nil, res.charged)
      money_cost(ctx, item.tariff, unit, a, item.units - a, true)
      draw(ctx, msrc, price, 'money', false, nil, nil, res.charged)
      res.used, res.units_from_allowances, res.money_charged = item.units, a, price
      if unit == 'money' then res.units_from_allowances = 0 end
    end
  end
  if res.outcome ~= 'OK' and overall == 'OK' then overall = res.outcome end
  items[i] = res
end
local result = { outcome = overall, items = items, balance = acct.buckets.money.balance,
  replayed = false }
if req.dry then return cmsgpack.pack(result) end
local balances, delta = changes(ctx)
emit(KEYS[5], { id = req.eid, type = 'debit', ts = req.now, cust = acct.cust, acct = acct.id,
  sub = req.sub, items = items, balances = balances, delta = delta, info = req.info,
  parent = par })
thresholds(ctx, KEYS[5], req.eid, { cust = acct.cust, sub = req.sub, sess = '' })
finish_accounts(ctx, KEYS[2], KEYS[3])
record(KEYS[1], 'debit', acct.id, result, req.ttl, req.fp)
return cmsgpack.pack(result)
