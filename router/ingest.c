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
#include "stream.h"
#include "text.h"
#include "zap.h"

#include "ingest_int.h"

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
	int64_t ttl_s = policy_ttl_s(r, ev->service);
	int64_t latest = now_ms() + ttl_s * 1000;
	char when[40], limit[40];

	if (ev->send_after_ms <= latest)
		return 0;
	rfc3339_format(ev->send_after_ms, when, sizeof(when));
	rfc3339_format(latest, limit, sizeof(limit));
	snprintf(err, errlen,
		 "send_after %s is beyond what retention allows (retention_days %lld: at "
		 "most %s)",
		 when, (long long)(ttl_s / 86400), limit);
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
void ingest_batch_free(const struct router *r, struct batch *b)
{
	for (int i = 0; i < b->n; i++)
		pending_clear(&b->ps[i]);
	ps_put(r, b->ps, b->cap);
	free(b);
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
		ingest_log_rejected(p, got >= 0 ? zmq_msg_gets(body, "User-Id") : NULL,
				    got >= 0 ? zmq_msg_gets(body, "Peer-Address") : NULL, p->err);
		ingest_reply(r, p, "rejected", p->err);
	}
	return p->valid;
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
		ingest_reply(r, p, "error", "out of memory, retry later");
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
	int64_t now_u = now_us(), now = now_u / 1000;
	char ttl[24], nowbuf[24];
	const char **argv;
	size_t *lens;
	int argc = 0, nvalid = 0;
	zmq_msg_t *bodies;

	if (!b)
		return 0;
	b->r = r;
	b->now = now;
	b->now_us = now_u;
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
			snprintf(ttl, sizeof(ttl), "%lld",
				 (long long)policy_ttl_s(r, p->ev.service));
			ingest_engagement(r, p, ttl);
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
		metrics_accept_batch(nvalid);
		rdb_cmd(r->rdb, ingest_on_accepted, b, argc, argv, lens); /* owns b now */
		if (wait) /* one WAIT per batch; on_waited answers and frees b */
			rdb_cmdf(r->rdb, ingest_on_waited, b, "WAIT %d %d",
				 r->cfg->redis_replicas_ack, r->cfg->redis_replicas_timeout_ms);
		else /* its entries come back with the accept's reply */
			b->read_behind = stream_read_behind_accept(r);
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&bodies[i]);
	if (!nvalid)
		ingest_batch_free(r, b);
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
				ingest_reply(r, &p, "unavailable", UNAVAILABLE);
			}
		}
		zmq_msg_close(&body);
		pending_clear(&p);
		if (got == 0)
			break;
	}
	return n;
}
