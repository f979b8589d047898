/*
 * ctl_queue.c - the messages not yet final (ctl_queue.h): herald:sched,
 * each stream's pending and unread entries, then the hashes.
 */
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl_queue.h"
#include "ctl_redis.h"
#include "fnv.h"
#include "idmap.h"
#include "num.h"
#include "schema.h"

#define QUEUE_SCAN_MAX 100000 /* entries read from each stream */

static const char *const qstate_names[QS_N] = {"scheduled",	   "retrying", "in-flight",
					       "awaiting-receipt", "held",     "queued"};

const char *qstate_name(enum qstate s)
{
	return s < QS_N ? qstate_names[s] : "?";
}

int qstate_parse(const char *s)
{
	for (int i = 0; i < QS_N; i++)
		if (!strcmp(s, qstate_names[i]))
			return i;
	return -1;
}

static struct qmsg *qpush(struct qlist *q, const char *id, size_t len)
{
	struct qmsg *m;

	uint64_t h = fnv1a64(id, len) | 1; /* idmap keys are not 0 */
	size_t seen;

	if (!q->seen && !(q->seen = idmap_new()))
		return NULL;
	/* the first sighting wins; an id whose hash another took is compared */
	seen = (size_t)(uintptr_t)idmap_get(q->seen, h);
	if (seen && strlen(q->v[seen - 1].id) == len && !memcmp(q->v[seen - 1].id, id, len))
		return NULL;
	for (size_t i = 0; seen && i < q->n; i++)
		if (strlen(q->v[i].id) == len && !memcmp(q->v[i].id, id, len))
			return NULL;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct qmsg *v = realloc(q->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		q->v = v;
		q->cap = cap;
	}
	m = &q->v[q->n];
	memset(m, 0, sizeof(*m));
	m->id = strndup(id, len);
	if (!m->id)
		return NULL;
	q->n++;
	if (!seen)
		idmap_put(q->seen, h, (void *)(uintptr_t)q->n);
	return m;
}

/* The event id of a stream entry's field list ("id" ...), or NULL. */
static const redisReply *entry_field(const redisReply *e, const char *name)
{
	const redisReply *f;

	if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return NULL;
	f = e->element[1];
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING && !strcmp(f->element[i]->str, name))
			return f->element[i + 1];
	return NULL;
}

static void add_entry(struct qlist *q, const redisReply *e, enum qstate st, const char *consumer)
{
	const redisReply *id = entry_field(e, STREAM_F_ID);
	struct qmsg *m;

	if (!id || id->type != REDIS_REPLY_STRING)
		return;
	m = qpush(q, id->str, id->len);
	if (!m)
		return;
	m->state = st;
	m->accepted_ms = strtoll(e->element[0]->str, NULL, 10); /* the entry's time */
	snprintf(m->consumer, sizeof(m->consumer), "%s", consumer ? consumer : "");
}

/* One stream: its pending entries (in flight, with their consumer) and the
 * entries no instance has read yet. */
static int load_stream(redisContext *rc, const char *cmd, const char *s, struct qlist *q)
{
	redisReply *p, *g, *r;
	const char *last = "0-0";

	p = ctl_redis_cmd(rc, cmd, "XPENDING %s " GROUP " - + %d", s, QUEUE_SCAN_MAX);
	if (!p)
		return 0; /* no stream or group yet */
	for (size_t i = 0; p->type == REDIS_REPLY_ARRAY && i < p->elements; i++) {
		const redisReply *pe = p->element[i];
		if (pe->type != REDIS_REPLY_ARRAY || pe->elements < 2)
			continue;
		redisAppendCommand(rc, "XRANGE %s %s %s", s, pe->element[0]->str,
				   pe->element[0]->str);
	}
	for (size_t i = 0; p->type == REDIS_REPLY_ARRAY && i < p->elements; i++) {
		const redisReply *pe = p->element[i];
		if (pe->type != REDIS_REPLY_ARRAY || pe->elements < 2)
			continue;
		if (!(r = ctl_redis_reply(rc, cmd))) {
			freeReplyObject(p);
			return 2;
		}
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 1)
			add_entry(q, r->element[0], QS_INFLIGHT, pe->element[1]->str);
		freeReplyObject(r);
	}
	freeReplyObject(p);
	g = redisCommand(rc, "XINFO GROUPS %s", s);
	for (size_t i = 0; g && g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
		const redisReply *gi = g->element[i];
		for (size_t k = 0; gi->type == REDIS_REPLY_ARRAY && k + 1 < gi->elements; k += 2)
			if (gi->element[k]->type == REDIS_REPLY_STRING &&
			    !strcmp(gi->element[k]->str, "last-delivered-id") &&
			    gi->element[k + 1]->type == REDIS_REPLY_STRING)
				last = gi->element[k + 1]->str;
	}
	r = ctl_redis_cmd(rc, cmd, "XRANGE %s (%s + COUNT %d", s, last, QUEUE_SCAN_MAX);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		add_entry(q, r->element[i], QS_QUEUED, NULL);
	freeReplyObject(r);
	freeReplyObject(g);
	return 0;
}

static int load_sched(redisContext *rc, const char *cmd, struct qlist *q)
{
	redisReply *r = ctl_redis_cmd(rc, cmd, "ZRANGE " KEY_SCHED " 0 -1 WITHSCORES");

	if (!r)
		return 2;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		struct qmsg *m = qpush(q, r->element[i]->str, r->element[i]->len);
		if (m) {
			m->state = QS_SCHEDULED;
			m->due_ms = (int64_t)strtod(r->element[i + 1]->str, NULL);
		}
	}
	freeReplyObject(r);
	return 0;
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src && strcmp(src, "-") ? src : "");
}

/* The hash's fields, and the state they and herald:held say. */
static void fill(struct qmsg *m, const json_t *h, int held)
{
	const char *st = ctl_field(h, MSG_F_STATUS);
	const char *acc = json_string_value(json_object_get(h, "accepted_ms"));

	copy(m->status, sizeof(m->status), st);
	copy(m->service, sizeof(m->service), ctl_field(h, "service"));
	if (!m->service[0])
		copy(m->service, sizeof(m->service), ctl_field(h, MSG_F_SVC));
	copy(m->channel, sizeof(m->channel), ctl_field(h, "channel"));
	m->attempts = strtol(ctl_field(h, "attempt"), NULL, 10);
	if (acc && *acc)
		m->accepted_ms = strtoll(acc, NULL, 10);
	free(m->reason);
	m->reason =
	    strdup(strcmp(ctl_field(h, MSG_F_REASON), "-") ? ctl_field(h, MSG_F_REASON) : "");
	m->held = held;
	if (m->state != QS_SCHEDULED)
		return;
	if (held)
		m->state = QS_HELD;
	else if (!strcmp(st, "sent"))
		m->state = QS_RECEIPT;
	else if (!strcmp(st, "temporary-failure") || !strcmp(st, "hopped"))
		m->state = QS_RETRYING;
}

static int load_hashes(redisContext *rc, const char *cmd, struct qlist *q)
{
	static const char *const names[] = {MSG_F_STATUS, MSG_F_SVC,	MSG_F_META,
					    MSG_F_AT,	  MSG_F_REASON, NULL};
	redisReply *r, *h;

	for (size_t i = 0; i < q->n; i++) {
		redisAppendCommand(rc, "HMGET " KEY_MSG "%s %s %s %s %s %s", q->v[i].id, names[0],
				   names[1], names[2], names[3], names[4]);
		redisAppendCommand(rc, "SISMEMBER " KEY_HELD " %s", q->v[i].id);
	}
	for (size_t i = 0; i < q->n; i++) {
		json_t *o;
		if (!(r = ctl_redis_reply(rc, cmd)))
			return 2;
		if (!(h = ctl_redis_reply(rc, cmd))) {
			freeReplyObject(r);
			return 2;
		}
		o = ctl_msg_fields(r, names);
		if (o)
			fill(&q->v[i], o, ctl_reply_ll(h, 0) == 1);
		json_decref(o);
		freeReplyObject(r);
		freeReplyObject(h);
	}
	return 0;
}

/* A message heraldctl delete ended is final, but it goes onto its stream
 * once more (for heraldd to tell the logs and its service): not listed. */
static void drop_deleted(struct qlist *q)
{
	size_t k = 0;

	for (size_t i = 0; i < q->n; i++) {
		if (!strcmp(q->v[i].status, STATUS_DELETED)) {
			free(q->v[i].id);
			free(q->v[i].reason);
			continue;
		}
		q->v[k++] = q->v[i];
	}
	q->n = k;
	idmap_free(&q->seen); /* its indexes are stale; nothing is added after */
}

int64_t ctl_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int ctl_queue_load(redisContext *rc, const char *cmd, struct qlist *q)
{
	static const char *const streams[] = KEY_STREAMS;

	q->now_ms = ctl_now_ms();
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
		if (load_stream(rc, cmd, streams[i], q) != 0)
			return 2;
	if (load_sched(rc, cmd, q) != 0 || load_hashes(rc, cmd, q) != 0)
		return 2;
	drop_deleted(q);
	return 0;
}

int qfilter_match(const struct qfilter *f, const struct qmsg *m, int64_t now_ms)
{
	if (f->service && strcmp(f->service, m->service) != 0)
		return 0;
	if (f->channel && strcmp(f->channel, m->channel) != 0)
		return 0;
	if (f->state >= 0 && (int)m->state != f->state)
		return 0;
	if (f->older_than_ms > 0 && (!m->accepted_ms || now_ms - m->accepted_ms < f->older_than_ms))
		return 0;
	return 1;
}

int qfilter_opt(struct qfilter *f, int opt, const char *arg, const char *cmd)
{
	char err[128];

	switch (opt) {
	case 's': f->service = arg; return 1;
	case 'C': f->channel = arg; return 1;
	case 'S':
		f->state = qstate_parse(arg);
		if (f->state < 0) {
			fprintf(stderr,
				"heraldctl %s: unknown state '%s' (scheduled, retrying, in-flight, "
				"awaiting-receipt, held, queued)\n",
				cmd, arg);
			return -1;
		}
		return 1;
	case 'o':
		if (num_parse_duration(arg, 1000, 0, INT64_MAX / 2, &f->older_than_ms, err,
				       sizeof(err)) != 0) {
			fprintf(stderr, "heraldctl %s: --older-than: %s\n", cmd, err);
			return -1;
		}
		return 1;
	default: return 0;
	}
}

void ctl_queue_free(struct qlist *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].id);
		free(q->v[i].reason);
	}
	free(q->v);
	idmap_free(&q->seen);
	memset(q, 0, sizeof(*q));
}

const char *ctl_operator(void)
{
	static char name[64];
	const char *s = getenv("SUDO_USER");
	struct passwd *pw;

	if (s && *s)
		return s;
	pw = getpwuid(getuid());
	if (pw && pw->pw_name)
		return pw->pw_name;
	snprintf(name, sizeof(name), "uid %u", (unsigned)getuid());
	return name;
}

int ctl_oplog_append(redisContext *rc, const char *action, const char *id, int64_t now_ms)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s}", "ts", (json_int_t)now_ms, "user",
			      ctl_operator(), "action", action, "id", id);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (!s)
		return 0;
	redisAppendCommand(rc, "LPUSH " KEY_OPLOG " %s", s);
	redisAppendCommand(rc, "LTRIM " KEY_OPLOG " 0 %d", OPLOG_MAX - 1);
	free(s);
	return 2;
}
