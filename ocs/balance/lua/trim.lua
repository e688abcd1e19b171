-- trim: drop stream entries older than the retention, but never one that a consumer group has
-- not acknowledged yet (pending) or not been delivered yet (after its last-delivered-id).
-- Atomic: no group can move between reading the groups and trimming.
-- KEYS: 1 event stream
-- ARGV[1]: msgpack request {cutoff = "<ms>-0"}
local req = cmsgpack.unpack(ARGV[1])
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am < bm end
  return as < bs
end
if redis.call('EXISTS', KEYS[1]) == 0 then return cmsgpack.pack({ trimmed = 0 }) end
local floor = req.cutoff
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, last = nil, nil
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] end
    if group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  -- everything after last-delivered-id is undelivered: keep from the next id on
  local lm, ls = parse(last)
  local keep = string.format('%d-%d', lm, ls + 1)
  local pending = redis.call('XPENDING', KEYS[1], name)
  if pending[1] > 0 and less(pending[2], keep) then keep = pending[2] end
  if less(keep, floor) then floor = keep end
end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', floor)
return cmsgpack.pack({ trimmed = trimmed, minid = floor })
