/*
 * scripts.c - server-side steps that must be atomic, as one Redis function
 * library (FUNCTION LOAD; persisted with the data set). Each function takes
 * a whole batch, so one call (one Lua entry) serves every event of a loop
 * turn. Keys are computed inside (standalone Redis or Sentinel; not Redis
 * Cluster).
 *
 * herald_accept  ARGV: now_ms, ttl_s, then per event 7 values:
 *                event_id, stream, event_json, citizen, tx, service, journey
 *   Dedup and enqueue in one step per event: if herald:msg:<id> exists the
 *   event is a duplicate (0); else create the message hash, start the
 *   journey, and XADD an entry "id c t a" (a: accepted time) to the
 *   priority stream (1); the event itself is only in the hash (the worker
 *   has it in its cache, else reads the hash). Returns the array of 0/1.
 *
 * herald_due     ARGV: now_ms, limit
 *   Move due messages from herald:sched back onto their stream (an entry
 *   without the event: the worker reads the message hash). ZREM first, so
 *   two heraldd instances never both take one. Returns the count.
 */
#include "scripts.h"

const char herald_lua_library[] =
    "#!lua name=herald\n"
    "local function journey(tx, entry, ttl)\n"
    "  if entry == '' then return end\n"
    "  local k = 'herald:tx:' .. tx\n"
    "  if redis.call('RPUSH', k, entry) == 1 then redis.call('EXPIRE', k, ttl) end\n"
    "end\n"
    "local function accept(keys, argv)\n"
    "  local now, ttl, out = argv[1], argv[2], {}\n"
    "  for i = 3, #argv, 7 do\n"
    "    local id, stream, ev = argv[i], argv[i + 1], argv[i + 2]\n"
    "    local cit, tx, svc = argv[i + 3], argv[i + 4], argv[i + 5]\n"
    "    local mk = 'herald:msg:' .. id\n"
    "    if redis.call('EXISTS', mk) == 1 then\n"
    "      out[#out + 1] = 0\n"
    "    else\n"
    "      redis.call('HSET', mk, 'event', ev, 'status', 'accepted', 'accepted_ms', now,\n"
    "                 'updated_ms', now, 'citizen', cit, 'tx', tx, 'service', svc,\n"
    "                 'stream', stream, 'plan_idx', '0', 'attempt', '0')\n"
    "      redis.call('EXPIRE', mk, ttl)\n"
    "      journey(tx, argv[i + 6], ttl)\n"
    "      redis.call('XADD', stream, '*', 'id', id, 'c', cit, 't', tx, 'a', now)\n"
    "      out[#out + 1] = 1\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function due(keys, argv)\n"
    "  local ids = redis.call('ZRANGEBYSCORE', 'herald:sched', '-inf', argv[1], 'LIMIT', 0,\n"
    "                         argv[2])\n"
    "  local n = 0\n"
    "  for _, id in ipairs(ids) do\n"
    "    if redis.call('ZREM', 'herald:sched', id) == 1 then\n"
    "      local m = redis.call('HMGET', 'herald:msg:' .. id, 'stream', 'citizen', 'tx')\n"
    "      if m[1] then\n"
    "        redis.call('XADD', m[1], '*', 'id', id, 'c', m[2] or '', 't', m[3] or id)\n"
    "        n = n + 1\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return n\n"
    "end\n"
    "redis.register_function('herald_accept', accept)\n"
    "redis.register_function('herald_due', due)\n";
