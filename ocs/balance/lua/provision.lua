-- provision: create a customer, an account or a subscriber; change a status, a subscriber's
-- identities or its offers; remove a subscriber (undo of a creation whose identities were taken).
-- KEYS: 1 operation record, 2 the record, 3 its owner (customer of an account, account of a
--       subscriber; or 2 again), 4 parent account of an account, subscriber set of the account
--       of a subscriber (or 2 again), 5 event stream
-- ARGV[1]: msgpack request (ocs/balance/codec.py: provision_request)
local req = cmsgpack.unpack(ARGV[1])
if req.kind ~= 'subscriber_remove' then
  local again = replayed(KEYS[1])
  if again then return again end
end
local kind, rec = req.kind, req.record
local ev = { id = req.eid, type = 'provision', kind = kind, ts = req.now, cust = rec.cust,
  actor = req.actor }
local result = { outcome = 'OK', replayed = false }

if kind == 'customer' or kind == 'account' or kind == 'subscriber' then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    return cmsgpack.pack(outcome('ALREADY_EXISTS', { field = 'id',
      message = kind .. ' ' .. rec.id .. ' already exists' }))
  end
end

if kind == 'customer' then
  rec.accounts = {}
  save(KEYS[2], rec)
elseif kind == 'account' then
  local cust = fetch(KEYS[3])
  if not cust then
    return cmsgpack.pack(outcome('INVALID', { field = 'customer_id', message = 'no customer ' ..
      rec.cust }))
  end
  if rec.parent ~= '' then
    local parent = fetch(KEYS[4])
    if not parent or parent.cust ~= rec.cust then
      return cmsgpack.pack(outcome('INVALID', { field = 'parent_id',
        message = 'no account ' .. rec.parent .. ' of the same customer' }))
    end
  end
  local opening = rec.opening
  rec.opening = nil
  rec.buckets = { money = { unit = 'money', balance = opening, reserved = 0, initial = 0,
    valid_from = 0, expires = 0, priority = 1000, applies_to = {}, source = 'provisioning',
    thresholds = {} } }
  rec.counters = {}
  save(KEYS[2], rec)
  cust.accounts = map(cust.accounts)
  cust.accounts[#cust.accounts + 1] = rec.id
  save(KEYS[3], cust)
  ev.acct = rec.id
  ev.parent = rec.parent
  ev.currency = rec.currency
  ev.credit_limit = rec.credit_limit
  ev.balances = { money = opening }
  ev.delta = { money = opening }
elseif kind == 'subscriber' then
  if redis.call('EXISTS', KEYS[3]) == 0 then return cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
  save(KEYS[2], rec)
  redis.call('SADD', KEYS[4], rec.id)
  ev.acct, ev.sub, ev.identities = rec.acct, rec.id, rec.identities
elseif kind == 'subscriber_remove' then
  redis.call('DEL', KEYS[2], KEYS[1])
  redis.call('SREM', KEYS[4], rec.id)
  ev.acct, ev.sub = rec.acct, rec.id
  emit(KEYS[5], ev)
  return cmsgpack.pack(result)
elseif kind == 'status' then
  local target = fetch(KEYS[2])
  if not target then return cmsgpack.pack(outcome(req.missing)) end
  ev.previous, ev.status, ev.target = target.status, rec.status, rec.target
  if rec.reason and rec.reason ~= '' then ev.reason = rec.reason end
  target.status = rec.status
  save(KEYS[2], target)
  ev.cust = target.cust
  if rec.target == 'account' then ev.acct = target.id else ev.acct, ev.sub = target.acct, target.id end
elseif kind == 'identities' then
  local target = fetch(KEYS[2])
  if not target then return cmsgpack.pack(outcome('UNKNOWN_SUBSCRIBER')) end
  local drop, kept = {}, {}
  for _, i in ipairs(rec.remove) do drop[i[1] .. ':' .. i[2]] = true end
  for _, i in ipairs(map(target.identities)) do
    if not drop[i[1] .. ':' .. i[2]] then kept[#kept + 1] = i end
  end
  for _, i in ipairs(rec.add) do kept[#kept + 1] = i end
  target.identities = kept
  save(KEYS[2], target)
  ev.cust, ev.acct, ev.sub = target.cust, target.acct, target.id
  ev.added, ev.removed = rec.add, rec.remove
elseif kind == 'offers' then
  local target = fetch(KEYS[2])
  if not target then return cmsgpack.pack(outcome('UNKNOWN_SUBSCRIBER')) end
  local held, drop, seen, kept = {}, {}, {}, {}
  for _, o in ipairs(map(target.offers)) do held[o] = true end
  for n, o in ipairs(rec.remove) do
    if not held[o] then
      return cmsgpack.pack(outcome('INVALID', { field = 'remove[' .. (n - 1) .. ']',
        message = 'the subscriber does not hold offer ' .. o }))
    end
    drop[o] = true
  end
  for _, o in ipairs(map(target.offers)) do
    if not drop[o] and not seen[o] then kept[#kept + 1] = o; seen[o] = true end
  end
  for _, o in ipairs(rec.add) do
    if not seen[o] then kept[#kept + 1] = o; seen[o] = true end
  end
  target.offers = kept
  save(KEYS[2], target)
  ev.cust, ev.acct, ev.sub = target.cust, target.acct, target.id
  ev.added, ev.removed, ev.offers = rec.add, rec.remove, kept
else
  return error('unknown provisioning kind ' .. tostring(kind))
end
emit(KEYS[5], ev)
record(KEYS[1], kind, rec.id or '', result, req.ttl)
return cmsgpack.pack(result)
