-- ocs balance engine: helpers shared by every operation script.
-- scripts.py prepends this file to each ocs/balance/lua/<op>.lua; the SHA is taken over the
-- combined text. Every quantity is an integer below 2^53 (Lua numbers are doubles): never use
-- `/` for integer division, use idiv/ceil_div.
local INF = 9007199254740992 -- 2^53: "unbounded" for quantities

local function idiv(a, b) -- floor(a / b), exact for integers a >= 0, b > 0
  local q = math.floor(a / b)
  local r = a - q * b
  while r < 0 do q = q - 1; r = r + b end
  while r >= b do q = q + 1; r = r - b end
  return q
end

local function ceil_div(a, b)
  local q = idiv(a, b)
  if q * b < a then q = q + 1 end
  return q
end

local function fetch(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end

local function save(key, value) redis.call('SET', key, cmsgpack.pack(value)) end

local function map(t) return t or {} end -- msgpack turns empty maps into empty arrays: same table

local function outcome(code, extra)
  local r = extra or {}
  r.outcome = code
  return r
end

-- The stored result of an operation already done, flagged replayed; nil if not done yet.
-- fp: what the operation asked for (its fingerprint, made by the caller from the parameters
-- that decide its effect); the same operation id with another fingerprint is refused
-- (ALREADY_EXISTS naming `field`), never answered with the first operation's result.
local function replayed(op_key, fp, field)
  local done = fetch(op_key)
  if not done then return nil end
  if fp and done.fp and done.fp ~= fp then
    return cmsgpack.pack({ outcome = 'ALREADY_EXISTS', field = field or 'op_id',
      message = (field or 'the operation id') .. ' was already used for another request (' ..
        done.fp .. ')' })
  end
  done.result.replayed = true
  return cmsgpack.pack(done.result)
end

local function record(op_key, kind, acct_id, result, ttl, fp)
  redis.call('SET', op_key, cmsgpack.pack({ kind = kind, acct = acct_id, result = result,
    fp = fp }), 'PX', ttl)
end

-- Every balance, reservation and counter stays in (-2^53, 2^53): Lua numbers are doubles, so
-- beyond it an addition silently rounds. A write that would leave the range is refused.
local function out_of_range(n) return n >= INF or n <= -INF end

local function too_large(field)
  return cmsgpack.pack({ outcome = 'OUT_OF_RANGE', field = field,
    message = 'the balance would pass the largest amount ocs keeps exactly (2^53 - 1)' })
end

-- The account and its shared-pool parent as the caller routed them. Third value: a packed
-- refusal when the account is unknown, or STALE when its parent is not the one named.
local function accounts(acct_key, parent_key, want_parent, sub)
  local acct = fetch(acct_key)
  if not acct then return nil, nil, cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
  local par = acct.parent or ''
  if par ~= want_parent then
    return nil, nil, cmsgpack.pack(outcome('STALE', { acct = acct.id, parent = par, sub = sub }))
  end
  local parent = nil
  if par ~= '' then
    parent = fetch(parent_key)
    if not parent then return nil, nil, cmsgpack.pack(outcome('UNKNOWN_ACCOUNT')) end
  end
  return acct, parent, nil
end

-- Calendar month (UTC) of an epoch-ms instant, "YYYY-MM": the period of pool limits.
local function month_of(ms)
  local z = idiv(ms, 86400000) + 719468
  local era = idiv(z, 146097)
  local doe = z - era * 146097
  local yoe = idiv(doe - idiv(doe, 1460) + idiv(doe, 36524) - idiv(doe, 146096), 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + idiv(yoe, 4) - idiv(yoe, 100))
  local m = idiv(5 * doy + 2, 153)
  m = (m < 10) and (m + 3) or (m - 9)
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d', y, m)
end

-- Tariffs: {segs, counter} (counter: a period counter name for tiered pricing, or false);
-- segs = {{length, block, price}, ...}; length 0 = unbounded (last segment only). They travel
-- and are stored packed (a request's and a holding's are the same bytes while the tariff does
-- not change) and are unpacked once per call: tariff_of.
-- cost(segs, a, b): price of the units at offsets [a, b).
local function cost(segs, a, b)
  if b <= a then return 0 end
  if #segs == 1 then -- one segment: unbounded (only the last is, and it must be)
    local total = ceil_div(b - a, segs[1][2]) * segs[1][3]
    if total >= INF then return error('cost overflows 2^53') end
    return total
  end
  local total, s = 0, 0
  for i = 1, #segs do
    local len, block, price = segs[i][1], segs[i][2], segs[i][3]
    local e = (len == 0) and INF or (s + len)
    local lo, hi = math.max(a, s), math.min(b, e)
    if hi > lo then total = total + ceil_div(hi - lo, block) * price end
    if e >= b then break end
    s = e
  end
  if total >= INF then return error('cost overflows 2^53') end
  return total
end

-- affordable(segs, a, money): the most units, whole blocks only, with cost(a, a + u) <= money.
local function affordable(segs, a, money)
  if #segs == 1 then
    local price = segs[1][3]
    if price == 0 then return INF end
    return idiv(money, price) * segs[1][2]
  end
  local u, s = 0, 0
  for i = 1, #segs do
    local len, block, price = segs[i][1], segs[i][2], segs[i][3]
    local e = (len == 0) and INF or (s + len)
    if e > a then
      local from = math.max(a, s)
      if price == 0 then
        if len == 0 then return INF end
        u = u + (e - from)
      else
        local blocks = idiv(money, price)
        if len == 0 then return u + blocks * block end
        local need = ceil_div(e - from, block)
        if blocks < need then return u + blocks * block end
        u = u + (e - from)
        money = money - need * price
      end
    end
    s = e
  end
  return u
end

-- Accounts and buckets. ctx.accts[1] is the account charged, ctx.accts[2] its parent (shared
-- pool) or nil. A source is {ai, bucket_id}; ctx.src caches the source lists by unit and rating
-- group (which buckets are eligible, and their order, do not change during a call).
local function new_ctx(now, acct, parent)
  return { now = now, accts = { acct, parent }, orig = {}, touched = {}, src = {}, tariffs = {} }
end

local function tariff_of(ctx, packed)
  local t = ctx.tariffs[packed]
  if not t then
    t = cmsgpack.unpack(packed)
    ctx.tariffs[packed] = t
  end
  return t
end

local function label(ctx, ai, bid)
  if ai == 1 then return bid end
  return ctx.accts[2].id .. '/' .. bid
end

local function touch(ctx, ai, bid, b)
  local k = label(ctx, ai, bid)
  if ctx.orig[k] == nil then
    ctx.orig[k] = b.balance
    ctx.touched[#ctx.touched + 1] = { ai, bid }
  end
end

local function add(t, k, n) t[k] = (t[k] or 0) + n end

local function avail(ctx, ai, bid, b)
  local a = b.balance - b.reserved
  if bid == 'money' then a = a + (ctx.accts[ai].credit_limit or 0) end
  if a < 0 then return 0 end
  return a
end

-- Whether bucket b may pay for units of `unit`, rating group rg, rated in zone `zone` (a
-- bucket's applies_to: rating groups, and zones: where it may be used; empty = all).
local function eligible(b, unit, rg, zone, now)
  if b.unit ~= unit then return false end
  if b.expires > 0 and b.expires <= now then return false end
  if b.valid_from > now then return false end
  local zones = b.zones
  if zones and #zones > 0 then
    local found = false
    for i = 1, #zones do if zones[i] == zone then found = true; break end end
    if not found then return false end
  end
  local rgs = b.applies_to
  if rgs and #rgs > 0 then
    for i = 1, #rgs do if rgs[i] == rg then return true end end
    return false
  end
  return true
end

-- Selection order among the eligible buckets: own buckets then the parent's; by priority,
-- earliest expiry, id. zone: where the usage was rated ('home' when none is given).
local function sources(ctx, unit, rg, zone)
  zone = zone or 'home'
  local by_rg = ctx.src[unit]
  if not by_rg then
    by_rg = {}
    ctx.src[unit] = by_rg
  end
  local where = rg .. '@' .. zone
  local out = by_rg[where]
  if out then return out end
  out = {}
  for ai = 1, 2 do
    local acct = ctx.accts[ai]
    if acct then
      local buckets = map(acct.buckets)
      local ids = {}
      for bid, b in pairs(buckets) do
        if eligible(b, unit, rg, zone, ctx.now) then ids[#ids + 1] = bid end
      end
      if #ids > 1 then
        table.sort(ids, function(x, y)
          local p, q = buckets[x], buckets[y]
          if p.priority ~= q.priority then return p.priority < q.priority end
          local ex = (p.expires == 0) and INF or p.expires
          local ey = (q.expires == 0) and INF or q.expires
          if ex ~= ey then return ex < ey end
          return x < y
        end)
      end
      for i = 1, #ids do out[#out + 1] = { ai, ids[i] } end
    end
  end
  by_rg[where] = out
  return out
end

-- Per-period limit of what a member may draw from its parent, per unit (nil limit = none).
local function pool_room(ctx, unit)
  local pool = ctx.accts[1].pool
  if not pool or not pool.limit or not pool.limit[unit] then return INF end
  local period = month_of(ctx.now)
  if pool.period ~= period then
    pool.period = period
    pool.used = {}
  end
  local room = pool.limit[unit] - (map(pool.used)[unit] or 0) - (map(pool.held)[unit] or 0)
  if room < 0 then return 0 end
  return room
end

local function pool_add(ctx, field, unit, n)
  local pool = ctx.accts[1].pool
  if not pool or not pool.limit or not pool.limit[unit] then return end
  pool_room(ctx, unit) -- rolls the period over
  pool[field] = map(pool[field])
  add(pool[field], unit, n)
  if pool[field][unit] < 0 then pool[field][unit] = 0 end
end

local function total_avail(ctx, srcs, unit)
  local own, pooled = 0, 0
  for i = 1, #srcs do
    local ai, bid = srcs[i][1], srcs[i][2]
    local a = avail(ctx, ai, bid, ctx.accts[ai].buckets[bid])
    if ai == 1 then own = own + a else pooled = pooled + a end
  end
  return own + math.min(pooled, pool_room(ctx, unit))
end

local function debit_bucket(ctx, ai, bid, n, charged, unit)
  local b = ctx.accts[ai].buckets[bid]
  touch(ctx, ai, bid, b)
  b.balance = b.balance - n
  add(charged, label(ctx, ai, bid), n)
  if ai == 2 then pool_add(ctx, 'used', unit, n) end
end

-- Take up to `want` from srcs in order. hold=true reserves and appends {ai, bid, n, kind} to
-- parts; hold=false debits and adds to charged. Returns the amount taken.
local function draw(ctx, srcs, want, unit, hold, parts, kind, charged)
  local got = 0
  for i = 1, #srcs do
    if got >= want then break end
    local ai, bid = srcs[i][1], srcs[i][2]
    local b = ctx.accts[ai].buckets[bid]
    local t = math.min(avail(ctx, ai, bid, b), want - got)
    if ai == 2 then t = math.min(t, pool_room(ctx, unit)) end
    if t > 0 then
      if hold then
        b.reserved = b.reserved + t
        parts[#parts + 1] = { ai, bid, t, kind }
        if ai == 2 then pool_add(ctx, 'held', unit, t) end
      else
        debit_bucket(ctx, ai, bid, t, charged, unit)
      end
      got = got + t
    end
  end
  return got
end

local function release_part(ctx, p, unit)
  local acct = ctx.accts[p[1]]
  local b = acct and map(acct.buckets)[p[2]]
  if b then
    b.reserved = b.reserved - p[3]
    if b.reserved < 0 then b.reserved = 0 end
  end
  if p[1] == 2 then pool_add(ctx, 'held', unit, -p[3]) end
end

-- Price of mu money-priced units; units from allowances come first (offset base), or the
-- period counter gives the base (tiered pricing) and grows by the units committed.
local function money_cost(ctx, tariff, unit, a_units, mu, commit)
  if unit == 'money' then return mu end
  if mu <= 0 then return 0 end
  local base = a_units
  local t = tariff_of(ctx, tariff)
  local counter = t[2]
  local counters = ctx.accts[1].counters
  if counter then base = map(counters)[counter] or 0 end
  local c = cost(t[1], base, base + mu)
  if counter and commit then
    ctx.accts[1].counters = map(counters)
    add(ctx.accts[1].counters, counter, mu)
  end
  return c
end

-- Commit `used` units of `unit` against a holding's parts (or none): held allowances, then
-- available allowances, then money (held money first, then available; never below the credit
-- floor: the rest is unpaid), priced with `tariff`. The unused part of the holding is
-- released. Adds to `charged`; returns the units taken from allowances, the money charged,
-- the money unpaid, and the allowance units and money released.
local function settle(ctx, parts, used, unit, rg, tariff, charged, zone)
  local a_used, released, released_money = 0, 0, 0
  local money_parts = {}
  if parts then
    for i = 1, #parts do
      local p = parts[i]
      if p[4] == 'a' then
        local t = math.min(p[3], used - a_used)
        release_part(ctx, p, unit)
        if t > 0 then debit_bucket(ctx, p[1], p[2], t, charged, unit) end
        a_used = a_used + t
        released = released + p[3] - t
      else
        money_parts[#money_parts + 1] = p
      end
    end
  end
  if unit ~= 'money' and used > a_used then
    a_used = a_used + draw(ctx, sources(ctx, unit, rg, zone), used - a_used, unit, false, nil, nil,
      charged)
  end
  local price = money_cost(ctx, tariff, unit, a_used, used - a_used, true)
  local left = price
  for i = 1, #money_parts do
    local p = money_parts[i]
    local t = math.min(p[3], left)
    release_part(ctx, p, 'money')
    if t > 0 then debit_bucket(ctx, p[1], p[2], t, charged, 'money') end
    left = left - t
    released_money = released_money + p[3] - t
  end
  if left > 0 then
    left = left - draw(ctx, sources(ctx, 'money', rg, zone), left, 'money', false, nil, nil,
      charged)
  end
  if unit == 'money' then a_used = 0 end
  return a_used, price - left, left, released, released_money
end

-- Reserve up to `want` units: allowances first, then what money can buy with `tariff`.
-- Returns the holding's parts, the units granted, and of these the allowance units held and
-- the money held.
local function reserve(ctx, unit, rg, want, tariff, zone)
  local parts, a, m = {}, 0, 0
  if unit ~= 'money' then
    a = draw(ctx, sources(ctx, unit, rg, zone), want, unit, true, parts, 'a')
  end
  local u = 0
  if want > a then
    local msrc = sources(ctx, 'money', rg, zone)
    local money = total_avail(ctx, msrc, 'money')
    local need
    if unit == 'money' then
      u = math.min(want - a, money)
      need = u
    else
      local base = a
      local t = tariff_of(ctx, tariff)
      local segs, counter = t[1], t[2]
      if counter then base = map(ctx.accts[1].counters)[counter] or 0 end
      u = math.min(want - a, affordable(segs, base, money))
      need = cost(segs, base, base + u)
    end
    if need > 0 then m = draw(ctx, msrc, need, 'money', true, parts, 'm') end
  end
  return parts, a + u, a, m
end

-- Release a holding's parts (of units of `unit` and of money); returns both amounts.
local function release_hold(ctx, parts, unit)
  local units, money = 0, 0
  for i = 1, #parts do
    local p = parts[i]
    if p[4] == 'a' then
      release_part(ctx, p, unit); units = units + p[3]
    else
      release_part(ctx, p, 'money'); money = money + p[3]
    end
  end
  return units, money
end

-- Events: one stream entry per mutation, field 'e' = msgpack (schema in docs/events.md).
local function emit(stream, ev)
  ev.v = 1
  redis.call('XADD', stream, '*', 'e', cmsgpack.pack(ev))
end

-- Balances after and deltas of every touched bucket, for the event.
local function changes(ctx)
  local balances, delta = {}, {}
  for _, t in ipairs(ctx.touched) do
    local k = label(ctx, t[1], t[2])
    local b = map(ctx.accts[t[1]].buckets)[t[2]]
    local now = b and b.balance or 0
    balances[k] = now
    if now ~= ctx.orig[k] then delta[k] = now - ctx.orig[k] end
  end
  return balances, delta
end

-- Threshold crossings of the touched buckets: percent-used marks of allowances (measured on
-- the committed balance against initial), and the money wallet falling below its floor.
local function thresholds(ctx, stream, base_id, common)
  local n = 0
  for _, t in ipairs(ctx.touched) do
    local ai, bid = t[1], t[2]
    local acct = ctx.accts[ai]
    local b = map(acct.buckets)[bid]
    local k = label(ctx, ai, bid)
    local old = ctx.orig[k]
    if b and old ~= b.balance then
      local marks = {}
      if b.initial > 0 then
        for _, m in ipairs(map(b.thresholds)) do
          local before = (b.initial - old) * 100 < m * b.initial
          local after = (b.initial - b.balance) * 100 >= m * b.initial
          if before and after then marks[#marks + 1] = { 'used_percent', m } end
        end
      end
      local floor = acct.low_balance
      if bid == 'money' and floor and floor >= -(acct.credit_limit or 0) and old >= floor
        and b.balance < floor then
        marks[#marks + 1] = { 'low_balance', floor }
      end
      for _, mark in ipairs(marks) do
        n = n + 1
        emit(stream, {
          id = base_id .. ':t' .. n, type = 'threshold', ts = ctx.now, cust = common.cust,
          acct = acct.id, sub = common.sub, sess = common.sess, bucket = k, unit = b.unit,
          kind = mark[1], mark = mark[2], balance = b.balance, initial = b.initial
        })
      end
    end
  end
end

local function finish_accounts(ctx, acct_key, parent_key)
  save(acct_key, ctx.accts[1])
  if ctx.accts[2] then save(parent_key, ctx.accts[2]) end
end

-- The positional records of the session script (a holding H_*, an item of the answer and of
-- a v2 session event R_*, a session record S_*, the request Q_* and its items W_*, the event
-- E_*) are declared in ocs/balance/records.py; scripts.py puts the generated index constants in
-- front of this file. They are locals of the scripts' main chunk, used there only: a function
-- of this prelude that captured them would pay for the upvalues on every call.
-- Session records (ocs:{p}:sess:<id>), format 2, keep the last answer packed, as sent. A part
-- of a holding is {account index (1 own, 2 parent), bucket id, amount, 'a' | 'm'}.
-- Format 1 (a map with the answer as a table and string rating-group keys) is still read.

-- The msgpack header of an array of n (< 65536) elements: for an array packed in pieces
-- (an answer around its stored tail, an event around the caller's packed service info).
local function array_header(n)
  if n < 16 then return string.char(0x90 + n) end
  return string.char(0xdc, math.floor(n / 256), n % 256)
end

-- A session answer: the array ['OK', replayed, balance, items] from its stored tail.
local function session_answer(tail, replayed)
  return array_header(4) .. cmsgpack.pack('OK', replayed) .. tail
end

local function upgrade_session(r)
  local reply = false
  if r.result then
    local rows = {}
    for i, x in ipairs(map(r.result.items)) do
      rows[i] = { x.rg, x.svc, x.unit, x.outcome, x.used, x.charged, x.money_charged,
        x.units_from_allowances, x.unpaid, x.granted, x.final, x.reserved, x.reserved_money,
        x.was_final or false, x.released, x.released_money, x.expires or false }
    end
    reply = cmsgpack.pack(r.result.balance, rows)
  end
  if r.tomb then return { 2, r.rn, reply, true } end
  local holdings = {}
  for key, h in pairs(map(r.holdings)) do
    local t = h.tariff
    holdings[tonumber(key)] = { h.parts, h.units, h.unit,
      t and cmsgpack.pack({ t.segs, t.counter }) or false, h.svc, h.exp, h.final }
  end
  return { 2, r.rn, reply, false, r.acct, r.par, r.sub, r.cust, r.sid, r.oh, r.orr, r.started,
    r.exp, holdings, 0, '', false, false }
end

-- The record as an array indexed by S_* (format 1 upgraded); nil if there is none.
local function load_session(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  local r = cmsgpack.unpack(raw)
  if r[1] ~= 2 then return upgrade_session(r) end -- S_FORMAT
  return r
end

local function save_session(key, s) redis.call('SET', key, cmsgpack.pack(s)) end

-- A closed session: its last request number and answer (false: none) for a while, and its
-- route {account, parent, subscriber, customer}, so a repeat of its last request (another
-- process, a restart) is routed here and answered from the record.
local function save_tombstone(key, rn, reply, ttl, route)
  redis.call('SET', key, cmsgpack.pack({ 2, rn, reply, true, route[1], route[2], route[3],
    route[4] }), 'PX', ttl)
end
