/*
 * msgrec.h - the two packed fields of a message hash (herald:msg:<id>).
 *
 * Each field of a Redis hash costs Redis time on every write (parsing,
 * an object, a listpack search and insert, its share of the AOF): about as
 * much as the bytes of a short value. So what heraldd writes together is
 * stored together, space-separated (identifiers never hold a space):
 *
 *   meta = "<accepted_ms> <service> <citizen>"       written once, with
 *                                                    the first transition
 *   at   = "<channel> <attempt> <plan_idx> <plan> <to>"
 *          where the message is in its plan; "-" for no channel, plan or
 *          address. <to> (the masked address) comes last: a masked postal
 *          address holds spaces.
 *
 * Hashes written before these fields existed hold accepted_ms, service,
 * citizen, channel, attempt, plan_idx, plan and to one by one; readers take
 * the packed field when it is there, else the single ones (msgrec_read).
 */
#ifndef HERALD_MSGREC_H
#define HERALD_MSGREC_H
#include <stddef.h>
#include <stdint.h>

#define MSGREC_ID_MAX 128 /* event.h's EVENT_MAX_ID */

struct msgrec_meta {
	int64_t accepted_ms;
	char service[MSGREC_ID_MAX + 1];
	char citizen[MSGREC_ID_MAX + 1];
};

struct msgrec_at {
	char channel[64]; /* "" for none */
	unsigned attempt;
	int plan_idx;
	char plan[256]; /* "" for none */
	char to[160];	/* masked; "" for none */
};

/* Format into buf (NUL-terminated): 0, or -1 if it would not fit or a
 * value that must be one word holds a space. */
int msgrec_meta_format(char *buf, size_t len, const struct msgrec_meta *m);
int msgrec_at_format(char *buf, size_t len, const struct msgrec_at *a);

/* Parse a packed field: 0, or -1 (out left zeroed) if s is not one. */
int msgrec_meta_parse(const char *s, struct msgrec_meta *out);
int msgrec_at_parse(const char *s, struct msgrec_at *out);

/* The same meta parse in Lua (router/scripts.c's herald_due and
 * herald_accept, which cannot call C): string.match patterns whose one
 * capture is the citizen / the service. Keep them in step with
 * msgrec_meta_format above. */
#define MSGREC_META_LUA_CITIZEN "^%S+ %S+ (%S+)$"
#define MSGREC_META_LUA_SERVICE "^%S+ (%S+)"

/* Both from a hash read field by field: get(name, arg) returns a field's
 * value or NULL. The packed field when present and well formed, else the
 * single fields of older hashes. Returns 1 if anything was found, else 0
 * (out zeroed: a hash that holds the status alone). */
int msgrec_read_meta(const char *(*get)(const char *name, void *arg), void *arg,
		     struct msgrec_meta *out);
int msgrec_read_at(const char *(*get)(const char *name, void *arg), void *arg,
		   struct msgrec_at *out);

#endif
