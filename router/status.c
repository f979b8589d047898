/*
 * status.c - the heartbeat and the status page (status.h).
 *
 * Counts: per channel, 360 ten-second buckets (an hour) of sent and
 * failed; "failing since" is the first failure after the last success.
 * The page: SMEMBERS herald:instances, then each member's HGETALL (an
 * expired one is dropped from the set), with the streams' lengths, the
 * schedule's, the dead-letter list's, herald:held's and herald:suspended,
 * all on the pipeline; the last complete page is kept for the HTTP thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "redis.h"
#include "schema.h"
#include "status.h"
#include "statuspage.h"
#include "text.h"

#define NSLOT 360
#define SLOT_MS 10000
#define MAX_CB 64

struct ring {
	char name[33];
	int64_t slot_at[NSLOT];
	unsigned sent[NSLOT], failed[NSLOT];
	int64_t failing_since;
};

static struct ring rings[CHAN_MAX];
static int nrings;
static int64_t started_ms;

static struct {
	pthread_mutex_t mu;
	char *text, *json;
	struct {
		char name[64];
		long long backlog;
		double age;
	} cb[MAX_CB];
	int ncb;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct ring *ring_of(const char *name)
{
	for (int i = 0; i < nrings; i++)
		if (!strcmp(rings[i].name, name))
			return &rings[i];
	if (nrings == CHAN_MAX)
		return NULL;
	snprintf(rings[nrings].name, sizeof(rings[0].name), "%s", name);
	return &rings[nrings++];
}

void status_count(const char *channel, const char *status, int64_t now)
{
	int sent = !strcmp(status, "sent") || !strcmp(status, "delivered");
	int failed = !strcmp(status, "temporary-failure") || !strcmp(status, "permanent-failure");
	struct ring *g;
	int64_t slot = now / SLOT_MS;
	int k = (int)(slot % NSLOT);

	if ((!sent && !failed) || !strcmp(channel, "-") || !(g = ring_of(channel)))
		return;
	if (g->slot_at[k] != slot) {
		g->slot_at[k] = slot;
		g->sent[k] = g->failed[k] = 0;
	}
	if (sent) {
		g->sent[k]++;
		g->failing_since = 0;
	} else {
		g->failed[k]++;
		if (!g->failing_since)
			g->failing_since = now;
	}
}

void status_callback(const char *service, long long backlog, double oldest_age_s)
{
	int i;

	pthread_mutex_lock(&P.mu);
	for (i = 0; i < P.ncb && strcmp(P.cb[i].name, service); i++)
		;
	if (i == P.ncb && P.ncb < MAX_CB)
		snprintf(P.cb[P.ncb++].name, sizeof(P.cb[0].name), "%s", service);
	if (i < P.ncb) {
		P.cb[i].backlog = backlog;
		P.cb[i].age = oldest_age_s;
	}
	pthread_mutex_unlock(&P.mu);
}

/* When the longest wait at each channel began (r->chans order; 0: none
 * waits): a message handed to the plugin with no result yet, since it was
 * handed over; one rendered and waiting in the backlog (the plugin was
 * busy), since it was rendered. */
struct oldest {
	const struct chanset *cs;
	int64_t ms[CHAN_MAX];
};

static void oldest_note(struct oldest *o, const struct msg *m, int64_t since)
{
	long i = m->chan ? (long)(m->chan - o->cs->ch) : -1;

	if (i < 0 || i >= o->cs->n || since <= 0)
		return;
	if (!o->ms[i] || since < o->ms[i])
		o->ms[i] = since;
}

static void oldest_inflight(uint64_t id, void *val, void *arg)
{
	const struct msg *m = val;

	(void)id;
	oldest_note(arg, m, m->submitted_ms);
}

static void oldest_find(struct router *r, struct oldest *o)
{
	memset(o, 0, sizeof(*o));
	o->cs = &r->chans;
	if (r->inflight)
		idmap_each(r->inflight, oldest_inflight, o);
	for (const struct msg *m = r->backlog; m; m = m->next)
		oldest_note(o, m, m->prepared_ms ? m->prepared_ms : m->picked_ms);
}

/* {channel: {...}} of this instance. */
static json_t *channels_json(struct router *r, int64_t now)
{
	json_t *o = json_object();
	int64_t slot = now / SLOT_MS;
	struct oldest old;

	oldest_find(r, &old);
	for (int i = 0; i < r->chans.n; i++) {
		const struct chan *c = &r->chans.ch[i];
		const struct ring *g = ring_of(c->name);
		long long s1 = 0, f1 = 0, sh = 0, fh = 0;
		for (int k = 0; g && k < NSLOT; k++) {
			int64_t age = slot - g->slot_at[k];
			if (age < 0 || age >= NSLOT)
				continue;
			sh += g->sent[k], fh += g->failed[k];
			if (age < 6)
				s1 += g->sent[k], f1 += g->failed[k];
		}
		json_object_set_new(o, c->name,
				    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "inflight",
					      (json_int_t)(c->submitted - c->finished), "sent_1m",
					      (json_int_t)s1, "failed_1m", (json_int_t)f1,
					      "sent_1h", (json_int_t)sh, "failed_1h",
					      (json_int_t)fh, "failing_since_ms",
					      (json_int_t)(g ? g->failing_since : 0), "oldest_ms",
					      (json_int_t)old.ms[i]));
	}
	return o;
}

static json_t *callbacks_json(void)
{
	json_t *o = json_object();

	pthread_mutex_lock(&P.mu);
	for (int i = 0; i < P.ncb; i++)
		json_object_set_new(o, P.cb[i].name,
				    json_pack("{s:I, s:f}", "backlog", (json_int_t)P.cb[i].backlog,
					      "oldest_age_s", P.cb[i].age));
	pthread_mutex_unlock(&P.mu);
	return o;
}

static void heartbeat(struct router *r, int64_t now)
{
	json_t *ch = channels_json(r, now), *cb = callbacks_json();
	char *chs = json_dumps(ch, JSON_COMPACT), *cbs = json_dumps(cb, JSON_COMPACT);

	rdb_cmdf(r->rdb, NULL, NULL,
		 "HSET " KEY_INSTANCE "%s " INST_F_VERSION " %s " INST_F_PID " %lld " INST_F_STARTED
		 " %lld " INST_F_HEARTBEAT " %lld " INST_F_INFLIGHT " %lld " INST_F_CHANNELS
		 " %s " INST_F_CALLBACKS " %s",
		 r->consumer, HERALD_VERSION, (long long)getpid(), (long long)started_ms,
		 (long long)now, (long long)idmap_len(r->inflight), chs ? chs : "{}",
		 cbs ? cbs : "{}");
	rdb_cmdf(r->rdb, NULL, NULL, "PEXPIRE " KEY_INSTANCE "%s %d", r->consumer, INSTANCE_TTL_MS);
	rdb_cmdf(r->rdb, NULL, NULL, "SADD " KEY_INSTANCES " %s", r->consumer);
	free(chs);
	free(cbs);
	json_decref(ch);
	json_decref(cb);
}

/* One reading of the page, its replies counted down. */
struct gather {
	json_t *instances, *suspended;
	struct statuspage_counts n;
	int left;
	int64_t now;
};

struct member {
	struct gather *g;
	struct router *r;
	char name[160];
};

static int gathering;

static json_t *hash_object(const redisReply *rep)
{
	json_t *o = json_object();

	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2)
		if (rep->element[i]->type == REDIS_REPLY_STRING &&
		    rep->element[i + 1]->type == REDIS_REPLY_STRING)
			json_object_set_new(
			    o, rep->element[i]->str,
			    json_stringn(rep->element[i + 1]->str, rep->element[i + 1]->len));
	return o;
}

static void finish(struct gather *g)
{
	json_t *page;
	char *text = NULL, *js = NULL;

	if (--g->left > 0)
		return;
	page = statuspage_build(g->instances, g->suspended, &g->n, g->now);
	if (page) {
		text = statuspage_text(page);
		js = json_dumps(page, JSON_INDENT(2));
	}
	if (text && js) {
		pthread_mutex_lock(&P.mu);
		free(P.text);
		free(P.json);
		P.text = text, P.json = js;
		text = js = NULL;
		pthread_mutex_unlock(&P.mu);
	}
	free(text);
	free(js);
	json_decref(page);
	json_decref(g->instances);
	json_decref(g->suspended);
	free(g);
	gathering = 0;
}

static void on_member(redisReply *rep, void *arg)
{
	struct member *m = arg;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 0) /* expired */
		rdb_cmdf(m->r->rdb, NULL, NULL, "SREM " KEY_INSTANCES " %s", m->name);
	else if (rep && rep->type == REDIS_REPLY_ARRAY) {
		json_t *o = hash_object(rep);
		json_object_set_new(o, "name", json_string(m->name));
		json_array_append_new(m->g->instances, o);
	}
	finish(m->g);
	free(m);
}

static void on_members(redisReply *rep, void *arg)
{
	struct member *top = arg;

	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		struct member *m = calloc(1, sizeof(*m));
		if (!m || rep->element[i]->type != REDIS_REPLY_STRING) {
			free(m);
			continue;
		}
		m->g = top->g;
		m->r = top->r;
		snprintf(m->name, sizeof(m->name), "%s", rep->element[i]->str);
		m->g->left++;
		rdb_cmdf(m->r->rdb, on_member, m, "HGETALL " KEY_INSTANCE "%s", m->name);
	}
	finish(top->g);
	free(top);
}

static void on_suspended(redisReply *rep, void *arg)
{
	struct gather *g = arg;

	json_decref(g->suspended);
	g->suspended = hash_object(rep);
	finish(g);
}

static long long *count_slot(struct gather *g, int i)
{
	return i < 3 ? &g->n.queue[i] : i == 3 ? &g->n.scheduled : i == 4 ? &g->n.dead : &g->n.held;
}

struct slot {
	struct gather *g;
	long long *v;
};

static void on_count(redisReply *rep, void *arg)
{
	struct slot *s = arg;

	*s->v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
	finish(s->g);
	free(s);
}

void status_tick(struct router *r, int64_t now)
{
	static const char *const streams[] = KEY_STREAMS;
	static const char *const counts[] = {"XLEN %s",	       "XLEN %s",
					     "XLEN %s",	       "ZCARD " KEY_SCHED,
					     "LLEN " KEY_DEAD, "SCARD " KEY_HELD};
	static int64_t last;
	struct gather *g;
	struct member *top;
	int64_t wall = now_ms();

	if (!started_ms)
		started_ms = wall;
	if (now - last < STATUS_INTERVAL_MS)
		return;
	last = now;
	heartbeat(r, wall);
	if (gathering || !(g = calloc(1, sizeof(*g))) || !(top = calloc(1, sizeof(*top)))) {
		if (!gathering)
			free(g);
		return;
	}
	gathering = 1;
	g->instances = json_array();
	g->suspended = json_object();
	g->now = wall;
	g->left = 2 + 6;
	top->g = g;
	top->r = r;
	rdb_cmdf(r->rdb, on_members, top, "SMEMBERS " KEY_INSTANCES);
	rdb_cmdf(r->rdb, on_suspended, g, "HGETALL " KEY_SUSPENDED);
	for (int i = 0; i < 6; i++) {
		struct slot *s = malloc(sizeof(*s));
		if (!s) {
			*count_slot(g, i) = -1;
			finish(g);
			continue;
		}
		s->g = g;
		s->v = count_slot(g, i);
		rdb_cmdf(r->rdb, on_count, s, counts[i], i < 3 ? streams[i] : "");
	}
}

char *status_render(int json)
{
	char *out;

	pthread_mutex_lock(&P.mu);
	out = strdup(json ? (P.json ? P.json : "{\"starting\":true}\n")
			  : (P.text ? P.text : "starting\n"));
	pthread_mutex_unlock(&P.mu);
	return out;
}
