/* chanq.h - the two queues every threaded channel plugin needs: jobs from
 * the router thread to worker threads (util/workq.h's jobq), and results
 * back, a queue of struct herald_result with an fd heraldd polls (an
 * util/workq.h item queue). Plugin-side; knows nothing of any one channel. */
#ifndef HERALD_CHANQ_H
#define HERALD_CHANQ_H

#include <stddef.h>
#include <stdint.h>

#include <herald/channel.h>

#include "workq.h"

/* Unbounded result queue; resq_fd() is readable while results wait. */
struct resq;
struct resq *resq_new(void);
int resq_push(struct resq *q, const struct herald_result *r);
/* Push n results under one lock and at most one wake-up. */
int resq_push_many(struct resq *q, const struct herald_result *r, size_t n);
/* Convenience: push a result built from its parts (reason is printf-style). */
int resq_pushf(struct resq *q, uint64_t msg_id, enum herald_status st, unsigned flags,
	       const char *ref, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
int resq_pop(struct resq *q, struct herald_result *out, int max);
int resq_fd(struct resq *q);
void resq_free(struct resq **q);

/* A plugin whose state struct begins with its result queue (struct resq *
 * as the first member; assert it with CHANQ_RESULTS_FIRST) uses these as
 * its descriptor's poll and fd. */
int chanq_state_poll(void *state, struct herald_result *out, int max);
int chanq_state_fd(void *state);
#define CHANQ_RESULTS_FIRST(type)                                                                  \
	_Static_assert(offsetof(type, results) == 0,                                               \
		       #type ": results must be the first member (chanq_state_poll)")

#endif
