/*
 * scripts.c - server-side steps that must be atomic, as one Redis function
 * library (FUNCTION LOAD; persisted with the data set).
 *
 * herald_accept  KEYS: msg, stream, tx
 *                ARGV: event_id, event_json, now_ms, ttl_s, journey, citizen, tx, service
 *   Dedup and enqueue in one step: if the message key exists the event is a
 *   duplicate (returns 0); else XADD a small entry (id, citizen, tx) to the
 *   priority stream, create the message hash, start the journey. Returns 1.
 *
 * herald_step    KEYS: msg, tx, stream, sched, dead
 *                ARGV: now_ms, ttl_s, journey, ack_id, sched_ms, dead, nfields, k, v, ...
 *   Record one transition: HSET fields, append the journey entry, and
 *   optionally XACK+XDEL the stream entry, ZADD the message to the schedule
 *   (sched_ms), push it on the dead-letter list (dead = "1").
 *
 * herald_due     KEYS: sched   ARGV: now_ms, limit
 *   Move due messages from the schedule back onto their stream. ZREM first,
 *   so two heraldd instances never both take one. Returns the count.
 */
#include "scripts.h"

const char herald_lua_library[] =
    "#!lua name=herald\n"
    "local function accept(keys, argv)\n"
    "  if redis.call('EXISTS', keys[1]) == 1 then return 0 end\n"
    "  redis.call('XADD', keys[2], '*', 'id', argv[1], 'c', argv[6], 't', argv[7])\n"
    "  redis.call('HSET', keys[1], 'event', argv[2], 'status', 'accepted',\n"
    "             'accepted_ms', argv[3], 'updated_ms', argv[3], 'citizen', argv[6],\n"
    "             'tx', argv[7], 'service', argv[8], 'stream', keys[2], 'plan_idx', '0',\n"
    "             'attempt', '0')\n"
    "  redis.call('EXPIRE', keys[1], argv[4])\n"
    "  redis.call('RPUSH', keys[3], argv[5])\n"
    "  redis.call('EXPIRE', keys[3], argv[4])\n"
    "  return 1\n"
    "end\n"
    "local function step(keys, argv)\n"
    "  local n = tonumber(argv[7])\n"
    "  if n > 0 then\n"
    "    local f = {}\n"
    "    for i = 1, 2 * n do f[i] = argv[7 + i] end\n"
    "    redis.call('HSET', keys[1], unpack(f))\n"
    "  end\n"
    "  redis.call('EXPIRE', keys[1], argv[2])\n"
    "  if argv[3] ~= '' then\n"
    "    redis.call('RPUSH', keys[2], argv[3])\n"
    "    redis.call('EXPIRE', keys[2], argv[2])\n"
    "  end\n"
    "  if argv[4] ~= '' then\n"
    "    redis.call('XACK', keys[3], 'herald', argv[4])\n"
    "    redis.call('XDEL', keys[3], argv[4])\n"
    "  end\n"
    "  local id = string.sub(keys[1], 12)\n"
    "  if argv[5] ~= '' then redis.call('ZADD', keys[4], argv[5], id) end\n"
    "  if argv[6] == '1' then redis.call('LPUSH', keys[5], id) end\n"
    "  return 1\n"
    "end\n"
    "local function due(keys, argv)\n"
    "  local ids = redis.call('ZRANGEBYSCORE', keys[1], '-inf', argv[1], 'LIMIT', 0, argv[2])\n"
    "  local n = 0\n"
    "  for _, id in ipairs(ids) do\n"
    "    if redis.call('ZREM', keys[1], id) == 1 then\n"
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
    "redis.register_function('herald_step', step)\n"
    "redis.register_function('herald_due', due)\n";
