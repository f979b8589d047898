/* chanq.c - a plugin's result queue: an item queue of struct herald_result
 * (util/workq.c), typed for the plugins. */
#include "chanq.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* struct resq is never defined: a resq pointer is an itemq pointer. */
static struct itemq *items(struct resq *q)
{
	return (struct itemq *)q;
}

struct resq *resq_new(void)
{
	return (struct resq *)itemq_new(sizeof(struct herald_result));
}

int resq_push_many(struct resq *q, const struct herald_result *r, size_t n)
{
	return itemq_push_many(items(q), r, n);
}

int resq_push(struct resq *q, const struct herald_result *r)
{
	return itemq_push(items(q), r);
}

int resq_pushf(struct resq *q, uint64_t msg_id, enum herald_status st, unsigned flags,
	       const char *ref, const char *dsn, const char *fmt, ...)
{
	struct herald_result r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.version = HERALD_RESULT_VERSION;
	r.msg_id = msg_id;
	r.status = st;
	r.flags = flags;
	snprintf(r.ref, sizeof(r.ref), "%s", ref ? ref : "");
	snprintf(r.dsn, sizeof(r.dsn), "%s", dsn ? dsn : "");
	va_start(ap, fmt);
	vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
	va_end(ap);
	return resq_push(q, &r);
}

int resq_pop(struct resq *q, struct herald_result *out, int max)
{
	return itemq_pop(items(q), out, max);
}

int resq_fd(struct resq *q)
{
	return itemq_fd(items(q));
}

void resq_free(struct resq **q)
{
	struct itemq *iq = items(*q);

	itemq_free(&iq);
	*q = NULL;
}

int chanq_state_poll(void *state, struct herald_result *out, int max)
{
	return resq_pop(*(struct resq **)state, out, max);
}

int chanq_state_fd(void *state)
{
	return resq_fd(*(struct resq **)state);
}
