/*
 * ctl_redis.h - heraldctl's Redis connection, for the subcommands that read
 * or repair heraldd's state (trace, status, dead, purge). The address comes
 * from the [redis] section of heraldd's config (host, port, password, db;
 * or the master that [redis] sentinels name, util/sentinel.h).
 *
 * Every function here prints its own error on stderr, prefixed with
 * "heraldctl CMD:", so a subcommand only maps a NULL / -1 to exit status 2
 * (Redis unreachable or failing); 1 stays for "not found" or "refused".
 */
#ifndef HERALD_CTL_REDIS_H
#define HERALD_CTL_REDIS_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "heraldctl.h"

/* Connect (AUTH and SELECT as configured). NULL on failure, reported. */
redisContext *ctl_redis_open(const struct ctl *c, const char *cmd);
void ctl_redis_close(redisContext **rc);

/* One synchronous command. NULL on an I/O error or an error reply (both
 * reported); the caller frees the reply. */
redisReply *ctl_redis_cmd(redisContext *rc, const char *cmd, const char *fmt, ...);
redisReply *ctl_redis_cmdv(redisContext *rc, const char *cmd, int argc, const char **argv,
			   const size_t *lens);

/* Pipelining: queue with redisAppendCommand*, then take each reply in order
 * with ctl_redis_reply (NULL and reported on failure, as above). */
redisReply *ctl_redis_reply(redisContext *rc, const char *cmd);

/* An HGETALL reply as a JSON object of strings (empty when the key is
 * missing; fields that are not UTF-8 are left out). NULL only without
 * memory. */
json_t *ctl_reply_object(const redisReply *r);
/* A message hash (as from ctl_reply_object) with its packed fields "meta"
 * and "at" (lib/msgrec.h) spread into the single fields heraldctl shows:
 * accepted_ms, service, citizen, channel, attempt, plan_idx, plan, to. An
 * older hash that holds the single fields is left as it is. */
void ctl_msg_unpack(json_t *h);
/* The fields an HMGET of `names` (NULL-terminated, in the HMGET's order)
 * returned, as a JSON object without the nil ones, unpacked as above. NULL
 * only without memory. */
json_t *ctl_msg_fields(const redisReply *r, const char *const *names);
/* A field of such an object; "-" when absent or empty. */
const char *ctl_field(const json_t *h, const char *k);

/* A string or integer reply as a number (def when nil or not a number). */
long long ctl_reply_ll(const redisReply *r, long long def);
/* "2026-11-22T09:00:01.234Z" for a field holding milliseconds, "-" when it
 * is absent or not a number. */
void ctl_format_ms(const char *ms_text, char *out, size_t outlen);

/* Print s with control characters made blanks: reasons and ids are foreign
 * text and go to a terminal. */
void ctl_put_clean(const char *s);

#endif
