/*
 * scripts.c - server-side steps that must be atomic, as one Redis function
 * library (FUNCTION LOAD; persisted with the data set; versioned, and
 * loaded at connect only over an older one: scripts_load, at the end, and
 * the rule in scripts.h). Each function takes
 * a whole batch, so one call (one Lua entry) serves every event of a loop
 * turn. Keys are computed inside (standalone Redis or Sentinel; not Redis
 * Cluster); every name comes from lib/schema.h (see below).
 *
 * herald_accept  ARGV: now_ms, then per event 5 values:
 *                event_id, service, stream, event_json, limits
 *   limits is "0" (none) or "rate burst daily_limit [ch=n ...]" of the
 *   service's policy (services.d; the ch=n are its daily_limit.CHANNEL of
 *   the channels this event may use, router/policy.c). Admission comes
 *   first: a token bucket per service
 *   (herald:rate:<svc>, tokens and Redis TIME, so every heraldd sharing
 *   the Redis agrees; refilled at rate/s up to burst) and the count of the
 *   UTC day's accepted events (herald:daily:<svc>:<day>), and per limited
 *   channel the day's accepted events that may use it
 *   (herald:dailych:<svc>:<ch>:<day>). An event with no token left, or
 *   over daily_limit or one of its channels' limits, is answered -N:
 *   throttled, retry after N ms (>= 1), and nothing is kept of it. Only a
 *   new event takes a token and counts against the day and its channels
 *   (a duplicate does not).
 *   Dedup and enqueue in one step per event. The idempotency key is
 *   service:event_id, kept in the message key without changing it for the
 *   usual case: a new id gets herald:msg:<id> with status accepted and
 *   "svc" (its service; one HSET, as HSETNX status did before). When the id is taken
 *   by another service (its "svc", else the service in "meta" or
 *   "service" of a hash written before "svc"), the event is kept as
 *   herald:msg:<service>:<id> instead, the same way; an id taken by the
 *   same service is a duplicate. A new one gets an entry "id a e" (id: the
 *   key's id, a: accepted time, e: the event as published, which names
 *   citizen and transaction) on the priority stream. Redis's time goes by
 *   the argument, so nothing is passed twice. Two calls an event: the rest
 *   of the message hash, its TTL and the journey's "accepted" entry are
 *   written by the worker with its first transition of the message
 *   (state.c), in the same pipeline as its own writes. That first
 *   transition always comes: the entry stays pending until a worker (this
 *   one after a restart, or another by XAUTOCLAIM) has taken it. Returns
 *   per event 1 (new), 2 (new as <service>:<id>), 0 (duplicate), 3 (the
 *   id is another service's and <service>:<id> is too long, over 128, or
 *   is another service's too) or -N (throttled, retry after N ms).
 *
 * herald_due     ARGV: now_ms, limit
 *   Move due messages from herald:sched back onto their stream (the hash's
 *   "stream", else herald:q:normal; an entry without the event: the worker
 *   reads the message hash: "id c t"). The citizen comes from the hash's
 *   "meta" (lib/msgrec.h), or its "citizen" in a hash written before
 *   "meta". A message whose hash is gone (expired, purged) is dropped from
 *   the schedule and its id returned, so heraldd logs and counts it (never
 *   silently). ZREM first, so two heraldd instances never both take one.
 *   A held one (in herald:held, heraldctl hold) is put back
 *   HOLD_RECHECK_MS later instead: no instance sends it until released.
 *   Returns {count moved, missing id...}.
 *
 * herald_engage  ARGV: ttl_s, event_id, service, transaction_id, channel,
 *                meta
 *   An engagement event, through the same dedup as a notification (the
 *   same claim on service:event_id as herald_accept); a new one's hash
 *   gets status engaged, its transaction, meta (lib/msgrec.h) and TTL, and
 *   herald:engaged:<tx> = channel (with the TTL). Returns herald_accept's
 *   1 (new), 2 (new as <service>:<id>), 0 (duplicate) or 3 (taken).
 *   Optional ARGV 7-9 (version 1): journey key, record, ttl_s: a new
 *   engagement's record is RPUSHed there (EXPIRE NX ttl_s) in the same
 *   step (router/inbound_sms.c); the answer is then {that number, 1}.
 *
 * herald_mo      ARGV: number, now_ms, member, ttl_s
 *   An SMS handed over to number: member ("<service> <tx> <event_id>
 *   <citizen>") into herald:mo:<number> scored now, the newest MO_KEEP
 *   kept, the key's TTL retention: one command per SMS (submit.c), so
 *   that a reply can be matched to it (router/inbound_sms.c).
 *
 * herald_list_add ARGV: citizen id, list field, note field, channel, note,
 *                max length
 *   Add channel to a list in herald:citizen:<id> (lib/citizen.h: optout,
 *   optout@SERVICE, invalid) and set its note field, in one step: the list
 *   is read and written inside the script, so a refusal another writer
 *   (another heraldd, heraldctl optout) adds at the same moment is kept,
 *   where a read-modify-write from heraldd's copy of the hash would drop
 *   it. The list rule is lib/citizen.h's (CITIZEN_LUA_LIST_SPLIT, shared
 *   with heraldctl optout). Returns {1, new list} added, {0, list as it
 *   is} already there (nothing written), {-1, list as it is} the new list
 *   would pass max length (nothing written).
 *   Optional ARGV 7-12 (version 1): journey key, record, ttl_s, always,
 *   stream, entry id. The record is RPUSHed to the journey key (EXPIRE NX
 *   ttl_s) when the channel was added, or whatever the answer when always
 *   is "1" (a complaint is journaled even when already refused), and the
 *   stream entry (when given) is XACKed in group herald and XDELed: the
 *   refusal, its record and the acknowledgement of what asked for it land
 *   together or not at all (router/optout.c). An empty key or stream: none.
 *   With them the answer has a third element, 1 (a library older than 1
 *   ignores them and answers two: heraldd then writes the record itself).
 *
 * herald_version (no-writes)
 *   The library's version (HERALD_LIB_VERSION, scripts.h): heraldd keeps a
 *   newer library loaded by a newer instance (scripts_load, below).
 *
 * herald_lease   KEYS: a stream; ARGV: consumer, then entry ids
 *   The heartbeat of the entries this instance holds (router/lease.c): an
 *   id still pending for this consumer is renewed (XCLAIM min-idle 0
 *   JUSTID resets its idle time, so XAUTOCLAIM leaves it alone); one
 *   another consumer owns now (it claimed it while this one was silent) is
 *   left to it. Returns {ids owned by another consumer, ids not pending}.
 *
 * herald_trim    KEYS: a stream
 *   Trim what every group is done with, atomically (no read can come
 *   between the look and the trim): below the oldest entry pending in any
 *   group, and never past an entry no group was delivered yet. Returns
 *   the number of entries trimmed.
 *
 * herald_pipe    ARGV: one msgpack array of commands (each an array of
 *                strings: name, arguments)
 *   A run of plain write commands sent as one script (router/redispipe.c,
 *   under appendfsync always): each is run with redis.pcall, so one's
 *   error does not stop the others, as in a pipeline. Returns the array of
 *   their replies, errors included, in order.
 */
#include <stdio.h>
#include <string.h>

#include "scripts.h"
#include "citizen.h"
#include "log.h"
#include "event.h"
#include "msgrec.h"
#include "schema.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define EVENT_MAX_ID_STR STR(EVENT_MAX_ID)
#define LIB_VERSION_STR STR(HERALD_LIB_VERSION)

/* Put together from lib/schema.h's names (and msgrec.h's patterns for the
 * service and citizen in "meta", lib/event.h's id length), so the Lua
 * cannot drift from the C. */
const char herald_lua_library[] =
    "#!lua name=herald\n" HERALD_LIB_VERSION_MARK LIB_VERSION_STR "\n"
    "local function owner(mk)\n"
    "  local m = redis.call('HMGET', mk, '" MSG_F_SVC "', '" MSG_F_META "',\n"
    "                       '" MSG_F_OLD_SERVICE "')\n"
    "  return m[1] or (m[2] and string.match(m[2], '" MSGREC_META_LUA_SERVICE "')) or m[3]\n"
    "end\n"
    "local function claim(id, svc)\n"
    "  local mk = '" KEY_MSG "' .. id\n"
    "  if redis.call('EXISTS', mk) == 0 then\n"
    "    redis.call('HSET', mk, '" MSG_F_STATUS "', 'accepted', '" MSG_F_SVC "', svc)\n"
    "    return 1\n"
    "  end\n"
    "  local o = owner(mk)\n"
    "  if o == nil or o == svc then return 0 end\n"
    "  return -1\n"
    "end\n"
    "local function claim_for(id, svc)\n"
    "  local r = claim(id, svc)\n"
    "  if r == -1 then\n"
    "    id = svc .. '" KEY_MSG_SVC_SEP "' .. id\n"
    "    r = 3\n"
    "    if #id <= " EVENT_MAX_ID_STR " then\n"
    "      r = claim(id, svc)\n"
    "      if r == 1 then r = 2 elseif r == -1 then r = 3 end\n"
    "    end\n"
    "  end\n"
    "  return r, id\n"
    "end\n"
    "local function bucket(st, svc, spec, clock)\n"
    "  local b = st[svc]\n"
    "  if b then return b end\n"
    "  local rate, burst, daily = string.match(spec, '^(%d+) (%d+) (%d+)')\n"
    "  rate, burst, daily = tonumber(rate) or 0, tonumber(burst) or 0, tonumber(daily) or 0\n"
    "  if burst < 1 then burst = math.max(rate, 1) end\n"
    "  b = {rate = rate, burst = burst, daily = daily, t = burst, used = 0, took = 0}\n"
    "  if rate > 0 then\n"
    "    local h = redis.call('HMGET', '" KEY_RATE "' .. svc, '" RATE_F_TOKENS "', '" RATE_F_TS
    "')\n"
    "    local t, ts = tonumber(h[1]), tonumber(h[2])\n"
    "    if t and ts then\n"
    "      b.t = math.min(burst, t + math.max(0, clock.us - ts) * rate / 1e6)\n"
    "    end\n"
    "  end\n"
    "  if daily > 0 then\n"
    "    b.dkey = '" KEY_DAILY "' .. svc .. ':' .. clock.day\n"
    "    b.used = tonumber(redis.call('GET', b.dkey)) or 0\n"
    "  end\n"
    "  st[svc] = b\n"
    "  return b\n"
    "end\n"
    "local function chan_counts(cs, svc, spec, clock)\n"
    "  local out = {}\n"
    "  for ch, lim in string.gmatch(spec, ' ([%w_%-]+)=(%d+)') do\n"
    "    local k = '" KEY_DAILY_CH "' .. svc .. ':' .. ch .. ':' .. clock.day\n"
    "    local c = cs[k]\n"
    "    if not c then\n"
    "      c = {key = k, limit = tonumber(lim), took = 0,\n"
    "           used = tonumber(redis.call('GET', k)) or 0}\n"
    "      cs[k] = c\n"
    "    end\n"
    "    out[#out + 1] = c\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function admit(b, cl, clock)\n"
    "  if b.rate > 0 and b.t < 1 then\n"
    "    return -math.max(1, math.ceil((1 - b.t) * 1000 / b.rate))\n"
    "  end\n"
    "  local full = b.daily > 0 and b.used >= b.daily\n"
    "  for _, c in ipairs(cl) do full = full or c.used >= c.limit end\n"
    "  if full then\n"
    "    return -math.max(1, math.ceil(clock.midnight_ms))\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "local function buckets_save(st, cs, clock)\n"
    "  for _, c in pairs(cs) do\n"
    "    if c.took > 0 then\n"
    "      redis.call('INCRBY', c.key, c.took)\n"
    "      redis.call('EXPIRE', c.key, 172800)\n"
    "    end\n"
    "  end\n"
    "  for svc, b in pairs(st) do\n"
    "    if b.rate > 0 and b.took > 0 then\n"
    "      local k = '" KEY_RATE "' .. svc\n"
    "      redis.call('HSET', k, '" RATE_F_TOKENS "', string.format('%.6f', b.t),\n"
    "                 '" RATE_F_TS "', string.format('%.0f', clock.us))\n"
    "      redis.call('PEXPIRE', k, math.ceil(b.burst * 1000 / b.rate) + 1000)\n"
    "    end\n"
    "    if b.daily > 0 and b.took > 0 then\n"
    "      redis.call('INCRBY', b.dkey, b.took)\n"
    "      redis.call('EXPIRE', b.dkey, 172800)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local function now_clock()\n"
    "  local t = redis.call('TIME')\n"
    "  local sec, us = tonumber(t[1]), tonumber(t[2])\n"
    "  local day = math.floor(sec / 86400)\n"
    "  return {us = sec * 1e6 + us, day = day,\n"
    "          midnight_ms = ((day + 1) * 86400 - sec) * 1000 - us / 1000}\n"
    "end\n"
    "local function accept_one(argv, i, now, b, cl)\n"
    "  local r, id = claim_for(argv[i], argv[i + 1])\n"
    "  if r == 1 or r == 2 then\n"
    "    redis.call('XADD', argv[i + 2], '*', '" STREAM_F_ID "', id,\n"
    "               '" STREAM_F_ACCEPTED "', now, '" STREAM_F_EVENT "', argv[i + 3])\n"
    "    if b then b.t, b.used, b.took = b.t - 1, b.used + 1, b.took + 1 end\n"
    "    for _, c in ipairs(cl) do c.used, c.took = c.used + 1, c.took + 1 end\n"
    "  end\n"
    "  return r\n"
    "end\n"
    "local function accept(keys, argv)\n"
    "  local now, out, st, cs, clock = argv[1], {}, {}, {}, nil\n"
    "  for i = 2, #argv, 5 do\n"
    "    local r, b, cl = 0, nil, {}\n"
    "    if argv[i + 4] ~= '0' then\n"
    "      clock = clock or now_clock()\n"
    "      b = bucket(st, argv[i + 1], argv[i + 4], clock)\n"
    "      cl = chan_counts(cs, argv[i + 1], argv[i + 4], clock)\n"
    "      r = admit(b, cl, clock)\n"
    "    end\n"
    "    if r >= 0 then r = accept_one(argv, i, now, b, cl) end\n"
    "    out[#out + 1] = r\n"
    "  end\n"
    "  if clock then buckets_save(st, cs, clock) end\n"
    "  return out\n"
    "end\n"
    "local function due(keys, argv)\n"
    "  local ids = redis.call('ZRANGEBYSCORE', '" KEY_SCHED "', '-inf', argv[1], 'LIMIT', 0,\n"
    "                         argv[2])\n"
    "  local n, missing = 0, {}\n"
    "  for _, id in ipairs(ids) do\n"
    "    if redis.call('SISMEMBER', '" KEY_HELD "', id) == 1 then\n"
    "      redis.call('ZADD', '" KEY_SCHED "', argv[1] + " HOLD_RECHECK_MS_STR ", id)\n"
    "    elseif redis.call('ZREM', '" KEY_SCHED "', id) == 1 then\n"
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
    "  local ttl = argv[1]\n"
    "  local r, id = claim_for(argv[2], argv[3])\n"
    "  if r == 1 or r == 2 then\n"
    "    local mk = '" KEY_MSG "' .. id\n"
    "    redis.call('HSET', mk, '" MSG_F_STATUS "', '" STATUS_ENGAGED "', '" MSG_F_TX "',\n"
    "               argv[4], '" MSG_F_META "', argv[6])\n"
    "    redis.call('EXPIRE', mk, ttl)\n"
    "    redis.call('SET', '" KEY_ENGAGED "' .. argv[4], argv[5], 'EX', ttl)\n"
    "    if (argv[7] or '') ~= '' then\n"
    "      redis.call('RPUSH', argv[7], argv[8])\n"
    "      redis.call('EXPIRE', argv[7], argv[9], 'NX')\n"
    "    end\n"
    "  end\n"
    "  if argv[7] == nil then return r end\n"
    "  return {r, 1}\n"
    "end\n"
    "local function mo(keys, argv)\n"
    "  local k = '" KEY_MO "' .. argv[1]\n"
    "  redis.call('ZADD', k, argv[2], argv[3])\n"
    "  redis.call('ZREMRANGEBYRANK', k, 0, -" MO_KEEP_STR " - 1)\n"
    "  redis.call('EXPIRE', k, argv[4])\n"
    "  return 1\n"
    "end\n" CITIZEN_LUA_LIST_SPLIT "local function list_put(argv)\n"
    "  local k = '" KEY_CITIZEN "' .. argv[1]\n"
    "  local old = redis.call('HGET', k, argv[2])\n"
    "  local list, found = list_split(old, argv[4])\n"
    "  if found then return 0, old end\n"
    "  list[#list + 1] = argv[4]\n"
    "  local s = table.concat(list, ',')\n"
    "  if #s > tonumber(argv[6]) then return -1, old or '' end\n"
    "  redis.call('HSET', k, argv[2], s, argv[3], argv[5])\n"
    "  return 1, s\n"
    "end\n"
    "local function list_add(keys, argv)\n"
    "  local r, s = list_put(argv)\n"
    "  if argv[7] == nil then return {r, s} end\n"
    "  if argv[7] ~= '' and (r == 1 or argv[10] == '1') then\n"
    "    redis.call('RPUSH', argv[7], argv[8])\n"
    "    redis.call('EXPIRE', argv[7], argv[9], 'NX')\n"
    "  end\n"
    "  if (argv[11] or '') ~= '' then\n"
    "    redis.call('XACK', argv[11], '" GROUP "', argv[12])\n"
    "    redis.call('XDEL', argv[11], argv[12])\n"
    "  end\n"
    "  return {r, s, 1}\n"
    "end\n"
    "local function lease(keys, argv)\n"
    "  local s, me, lost, gone = keys[1], argv[1], {}, {}\n"
    "  local claim = {'XCLAIM', s, '" GROUP "', me, 0}\n"
    "  for i = 2, #argv do\n"
    "    local p = redis.call('XPENDING', s, '" GROUP "', argv[i], argv[i], 1)\n"
    "    if #p == 0 then gone[#gone + 1] = argv[i]\n"
    "    elseif p[1][2] ~= me then lost[#lost + 1] = argv[i]\n"
    "    else claim[#claim + 1] = argv[i] end\n"
    "    if #claim >= 505 or (i == #argv and #claim > 5) then\n"
    "      claim[#claim + 1] = 'JUSTID'\n"
    "      redis.call(unpack(claim))\n"
    "      claim = {'XCLAIM', s, '" GROUP "', me, 0}\n"
    "    end\n"
    "  end\n"
    "  return {lost, gone}\n"
    "end\n"
    "local function idnum(id)\n"
    "  local ms, seq = string.match(id, '^(%d+)%-(%d+)$')\n"
    "  return tonumber(ms), tonumber(seq)\n"
    "end\n"
    "local function trim(keys, argv)\n"
    "  local s = keys[1]\n"
    "  if redis.call('EXISTS', s) == 0 then return 0 end\n"
    "  local minms, minseq\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', s)) do\n"
    "    local f = {}\n"
    "    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end\n"
    "    local p = redis.call('XPENDING', s, f['name'])\n"
    "    local ms, seq\n"
    "    if p[1] > 0 then ms, seq = idnum(p[2])\n"
    "    else ms, seq = idnum(f['last-delivered-id']); seq = seq + 1 end\n"
    "    if not minms or ms < minms or (ms == minms and seq < minseq) then\n"
    "      minms, minseq = ms, seq\n"
    "    end\n"
    "  end\n"
    "  if not minms then return 0 end\n"
    "  return redis.call('XTRIM', s, 'MINID', string.format('%d-%d', minms, minseq))\n"
    "end\n"
    "local function pipe(keys, argv)\n"
    "  local c = cmsgpack.unpack(argv[1])\n"
    "  local out = {}\n"
    "  for i = 1, #c do out[i] = redis.pcall(unpack(c[i])) end\n"
    "  return out\n"
    "end\n"
    "redis.register_function('herald_accept', accept)\n"
    "redis.register_function('herald_due', due)\n"
    "redis.register_function('herald_lease', lease)\n"
    "redis.register_function('herald_trim', trim)\n"
    "redis.register_function('herald_engage', engage)\n"
    "redis.register_function('herald_mo', mo)\n"
    "redis.register_function('herald_list_add', list_add)\n"
    "redis.register_function('herald_pipe', pipe)\n"
    "redis.register_function{function_name = 'herald_version',\n"
    "  callback = function() return herald_library_version end, flags = {'no-writes'}}\n";

/* ---- loading ------------------------------------------------------------ */

long scripts_code_version(const char *code, size_t len)
{
	static const char mark[] = HERALD_LIB_VERSION_MARK;
	const char *p = memmem(code, len, mark, sizeof(mark) - 1);
	long v = 0;

	if (!p)
		return 0;
	for (p += sizeof(mark) - 1; p < code + len && *p >= '0' && *p <= '9' && v < 1000000; p++)
		v = v * 10 + (*p - '0');
	return v;
}

/* The code of the library "herald" in a FUNCTION LIST ... WITHCODE reply;
 * NULL when there is none. */
static const redisReply *loaded_code(const redisReply *rep)
{
	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *lib = rep->element[i], *name = NULL, *code = NULL;
		for (size_t j = 0; lib->type == REDIS_REPLY_ARRAY && j + 1 < lib->elements;
		     j += 2) {
			const redisReply *k = lib->element[j], *v = lib->element[j + 1];
			if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
				continue;
			if (!strcmp(k->str, "library_name"))
				name = v;
			else if (!strcmp(k->str, "library_code"))
				code = v;
		}
		if (name && code && !strcmp(name->str, "herald"))
			return code;
	}
	return NULL;
}

/* A newer library kept: said once per version (reconnects say it again
 * only when another version turns up). */
static void kept_newer(const char *where, long v)
{
	static long said;

	if (said == v)
		return;
	said = v;
	log_msg(LOG_L_NOTICE,
		"redis %s: function library version %ld loaded by a newer heraldd; kept (this "
		"heraldd's is %d)",
		where, v, HERALD_LIB_VERSION);
}

int scripts_load(redisContext *ctx, const char *where, char *err, size_t errlen)
{
	redisReply *rep = redisCommand(ctx, "FUNCTION LIST LIBRARYNAME herald WITHCODE");
	const redisReply *code;
	long v = -1;

	if (!rep) {
		snprintf(err, errlen, "redis %s: FUNCTION LIST failed: %s", where, ctx->errstr);
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) /* (an ACL?) load it, as before versions */
		log_warnx("redis %s: FUNCTION LIST refused (%s): the function library is loaded "
			  "whatever version Redis holds",
			  where, rep->str);
	code = loaded_code(rep);
	if (code) {
		if (code->len == sizeof(herald_lua_library) - 1 &&
		    !memcmp(code->str, herald_lua_library, code->len)) {
			freeReplyObject(rep); /* this very library: nothing to do */
			return 0;
		}
		v = scripts_code_version(code->str, code->len);
	}
	freeReplyObject(rep);
	if (v > HERALD_LIB_VERSION) {
		kept_newer(where, v);
		return 0;
	}
	if (v == HERALD_LIB_VERSION)
		log_msg(LOG_L_NOTICE,
			"redis %s: function library version %ld with other code (changed without "
			"a new version): replaced",
			where, v);
	else if (v >= 0)
		log_info("redis %s: function library version %ld replaced by version %d", where, v,
			 HERALD_LIB_VERSION);
	rep = redisCommand(ctx, "FUNCTION LOAD REPLACE %s", herald_lua_library);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "redis %s: FUNCTION LOAD failed: %s", where,
			 rep ? rep->str : ctx->errstr);
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}
