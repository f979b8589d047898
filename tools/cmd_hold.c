/*
 * cmd_hold.c - heraldctl hold | release | delete | flush
 *                [ID... | --service S --channel C --state STATE
 *                 --older-than DURATION] [-y]
 *
 * The operator's hand on the queue (tools/ctl_queue.h finds the messages),
 * each action logged in herald:oplog with the operator's user name:
 *   hold     herald:held gets the id: herald_due (router/scripts.c) puts the
 *            message back HOLD_RECHECK_MS later instead of onto its stream,
 *            in every instance, until released; a message still queued
 *            on a stream is held in prepare by every instance (each
 *            re-reads herald:held when herald:held:ver moves, within a
 *            second). One in flight is held from its next step.
 *   release  out of herald:held, and due now if it is scheduled (a
 *            second later, once every instance has seen the release).
 *   delete   a scheduled, retrying, held or awaiting-receipt message ends
 *            as "deleted" (final; the journey says who did it), and goes
 *            onto its stream once more, so that heraldd tells the delivery
 *            logs and the service's callback. One in flight or queued on a
 *            stream, or that left the schedule meanwhile, is refused: hold
 *            it first.
 *   flush    scheduled and retrying messages (held ones are not) due now.
 * By id, or every message the filters match (flush with neither: every
 * one), after a confirmation on the terminal unless -y.
 *
 * Exit 0 when done, 1 when an id is not in the queue or an action is
 * refused or not confirmed, 2 on a usage error or a Redis failure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_queue.h"
#include "ctl_redis.h"
#include "heraldctl.h"
#include "schema.h"
#include "transition.h"

#define HOLD_USAGE                                                                                 \
	"usage: heraldctl %s (ID... | [--service S] [--channel C] [--state STATE] "                \
	"[--older-than DURATION]) [-y]\n"

enum act { A_HOLD, A_RELEASE, A_DELETE, A_FLUSH };

/* heraldctl delete's writes, one atomic step: only a message still in the
 * schedule (ZREM says so; heraldd may have taken it meanwhile) is ended:
 * out of herald:held (herald:held:ver moves), the hash final as deleted,
 * the journey's record, and an entry "id c t" on its stream, through which
 * heraldd meets it and tells the delivery logs and the service's callback
 * (router/prepare.c; the hash's MSG_F_DELETED_REPORTED says it did).
 * KEYS: sched, held, held:ver, the message, its journey, its stream.
 * ARGV: id, reason, now (ms), journey record, citizen, tx. Returns 1 when
 * deleted, 0 when it was no longer in the schedule (nothing written). */
static const char delete_lua[] =
    "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end\n"
    "redis.call('SREM', KEYS[2], ARGV[1])\n"
    "redis.call('INCR', KEYS[3])\n"
    "redis.call('HSET', KEYS[4], '" MSG_F_STATUS "', '" STATUS_DELETED "', '" MSG_F_REASON
    "', ARGV[2],\n"
    "           '" MSG_F_FINAL "', '1', '" MSG_F_UPDATED "', ARGV[3])\n"
    "redis.call('RPUSH', KEYS[5], ARGV[4])\n"
    "redis.call('XADD', KEYS[6], '*', '" STREAM_F_ID "', ARGV[1], '" STREAM_F_CITIZEN
    "', ARGV[5],\n"
    "           '" STREAM_F_TX "', ARGV[6])\n"
    "return 1\n";

/* What a delete needs of the hash: transaction, citizen, stream. NULL when
 * Redis failed (reported). */
static json_t *delete_read(redisContext *rc, const char *id)
{
	static const char *const names[] = {MSG_F_TX, MSG_F_STREAM, MSG_F_META, NULL};
	redisReply *r = ctl_redis_cmd(
	    rc, "delete", "HMGET " KEY_MSG "%s " MSG_F_TX " " MSG_F_STREAM " " MSG_F_META, id);
	json_t *h = r ? ctl_msg_fields(r, names) : NULL;

	freeReplyObject(r);
	return h;
}

/* End one message as deleted (delete_lua). 0 done, -1 refused (it left
 * the schedule meanwhile), -2 Redis failed. */
static int delete_one(redisContext *rc, const struct qmsg *m, int64_t now)
{
	char rec[4096], reason[160], now_s[24], keys[3][EVENT_MAX_ID + 64];
	struct transition_msg t = {.event_id = m->id, .service = m->service};
	json_t *h = delete_read(rc, m->id);
	const char *stream, *citizen;
	redisReply *r;
	int ret = -2;

	if (!h)
		return -2;
	t.tx = strcmp(ctl_field(h, MSG_F_TX), "-") ? ctl_field(h, MSG_F_TX) : m->id;
	stream = ctl_field(h, MSG_F_STREAM);
	if (strncmp(stream, KEY_STREAM_PREFIX, strlen(KEY_STREAM_PREFIX)) != 0)
		stream = KEY_Q_DEFAULT;
	citizen = strcmp(ctl_field(h, "citizen"), "-") ? ctl_field(h, "citizen") : "";
	snprintf(reason, sizeof(reason), "deleted by operator %s", ctl_operator());
	t.channel = m->channel[0] ? m->channel : NULL;
	t.attempt = (unsigned)m->attempts;
	t.accepted_ms = m->accepted_ms;
	transition_operator_record(&t, STATUS_DELETED, reason, now, rec, sizeof(rec));
	snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
	snprintf(keys[0], sizeof(keys[0]), KEY_MSG "%s", m->id);
	snprintf(keys[1], sizeof(keys[1]), KEY_TX "%s", t.tx);
	snprintf(keys[2], sizeof(keys[2]), "%s", stream);
	{
		const char *argv[] = {"EVAL",	    delete_lua, "6",	 KEY_SCHED, KEY_HELD,
				      KEY_HELD_VER, keys[0],	keys[1], keys[2],   m->id,
				      reason,	    now_s,	rec,	 citizen,   t.tx};
		r = ctl_redis_cmdv(rc, "delete", (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL);
	}
	if (r && ctl_reply_ll(r, 0) == 1) {
		ret = 0;
	} else if (r) {
		fprintf(stderr,
			"heraldctl delete: %s left the schedule meanwhile (an instance took it): "
			"hold it, then delete it once it is back in the schedule\n",
			m->id);
		ret = -1;
	}
	freeReplyObject(r);
	json_decref(h);
	return ret;
}

/* Queue one message's writes; returns how many replies to read, 0 when the
 * action does not apply to it (reported when `loud`), -1 refused, -2 Redis
 * failed. A delete is done at once (delete_one): ACT_DONE. */
#define ACT_DONE 1000
static int act_on(redisContext *rc, enum act a, const struct qmsg *m, int64_t now, int loud)
{
	int k;

	switch (a) {
	case A_HOLD:
		redisAppendCommand(rc, "SADD " KEY_HELD " %s", m->id);
		redisAppendCommand(rc, "INCR " KEY_HELD_VER);
		return 2;
	case A_RELEASE:
		redisAppendCommand(rc, "SREM " KEY_HELD " %s", m->id);
		redisAppendCommand(rc, "INCR " KEY_HELD_VER);
		return 2; /* due now: wake_released, once the instances know */
	case A_FLUSH:
		if (m->held || (m->state != QS_SCHEDULED && m->state != QS_RETRYING)) {
			if (loud)
				fprintf(stderr, "heraldctl flush: %s is %s: not flushed\n", m->id,
					m->held ? "held" : qstate_name(m->state));
			return 0;
		}
		redisAppendCommand(rc, "ZADD " KEY_SCHED " XX LT %lld %s", (long long)now, m->id);
		return 1;
	case A_DELETE: break;
	}
	if (m->state == QS_INFLIGHT || m->state == QS_QUEUED) {
		fprintf(stderr,
			"heraldctl delete: %s is %s: hold it, then delete it once it is back "
			"in the schedule\n",
			m->id, qstate_name(m->state));
		return -1;
	}
	k = delete_one(rc, m, now);
	return k == 0 ? ACT_DONE : k;
}

static const char *const act_names[] = {"hold", "release", "delete", "flush"};

static int confirm(const char *cmd, size_t n)
{
	char line[16];

	fprintf(stderr, "heraldctl %s: %zu message%s; go ahead? [y/N] ", cmd, n, n == 1 ? "" : "s");
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return line[0] == 'y' || line[0] == 'Y';
}

/* The messages chosen: by id (1 if one is unknown), else by filter. */
static int choose(const struct qlist *q, const struct qfilter *f, char **ids, int nids,
		  const char *cmd, unsigned char *pick, size_t *n)
{
	int ret = 0;

	*n = 0;
	for (int k = 0; k < nids; k++) {
		size_t i;
		for (i = 0; i < q->n && strcmp(q->v[i].id, ids[k]); i++)
			;
		if (i == q->n) {
			fprintf(stderr, "heraldctl %s: '%s' is not in the queue\n", cmd, ids[k]);
			ret = 1;
		} else if (!pick[i]) {
			pick[i] = 1;
			(*n)++;
		}
	}
	for (size_t i = 0; !nids && i < q->n; i++)
		if (qfilter_match(f, &q->v[i], q->now_ms)) {
			pick[i] = 1;
			(*n)++;
		}
	return ret;
}

/* Released messages due now, once every instance's copy of herald:held
 * has followed herald:held:ver (CONTROL_REFRESH_MS): an instance that
 * still had one held would put it back for HOLD_RECHECK_MS. */
static int wake_released(redisContext *rc, const struct qlist *q, const unsigned char *pick)
{
	int n = 0, ret = 0;

	usleep((CONTROL_REFRESH_MS * 2 + 200) * 1000);
	for (size_t i = 0; i < q->n; i++)
		if (pick[i]) {
			redisAppendCommand(rc, "ZADD " KEY_SCHED " XX %lld %s",
					   (long long)ctl_now_ms(), q->v[i].id);
			n++;
		}
	while (n-- > 0) {
		redisReply *r = ctl_redis_reply(rc, "release");
		if (!r)
			ret = 2;
		freeReplyObject(r);
	}
	return ret;
}

static int run(redisContext *rc, enum act a, const struct qlist *q, const unsigned char *pick,
	       int loud)
{
	int ret = 0;
	size_t done = 0;

	for (size_t i = 0; i < q->n; i++) {
		int k;
		if (!pick[i])
			continue;
		k = act_on(rc, a, &q->v[i], q->now_ms, loud);
		if (k == -2)
			return 2;
		if (k < 0)
			ret = 1;
		if (k <= 0)
			continue;
		if (k == ACT_DONE)
			k = 0;
		k += ctl_oplog_append(rc, act_names[a], q->v[i].id, q->now_ms);
		while (k-- > 0) {
			redisReply *r = ctl_redis_reply(rc, act_names[a]);
			if (!r)
				return 2;
			freeReplyObject(r);
		}
		printf("%s %s\n", act_names[a], q->v[i].id);
		done++;
	}
	fprintf(stderr, "heraldctl %s: %zu message%s (operator %s)\n", act_names[a], done,
		done == 1 ? "" : "s", ctl_operator());
	if (a == A_RELEASE && done > 0 && wake_released(rc, q, pick) != 0)
		return 2;
	return ret;
}

static int hold_main(enum act a, struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"service", required_argument, NULL, 's'},
					     {"channel", required_argument, NULL, 'C'},
					     {"state", required_argument, NULL, 'S'},
					     {"older-than", required_argument, NULL, 'o'},
					     {"yes", no_argument, NULL, 'y'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *cmd = act_names[a];
	struct qfilter f = {NULL, NULL, -1, 0};
	struct qlist q = {0};
	redisContext *rc;
	unsigned char *pick = NULL;
	int yes = 0, filtered = 0, opt, k, ret;
	size_t n = 0;

	while ((opt = getopt_long(argc, argv, "yh", opts, NULL)) != -1) {
		if ((k = qfilter_opt(&f, opt, optarg, cmd)) != 0) {
			if (k < 0)
				return 2;
			filtered = 1;
			continue;
		}
		switch (opt) {
		case 'y': yes = 1; break;
		case 'h': printf(HOLD_USAGE, cmd); return 0;
		default: fprintf(stderr, HOLD_USAGE, cmd); return 2;
		}
	}
	if ((optind < argc && filtered) || (optind == argc && !filtered && a != A_FLUSH)) {
		fprintf(stderr, HOLD_USAGE, cmd);
		return 2;
	}
	if (!(rc = ctl_redis_open(c, cmd)))
		return 2;
	ret = ctl_queue_load(rc, cmd, &q);
	if (ret == 0 && !(pick = calloc(q.n + 1, 1)))
		ret = 2;
	if (ret == 0)
		ret = choose(&q, &f, argv + optind, argc - optind, cmd, pick, &n);
	if (ret == 0 && optind == argc && n > 0 && !yes && !confirm(cmd, n)) {
		fprintf(stderr, "heraldctl %s: not confirmed; nothing done\n", cmd);
		ret = 1;
	}
	if (ret == 0)
		ret = run(rc, a, &q, pick, optind < argc);
	free(pick);
	ctl_queue_free(&q);
	ctl_redis_close(&rc);
	return ret;
}

int cmd_hold(struct ctl *c, int argc, char **argv)
{
	return hold_main(A_HOLD, c, argc, argv);
}

int cmd_release(struct ctl *c, int argc, char **argv)
{
	return hold_main(A_RELEASE, c, argc, argv);
}

int cmd_delete(struct ctl *c, int argc, char **argv)
{
	return hold_main(A_DELETE, c, argc, argv);
}

int cmd_flush(struct ctl *c, int argc, char **argv)
{
	return hold_main(A_FLUSH, c, argc, argv);
}
