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
#include "msgrec.h"
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

struct held_writes {
	struct held_writes *next;
	char *buf; /* every string, NUL-terminated */
	size_t len, cap;
	size_t *off; /* offsets: HSET field/value pairs (kind 0), entries (1) */
	unsigned char *kind;
	size_t n, ncap;
	size_t msgkey, txkey;
	int64_t expire_tx;  /* > 0: EXPIRE the journey (NX) after the RPUSH */
	int64_t expire_msg; /* > 0: EXPIRE the message hash after the HSET */
};

static void held_flush(struct router *r);
static void held_free(struct held_writes *w);
/* emptied held_writes kept for reuse: enough for a few loop turns' messages */
#define HELD_SPARE_MAX 1024

void state_flush(struct router *r)
{
	held_flush(r); /* before the XACKs */
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
	while (r->held_head) { /* sent by the last state_flush; anything left is lost */
		struct held_writes *w = r->held_head;
		r->held_head = w->next;
		held_free(w);
	}
	r->held_tail = NULL;
	while (r->held_spare) {
		struct held_writes *w = r->held_spare;
		r->held_spare = w->next;
		held_free(w);
	}
	r->held_nspare = 0;
	for (int p = 0; p < PRIO_N; p++) {
		free(r->acks[p].ids);
		memset(&r->acks[p], 0, sizeof(r->acks[p]));
	}
}

/* ---- held-back hash and journey writes ------------------------------ */

static int held_str(struct held_writes *w, const char *s, size_t n, size_t *off)
{
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 2048;
		char *b;
		while (cap < w->len + n + 1)
			cap *= 2;
		if (!(b = realloc(w->buf, cap)))
			return -1;
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->buf[w->len + n] = '\0';
	*off = w->len;
	w->len += n + 1;
	return 0;
}

static int held_item(struct held_writes *w, int kind, const char *s)
{
	size_t off;

	if (w->n == w->ncap) {
		size_t cap = w->ncap ? w->ncap * 2 : 32;
		size_t *o = realloc(w->off, cap * sizeof(*o));
		unsigned char *k;
		if (!o)
			return -1;
		w->off = o;
		if (!(k = realloc(w->kind, cap)))
			return -1;
		w->kind = k;
		w->ncap = cap;
	}
	if (held_str(w, s, strlen(s), &off) != 0)
		return -1;
	w->off[w->n] = off;
	w->kind[w->n++] = (unsigned char)kind;
	return 0;
}

/* Index of field k among the held hash fields, or w->n. */
static size_t held_field(const struct held_writes *w, const char *k)
{
	for (size_t i = 0; i + 1 < w->n; i++) {
		if (w->kind[i] != 0)
			continue;
		if (!strcmp(w->buf + w->off[i], k))
			return i;
		i++; /* skip the value */
	}
	return w->n;
}

static void held_free(struct held_writes *w)
{
	free(w->buf);
	free(w->off);
	free(w->kind);
	free(w);
}

/* The message's held-back writes of this loop turn (created if none). */
static struct held_writes *held_get(struct router *r, struct msg *m)
{
	struct held_writes *w;
	char key[160];

	if (m->held && m->held_gen == r->held_gen)
		return m->held;
	if (r->held_spare) { /* buffers of an earlier turn: no malloc per message */
		w = r->held_spare;
		r->held_spare = w->next;
		r->held_nspare--;
		w->next = NULL;
	} else if (!(w = calloc(1, sizeof(*w)))) {
		return NULL;
	}
	key_of(key, sizeof(key), KEY_MSG, strlen(KEY_MSG), m->event_id);
	if (held_str(w, key, strlen(key), &w->msgkey) != 0)
		goto fail;
	key_of(key, sizeof(key), KEY_TX, strlen(KEY_TX), m->tx);
	if (held_str(w, key, strlen(key), &w->txkey) != 0)
		goto fail;
	if (r->held_tail)
		r->held_tail->next = w;
	else
		r->held_head = w;
	r->held_tail = w;
	m->held = w;
	m->held_gen = r->held_gen;
	return w;
fail:
	held_free(w);
	return NULL;
}

/* Add one transition (after pre, the journey's "accepted" entry, if not
 * NULL); on failure nothing of it was added. */
static int held_add(struct held_writes *w, const char *const *fk, const char *const *fv, int nf,
		    const char *pre, const char *json)
{
	size_t n0 = w->n, len0 = w->len, redone[48][2];
	int nre = 0;

	for (int i = 0; i < nf && i < 48; i++) {
		size_t j = held_field(w, fk[i]);
		if (j < n0) { /* set earlier this turn: the later value wins */
			size_t off;
			if (held_str(w, fv[i], strlen(fv[i]), &off) != 0)
				goto fail;
			redone[nre][0] = j + 1, redone[nre++][1] = w->off[j + 1];
			w->off[j + 1] = off;
		} else if (held_item(w, 0, fk[i]) != 0 || held_item(w, 0, fv[i]) != 0) {
			goto fail;
		}
	}
	if (pre && held_item(w, 1, pre) != 0)
		goto fail;
	if (held_item(w, 1, json) != 0)
		goto fail;
	return 0;
fail:
	while (nre-- > 0)
		w->off[redone[nre][0]] = redone[nre][1];
	w->n = n0;
	w->len = len0;
	return -1;
}

/* Queue the writes held so far: one HSET (later fields win, as Redis
 * applies them in order), one RPUSH of every entry. */
static void held_emit(struct router *r, struct held_writes *w)
{
	const char **argv;
	size_t argc, nh = 0;

	if (!w->n)
		return;
	argv = malloc((w->n + 2) * sizeof(*argv));
	if (!argv) {
		log_warnx("out of memory: state writes of one message not sent to Redis");
		return;
	}
	for (size_t i = 0; i < w->n; i++)
		nh += w->kind[i] == 0;
	if (nh) {
		argc = 0;
		argv[argc++] = "HSET";
		argv[argc++] = w->buf + w->msgkey;
		for (size_t i = 0; i < w->n; i++)
			if (w->kind[i] == 0)
				argv[argc++] = w->buf + w->off[i];
		rdb_cmd(r->rdb, NULL, NULL, (int)argc, argv, NULL);
	}
	if (nh < w->n) {
		argc = 0;
		argv[argc++] = "RPUSH";
		argv[argc++] = w->buf + w->txkey;
		for (size_t i = 0; i < w->n; i++)
			if (w->kind[i] == 1)
				argv[argc++] = w->buf + w->off[i];
		rdb_cmd(r->rdb, NULL, NULL, (int)argc, argv, NULL);
	}
	if (w->expire_msg > 0) {
		char ttl[24];
		fmt_int(w->expire_msg, ttl);
		const char *ex[] = {"EXPIRE", w->buf + w->msgkey, ttl};
		rdb_cmd(r->rdb, NULL, NULL, 3, ex, NULL);
	}
	w->expire_msg = 0;
	if (w->expire_tx > 0) {
		char ttl[24];
		fmt_int(w->expire_tx, ttl);
		const char *ex[] = {"EXPIRE", w->buf + w->txkey, ttl, "NX"};
		rdb_cmd(r->rdb, NULL, NULL, 4, ex, NULL);
	}
	w->expire_tx = 0;
	free(argv);
	w->n = 0; /* the strings stay until state_flush frees w */
}

/* Out of memory for holding back: the commands as they are. */
static void write_direct(struct router *r, const struct msg *m, const char *const *fk,
			 const char *const *fv, int nf, const char *pre, const char *json,
			 int first)
{
	char msgkey[160], txkey[160];

	key_of(msgkey, sizeof(msgkey), KEY_MSG, strlen(KEY_MSG), m->event_id);
	key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx);
	if (m->held && m->held_gen == r->held_gen)
		held_emit(r, m->held); /* keep this message's order */
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
	}
	const char *argv[4] = {"RPUSH", txkey, pre ? pre : json, json};
	rdb_cmd(r->rdb, NULL, NULL, pre ? 4 : 3, argv, NULL);
	if (first) {
		rdb_cmdf(r->rdb, NULL, NULL, "EXPIRE %s %lld", msgkey, (long long)r->ttl_s);
		rdb_cmdf(r->rdb, NULL, NULL, "EXPIRE %s %lld NX", txkey, (long long)r->ttl_s);
	}
}

static void held_flush(struct router *r)
{
	struct held_writes *w = r->held_head, *next;

	r->held_head = r->held_tail = NULL;
	r->held_gen++;
	for (; w; w = next) {
		next = w->next;
		held_emit(r, w);
		if (r->held_nspare < HELD_SPARE_MAX) { /* emitted: the strings are copied */
			w->len = w->n = 0;
			w->next = r->held_spare;
			r->held_spare = w;
			r->held_nspare++;
		} else {
			held_free(w);
		}
	}
}

/* The message-hash fields of one transition, and the buffers they point
 * into. */
struct hash_fields {
	const char *k[48], *v[48];
	int n;
	char updated[24], fulfilled[24];
	char at[sizeof(((struct msg *)0)->hash_at)];
	int at_new; /* at differs from what the hash holds */
	char meta[2 * MSGREC_ID_MAX + 48];
	char *event; /* json_dumps'd, freed by the caller */
};

static void field_add(struct hash_fields *f, const char *k, const char *v)
{
	f->k[f->n] = k;
	f->v[f->n++] = v;
}

/* The delivery logs, the service's callback and the metrics hear of the
 * transition; json gets its JSON record (the journey entry). */
static void announce(struct router *r, const struct msg *m, const struct step *s, int64_t now,
		     char *json, size_t jlen)
{
	struct dlog_rec rec;
	char ts[40], delays[64], text[REC_TEXT];

	make_record(&rec, m, s, now, ts, sizeof(ts), delays, sizeof(delays));
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, json, jlen);
	dlog_write(r->dlog, text, json);
	callbacks_push(r->callbacks, m->service, json);
	if (!s->journal_only)
		metrics_status(m->chan && !s->no_channel ? m->chan->name : "-", s->status);
	if (s->fulfilled_ms >= 0)
		metrics_fulfilled((double)s->fulfilled_ms / 1000.0);
}

/* "at" (channel, attempt, plan, address: msgrec.h) as it is after the
 * step; the step's other extra fields go to f as they are. */
static void at_fields(const struct msg *m, const struct step *s, struct hash_fields *f)
{
	struct msgrec_at at;

	if (msgrec_at_parse(m->hash_at, &at) != 0) /* nothing known: all from m */
		copy_to(at.to, sizeof(at.to), m->to_masked);
	at.attempt = m->attempt;
	at.plan_idx = m->plan_idx;
	copy_to(at.plan, sizeof(at.plan), m->plan);
	if (m->chan && !s->no_channel) {
		copy_to(at.channel, sizeof(at.channel), m->chan->name);
		copy_to(at.to, sizeof(at.to), m->to_masked);
	}
	for (int i = 0; i + 1 < 2 * s->nkv && f->n < 40; i += 2) {
		const char *k = s->kv[i], *v = s->kv[i + 1];
		if (!strcmp(k, "attempt"))
			at.attempt = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(k, "plan_idx"))
			at.plan_idx = atoi(v);
		else if (!strcmp(k, "plan"))
			copy_to(at.plan, sizeof(at.plan), v);
		else
			field_add(f, k, v);
	}
	/* cannot fail: channel names are one word (dispatch.c), a plan
	 * is channel names and commas, and the sizes fit */
	if (msgrec_at_format(f->at, sizeof(f->at), &at) != 0) {
		log_warnx("%s: cannot record channel %s, plan %s", m->event_id, at.channel,
			  at.plan);
	} else if (strcmp(f->at, m->hash_at) != 0) {
		field_add(f, "at", f->at);
		f->at_new = 1;
	}
}

/* The fields every transition sets; "at" only when the hash does not hold
 * that already. */
static void step_fields(const struct msg *m, const struct step *s, int64_t now,
			struct hash_fields *f)
{
	fmt_int(now, f->updated);
	field_add(f, "status", s->status);
	field_add(f, "updated_ms", f->updated);
	field_add(f, "reason", s->reason ? s->reason : "");
	if (s->ref && *s->ref)
		field_add(f, "ref", s->ref);
	if (s->fulfilled_ms >= 0) {
		fmt_int(s->fulfilled_ms, f->fulfilled);
		field_add(f, "fulfilled_ms", f->fulfilled);
	}
	at_fields(m, s, f);
}

/* The first transition of a message completes what herald_accept left
 * (the status alone) and puts the "accepted" record first in the journey,
 * which may be new (EXPIRE NX after the RPUSH). Returns that record, or
 * NULL when the event was unreadable; pre_json may hold it. */
static const char *first_fields(struct msg *m, struct hash_fields *f, char *pre_json, size_t plen)
{
	struct msgrec_meta meta = {.accepted_ms = m->accepted_ms};
	char pre_text[REC_TEXT];
	const char *pre = NULL;

	copy_to(meta.service, sizeof(meta.service), m->service);
	copy_to(meta.citizen, sizeof(meta.citizen), m->citizen);
	/* cannot fail: identifiers hold no space (event.c) */
	if (msgrec_meta_format(f->meta, sizeof(f->meta), &meta) == 0)
		field_add(f, "meta", f->meta);
	else
		log_warnx("%s: cannot record citizen %s, service %s", m->event_id, m->citizen,
			  m->service);
	field_add(f, "tx", m->tx);
	if (m->ev.accepted_json) { /* as ingest logged it */
		pre = m->ev.accepted_json;
	} else if (m->ev.event_id) { /* else the event was unreadable */
		state_accepted_record(&m->ev, m->tx, m->accepted_ms, pre_text, sizeof(pre_text),
				      pre_json, plen);
		pre = pre_json;
	}
	m->first_touch = 0;
	return pre;
}

/* The event, and the stream it goes back onto (herald_due), stay in the
 * hash while the message may need them after leaving the stream:
 * scheduled, a retry, a hop, awaiting a receipt, a dead letter. A
 * delivered one does not keep them (the personalisation is the citizen's
 * data; the stream entry is trimmed soon after). */
static void event_fields(struct msg *m, const struct step *s, struct hash_fields *f)
{
	if (s->ack && !s->finished_ok && !s->journal_only && !m->ev_in_hash && m->ev.root &&
	    (f->event = json_dumps(m->ev.root, JSON_COMPACT)) != NULL) {
		field_add(f, "event", f->event);
		field_add(f, "stream", m->stream[0] ? m->stream : "herald:q:normal");
		m->ev_in_hash = 1;
	}
}

/* Redis: the hash fields and the journey entry are held back until the
 * pipeline goes out (state_flush), so that the transitions one message
 * makes in a loop turn (typically "sending" then "delivered") cost one
 * HSET and one RPUSH. What must follow them on the wire (ZADD, LPUSH,
 * EXPIRE) sends the message's writes first. The message hash was created
 * by herald_accept; its first transition here gives it its TTL. */
static void write_step(struct router *r, struct msg *m, const struct step *s,
		       const struct hash_fields *f, const char *pre, const char *json, int first)
{
	struct held_writes *w = held_get(r, m);

	if (!w || held_add(w, f->k, f->v, f->n, pre, json) != 0) {
		write_direct(r, m, f->k, f->v, f->n, pre, json, first);
	} else {
		if (first) /* the hash's TTL, and the journey's if it is new */
			w->expire_msg = w->expire_tx = r->ttl_s;
		if (s->journal_only || s->sched_ms > 0 || s->dead)
			held_emit(r, w);
	}
	if (s->journal_only) /* may be the first entry of a journey */
		rdb_cmdf(r->rdb, NULL, NULL, "EXPIRE " KEY_TX "%s %lld NX", m->tx,
			 (long long)r->ttl_s);
	if (s->sched_ms > 0)
		rdb_cmdf(r->rdb, NULL, NULL, "ZADD " KEY_SCHED " %lld %s", (long long)s->sched_ms,
			 m->event_id);
	if (s->dead)
		rdb_cmdf(r->rdb, NULL, NULL, "LPUSH " KEY_DEAD " %s", m->event_id);
}

void state_step(struct router *r, struct msg *m, const struct step *s)
{
	int64_t now = now_ms();
	struct hash_fields f = {.n = 0};
	char json[REC_JSON], pre_json[REC_JSON];
	const char *pre = NULL;
	int first;

	announce(r, m, s, now, json, sizeof(json));
	if (s->log_only)
		return;
	if (!s->journal_only)
		step_fields(m, s, now, &f);
	first = m->first_touch && !s->journal_only;
	if (first)
		pre = first_fields(m, &f, pre_json, sizeof(pre_json));
	event_fields(m, s, &f);
	write_step(r, m, s, &f, pre, json, first);
	free(f.event);
	if (f.at_new) /* now in the hash */
		copy_to(m->hash_at, sizeof(m->hash_at), f.at);
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
