/*
 * ctl_queue.h - the messages not yet final, as heraldctl queue, queue
 * shape, hold, release, delete and flush see them (every instance's: the
 * state is all in Redis).
 *
 * The set is put together from what heraldd itself works from, never a
 * SCAN of herald:msg:* (O(keyspace)):
 *   herald:sched (ZRANGE WITHSCORES)  scheduled, retrying, awaiting a
 *                                     receipt (the hash's status tells), or
 *                                     held (in herald:held)
 *   each stream's pending entries     in flight (XPENDING: consumer, idle)
 *   each stream's entries after the   queued (not read by any instance yet)
 *   group's last-delivered-id
 * then one pipelined HMGET per message for its status, service, channel,
 * attempt, accepted time and reason. Cost: O(scheduled + pending + queued)
 * commands in a handful of round trips; an operator's tool, not a probe to
 * run every second on a queue of millions.
 */
#ifndef HERALD_CTL_QUEUE_H
#define HERALD_CTL_QUEUE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct idmap;

#include "heraldctl.h"

enum qstate { QS_SCHEDULED, QS_RETRYING, QS_INFLIGHT, QS_RECEIPT, QS_HELD, QS_QUEUED, QS_N };

struct qmsg {
	char *id;
	char service[64], channel[32], status[32], consumer[64];
	char *reason;
	enum qstate state;
	int64_t accepted_ms, due_ms; /* due_ms 0: not in herald:sched */
	long attempts;
	int held;
};

struct qlist {
	struct qmsg *v;
	size_t n, cap;
	int64_t now_ms;
	struct idmap *seen; /* fnv1a64(id) -> index + 1, to drop a second sighting */
};

/* The filters every queue command takes. NULL / 0: any. */
struct qfilter {
	const char *service, *channel;
	int state; /* -1: any */
	int64_t older_than_ms;
};

const char *qstate_name(enum qstate s);
/* -1 for an unknown name ("in-flight", "awaiting-receipt", ...). */
int qstate_parse(const char *s);

/* Enumerate (see above). 0 done, 2 Redis failed (reported as "heraldctl
 * CMD:"). */
int ctl_queue_load(redisContext *rc, const char *cmd, struct qlist *q);
int qfilter_match(const struct qfilter *f, const struct qmsg *m, int64_t now_ms);
void ctl_queue_free(struct qlist *q);

/* Filter options shared by the queue commands: returns 1 when opt (a
 * getopt_long value: 's' service, 'C' channel, 'S' state, 'o' older-than)
 * was one, -1 when its value was bad (reported), 0 otherwise. */
int qfilter_opt(struct qfilter *f, int opt, const char *arg, const char *cmd);

/* The operator's user name (SUDO_USER, else the login, else the uid) and
 * an action on an id appended to herald:oplog (queued on rc's pipeline;
 * the caller reads its replies). Returns the number of commands queued. */
const char *ctl_operator(void);
int64_t ctl_now_ms(void);
int ctl_oplog_append(redisContext *rc, const char *action, const char *id, int64_t now_ms);

#endif
