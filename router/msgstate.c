/*
 * msgstate.c - one message's state: read from its Redis record (the
 * message hash, msgrec.h), acknowledged, freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "msgrec.h"
#include "msgstate.h"
#include "schema.h"
#include "text.h"

void msg_free(struct msg *m)
{
	if (!m)
		return;
	lease_release(m); /* its entry, if still pending, is no longer in work here */
	event_clear(&m->ev);
	json_decref(m->state);
	json_decref(m->citizen_rec);
	json_decref(m->front_matter);
	json_decref(m->front_meta);
	free(m->subject);
	free(m->body);
	free(m->html);
	free(m->locale);
	free(m->meta);
	free(m->entry_ev);
	free(m);
}

void msg_release_rendered(struct msg *m)
{
	json_decref(m->front_matter);
	json_decref(m->front_meta);
	m->front_matter = NULL;
	m->front_meta = NULL;
	free(m->body);
	free(m->html);
	free(m->subject);
	free(m->locale);
	free(m->meta);
	m->body = m->html = m->subject = m->locale = NULL;
	m->meta = NULL;
}

struct step step_of(const char *status, const char *reason)
{
	struct step s;

	memset(&s, 0, sizeof(s));
	s.status = status;
	s.reason = reason;
	s.fulfilled_ms = -1;
	return s;
}

void msg_load_citizen(struct router *r, struct msg *m)
{
	redisReply *cr = rdb_call(r->rdb, "HGETALL " KEY_CITIZEN "%s", m->citizen);

	json_decref(m->citizen_rec);
	m->citizen_rec = cr ? reply_to_object(cr) : NULL;
	freeReplyObject(cr);
}

/* m as the record on chan to to_masked (NULL: as it is) shows it; what it
 * was kept in *was, put back by record_done. */
struct record_as {
	struct chan *chan;
	char to[sizeof(((struct msg *)0)->to_masked)];
};

static void record_as(struct msg *m, struct chan *chan, const char *to_masked,
		      struct record_as *was)
{
	was->chan = m->chan;
	memcpy(was->to, m->to_masked, sizeof(was->to));
	if (to_masked)
		snprintf(m->to_masked, sizeof(m->to_masked), "%s", to_masked);
	m->chan = chan;
}

static void record_done(struct msg *m, const struct record_as *was)
{
	m->chan = was->chan;
	memcpy(m->to_masked, was->to, sizeof(was->to));
}

void msg_journal(struct router *r, struct msg *m, struct chan *chan, const char *to_masked,
		 struct step *s)
{
	struct record_as was;

	record_as(m, chan, to_masked, &was);
	s->journal_only = 1;
	state_step(r, m, s);
	record_done(m, &was);
}

void msg_journey_json(struct msg *m, struct chan *chan, const char *to_masked, struct step *s,
		      char *json, size_t jlen)
{
	struct record_as was;

	record_as(m, chan, to_masked, &was);
	s->journal_only = 1;
	state_journey_json(m, s, json, jlen);
	record_done(m, &was);
}

/* Acknowledge a stream entry that needs no transition. */
void msg_ack_only(struct router *r, struct msg *m)
{
	if (!m->stream_id[0])
		return;
	rdb_cmdf(r->rdb, NULL, NULL, "XACK %s " GROUP " %s", m->stream, m->stream_id);
	rdb_cmdf(r->rdb, NULL, NULL, "XDEL %s %s", m->stream, m->stream_id);
	m->stream_id[0] = '\0';
}

int status_is_terminal(const char *status)
{
	return !strcmp(status, "delivered") || !strcmp(status, "exhausted") ||
	       !strcmp(status, "permanent-failure") || !strcmp(status, "rejected") ||
	       !strcmp(status, STATUS_DELETED);
}

/* Fill the message from its Redis record; returns the status. */
const char *msg_load_state(struct router *r, struct msg *m)
{
	const json_t *st = m->state;
	int64_t now = now_ms();
	struct msgrec_meta meta;
	struct msgrec_at at;

	/* a hash no transition was written to yet holds only the status: the
	 * stream entry told tx, citizen and acceptance time */
	if (field_str(st, "tx"))
		snprintf(m->tx, sizeof(m->tx), "%s", field_str(st, "tx"));
	else if (!m->tx[0])
		snprintf(m->tx, sizeof(m->tx), "%s", m->event_id);
	m->first_touch = !msgrec_read_meta(state_field, (void *)st, &meta);
	snprintf(m->service, sizeof(m->service), "%s", meta.service[0] ? meta.service : "-");
	if (meta.citizen[0])
		snprintf(m->citizen, sizeof(m->citizen), "%s", meta.citizen);
	m->ev_in_hash = field_str(st, "event") != NULL;
	m->accepted_ms = meta.accepted_ms ? meta.accepted_ms
			 : m->accepted_ms ? m->accepted_ms
					  : now;
	msgrec_read_at(state_field, (void *)st, &at);
	m->plan_idx = at.plan_idx;
	m->attempt = at.attempt;
	snprintf(m->plan, sizeof(m->plan), "%s", at.plan);
	tx_reference(m->tx, m->reference, sizeof(m->reference));
	if (at.channel[0])
		m->chan = chans_find(&r->chans, at.channel);
	if (at.to[0])
		snprintf(m->to_masked, sizeof(m->to_masked), "%s", at.to);
	/* what the hash's "at" holds: state_step leaves it alone if unchanged
	 * (an older hash without it gets it with the next transition) */
	snprintf(m->hash_at, sizeof(m->hash_at), "%s",
		 field_str(st, "at") ? field_str(st, "at") : "");
	return field_str(st, "status") ? field_str(st, "status") : "accepted";
}
