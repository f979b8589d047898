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
#include "transition.h"

#define REC_TEXT 2048
#define REC_JSON 4096

/* ---- records ---------------------------------------------------------- */

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

/* Fill a delivery-log record for message m at time now (lib/transition.h);
 * b holds what it points into. */
static void make_record(struct dlog_rec *rec, const struct msg *m, const struct step *s,
			int64_t now, struct transition_buf *b)
{
	int chan_ok = m->chan && !s->no_channel;
	struct transition_msg tm = {.event_id = m->event_id,
				    .tx = m->tx,
				    .citizen = m->citizen,
				    .service = m->service,
				    .channel = chan_ok ? m->chan->name : NULL,
				    .to = s->no_channel ? NULL : m->to_masked,
				    .attempt = m->attempt,
				    .accepted_ms = m->accepted_ms,
				    .picked_ms = m->picked_ms,
				    .prepared_ms = m->prepared_ms,
				    .submitted_ms = m->submitted_ms};
	struct transition_step ts = {.status = s->status,
				     .reason = s->reason,
				     .dsn = s->dsn,
				     .ref = s->ref,
				     .fulfilled_ms = s->fulfilled_ms};

	transition_record(rec, &tm, &ts, now, b);
}

/* ---- XACK, one command per stream and loop turn --------------------- */

static const char *const ack_streams[PRIO_N] = KEY_STREAMS;

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

struct pwrite {
	struct pwrite *next;
	char *buf; /* every string, NUL-terminated */
	size_t len, cap;
	size_t *off; /* offsets: HSET field/value pairs (kind 0), entries (1) */
	unsigned char *kind;
	size_t n, ncap;
	size_t msgkey, txkey;
	int64_t expire_tx;  /* > 0: EXPIRE the journey (NX) after the RPUSH */
	int64_t expire_msg; /* > 0: EXPIRE the message hash after the HSET */
};

static void pw_flush(struct router *r);
static void pw_free(struct pwrite *w);
/* emptied pwrites kept for reuse: enough for a few loop turns' messages */
#define PW_SPARE_MAX 1024

void state_flush(struct router *r)
{
	pw_flush(r); /* before the XACKs */
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
	while (r->pw_head) { /* sent by the last state_flush; anything left is lost */
		struct pwrite *w = r->pw_head;
		r->pw_head = w->next;
		pw_free(w);
	}
	r->pw_tail = NULL;
	while (r->pw_spare) {
		struct pwrite *w = r->pw_spare;
		r->pw_spare = w->next;
		pw_free(w);
	}
	r->pw_nspare = 0;
	for (int p = 0; p < PRIO_N; p++) {
		free(r->acks[p].ids);
		memset(&r->acks[p], 0, sizeof(r->acks[p]));
	}
}

/* ---- held-back hash and journey writes ------------------------------ */

static int pw_str(struct pwrite *w, const char *s, size_t n, size_t *off)
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

static int pw_item(struct pwrite *w, int kind, const char *s)
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
	if (pw_str(w, s, strlen(s), &off) != 0)
		return -1;
	w->off[w->n] = off;
	w->kind[w->n++] = (unsigned char)kind;
	return 0;
}

/* Index of field k among the held hash fields, or w->n. */
static size_t pw_field(const struct pwrite *w, const char *k)
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

static void pw_free(struct pwrite *w)
{
	free(w->buf);
	free(w->off);
	free(w->kind);
	free(w);
}

/* The message's held-back writes of this loop turn (created if none). */
static struct pwrite *pw_get(struct router *r, struct msg *m)
{
	struct pwrite *w;
	char key[160];

	if (m->pw && m->pw_gen == r->pw_gen)
		return m->pw;
	if (r->pw_spare) { /* buffers of an earlier turn: no malloc per message */
		w = r->pw_spare;
		r->pw_spare = w->next;
		r->pw_nspare--;
		w->next = NULL;
	} else if (!(w = calloc(1, sizeof(*w)))) {
		return NULL;
	}
	key_of(key, sizeof(key), KEY_MSG, strlen(KEY_MSG), m->event_id);
	if (pw_str(w, key, strlen(key), &w->msgkey) != 0)
		goto fail;
	key_of(key, sizeof(key), KEY_TX, strlen(KEY_TX), m->tx);
	if (pw_str(w, key, strlen(key), &w->txkey) != 0)
		goto fail;
	if (r->pw_tail)
		r->pw_tail->next = w;
	else
		r->pw_head = w;
	r->pw_tail = w;
	m->pw = w;
	m->pw_gen = r->pw_gen;
	return w;
fail:
	pw_free(w);
	return NULL;
}

/* Add one transition (after pre, the journey's "accepted" entry, if not
 * NULL); on failure nothing of it was added. */
static int pw_add(struct pwrite *w, const char **fk, const char **fv, int nf, const char *pre,
		  const char *json)
{
	size_t n0 = w->n, len0 = w->len, redone[48][2];
	int nre = 0;

	for (int i = 0; i < nf && i < 48; i++) {
		size_t j = pw_field(w, fk[i]);
		if (j < n0) { /* set earlier this turn: the later value wins */
			size_t off;
			if (pw_str(w, fv[i], strlen(fv[i]), &off) != 0)
				goto fail;
			redone[nre][0] = j + 1, redone[nre++][1] = w->off[j + 1];
			w->off[j + 1] = off;
		} else if (pw_item(w, 0, fk[i]) != 0 || pw_item(w, 0, fv[i]) != 0) {
			goto fail;
		}
	}
	if (pre && pw_item(w, 1, pre) != 0)
		goto fail;
	if (pw_item(w, 1, json) != 0)
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
static void pw_emit(struct router *r, struct pwrite *w)
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
static void write_direct(struct router *r, const struct msg *m, const char **fk, const char **fv,
			 int nf, const char *pre, const char *json, int first)
{
	char msgkey[160], txkey[160];

	key_of(msgkey, sizeof(msgkey), KEY_MSG, strlen(KEY_MSG), m->event_id);
	key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx);
	if (m->pw && m->pw_gen == r->pw_gen)
		pw_emit(r, m->pw); /* keep this message's order */
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

static void pw_flush(struct router *r)
{
	struct pwrite *w = r->pw_head, *next;

	r->pw_head = r->pw_tail = NULL;
	r->pw_gen++;
	for (; w; w = next) {
		next = w->next;
		pw_emit(r, w);
		if (r->pw_nspare < PW_SPARE_MAX) { /* emitted: the strings are copied */
			w->len = w->n = 0;
			w->next = r->pw_spare;
			r->pw_spare = w;
			r->pw_nspare++;
		} else {
			pw_free(w);
		}
	}
}

void state_step(struct router *r, struct msg *m, const struct step *s)
{
	int64_t now = now_ms();
	struct dlog_rec rec;
	struct transition_buf tb;
	char text[REC_TEXT], json[REC_JSON];

	make_record(&rec, m, s, now, &tb);
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, json, sizeof(json));
	dlog_write(r->dlog, text, json);
	callbacks_push(r->callbacks, m->service, json);
	if (!s->journal_only)
		metrics_status(m->chan && !s->no_channel ? m->chan->name : "-", s->status);
	if (s->fulfilled_ms >= 0)
		metrics_fulfilled((double)s->fulfilled_ms / 1000.0);
	if (s->log_only)
		return;

	/* the message-hash fields of this transition; "at" (channel,
	 * attempt, plan, address: msgrec.h) only when the hash does not hold
	 * that already */
	const char *fk[48], *fv[48];
	char upd[24], ful[24], atbuf[sizeof(m->hw_at)];
	int nf = 0, chan_ok = m->chan && !s->no_channel, at_new = 0;
	if (!s->journal_only) {
		fmt_int(now, upd);
		fk[nf] = "status", fv[nf++] = s->status;
		fk[nf] = "updated_ms", fv[nf++] = upd;
		fk[nf] = "reason", fv[nf++] = s->reason ? s->reason : "";
		if (s->ref && *s->ref)
			fk[nf] = "ref", fv[nf++] = s->ref;
		if (s->fulfilled_ms >= 0) {
			fmt_int(s->fulfilled_ms, ful);
			fk[nf] = "fulfilled_ms", fv[nf++] = ful;
		}
		struct msgrec_at at;
		if (msgrec_at_parse(m->hw_at, &at) != 0) /* nothing known: all from m */
			copy_to(at.to, sizeof(at.to), m->to_masked);
		at.attempt = m->attempt;
		at.plan_idx = m->plan_idx;
		copy_to(at.plan, sizeof(at.plan), m->plan);
		if (chan_ok) {
			copy_to(at.channel, sizeof(at.channel), m->chan->name);
			copy_to(at.to, sizeof(at.to), m->to_masked);
		}
		for (int i = 0; i + 1 < 2 * s->nkv && nf < 40; i += 2) {
			const char *k = s->kv[i], *v = s->kv[i + 1];
			if (!strcmp(k, "attempt"))
				at.attempt = (unsigned)strtoul(v, NULL, 10);
			else if (!strcmp(k, "plan_idx"))
				at.plan_idx = atoi(v);
			else if (!strcmp(k, "plan"))
				copy_to(at.plan, sizeof(at.plan), v);
			else
				fk[nf] = k, fv[nf++] = v;
		}
		/* cannot fail: channel names are one word (dispatch.c), a plan
		 * is channel names and commas, and the sizes fit */
		if (msgrec_at_format(atbuf, sizeof(atbuf), &at) != 0)
			log_warnx("%s: cannot record channel %s, plan %s", m->event_id, at.channel,
				  at.plan);
		else if (strcmp(atbuf, m->hw_at) != 0)
			fk[nf] = "at", fv[nf++] = atbuf, at_new = 1;
	}
	/* The first transition of a message completes what herald_accept left
	 * (the status alone) and puts the "accepted" record first in the
	 * journey, which may be new: EXPIRE NX after the RPUSH. */
	char metabuf[2 * MSGREC_ID_MAX + 48], pre_text[REC_TEXT], pre_json[REC_JSON];
	const char *pre = NULL;
	int first = m->first_touch && !s->journal_only;
	if (first) {
		struct msgrec_meta meta = {.accepted_ms = m->accepted_ms};
		copy_to(meta.service, sizeof(meta.service), m->service);
		copy_to(meta.citizen, sizeof(meta.citizen), m->citizen);
		/* cannot fail: identifiers hold no space (event.c) */
		if (msgrec_meta_format(metabuf, sizeof(metabuf), &meta) == 0)
			fk[nf] = "meta", fv[nf++] = metabuf;
		else
			log_warnx("%s: cannot record citizen %s, service %s", m->event_id,
				  m->citizen, m->service);
		fk[nf] = "tx", fv[nf++] = m->tx;
		if (m->ev.accepted_json) { /* as ingest logged it */
			pre = m->ev.accepted_json;
		} else if (m->ev.event_id) { /* else the event was unreadable */
			state_accepted_record(&m->ev, m->tx, m->accepted_ms, pre_text,
					      sizeof(pre_text), pre_json, sizeof(pre_json));
			pre = pre_json;
		}
		m->first_touch = 0;
	}
	/* The event, and the stream it goes back onto (herald_due), stay in
	 * the hash while the message may need them after leaving the stream:
	 * scheduled, a retry, a hop, awaiting a receipt, a dead letter. A
	 * delivered one does not keep them (the personalisation is the
	 * citizen's data; the stream entry is trimmed soon after). */
	char *evjson = NULL;
	if (s->ack && !s->finished_ok && !s->journal_only && !m->ev_in_hash && m->ev.root &&
	    (evjson = json_dumps(m->ev.root, JSON_COMPACT)) != NULL) {
		fk[nf] = "event", fv[nf++] = evjson;
		fk[nf] = "stream", fv[nf++] = m->stream[0] ? m->stream : KEY_Q_DEFAULT;
		m->ev_in_hash = 1;
	}
	/* Redis: the hash fields and the journey entry are held back until the
	 * pipeline goes out (state_flush), so that the transitions one message
	 * makes in a loop turn (typically "sending" then "delivered") cost one
	 * HSET and one RPUSH. What must follow them on the wire (ZADD, LPUSH,
	 * EXPIRE) sends the message's writes first. The message hash was created
	 * by herald_accept; its first transition here gives it its TTL. */
	struct pwrite *w = pw_get(r, m);
	if (!w || pw_add(w, fk, fv, nf, pre, json) != 0) {
		write_direct(r, m, fk, fv, nf, pre, json, first);
	} else {
		if (first) /* the hash's TTL, and the journey's if it is new */
			w->expire_msg = w->expire_tx = r->ttl_s;
		if (s->journal_only || s->sched_ms > 0 || s->dead)
			pw_emit(r, w);
	}
	free(evjson);
	if (s->journal_only) /* may be the first entry of a journey */
		rdb_cmdf(r->rdb, NULL, NULL, "EXPIRE " KEY_TX "%s %lld NX", m->tx,
			 (long long)r->ttl_s);
	if (s->sched_ms > 0)
		rdb_cmdf(r->rdb, NULL, NULL, "ZADD " KEY_SCHED " %lld %s", (long long)s->sched_ms,
			 m->event_id);
	if (s->dead)
		rdb_cmdf(r->rdb, NULL, NULL, "LPUSH " KEY_DEAD " %s", m->event_id);
	if (at_new) /* now in the hash */
		copy_to(m->hw_at, sizeof(m->hw_at), atbuf);
	if (s->ack && m->stream_id[0]) {
		ack_queue(r, m->stream[0] ? m->stream : KEY_Q_DEFAULT, m->stream_id);
		m->stream_id[0] = '\0'; /* acked once */
	}
}

/* The "accepted" record of an event about to be queued: ingest puts its JSON
 * in the journey (herald_accept) and writes it to the delivery log once
 * Redis has said yes. */
void state_accepted_record(const struct event *ev, const char *tx, int64_t now, char *text,
			   size_t tlen, char *json, size_t jlen)
{
	transition_accepted(ev, tx, now, text, tlen, json, jlen);
}
