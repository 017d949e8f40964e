package redisstore

import "github.com/redis/go-redis/v9"

// Every script but incrBelow touches exactly one key, given as KEYS[1],
// so each runs on the node that owns that key in Redis Cluster; incrBelow
// is given keys of one hash slot. The one exception is a batch's gates,
// keys of its own that a script sets for the conditional operations after
// it in the same pipeline, and that each of those deletes to run
// (RunBatch): they are used only on one server, never on a cluster. Times are Unix milliseconds passed by
// the caller from the store's clock (never the Redis server's TIME), and
// every TTL is a duration the caller computed from that clock.
// Scripts never format large numbers they computed themselves except TTLs,
// which stay far below 2^53 where Lua numbers are exact.

// luaLib is prepended to every script.
//
// expOf reads the leading "<exp>|" (or "<exp>;" of an owned state) of a
// stored value. ctEqual compares two
// strings without an early exit. retime sets the TTL of a hash of records
// (code group, device index) to the latest expiry among its fields whose
// name starts with pfx, plus the grace period; a field that never expires
// makes the hash persistent, and a hash with no such field left is deleted.
const luaLib = `
local function expOf(v)
  local e = tonumber(string.match(v, '^(%d+)[|;]'))
  if e == nil then error('redisstore: malformed stored value') end
  return e
end
local function ctEqual(a, b)
  if #a ~= #b then return false end
  local d = 0
  for i = 1, #a do
    d = bit.bor(d, bit.bxor(string.byte(a, i), string.byte(b, i)))
  end
  return d == 0
end
local function retime(key, now, grace, pfx)
  local all = redis.call('HGETALL', key)
  if #all == 0 then return end
  local latest = nil
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, #pfx) == pfx then
      local e = tonumber(string.match(all[i + 1], '^(%d+)|?'))
      if e == nil then error('redisstore: malformed stored value') end
      if e == 0 then
        redis.call('PERSIST', key)
        return
      end
      if latest == nil or e > latest then latest = e end
    end
  end
  if latest == nil then
    redis.call('DEL', key)
    return
  end
  local ttl = latest - now + grace
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', key, ttl)
end
`

func newScript(body string) *redis.Script { return redis.NewScript(luaLib + body) }

// putCode stores a code in its group hash and resets its attempts.
// KEYS[1] group hash, and the gate (see incrBelow) when the call is
// conditional: then it runs only when it deletes the gate, and otherwise
// returns -1 having done nothing. ARGV key, value (exp|max|hash), now,
// grace.
var putCode = newScript(`
if KEYS[2] and redis.call('DEL', KEYS[2]) == 0 then return -1 end
local k = KEYS[1]
redis.call('HSET', k, 'k:' .. ARGV[1], ARGV[2])
redis.call('HDEL', k, 'a:' .. ARGV[1])
retime(k, tonumber(ARGV[3]), tonumber(ARGV[4]), 'k:')
return 1
`)

// consumeCode implements store.Codes.ConsumeCode. It returns the
// store.CodeStatus: 0 not found, 1 matched, 2 mismatch, 3 expired,
// 4 exhausted. KEYS[1] group hash; ARGV key, hash, now, grace, then, in a
// batch with gates, the number of gates it deletes (0 or 1) and the TTL
// of those it sets. When that number is 1, KEYS[2] is the gate (see
// incrBelow) that the call is conditional on: it runs only when it
// deletes it, and otherwise returns -1 having done nothing. Every key
// after that is a gate that it sets, for the conditional operations that
// follow it, when the code matched.
var consumeCode = newScript(`
local out = 2
if ARGV[5] == '1' then
  if redis.call('DEL', KEYS[2]) == 0 then return -1 end
  out = 3
end
local k, f, a = KEYS[1], 'k:' .. ARGV[1], 'a:' .. ARGV[1]
local now, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
local v = redis.call('HGET', k, f)
if not v then return 0 end
local p1 = string.find(v, '|', 1, true)
local p2 = p1 and string.find(v, '|', p1 + 1, true)
if not p2 then return redis.error_reply('redisstore: malformed stored value') end
local exp = tonumber(string.sub(v, 1, p1 - 1))
local maxAttempts = tonumber(string.sub(v, p1 + 1, p2 - 1))
if exp == nil or maxAttempts == nil then return redis.error_reply('redisstore: malformed stored value') end
if exp ~= 0 and now >= exp then
  redis.call('HDEL', k, f, a)
  retime(k, now, grace, 'k:')
  return 3
end
local used = tonumber(redis.call('HGET', k, a) or '0')
if maxAttempts > 0 and used >= maxAttempts then return 4 end
if ctEqual(string.sub(v, p2 + 1), ARGV[2]) then
  redis.call('HDEL', k, f, a)
  retime(k, now, grace, 'k:')
  for i = out, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', ARGV[6]) end
  return 1
end
redis.call('HINCRBY', k, a, 1)
return 2
`)

// deleteCode removes one code. KEYS[1] group hash; ARGV key, now, grace.
var deleteCode = newScript(`
local k = KEYS[1]
if redis.call('HDEL', k, 'k:' .. ARGV[1], 'a:' .. ARGV[1]) > 0 then
  retime(k, tonumber(ARGV[2]), tonumber(ARGV[3]), 'k:')
end
return 1
`)

// incr implements store.Counters.Incr on a hash {n: count, r: window end}.
// It returns {count, window end}. KEYS[1] counter; ARGV now, window end for
// a new window, TTL for a new window.
var incr = newScript(`
local k = KEYS[1]
local v = redis.call('HMGET', k, 'n', 'r')
local r = v[2] and tonumber(v[2])
if v[1] and r and tonumber(ARGV[1]) < r then
  return {redis.call('HINCRBY', k, 'n', 1), v[2]}
end
redis.call('HSET', k, 'n', 1, 'r', ARGV[2])
redis.call('PEXPIRE', k, ARGV[3])
return {1, ARGV[2]}
`)

// incrBelow implements store.BoundedCounters.IncrBelow on the counters
// of one hash slot (KEYS): it reads every counter and its bound before it
// writes any, so a malformed value fails the call with nothing written.
// ARGV now, mode (then, in mode "g", the gate's TTL), then for each
// counter key: window end and TTL for a new window, window length (for
// the age), bound, flags (1 CountRefused, 2 Check: read, never written),
// number of steps, and each step's age and bound.
// Mode "a" applies the call (every counter but the checks when none is
// full; otherwise only the CountRefused ones that are not, checks never),
// "c" only checks, and "r" applies a call that counters of another slot
// refused. Mode "g" is "a" with ARGV[4] more keys, last: the gates of
// the conditional operations that follow the call in its pipeline, which
// it sets, for ARGV[3] milliseconds, when it refused nothing; each
// operation deletes its own. Mode "w" is "a" with one more key, last: the gate that the
// call is conditional on, which it deletes, returning -1 having done
// nothing when there was none. It returns, per counter key, four entries
// of one flat array: count, window end or "", index of the step whose
// bound applied (0: the entry's own), flags (1 full, 2 incremented).
//
// The script runs for every count of a login, so it keeps to flat arrays
// indexed by counter and to arithmetic on the flags (4 marks a full
// counter): a table per counter with named fields, and a nested reply,
// cost a third of its time.
var incrBelow = newScript(`
local call, tonumber = redis.call, tonumber
local now, mode = tonumber(ARGV[1]), ARGV[2]
local refused, nk, a, ng = mode == 'r', #KEYS, 3, 0
if mode == 'g' then
  ng = tonumber(ARGV[4])
  a, nk = 5, nk - ng
elseif mode == 'w' then
  if call('DEL', KEYS[nk]) == 0 then return -1 end
  nk = nk - 1
end
local N, R, ST, FL, AT = {}, {}, {}, {}, {}
for i = 1, nk do
  local max, fl, steps = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  local n, r, step = 0, false, 0
  local v = call('HMGET', KEYS[i], 'n', 'r')
  if v[1] or v[2] then
    local vn, vr = tonumber(v[1]), tonumber(v[2])
    if vn == nil or vr == nil then return redis.error_reply('redisstore: malformed stored value') end
    if now < vr then n, r = vn, v[2] end
  end
  if steps > 0 then
    local age = 0
    if r then age = now - (tonumber(r) - tonumber(ARGV[a + 2])) end
    local b = a + 6
    for j = 1, steps do
      if age >= tonumber(ARGV[b]) then max, step = tonumber(ARGV[b + 1]), j end
      b = b + 2
    end
  end
  if n >= max then
    refused = true
    fl = fl + 4
  end
  N[i], R[i], ST[i], FL[i], AT[i] = n, r, step, fl, a
  a = a + 6 + 2 * steps
end
local out = {}
for i = 1, nk do
  local fl, flags = FL[i], 0
  if fl >= 4 then flags = 1 end
  if mode ~= 'c' and fl < 2 and (not refused or fl == 1) then
    flags = flags + 2
    if R[i] then
      N[i] = call('HINCRBY', KEYS[i], 'n', 1)
    else
      local e = ARGV[AT[i]]
      call('HSET', KEYS[i], 'n', 1, 'r', e)
      call('PEXPIRE', KEYS[i], ARGV[AT[i] + 1])
      N[i], R[i] = 1, e
    end
  end
  local o = 4 * i
  out[o - 3], out[o - 2], out[o - 1], out[o] = N[i], R[i] or '', ST[i], flags
end
if mode == 'g' and not refused then
  for i = nk + 1, nk + ng do call('SET', KEYS[i], '1', 'PX', ARGV[3]) end
end
return out
`)

// resetGated is ResetCounter's DEL made conditional in a batch. KEYS[1]
// counter, KEYS[2] the gate (see incrBelow) it is conditional on: it
// deletes the counter only when it deletes the gate, and otherwise
// returns -1 having done nothing.
var resetGated = newScript(`
if redis.call('DEL', KEYS[2]) == 0 then return -1 end
return redis.call('DEL', KEYS[1])
`)

// decr implements store.Counters.Decr: it subtracts one from a live count
// above zero and leaves the window end and the TTL alone. A missing or
// ended counter is not touched, so nothing is created. It returns 1 when
// it subtracted. KEYS[1] counter; ARGV now.
var decr = newScript(`
local k = KEYS[1]
local v = redis.call('HMGET', k, 'n', 'r')
if not v[1] and not v[2] then return 0 end
local n, r = tonumber(v[1]), tonumber(v[2])
if n == nil or r == nil then return redis.error_reply('redisstore: malformed stored value') end
if tonumber(ARGV[1]) < r and n > 0 then
  redis.call('HINCRBY', k, 'n', -1)
  return 1
end
return 0
`)

// advance implements store.Ledger.Advance and MarkUsed on a hash
// {h, l: the mark as two 32-bit halves, e: expiry}. Lua numbers are doubles,
// exact only up to 2^53, so an int64 mark is compared as (high, low) pairs
// of numbers that each fit. With ARGV[6] = "1" any live mark refuses (the
// MarkUsed rule). It returns 1 when it set the mark. KEYS[1] ledger key;
// ARGV now, high, low, exp (0 = never), TTL (0 = none), once, and, in a
// batch with gates, their TTL and whether it is conditional ("1"): then
// KEYS[2] is the gate (see incrBelow) it deletes first, and it returns -1
// having done nothing when that gate is missing. Every key after those is
// a gate that it sets when it set the mark, for the conditional
// operations that follow it.
var advance = newScript(`
local k = KEYS[1]
local first = 2
if ARGV[8] == '1' then
  if redis.call('DEL', KEYS[2]) == 0 then return -1 end
  first = 3
end
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', k, 'h', 'l', 'e')
if v[3] then
  local e = tonumber(v[3])
  if e == 0 or now < e then
    if ARGV[6] == '1' then return 0 end
    local h, l = tonumber(v[1]), tonumber(v[2])
    local nh, nl = tonumber(ARGV[2]), tonumber(ARGV[3])
    if nh < h or (nh == h and nl <= l) then return 0 end
  end
end
redis.call('HSET', k, 'h', ARGV[2], 'l', ARGV[3], 'e', ARGV[4])
if ARGV[5] == '0' then
  redis.call('PERSIST', k)
else
  redis.call('PEXPIRE', k, ARGV[5])
end
for i = first, #KEYS do redis.call('SET', KEYS[i], '1', 'PX', ARGV[7]) end
return 1
`)

// indexDevice records a device id and its expiry in the user's index.
// KEYS[1] index; ARGV id, exp, now, grace.
var indexDevice = newScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
retime(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4]), '')
return 1
`)

// unindex removes entries of an index hash (a user's devices, an owner's
// states) that still hold the value the caller saw, so an entry that a
// concurrent put rewrote survives. KEYS[1] index; ARGV now, grace, then
// pairs of field and expected value.
var unindex = newScript(`
local k, n = KEYS[1], 0
for i = 3, #ARGV, 2 do
  if redis.call('HGET', k, ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', k, ARGV[i])
  end
end
if n > 0 then retime(k, tonumber(ARGV[1]), tonumber(ARGV[2]), '') end
return n
`)

// indexOwned files a state key in its owner's index: field <state key> =
// "<exp>:<token>", the token being the one written into the state. It
// first drops entries whose expiry passed more than the grace period ago
// (their state is gone or expired on every instance whose clock is within
// the grace period), so the index of a busy user does not grow.
// KEYS[1] owner index; ARGV state key, entry, now, grace.
var indexOwned = newScript(`
local k, now, grace = KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local all = redis.call('HGETALL', k)
for i = 1, #all, 2 do
  local e = tonumber(string.match(all[i + 1], '^(%d+):'))
  if e == nil then return redis.error_reply('redisstore: malformed stored value') end
  if e ~= 0 and now >= e + grace then redis.call('HDEL', k, all[i]) end
end
redis.call('HSET', k, ARGV[1], ARGV[2])
retime(k, now, grace, '')
return 1
`)

// deleteOwned deletes a state if, as stored now, it is filed under the
// given owner, and returns the token of the state it deleted (empty when it
// deleted nothing). A state put again without an owner, or under another
// owner, is left alone. KEYS[1] state key; ARGV owner.
var deleteOwned = newScript(`
local v = redis.call('GET', KEYS[1])
if not v then return '' end
local tok, n, pos = string.match(v, '^%d+;(%x+);(%d+);()')
if not tok then return '' end
n = tonumber(n)
if string.sub(v, pos, pos + n - 1) ~= ARGV[1] then return '' end
redis.call('DEL', KEYS[1])
return tok
`)

// sweep deletes what has expired under one key and returns how many
// records it removed. KEYS[1] the key; ARGV kind, now, grace.
var sweep = newScript(`
local k, kind = KEYS[1], ARGV[1]
local now, grace = tonumber(ARGV[2]), tonumber(ARGV[3])
local function gone(e) return e ~= 0 and now >= e end
if kind == 's' or kind == 'd' then
  local v = redis.call('GET', k)
  if v and gone(expOf(v)) then
    redis.call('DEL', k)
    return 1
  end
  return 0
elseif kind == 'n' then
  local r = redis.call('HGET', k, 'r')
  if r and gone(tonumber(r)) then
    redis.call('DEL', k)
    return 1
  end
  return 0
elseif kind == 'l' then
  local e = redis.call('HGET', k, 'e')
  if e and gone(tonumber(e)) then
    redis.call('DEL', k)
    return 1
  end
  return 0
elseif kind == 'c' or kind == 'di' or kind == 'o' then
  local pfx = 'k:'
  if kind ~= 'c' then pfx = '' end
  local all = redis.call('HGETALL', k)
  local n = 0
  for i = 1, #all, 2 do
    local f = all[i]
    if string.sub(f, 1, #pfx) == pfx then
      local e = tonumber(string.match(all[i + 1], '^(%d+)|?'))
      if e == nil then return redis.error_reply('redisstore: malformed stored value') end
      if gone(e) then
        if kind == 'c' then
          redis.call('HDEL', k, f, 'a:' .. string.sub(f, 3))
          n = n + 1
        else
          redis.call('HDEL', k, f)
        end
      end
    end
  end
  retime(k, now, grace, pfx)
  return n
end
return 0
`)

// touchEnrollment implements store.EnrollmentToucher. The record is the
// JSON that encodeEnrollment writes, whose last member is always
// "used":"<RFC 3339 time>" (a quote inside any string before it is
// escaped, so the pattern below can only match that member). The script
// reads the stored time as seconds and nanoseconds since the epoch, whatever
// its offset, and when the new time is later, rewrites that member alone:
// every other field stays byte for byte as stored, so a rename written
// meanwhile is kept. A missing record is left missing. It returns 1 when
// it wrote. KEYS[1] the user's enrollment hash, and the gate (see
// incrBelow) when the call is conditional: then it runs only when it
// deletes the gate, and otherwise returns -1 having done nothing. ARGV id,
// the new time as a JSON string, its Unix seconds, its nanoseconds within
// the second.
var touchEnrollment = newScript(`
if KEYS[2] and redis.call('DEL', KEYS[2]) == 0 then return -1 end
local function unixOf(t)
  local y, mo, d, h, mi, s, zone = string.match(t,
    '^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)(.*)$')
  if not y then return nil end
  local frac = ''
  if string.sub(zone, 1, 1) == '.' then
    frac, zone = string.match(zone, '^%.(%d%d?%d?%d?%d?%d?%d?%d?%d?)(.*)$')
    if not frac then return nil end
  end
  local off = 0
  if zone ~= 'Z' then
    local sign, zh, zm = string.match(zone, '^([+-])(%d%d):(%d%d)$')
    if not sign then return nil end
    off = (tonumber(zh) * 60 + tonumber(zm)) * 60
    if sign == '-' then off = -off end
  end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days since 1970-01-01 of a proleptic Gregorian date
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local secs = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) - off
  local ns = 0
  if frac ~= '' then ns = tonumber(string.sub(frac .. '00000000', 1, 9)) end
  return secs, ns
end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local head, used = string.match(v, '^(.*,"used":)"([^"]*)"}$')
if not head then return redis.error_reply('redisstore: malformed stored value') end
local s, ns = unixOf(used)
if s == nil then return redis.error_reply('redisstore: malformed stored value') end
local ts, tns = tonumber(ARGV[3]), tonumber(ARGV[4])
if ts < s or (ts == s and tns <= ns) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], head .. ARGV[2] .. '}')
return 1
`)

// touchDevice implements store.DeviceToucher. The record is the envelope
// that encodeDevice writes, whose JSON's last member is always
// "seen":"<RFC 3339 time>" (a quote inside any string before it is
// escaped, so the pattern below can only match that member). The script
// rewrites that member alone, keeping the key's TTL: every other field
// stays byte for byte as stored, so a PutDevice written meanwhile is kept.
// A missing record is left missing. It returns 1 when it wrote. KEYS[1]
// the device key; ARGV the new time as a JSON string.
var touchDevice = newScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local head = string.match(v, '^(.*,"seen":)"[^"]*"}$')
if not head then return redis.error_reply('redisstore: malformed stored value') end
redis.call('SET', KEYS[1], head .. ARGV[1] .. '}', 'KEEPTTL')
return 1
`)
