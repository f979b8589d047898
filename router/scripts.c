/*
 * scripts.c - server-side steps that must be atomic, as one Redis function
 * library (FUNCTION LOAD; persisted with the data set). Each function takes
 * a whole batch, so one call (one Lua entry) serves every event of a loop
 * turn. Keys are computed inside (standalone Redis or Sentinel; not Redis
 * Cluster); every name comes from lib/schema.h (see below).
 *
 * herald_accept  ARGV: now_ms, then per event 3 values:
 *                event_id, stream, event_json
 *   Dedup and enqueue in one step per event: HSETNX herald:msg:<id> status
 *   accepted says whether the id is new (1) or a duplicate (0); a new one
 *   gets an entry "id a e" (a: accepted time, e: the event as published,
 *   which names citizen and transaction) on the priority stream. Redis's
 *   time goes by the argument, so nothing is passed twice. Two calls an
 *   event: the rest of the
 *   message hash, its TTL and the journey's "accepted" entry are written by
 *   the worker with its first transition of the message (state.c), in the
 *   same pipeline as its own writes. That first transition always comes:
 *   the entry stays pending until a worker (this one after a restart, or
 *   another by XAUTOCLAIM) has taken it. Returns the array of 0/1.
 *
 * herald_due     ARGV: now_ms, limit
 *   Move due messages from herald:sched back onto their stream (the hash's
 *   "stream", else herald:q:normal; an entry without the event: the worker
 *   reads the message hash: "id c t"). The citizen comes from the hash's
 *   "meta" (lib/msgrec.h), or its "citizen" in a hash written before
 *   "meta". A message whose hash is gone (expired, purged) is dropped from
 *   the schedule and its id returned, so heraldd logs and counts it (never
 *   silently). ZREM first, so two heraldd instances never both take one.
 *   Returns {count moved, missing id...}.
 *
 * herald_engage  ARGV: ttl_s, event_id, transaction_id, channel, meta
 *   An engagement event, through the same dedup as a notification: HSETNX
 *   herald:msg:<id> status engaged says whether the id is new; a new one
 *   gets its transaction, meta (lib/msgrec.h) and TTL, and
 *   herald:engaged:<tx> = channel (with the TTL). Returns 1 new, 0
 *   duplicate.
 */
#include "scripts.h"
#include "msgrec.h"
#include "schema.h"

/* Put together from lib/schema.h's names (and msgrec.h's pattern for the
 * citizen in "meta"), so the Lua cannot drift from the C. */
const char herald_lua_library[] =
    "#!lua name=herald\n"
    "local function accept(keys, argv)\n"
    "  local now, out = argv[1], {}\n"
    "  for i = 2, #argv, 3 do\n"
    "    local id, stream = argv[i], argv[i + 1]\n"
    "    local mk = '" KEY_MSG "' .. id\n"
    "    if redis.call('HSETNX', mk, '" MSG_F_STATUS "', 'accepted') == 0 then\n"
    "      out[#out + 1] = 0\n"
    "    else\n"
    "      redis.call('XADD', stream, '*', '" STREAM_F_ID "', id, '" STREAM_F_ACCEPTED "', now,\n"
    "                 '" STREAM_F_EVENT "', argv[i + 2])\n"
    "      out[#out + 1] = 1\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function due(keys, argv)\n"
    "  local ids = redis.call('ZRANGEBYSCORE', '" KEY_SCHED "', '-inf', argv[1], 'LIMIT', 0,\n"
    "                         argv[2])\n"
    "  local n, missing = 0, {}\n"
    "  for _, id in ipairs(ids) do\n"
    "    if redis.call('ZREM', '" KEY_SCHED "', id) == 1 then\n"
    "      local m = redis.call('HMGET', '" KEY_MSG "' .. id, '" MSG_F_STATUS "',\n"
    "                           '" MSG_F_STREAM "', '" MSG_F_OLD_CITIZEN "', '" MSG_F_TX "',\n"
    "                           '" MSG_F_META "')\n"
    "      if m[1] then\n"
    "        local c = m[3] or (m[5] and string.match(m[5], '" MSGREC_META_LUA_CITIZEN "'))\n"
    "                  or ''\n"
    "        redis.call('XADD', m[2] or '" KEY_Q_DEFAULT "', '*', '" STREAM_F_ID "', id,\n"
    "                   '" STREAM_F_CITIZEN "', c, '" STREAM_F_TX "', m[4] or id)\n"
    "        n = n + 1\n"
    "      else\n"
    "        missing[#missing + 1] = id\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  table.insert(missing, 1, n)\n"
    "  return missing\n"
    "end\n"
    "local function engage(keys, argv)\n"
    "  local ttl, id = argv[1], argv[2]\n"
    "  local mk = '" KEY_MSG "' .. id\n"
    "  if redis.call('HSETNX', mk, '" MSG_F_STATUS "', '" STATUS_ENGAGED "') == 0 then\n"
    "    return 0\n"
    "  end\n"
    "  redis.call('HSET', mk, '" MSG_F_TX "', argv[3], '" MSG_F_META "', argv[5])\n"
    "  redis.call('EXPIRE', mk, ttl)\n"
    "  redis.call('SET', '" KEY_ENGAGED "' .. argv[3], argv[4], 'EX', ttl)\n"
    "  return 1\n"
    "end\n"
    "redis.register_function('herald_accept', accept)\n"
    "redis.register_function('herald_due', due)\n"
    "redis.register_function('herald_engage', engage)\n";
