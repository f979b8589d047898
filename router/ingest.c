/*
 * ingest.c - the publisher-facing socket. A ZMQ ROUTER serves REQ and DEALER
 * publishers alike: whatever envelope frames arrive before the body are sent
 * back before the ack. An event is acknowledged "accepted" only after Redis
 * has run herald_accept (dedup + XADD in one step); "duplicate" when its
 * service's event_id was seen before; "rejected" with the reason when it is
 * invalid or its publisher's key and policy do not allow it (policy.c).
 * Frames are taken in batches so one pipelined round trip accepts many.
 *
 * Availability: while Redis is unreachable, or when it fails a batch, an
 * event is answered "unavailable" (retry later), never left unanswered and
 * never "accepted" without the write. With [redis] replicas_ack = N, a
 * batch's herald_accept is followed by one WAIT N on the same connection,
 * and its events are answered "accepted" (or "duplicate") only when N
 * replicas have the writes, else "unavailable".
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
#include "text.h"
#include "zap.h"

#define MAX_ENVELOPE 4
/* ZMQ's own limit, well above the 64 KiB rule (EVENT_MAX_FRAME) so that the
 * rule, not the socket, refuses a big frame, and answers it "rejected".
 * Beyond this libzmq still drops the peer without an answer (README). */
#define HARD_MAX_FRAME (16 * 1024 * 1024)
#define UNAVAILABLE "queue unavailable, retry later"
#define UNCONFIRMED "not confirmed by enough Redis replicas, retry later"

struct pending {
	zmq_msg_t env[MAX_ENVELOPE];
	int nenv;
	struct event ev;
	int valid;
	char err[320];
	char *text, *json;		/* the "accepted" record */
	char *body;			/* the event as stored when policy_check changed it */
	const char *answer;		/* "accepted" or "duplicate", held for the WAIT */
	char held_id[EVENT_MAX_ID + 1]; /* ... for the event (p->ev may be gone) */
	char limits[72];		/* herald_accept's: policy_limits */
};

/* The events of one drain, answered when Redis replies. */
struct batch {
	struct router *r;
	int64_t now;
	int cap; /* of ps */
	struct pending *ps;
	int n;
	int wait; /* replicas_ack: answers held until WAIT's reply (on_waited) */
};

/* Buffers reused from one drain to the next (the router thread only):
 * a drain's pending array lives until Redis answers, so one spare is kept;
 * the argument arrays only for the drain itself. Big enough for `max`. */
static struct pending *spare_ps;
static int spare_cap;
static zmq_msg_t *bodies_buf;
static const char **argv_buf;
static size_t *lens_buf;
static int bufs_cap;

static struct pending *ps_get(int max)
{
	struct pending *ps = spare_ps;

	if (ps && spare_cap >= max) {
		spare_ps = NULL;
		return ps;
	}
	return malloc((size_t)max * sizeof(*ps));
}

static void ps_put(const struct router *r, struct pending *ps, int cap)
{
	if (r->ingest && (!spare_ps || spare_cap < cap)) { /* closed: keep none */
		free(spare_ps);
		spare_ps = ps;
		spare_cap = cap;
	} else {
		free(ps);
	}
}

static int bufs_get(int max)
{
	if (bufs_cap >= max)
		return 0;
	free(bodies_buf);
	free(argv_buf);
	free(lens_buf);
	bodies_buf = malloc((size_t)max * sizeof(*bodies_buf));
	argv_buf = malloc(((size_t)max * 5 + 4) * sizeof(*argv_buf));
	lens_buf = malloc(((size_t)max * 5 + 4) * sizeof(*lens_buf));
	if (!bodies_buf || !argv_buf || !lens_buf) {
		bufs_cap = 0;
		return -1;
	}
	bufs_cap = max;
	return 0;
}

static const char *const streams[PRIO_N] = KEY_STREAMS;

int ingest_open(struct router *r, char *err, size_t errlen)
{
	int linger = 0, hwm = 100000;
	int64_t maxsize = HARD_MAX_FRAME;

	r->ingest = zmq_socket(r->zctx, ZMQ_ROUTER);
	if (!r->ingest)
		goto fail;
	zmq_setsockopt(r->ingest, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(r->ingest, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(r->ingest, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(r->ingest, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
	if (zap_secure(r->zap, r->ingest) != 0)
		goto fail;
	if (zmq_bind(r->ingest, r->cfg->ingest_endpoint) != 0)
		goto fail;
	zap_watch(r->zap, r->ingest);
	return 0;
fail:
	snprintf(err, errlen, "ingest %s: %s", r->cfg->ingest_endpoint, zmq_strerror(zmq_errno()));
	if (r->ingest)
		zmq_close(r->ingest);
	r->ingest = NULL;
	return -1;
}

void ingest_close(struct router *r)
{
	free(spare_ps);
	spare_ps = NULL;
	spare_cap = 0;
	free(bodies_buf);
	free(argv_buf);
	free(lens_buf);
	bodies_buf = NULL;
	argv_buf = NULL;
	lens_buf = NULL;
	bufs_cap = 0;
	if (r->ingest)
		zmq_close(r->ingest);
	r->ingest = NULL;
}

/* An engagement names a channel configured here. */
static int check_engaged_channel(struct router *r, const struct event *ev, char *err, size_t errlen)
{
	if (chans_find(&r->chans, ev->channel))
		return 0;
	snprintf(err, errlen, "unknown channel '%s' in 'channel'", ev->channel);
	return -1;
}

/* A message's record lives retention_days past its last step: a send_after
 * beyond that could not be kept until it comes due, so it is refused. */
static int check_send_after(const struct router *r, const struct event *ev, char *err,
			    size_t errlen)
{
	int64_t latest = now_ms() + r->ttl_s * 1000;
	char when[40], limit[40];

	if (ev->send_after_ms <= latest)
		return 0;
	rfc3339_format(ev->send_after_ms, when, sizeof(when));
	rfc3339_format(latest, limit, sizeof(limit));
	snprintf(err, errlen,
		 "send_after %s is beyond what retention allows (retention_days %lld: at "
		 "most %s)",
		 when, (long long)(r->ttl_s / 86400), limit);
	return -1;
}

/* Check what the event refers to on this instance. */
static int check_refs(struct router *r, const struct event *ev, char *err, size_t errlen)
{
	char missing[256];
	size_t i;
	json_t *c;

	if (ev->kind == EVENT_ENGAGEMENT)
		return check_engaged_channel(r, ev, err, errlen);
	if (!tstore_has(r->templates, ev->template_name)) {
		snprintf(err, errlen, "unknown template '%s'", ev->template_name);
		return -1;
	}
	if (tstore_missing(r->templates, ev->template_name, ev->personalisation, missing,
			   sizeof(missing)) > 0) {
		snprintf(err, errlen, "missing personalisation: %s", missing);
		return -1;
	}
	if (check_send_after(r, ev, err, errlen) != 0)
		return -1;
	json_array_foreach(ev->channels, i, c)
	{
		if (!chans_find(&r->chans, json_string_value(c))) {
			snprintf(err, errlen, "unknown channel '%s' in 'channels'",
				 json_string_value(c));
			return -1;
		}
	}
	return 0;
}

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

static void reply_json(struct router *r, struct pending *p, const char *status, const char *error)
{
	reply_id(r, p, p->ev.event_id, status, error);
}

/* Receive one multipart message: envelope frames into p, body into body.
 * Returns 1 got one, 0 nothing waiting, -1 malformed (already drained). */
static int recv_one(struct router *r, struct pending *p, zmq_msg_t *body)
{
	int more, first = 1, bad = 0;
	size_t ms = sizeof(more);

	p->nenv = 0;
	for (;;) {
		zmq_msg_t f;
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, r->ingest, first ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(&f);
			return first ? 0 : -1;
		}
		first = 0;
		zmq_getsockopt(r->ingest, ZMQ_RCVMORE, &more, &ms);
		if (!more) {
			zmq_msg_move(body, &f);
			zmq_msg_close(&f);
			return bad ? -1 : 1;
		}
		if (p->nenv < MAX_ENVELOPE) {
			zmq_msg_init(&p->env[p->nenv]);
			zmq_msg_move(&p->env[p->nenv++], &f);
		} else {
			bad = 1;
		}
		zmq_msg_close(&f);
	}
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

static void pending_clear(struct pending *p)
{
	for (int k = 0; k < p->nenv; k++)
		zmq_msg_close(&p->env[k]);
	p->nenv = 0;
	free(p->text);
	free(p->json);
	free(p->body);
	p->text = p->json = p->body = NULL;
	event_clear(&p->ev);
}

/* A drain's events are answered: their buffers go (the array is kept for
 * the next drain). */
static void batch_free(const struct router *r, struct batch *b)
{
	for (int i = 0; i < b->n; i++)
		pending_clear(&b->ps[i]);
	ps_put(r, b->ps, b->cap);
	free(b);
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
static void log_rejected(const struct pending *p, const char *key_service, const char *peer,
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
	log_rejected(p, NULL, NULL, taken);
	reply_json(r, p, "rejected", taken);
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
	reply_json(r, p, status, NULL);
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
static void on_accepted(redisReply *rep, void *arg)
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
			reply_json(r, p, "unavailable", UNAVAILABLE);
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
				evcache_put(r->evcache, &p->ev, b->now);
			r->want_read = 1;
		} else {
			answer(r, b, p, "duplicate");
		}
		k++;
	}
	if (!b->wait)
		batch_free(r, b);
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
static void on_waited(redisReply *rep, void *arg)
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
	batch_free(r, b);
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

/* Parse and check a received event; an invalid one is answered
 * "rejected". Returns p->valid. */
static int check_one(struct router *r, struct pending *p, zmq_msg_t *body, int got)
{
	if (got < 0)
		snprintf(p->err, sizeof(p->err), "malformed message: too many envelope frames");
	else if (p->nenv == 0)
		snprintf(p->err, sizeof(p->err), "no envelope");
	else if (event_parse(zmq_msg_data(body), zmq_msg_size(body), &p->ev, p->err,
			     sizeof(p->err)) == 0 &&
		 policy_check(r, zmq_msg_gets(body, "User-Id"), &p->ev, &p->body, p->err,
			      sizeof(p->err)) == 0 &&
		 check_refs(r, &p->ev, p->err, sizeof(p->err)) == 0)
		p->valid = 1;
	if (!p->valid) {
		metrics_ingest("rejected");
		log_rejected(p, got >= 0 ? zmq_msg_gets(body, "User-Id") : NULL,
			     got >= 0 ? zmq_msg_gets(body, "Peer-Address") : NULL, p->err);
		reply_json(r, p, "rejected", p->err);
	}
	return p->valid;
}

/* Rare: the citizen used this channel; later messages of the transaction
 * prefer it. Recorded at once (herald_engage, synchronous: the same dedup
 * by event id as a notification) and answered; a duplicate is answered
 * "duplicate" and journaled no more. */
static void engagement(struct router *r, struct pending *p, const char *ttl)
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
		reply_json(r, p, "accepted", NULL);
	} else if (fresh) {
		metrics_ingest("unavailable");
		reply_json(r, p, "unavailable", UNCONFIRMED);
	} else if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 3) {
		reject_taken(r, p);
	} else if (rep && rep->type == REDIS_REPLY_INTEGER) {
		metrics_ingest("duplicate");
		reply_json(r, p, "duplicate", NULL);
	} else {
		if (rep && rep->type == REDIS_REPLY_ERROR)
			log_warnx("herald_engage failed: %s", rep->str);
		metrics_ingest("unavailable");
		reply_json(r, p, "unavailable", UNAVAILABLE);
	}
	freeReplyObject(rep);
}

/* The "accepted" record of a notification, written once Redis has said
 * yes. -1 when out of memory (answered). */
static int accepted_record(struct router *r, struct pending *p, int64_t now)
{
	const char *tx = p->ev.transaction_id ? p->ev.transaction_id : p->ev.event_id;
	char text[2048], json[4096];

	state_accepted_record(&p->ev, tx, now, text, sizeof(text), json, sizeof(json));
	p->text = strdup(text);
	p->json = strdup(json);
	if (!p->text || !p->json) {
		p->valid = 0;
		reply_json(r, p, "error", "out of memory, retry later");
		return -1;
	}
	return 0;
}

/* A notification's herald_accept arguments: id, service, stream, the
 * event as published (or as policy_check changed it) and its service's
 * limits (p->limits). */
static int accept_args(const struct pending *p, zmq_msg_t *body, const char **argv, size_t *lens)
{
	int argc = 0;

	argv[argc] = p->ev.event_id, lens[argc++] = strlen(p->ev.event_id);
	argv[argc] = p->ev.service, lens[argc++] = strlen(p->ev.service);
	argv[argc] = streams[p->ev.priority], lens[argc++] = strlen(streams[p->ev.priority]);
	if (p->body)
		argv[argc] = p->body, lens[argc++] = strlen(p->body);
	else
		argv[argc] = zmq_msg_data(body), lens[argc++] = zmq_msg_size(body);
	argv[argc] = p->limits, lens[argc++] = strlen(p->limits);
	return argc;
}

/* Take up to max events off the ingest socket: invalid ones and
 * engagements are answered here, notifications go to Redis in one
 * herald_accept call (FCALL herald_accept 0 now, then id, service, stream,
 * event, limits per event), answered by on_accepted. Returns the number taken. */
int ingest_drain(struct router *r, int max)
{
	struct batch *b = calloc(1, sizeof(*b));
	int64_t now = now_ms();
	char ttl[24], nowbuf[24];
	const char **argv;
	size_t *lens;
	int argc = 0, nvalid = 0;
	zmq_msg_t *bodies;

	if (!b)
		return 0;
	b->r = r;
	b->now = now;
	b->cap = max;
	b->ps = ps_get(max);
	if (!b->ps || bufs_get(max) != 0) {
		free(b->ps);
		free(b);
		return 0;
	}
	bodies = bodies_buf;
	argv = argv_buf;
	lens = lens_buf;
	snprintf(ttl, sizeof(ttl), "%lld", (long long)r->ttl_s);
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	argv[argc] = "FCALL", lens[argc++] = 5;
	argv[argc] = "herald_accept", lens[argc++] = 13;
	argv[argc] = "0", lens[argc++] = 1;
	argv[argc] = nowbuf, lens[argc++] = strlen(nowbuf);
	while (b->n < max) {
		struct pending *p = &b->ps[b->n];
		zmq_msg_t *body = &bodies[b->n];
		int got;

		memset(p, 0, sizeof(*p));
		zmq_msg_init(body);
		got = recv_one(r, p, body);
		if (got == 0) {
			zmq_msg_close(body);
			break;
		}
		b->n++;
		if (!check_one(r, p, body, got))
			continue;
		if (p->ev.kind == EVENT_ENGAGEMENT) {
			engagement(r, p, ttl);
			continue;
		}
		if (accepted_record(r, p, now) != 0)
			continue;
		policy_limits(r, &p->ev, p->limits, sizeof(p->limits));
		argc += accept_args(p, body, argv + argc, lens + argc);
		nvalid++;
	}
	/* hiredis copies the command into its buffer: the bodies may go after */
	int n = b->n, wait = r->cfg->redis_replicas_ack > 0;
	b->wait = wait;
	if (nvalid) {
		rdb_cmd(r->rdb, on_accepted, b, argc, argv, lens); /* owns b now */
		if (wait) /* one WAIT per batch; on_waited answers and frees b */
			rdb_cmdf(r->rdb, on_waited, b, "WAIT %d %d", r->cfg->redis_replicas_ack,
				 r->cfg->redis_replicas_timeout_ms);
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&bodies[i]);
	if (!nvalid)
		batch_free(r, b);
	return n;
}

/* Redis is unreachable: take up to max events off the socket and answer
 * each at once, "unavailable" (an invalid one "rejected", as ever), so that
 * no publisher waits in silence. Returns the number answered. */
int ingest_unavailable(struct router *r, int max)
{
	struct pending p;
	zmq_msg_t body;
	int n = 0, got;

	while (r->ingest && n < max) {
		memset(&p, 0, sizeof(p));
		zmq_msg_init(&body);
		got = recv_one(r, &p, &body);
		if (got != 0) {
			n++;
			if (check_one(r, &p, &body, got)) {
				metrics_ingest("unavailable");
				reply_json(r, &p, "unavailable", UNAVAILABLE);
			}
		}
		zmq_msg_close(&body);
		pending_clear(&p);
		if (got == 0)
			break;
	}
	return n;
}
