-- credit_limit: change an account's credit limit (a postpaid account's floor under the main
-- wallet); never below what the account already owes plus what it holds reserved.
-- KEYS: 1 operation record, 2 account, 3 event stream
-- ARGV[1]: msgpack request {op, eid, acct, now, limit, reason, actor, ttl}
local req = cmsgpack.unpack(ARGV[1])
local again = replayed(KEYS[1])
if again then return again end
local acct = fetch(KEYS[2])
if not acct then return cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
local money = map(acct.buckets)['money']
local owed = 0
if money then owed = money.reserved - money.balance end
if req.limit < owed then
  return cmsgpack.pack(outcome('INVALID', { field = 'credit_limit',
    message = 'the account already uses ' .. owed .. ' of its credit (balance and reservations)' }))
end
local previous = acct.credit_limit or 0
acct.credit_limit = req.limit
save(KEYS[2], acct)
emit(KEYS[3], { id = req.eid, type = 'provision', kind = 'credit_limit', ts = req.now,
  cust = acct.cust, acct = acct.id, actor = req.actor, previous = previous,
  credit_limit = req.limit, reason = req.reason })
local result = { outcome = 'OK', balance = req.limit, replayed = false }
record(KEYS[1], 'credit_limit', acct.id, result, req.ttl)
return cmsgpack.pack(result)
