/*
 * ingest_answer.c - answering the publishers: once Redis has run a batch's
 * herald_accept (and, with [redis] replicas_ack, its WAIT), every event of
 * the batch gets its one answer ("accepted", "duplicate", "rejected",
 * "throttled", "unavailable") with the envelope frames it came with; the
 * accepted ones go to the delivery log, the callbacks and the worker.
 * Engagement events are recorded and answered here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "callback.h"
#include "log.h"
#include "metrics.h"
#include "msgrec.h"
#include "policy.h"
#include "router.h"
#include "stream.h"
#include "text.h"
#include "zap.h"

#include "ingest_int.h"

static void send_reply(struct router *r, struct pending *p, const char *body)
{
	for (int i = 0; i < p->nenv; i++)
		zmq_msg_send(&p->env[i], r->ingest, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(r->ingest, body, strlen(body), ZMQ_DONTWAIT);
}

/* The answer to p, naming event id (NULL: none known). */
static void reply_id(struct router *r, struct pending *p, const char *id, const char *status,
		     const char *error)
{
	json_t *o;
	char *s;

	if (!error && id && strlen(id) <= EVENT_MAX_ID) {
		/* the common answers, as jansson would write them: the id is
		 * printable ASCII (validated), so only " and \ need escaping */
		char buf[2 * EVENT_MAX_ID + 64], *b = buf;
		memcpy(b, "{\"event_id\":\"", 13);
		b += 13;
		for (const char *c = id; *c; c++) {
			if (*c == '"' || *c == '\\')
				*b++ = '\\';
			*b++ = *c;
		}
		memcpy(b, "\",\"status\":\"", 12);
		b += 12;
		memcpy(b, status, strlen(status));
		b += strlen(status);
		memcpy(b, "\"}", 3);
		send_reply(r, p, buf);
		return;
	}
	o = json_object();
	if (id)
		json_object_set_new(o, "event_id", json_string(id));
	json_object_set_new(o, "status", json_string(status));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	s = json_dumps(o, JSON_COMPACT);
	send_reply(r, p, s ? s : "{\"status\":\"error\"}");
	free(s);
	json_decref(o);
}

void ingest_reply(struct router *r, struct pending *p, const char *status, const char *error)
{
	reply_id(r, p, p->ev.event_id, status, error);
}

/* Journal an engagement in the transaction's journey and the delivery log
 * (qualified: herald_engage kept it as <service>:<event_id>). */
static void engaged(struct router *r, const struct event *ev, int qualified)
{
	struct msg m;
	struct step s;
	char reason[200];

	memset(&m, 0, sizeof(m));
	if (qualified)
		snprintf(m.event_id, sizeof(m.event_id), "%s" KEY_MSG_SVC_SEP "%s", ev->service,
			 ev->event_id);
	else
		snprintf(m.event_id, sizeof(m.event_id), "%s", ev->event_id);
	snprintf(m.tx, sizeof(m.tx), "%s", ev->transaction_id);
	snprintf(m.citizen, sizeof(m.citizen), "%s", ev->citizen_id);
	snprintf(m.service, sizeof(m.service), "%s", ev->service);
	snprintf(m.to_masked, sizeof(m.to_masked), "-");
	m.chan = chans_find(&r->chans, ev->channel);
	snprintf(reason, sizeof(reason),
		 "citizen engaged on %s; later messages of the transaction prefer it", ev->channel);
	memset(&s, 0, sizeof(s));
	s.status = "engaged";
	s.reason = reason;
	s.fulfilled_ms = -1;
	s.journal_only = 1;
	s.no_channel = m.chan == NULL;
	state_step(r, &m, &s);
	log_info("engagement: tx %s prefers %s", ev->transaction_id, ev->channel);
}

/* herald_accept kept the event as <service>:<event_id> (another service
 * has the bare id): its records name it so, as the stream entry does
 * (out of memory: they keep the bare id). */
static void requalify(struct pending *p, int64_t now)
{
	char id[2 * EVENT_MAX_ID + 2], text[2048], json[4096];
	const char *bare = p->ev.event_id;

	snprintf(id, sizeof(id), "%s" KEY_MSG_SVC_SEP "%s", p->ev.service, bare);
	p->ev.event_id = id;
	state_accepted_record(&p->ev, p->ev.transaction_id ? p->ev.transaction_id : id, now, text,
			      sizeof(text), json, sizeof(json));
	p->ev.event_id = bare;
	char *t = strdup(text), *j = strdup(json);
	if (t && j) {
		free(p->text);
		free(p->json);
		p->text = t;
		p->json = j;
	} else {
		free(t);
		free(j);
	}
}

/* One operator line per rejection, with what a publisher's owner needs to
 * find it: the event id, the service (the event's, else the CURVE key's)
 * and the peer's address. */
void ingest_log_rejected(const struct pending *p, const char *key_service, const char *peer,
			 const char *why)
{
	const char *svc = p->ev.service ? p->ev.service : key_service;

	log_msg(LOG_L_NOTICE, "rejected %s: service=%s, peer=%s: %s",
		p->ev.event_id ? p->ev.event_id : "event", svc && *svc ? svc : "-",
		peer && *peer ? peer : "-", why);
}

/* herald_accept's 3: the id is another service's and cannot be kept apart
 * from it. */
static void reject_taken(struct router *r, struct pending *p)
{
	static const char taken[] =
	    "event_id is taken by another service and cannot be kept apart from it "
	    "(service:event_id over 128 characters, or another's too): use another "
	    "event_id";

	metrics_ingest("rejected");
	ingest_log_rejected(p, NULL, NULL, taken);
	ingest_reply(r, p, "rejected", taken);
}

/* An event's answer once Redis has it: at once, or, with replicas_ack,
 * held until WAIT says the replicas have it too (on_waited). */
static void answer(struct router *r, struct batch *b, struct pending *p, const char *status)
{
	if (b->wait) {
		p->answer = status;
		snprintf(p->held_id, sizeof(p->held_id), "%s", p->ev.event_id);
		return;
	}
	metrics_ingest(status);
	ingest_reply(r, p, status, NULL);
}

/* herald_accept's -N: over the service's rate/burst or daily_limit; nothing
 * was kept, the publisher may send it again after retry_ms. Answered at
 * once (nothing to wait for replicas about). */
static void reply_throttled(struct router *r, struct pending *p, long long retry_ms)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "event_id", json_string(p->ev.event_id));
	json_object_set_new(o, "status", json_string("throttled"));
	json_object_set_new(o, "retry_after_ms", json_integer(retry_ms));
	s = json_dumps(o, JSON_COMPACT);
	metrics_ingest("throttled");
	send_reply(r, p, s ? s : "{\"status\":\"throttled\"}");
	free(s);
	json_decref(o);
}

/* Redis answered herald_accept for the batch: one 0/1/2/3 (or -N: throttled) per valid event
 * (scripts.c). An
 * accepted event goes on to the worker even when the answer is held: it
 * is in the stream either way. */
void ingest_on_accepted(redisReply *rep, void *arg)
{
	struct batch *b = arg;
	struct router *r = b->r;
	size_t k = 0;
	int ok = rep && rep->type == REDIS_REPLY_ARRAY;

	if (!ok)
		log_warnx("herald_accept failed: %s",
			  rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "connection lost");
	for (int i = 0; i < b->n; i++) {
		struct pending *p = &b->ps[i];
		if (!p->valid || p->ev.kind != EVENT_NOTIFICATION)
			continue;
		if (!ok || k >= rep->elements || rep->element[k]->type != REDIS_REPLY_INTEGER) {
			metrics_ingest("unavailable");
			ingest_reply(r, p, "unavailable", UNAVAILABLE);
		} else if (rep->element[k]->integer < 0) {
			reply_throttled(r, p, -rep->element[k]->integer);
		} else if (rep->element[k]->integer == 3) {
			reject_taken(r, p);
		} else if (rep->element[k]->integer == 1 || rep->element[k]->integer == 2) {
			if (rep->element[k]->integer == 2)
				requalify(p, b->now);
			dlog_write(r->dlog, p->text, p->json);
			callbacks_push(r->callbacks, r->rdb, p->ev.service, p->json);
			answer(r, b, p, "accepted");
			/* the worker takes it parsed from here, with the record
			 * its journey starts with */
			p->ev.accepted_json = p->json;
			p->json = NULL;
			if (rep->element[k]->integer == 1) /* keyed by the bare id */
				evcache_put(r->evcache, &p->ev, b->now, b->now_us);
			if (!b->read_behind)
				r->want_read = 1;
		} else {
			answer(r, b, p, "duplicate");
		}
		k++;
	}
	if (!b->wait)
		ingest_batch_free(r, b);
}

/* WAIT fell short: said at most every 10 s, with the count since. */
static void replicas_short(const struct router *r, long long got, int events)
{
	static int64_t logged_ms;
	static long suppressed;
	int64_t now = mono_ms();

	suppressed += events;
	if (logged_ms && now - logged_ms < 10000)
		return;
	log_warnx("redis %s: WAIT %d: %lld replicas acknowledged within %d ms; %ld events "
		  "answered 'unavailable' since the last report (they are in the master: a "
		  "retry is answered 'duplicate' once the replicas have them)",
		  rdb_where(r->rdb), r->cfg->redis_replicas_ack, got < 0 ? 0 : got,
		  r->cfg->redis_replicas_timeout_ms, suppressed);
	logged_ms = now;
	suppressed = 0;
}

/* WAIT answered for the batch: the held answers go out, as they are when
 * replicas_ack replicas have the batch's writes, else "unavailable". */
void ingest_on_waited(redisReply *rep, void *arg)
{
	struct batch *b = arg;
	struct router *r = b->r;
	long long got = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
	int ok = got >= r->cfg->redis_replicas_ack, refused = 0;

	for (int i = 0; i < b->n; i++) {
		struct pending *p = &b->ps[i];
		if (!p->answer)
			continue;
		metrics_ingest(ok ? p->answer : "unavailable");
		reply_id(r, p, p->held_id, ok ? p->answer : "unavailable", ok ? NULL : UNCONFIRMED);
		refused += !ok;
	}
	if (refused)
		replicas_short(r, got, refused);
	ingest_batch_free(r, b);
}

/* replicas_ack for a synchronous write (an engagement): 1 when WAIT says
 * enough replicas have it, or none are asked for. */
static int replicas_confirmed(struct router *r)
{
	redisReply *rep;
	int ok;

	if (r->cfg->redis_replicas_ack <= 0)
		return 1;
	rep = rdb_call(r->rdb, "WAIT %d %d", r->cfg->redis_replicas_ack,
		       r->cfg->redis_replicas_timeout_ms);
	ok = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer >= r->cfg->redis_replicas_ack;
	if (!ok)
		replicas_short(r, rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1, 1);
	freeReplyObject(rep);
	return ok;
}

/* Rare: the citizen used this channel; later messages of the transaction
 * prefer it. Recorded at once (herald_engage, synchronous: the same dedup
 * by event id as a notification) and answered; a duplicate is answered
 * "duplicate" and journaled no more. */
void ingest_engagement(struct router *r, struct pending *p, const char *ttl)
{
	struct msgrec_meta meta = {.accepted_ms = now_ms()};
	char mbuf[2 * MSGREC_ID_MAX + 48];
	redisReply *rep;
	int fresh;

	snprintf(meta.service, sizeof(meta.service), "%s", p->ev.service);
	snprintf(meta.citizen, sizeof(meta.citizen), "%s", p->ev.citizen_id);
	if (msgrec_meta_format(mbuf, sizeof(mbuf), &meta) != 0) /* cannot: ids hold no space */
		snprintf(mbuf, sizeof(mbuf), "-");
	rep = rdb_call(r->rdb, "FCALL herald_engage 0 %s %s %s %s %s %s", ttl, p->ev.event_id,
		       p->ev.service, p->ev.transaction_id, p->ev.channel, mbuf);

	fresh = rep && rep->type == REDIS_REPLY_INTEGER && (rep->integer == 1 || rep->integer == 2);
	if (fresh && replicas_confirmed(r)) {
		metrics_ingest("accepted");
		engaged(r, &p->ev, rep->integer == 2);
		ingest_reply(r, p, "accepted", NULL);
	} else if (fresh) {
		metrics_ingest("unavailable");
		ingest_reply(r, p, "unavailable", UNCONFIRMED);
	} else if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 3) {
		reject_taken(r, p);
	} else if (rep && rep->type == REDIS_REPLY_INTEGER) {
		metrics_ingest("duplicate");
		ingest_reply(r, p, "duplicate", NULL);
	} else {
		if (rep && rep->type == REDIS_REPLY_ERROR)
			log_warnx("herald_engage failed: %s", rep->str);
		metrics_ingest("unavailable");
		ingest_reply(r, p, "unavailable", UNAVAILABLE);
	}
	freeReplyObject(rep);
}
