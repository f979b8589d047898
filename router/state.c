/*
 * state.c - every transition of a message, written once and everywhere:
 * the delivery log (text, JSON, PUB), the service's status callback, and
 * Redis: the message hash and the transaction journey, as plain commands on
 * the pipeline (sent at the end of the loop turn, in order).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "log.h"
#include "metrics.h"
#include "router.h"
#include "text.h"

#define REC_TEXT 2048
#define REC_JSON 4096

/* ---- records ---------------------------------------------------------- */

static double secs(int64_t from, int64_t to)
{
	return from > 0 && to >= from ? (double)(to - from) / 1000.0 : -1.0;
}

static int fmt_delay(char *buf, size_t len, double v)
{
	if (v < 0) {
		memcpy(buf, "-", 2);
		return 1;
	}
	return (int)fmt_fixed3(v, buf, len);
}

/* prefix + s into out (size outlen), cut to fit. */
static void key_of(char *out, size_t outlen, const char *prefix, size_t plen, const char *s)
{
	size_t n = strlen(s);

	if (plen + n >= outlen)
		n = outlen - plen - 1;
	memcpy(out, prefix, plen);
	memcpy(out + plen, s, n);
	out[plen + n] = '\0';
}

/* snprintf("%s") into a fixed field, cut to fit. */
static void copy_to(char *out, size_t outlen, const char *s)
{
	key_of(out, outlen, "", 0, s);
}

/* Fill a delivery-log record for message m at time now; ts and delays are
 * caller buffers. */
static void make_record(struct dlog_rec *rec, const struct msg *m, const struct step *s,
			int64_t now, char *ts, size_t tslen, char *delays, size_t dlen)
{
	int n;

	rfc3339_format(now, ts, tslen);
	n = fmt_delay(delays, dlen, secs(m->accepted_ms, m->picked_ms));
	delays[n++] = '/';
	n += fmt_delay(delays + n, dlen - (size_t)n, secs(m->picked_ms, m->prepared_ms));
	delays[n++] = '/';
	fmt_delay(delays + n, dlen - (size_t)n, secs(m->submitted_ms, m->submitted_ms ? now : 0));
	memset(rec, 0, sizeof(*rec));
	rec->ts = ts;
	rec->event_id = m->event_id;
	rec->tx = m->tx;
	rec->citizen = m->citizen;
	rec->service = m->service;
	rec->channel = (m->chan && !s->no_channel) ? m->chan->name : NULL;
	rec->to = m->to_masked[0] && !s->no_channel ? m->to_masked : "-";
	rec->attempt = (int)m->attempt;
	rec->delay = m->accepted_ms > 0 ? secs(m->accepted_ms, now) : 0.0;
	rec->delays = delays;
	rec->dsn = s->dsn;
	rec->status = s->status;
	rec->reason = s->reason ? s->reason : "";
	rec->ref = s->ref;
	rec->fulfilled_in = s->fulfilled_ms >= 0 ? (double)s->fulfilled_ms / 1000.0 : -1.0;
}

/* ---- XACK, one command per stream and loop turn --------------------- */

static const char *const ack_streams[PRIO_N] = {"herald:q:urgent", "herald:q:normal",
						"herald:q:bulk"};

/* Acknowledge a stream entry with the others of this loop turn: queued
 * after every state write of the turn, so still after the message's own. */
static void ack_queue(struct router *r, const char *stream, const char *id)
{
	size_t n = strlen(id) + 1;

	for (int p = 0; p < PRIO_N; p++) {
		struct ackq *q = &r->acks[p];
		if (strcmp(stream, ack_streams[p]) != 0)
			continue;
		if (q->len + n > q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			char *b;
			while (cap < q->len + n)
				cap *= 2;
			b = realloc(q->ids, cap);
			if (!b)
				break; /* out of memory: acknowledge it on its own */
			q->ids = b;
			q->cap = cap;
		}
		memcpy(q->ids + q->len, id, n);
		q->len += n;
		q->n++;
		return;
	}
	rdb_cmdf(r->rdb, NULL, NULL, "XACK %s " GROUP " %s", stream, id);
}

void state_flush(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		struct ackq *q = &r->acks[p];
		const char **argv;
		const char *id = q->ids;
		size_t argc = 0;

		if (!q->n)
			continue;
		argv = malloc((q->n + 3) * sizeof(*argv));
		if (!argv)
			return; /* stays queued for the next turn */
		argv[argc++] = "XACK";
		argv[argc++] = ack_streams[p];
		argv[argc++] = GROUP;
		for (size_t i = 0; i < q->n; i++) {
			argv[argc++] = id;
			id += strlen(id) + 1;
		}
		rdb_cmd(r->rdb, NULL, NULL, (int)argc, argv, NULL);
		free(argv);
		q->n = q->len = 0;
	}
}

void state_free(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		free(r->acks[p].ids);
		memset(&r->acks[p], 0, sizeof(r->acks[p]));
	}
}

void state_step(struct router *r, struct msg *m, const struct step *s)
{
	int64_t now = now_ms();
	struct dlog_rec rec;
	char ts[40], delays[64], text[REC_TEXT], json[REC_JSON];

	make_record(&rec, m, s, now, ts, sizeof(ts), delays, sizeof(delays));
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, json, sizeof(json));
	dlog_write(r->dlog, text, json);
	callbacks_push(r->callbacks, m->service, json);
	if (!s->journal_only)
		metrics_status(m->chan && !s->no_channel ? m->chan->name : "-", s->status);
	if (s->fulfilled_ms >= 0)
		metrics_fulfilled((double)s->fulfilled_ms / 1000.0);

	/* the message-hash fields of this transition; channel, to and attempt
	 * only when the hash does not hold them already */
	const char *fk[48], *fv[48];
	char upd[24], att[16], ful[24];
	int nf = 0, chan_ok = m->chan && !s->no_channel;
	if (!s->journal_only) {
		fmt_int(now, upd);
		fk[nf] = "status", fv[nf++] = s->status;
		fk[nf] = "updated_ms", fv[nf++] = upd;
		fk[nf] = "reason", fv[nf++] = s->reason ? s->reason : "";
		if (!m->hw_known || m->hw_attempt != m->attempt) {
			fmt_int(m->attempt, att);
			fk[nf] = "attempt", fv[nf++] = att;
		}
		if (chan_ok && (!m->hw_known || m->hw_chan != m->chan ||
				strcmp(m->hw_to, m->to_masked) != 0)) {
			fk[nf] = "channel", fv[nf++] = m->chan->name;
			fk[nf] = "to", fv[nf++] = m->to_masked;
		}
		if (s->ref && *s->ref)
			fk[nf] = "ref", fv[nf++] = s->ref;
		if (s->fulfilled_ms >= 0) {
			fmt_int(s->fulfilled_ms, ful);
			fk[nf] = "fulfilled_ms", fv[nf++] = ful;
		}
		for (int i = 0; i + 1 < 2 * s->nkv && nf < 48; i += 2) {
			fk[nf] = s->kv[i];
			fv[nf++] = s->kv[i + 1];
		}
	}
	/* Redis: plain pipelined commands, in order. The message hash and the
	 * journey were created (with their TTL) by herald_accept; HSET and RPUSH
	 * keep it. */
	char msgkey[160], txkey[160];
	key_of(msgkey, sizeof(msgkey), KEY_MSG, strlen(KEY_MSG), m->event_id);
	key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx);
	if (nf) {
		const char *argv[2 + 2 * 48];
		int argc = 0;
		argv[argc++] = "HSET";
		argv[argc++] = msgkey;
		for (int i = 0; i < nf; i++) {
			argv[argc++] = fk[i];
			argv[argc++] = fv[i];
		}
		rdb_cmd(r->rdb, NULL, NULL, argc, argv, NULL);
		/* now known to be in the hash, unless the extra fields set them */
		m->hw_known = 1;
		m->hw_attempt = m->attempt;
		if (chan_ok) {
			m->hw_chan = m->chan;
			copy_to(m->hw_to, sizeof(m->hw_to), m->to_masked);
		}
		for (int i = 0; i + 1 < 2 * s->nkv; i += 2)
			if (!strcmp(s->kv[i], "attempt") || !strcmp(s->kv[i], "channel") ||
			    !strcmp(s->kv[i], "to"))
				m->hw_known = 0;
	}
	{
		const char *argv[3] = {"RPUSH", txkey, json};
		rdb_cmd(r->rdb, NULL, NULL, 3, argv, NULL);
		if (s->journal_only) /* may be the first entry of a journey */
			rdb_cmdf(r->rdb, NULL, NULL, "EXPIRE %s %lld NX", txkey,
				 (long long)r->ttl_s);
	}
	if (s->sched_ms > 0)
		rdb_cmdf(r->rdb, NULL, NULL, "ZADD " KEY_SCHED " %lld %s", (long long)s->sched_ms,
			 m->event_id);
	if (s->dead)
		rdb_cmdf(r->rdb, NULL, NULL, "LPUSH " KEY_DEAD " %s", m->event_id);
	if (s->ack && m->stream_id[0]) {
		ack_queue(r, m->stream[0] ? m->stream : "herald:q:normal", m->stream_id);
		m->stream_id[0] = '\0'; /* acked once */
	}
}

/* The "accepted" record of an event about to be queued: ingest puts its JSON
 * in the journey (herald_accept) and writes it to the delivery log once
 * Redis has said yes. */
void state_accepted_record(const struct event *ev, const char *tx, int64_t now, char *text,
			   size_t tlen, char *json, size_t jlen)
{
	struct msg m;
	struct step s = {.status = "accepted", .fulfilled_ms = -1, .no_channel = 1};
	struct dlog_rec rec;
	char reason[96], ts[40], delays[64];

	memset(&m, 0, offsetof(struct msg, plan));
	copy_to(m.event_id, sizeof(m.event_id), ev->event_id);
	copy_to(m.tx, sizeof(m.tx), tx);
	copy_to(m.citizen, sizeof(m.citizen), ev->citizen_id);
	copy_to(m.service, sizeof(m.service), ev->service);
	m.to_masked[0] = '\0';
	m.accepted_ms = now;
	key_of(reason, sizeof(reason), "template ", 9, ev->template_name);
	size_t rl = strlen(reason);
	key_of(reason + rl, sizeof(reason) - rl, ", priority ", 11, prio_name(ev->priority));
	s.reason = reason;
	make_record(&rec, &m, &s, now, ts, sizeof(ts), delays, sizeof(delays));
	dlog_rec_text(&rec, text, tlen);
	dlog_rec_json(&rec, json, jlen);
}
