/**
 * The Lua scripts behind every store write and every consistent read. Each runs atomically in
 * Redis, so a write's CAS check, object, indexes, applied configuration and stream entry are one
 * step, and a list sees one revision. Object keys of a list are derived inside the script from
 * index members (fine on a single Redis or a Sentinel primary; not meant for Redis Cluster).
 */

/**
 * KEYS: 1 rev, 2 object, 3 stream, 4 applied hash, 5 namespace object, 6 last-entry hash,
 *       7.. index keys (the first nAdd get the member added, the rest removed; `delete` removes from all)
 * ARGV: 1 op (create|update|delete|applied), 2 expected resourceVersion, 3 object JSON with the
 *       placeholder, 4 event type, 5 index member, 6 nAdd, 7 stream max length, 8 exact trim (1|0),
 *       9 previous object's selectable projection ('' for none), 10 applied manager ('' for none),
 *       11 applied configuration JSON ('-' without a manager: delete the hash), 12 check namespace (1|0), 13 resource (field in the last hash),
 *       14 fence: key of a Lease object ('' for none), 15 the holderIdentity that Lease must have
 * Returns {'ok', rev} or {'exists'} | {'notfound'} | {'conflict', storedRv} | {'nsmissing'} | {'nsterminating'}
 * | {'fenced', currentHolder} (the writer no longer holds the fencing lease: nothing was written).
 */
export const WRITE_LUA = `
local op = ARGV[1]
if ARGV[14] and ARGV[14] ~= '' then
  local lease = redis.call('GET', ARGV[14])
  local holder = lease and string.match(lease, '"holderIdentity":"([^"]*)"')
  if holder ~= ARGV[15] then return {'fenced', holder or ''} end
end
local cur = redis.call('GET', KEYS[2])
if op == 'create' then
  if cur then return {'exists'} end
  if ARGV[12] == '1' then
    local ns = redis.call('GET', KEYS[5])
    if not ns then return {'nsmissing'} end
    local d = cjson.decode(ns)
    if type(d.metadata) == 'table' and type(d.metadata.deletionTimestamp) == 'string' then
      return {'nsterminating'}
    end
  end
else
  if not cur then return {'notfound'} end
  local rv = string.match(cur, '"resourceVersion":"(%d+)"')
  if rv ~= ARGV[2] then return {'conflict', rv or ''} end
end
if op == 'applied' then
  redis.call('HSET', KEYS[4], ARGV[10], ARGV[11])
  return {'ok', ARGV[2]}
end
local json = ARGV[3]
local s, e = string.find(json, '"resourceVersion":"@@rv@@"', 1, true)
if not s then return redis.error_reply('berth store: object without resourceVersion placeholder') end
local rev = redis.call('INCR', KEYS[1])
local revs = tostring(rev)
json = string.sub(json, 1, s - 1) .. '"resourceVersion":"' .. revs .. '"' .. string.sub(json, e + 1)
local nAdd = tonumber(ARGV[6])
if op == 'delete' then
  redis.call('DEL', KEYS[2], KEYS[4])
  for i = 7, #KEYS do redis.call('ZREM', KEYS[i], ARGV[5]) end
else
  redis.call('SET', KEYS[2], json)
  for i = 7, #KEYS do
    if i - 6 <= nAdd then redis.call('ZADD', KEYS[i], 0, ARGV[5]) else redis.call('ZREM', KEYS[i], ARGV[5]) end
  end
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[4], ARGV[10], ARGV[11])
  elseif ARGV[11] == '-' then redis.call('DEL', KEYS[4]) end
end
local prevId = redis.call('HGET', KEYS[6], ARGV[13]) or '0'
redis.call('HSET', KEYS[6], ARGV[13], revs)
local args = {'XADD', KEYS[3], 'MAXLEN'}
if ARGV[8] ~= '1' then args[#args + 1] = '~' end
args[#args + 1] = ARGV[7]
args[#args + 1] = revs .. '-0'
args[#args + 1] = 'type'
args[#args + 1] = ARGV[4]
args[#args + 1] = 'p'
args[#args + 1] = prevId
args[#args + 1] = 'object'
args[#args + 1] = json
if ARGV[9] ~= '' then
  args[#args + 1] = 'prev'
  args[#args + 1] = ARGV[9]
end
redis.call(unpack(args))
return {'ok', revs}
`;

/**
 * KEYS: 1 rev, 2 index.  ARGV: 1 min, 2 max (ZRANGEBYLEX syntax), 3 count (0 = all), 4 object key prefix.
 * Returns {rev, remaining after the last returned member (only when count > 0), object JSON...}.
 */
export const LIST_LUA = `
local count = tonumber(ARGV[3])
local members
if count > 0 then
  members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, count)
else
  members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2])
end
local remaining = 0
if count > 0 and #members == count then
  remaining = redis.call('ZLEXCOUNT', KEYS[2], '(' .. members[#members], ARGV[2])
end
local out = {redis.call('GET', KEYS[1]) or '0', remaining}
local i = 1
while i <= #members do
  local keys = {}
  for j = i, math.min(i + 499, #members) do keys[#keys + 1] = ARGV[4] .. members[j] end
  local vals = redis.call('MGET', unpack(keys))
  for j = 1, #keys do
    if vals[j] then out[#out + 1] = vals[j] end
  end
  i = i + 500
end
return out
`;

/**
 * KEYS: 1 stream.  ARGV: 1 revision to read after, 2 count.
 * Returns {'gone', compactedRev} when entries after ARGV[1] were trimmed, else {'ok', entries}.
 * Every entry records (field p) the id of the entry before it in the same stream, so the oldest
 * retained entry tells exactly up to which revision the history was trimmed.
 */
export const REPLAY_LUA = `
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first > 0 then
  local f = first[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'p' then
      if tonumber(f[i + 1]) > tonumber(ARGV[1]) then return {'gone', f[i + 1]} end
      break
    end
  end
end
return {'ok', redis.call('XRANGE', KEYS[1], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])}
`;

/**
 * KEYS: 1 rev, 2 last-entry hash.  ARGV: resources.
 * Returns {global rev, newest entry of each resource's stream ('0' if none)...}.
 */
export const PROGRESS_LUA = `
local out = {redis.call('GET', KEYS[1]) or '0'}
if #ARGV > 0 then
  local last = redis.call('HMGET', KEYS[2], unpack(ARGV))
  for i = 1, #ARGV do out[#out + 1] = last[i] or '0' end
end
return out
`;
