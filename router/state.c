/*
 * state.c - every transition of a message, written once and everywhere:
 * the delivery log (text, JSON, PUB), the service's status callback, and
 * Redis: the message hash and the transaction journey, as plain commands on
 * the pipeline, held back to the end of the loop turn (heldwrite.c) and
 * sent in order.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "heldwrite.h"
#include "jlane.h"
#include "log.h"
#include "metrics.h"
#include "msgrec.h"
#include "msgstate.h"
#include "policy.h"
#include "router.h"
#include "status.h"
#include "text.h"
#include "transition.h"

#define REC_TEXT 2048
#define REC_JSON 4096

/* ---- records ---------------------------------------------------------- */

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
				    .possible_dup = m->possible_dup && chan_ok,
				    .accepted_ms = m->accepted_ms,
				    .picked_ms = m->picked_ms,
				    .prepared_ms = m->prepared_ms,
				    .submitted_ms = m->submitted_ms,
				    .accepted_us = m->accepted_us,
				    .picked_us = m->picked_us,
				    .prepared_us = m->prepared_us,
				    .submitted_us = m->submitted_us,
				    .now_us = s->at_us > 0 ? s->at_us : now_us()};
	struct transition_step ts = {.status = s->status,
				     .reason = s->reason,
				     .dsn = s->dsn,
				     .ref = s->ref,
				     .fulfilled_ms = s->fulfilled_ms};

	transition_record(rec, &tm, &ts, now, b);
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

/* The callback record with the citizen's text added (the delivery record
 * never holds it). */
static void callback_with_text(struct router *r, const struct msg *m, const char *json,
			       const char *text)
{
	json_t *o = json_loads(json, 0, NULL);
	char *s;

	if (!o || json_object_set_new(o, "text", json_string(text)) != 0 ||
	    !(s = json_dumps(o, JSON_COMPACT))) {
		log_warnx("%s: cannot add the text to the %s callback record", m->event_id,
			  m->service);
		callbacks_push(r->callbacks, r->rdb, m->service, json);
		json_decref(o);
		return;
	}
	callbacks_push(r->callbacks, r->rdb, m->service, s);
	free(s);
	json_decref(o);
}

/* The delivery logs, the service's callback and the metrics hear of the
 * transition; json gets its JSON record (the journey entry). */
static void announce(struct router *r, const struct msg *m, const struct step *s, int64_t now,
		     char *json, size_t jlen)
{
	struct dlog_rec rec;
	struct transition_buf tb;
	char text[REC_TEXT];

	make_record(&rec, m, s, now, &tb);
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, json, jlen);
	dlog_write(r->dlog, text, json);
	if (s->cb_text)
		callback_with_text(r, m, json, s->cb_text);
	else
		callbacks_push(r->callbacks, r->rdb, m->service, json);
	if (!s->journal_only) {
		metrics_message(m->service, m->chan && !s->no_channel ? m->chan->name : "-",
				s->status);
		status_count(m->chan && !s->no_channel ? m->chan->name : "-", s->status, now);
	}
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
	if (s->ack && (!s->finished_ok || s->keep_event) && !s->journal_only && !m->ev_in_hash &&
	    m->ev.root && (f->event = json_dumps(m->ev.root, JSON_COMPACT)) != NULL) {
		field_add(f, "event", f->event);
		field_add(f, "stream", m->stream[0] ? m->stream : KEY_Q_DEFAULT);
		m->ev_in_hash = 1;
	}
}

/* A step that ends the message (delivered, by the plugin or a receipt;
 * sent with nothing to wait for; a permanent failure that ends it, acked)
 * drops the event and its stream from the hash: the personalisation is the
 * citizen's data and nothing will read it again. A channel's permanent
 * failure that a hop follows (not acked) keeps them, and so does a dead
 * letter, until retention_days: heraldctl dead replay needs the event. */
static int drops_event(const struct msg *m, const struct step *s)
{
	/* a provisional "sent" (a bounce may still re-open it) keeps them */
	if (!m->ev_in_hash || s->journal_only || s->dead || s->sched_ms > 0 || s->keep_event)
		return 0;
	return s->finished_ok || !strcmp(s->status, "delivered") ||
	       (s->ack && status_is_terminal(s->status));
}

/* EXPIRE the message's journey (with NX or GT), after its records. */
static void journey_expire(struct router *r, const struct msg *m, long long ttl, const char *how)
{
	char key[160];

	key_of(key, sizeof(key), KEY_TX, strlen(KEY_TX), m->tx);
	jlane_expire(r, key, key, ttl, how);
}

/* A step scheduled for later (send_after, a retry, a receipt deadline):
 * the message and its journey live at least retention past it, so that
 * nothing expires while it waits (EXPIRE GT: never shortened). */
static void ttl_past_step(struct router *r, const struct msg *m, int64_t sched_ms)
{
	int64_t wait_s = (sched_ms - now_ms()) / 1000 + 1;
	long long ttl = (long long)(policy_ttl_s(r, m->service) + (wait_s > 0 ? wait_s : 0));

	if (wait_s <= 0)
		return; /* the first transition's TTL covers it */
	jlane_msgf(r, m, "EXPIRE " KEY_MSG "%s %lld GT", m->event_id, ttl);
	journey_expire(r, m, ttl, "GT");
}

/* Redis: the hash fields and the journey entry are held back until the
 * pipeline goes out (held_flush), so that the transitions one message
 * makes in a loop turn (typically "sending" then "delivered") cost one
 * HSET and one RPUSH. What must follow them on the wire (ZADD, LPUSH,
 * EXPIRE) sends the message's writes first. The message hash was created
 * by herald_accept; its first transition here gives it its TTL. */
static void write_step(struct router *r, struct msg *m, const struct step *s,
		       const struct hash_fields *f, const char *pre, const char *json, int first)
{
	struct held_writes *w = held_get(r, m);

	if (!w || held_add(w, f->k, f->v, f->n, pre, json) != 0) {
		held_write_direct(r, m, f->k, f->v, f->n, pre, json, first);
	} else {
		if (first) /* the hash's TTL, and the journey's if it is new */
			w->expire_msg = w->expire_tx = policy_ttl_s(r, m->service);
		if (s->journal_only || s->sched_ms > 0 || s->dead || drops_event(m, s))
			held_emit(r, w);
	}
	if (drops_event(m, s)) { /* after the held HSET on the wire */
		jlane_msgf(r, m, "HDEL " KEY_MSG "%s " MSG_F_EVENT " " MSG_F_STREAM, m->event_id);
		m->ev_in_hash = 0;
	}
	if (s->journal_only) /* may be the first entry of a journey */
		journey_expire(r, m, (long long)policy_ttl_s(r, m->service), "NX");
	if (s->sched_ms > 0) {
		/* after the hash it points at (jlane.h) */
		jlane_after(r, NULL, NULL, "ZADD " KEY_SCHED " %lld %s", (long long)s->sched_ms,
			    m->event_id);
		ttl_past_step(r, m, s->sched_ms);
	}
	if (s->dead)
		jlane_after(r, NULL, NULL, "LPUSH " KEY_DEAD " %s", m->event_id);
}

void state_journey_json(const struct msg *m, struct step *s, char *json, size_t jlen)
{
	struct dlog_rec rec;
	struct transition_buf tb;

	s->at_us = now_us();
	make_record(&rec, m, s, s->at_us / 1000, &tb);
	dlog_rec_json(&rec, json, jlen);
}

void state_step(struct router *r, struct msg *m, const struct step *s)
{
	int64_t now = s->at_us > 0 ? s->at_us / 1000 : now_ms();
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
		held_ack(r, m->stream[0] ? m->stream : KEY_Q_DEFAULT, m->stream_id);
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
