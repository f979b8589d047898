/*
 * bounce.c - email's word after the relay's 250 (issue #16). heraldctl
 * bounce reads the delivery status notification or complaint report a
 * Postfix pipe(8) transport hands it and records it in herald:inbound
 * (lib/schema.h); this applies each entry:
 *
 *   bounce     the VERP token (the email provider reference, provref.h)
 *              leads to the message. Still "sent" on email at that plan
 *              position and within [channel.email] bounce_window: the
 *              fulfilment is withdrawn (a "reopened" record), the attempt
 *              becomes permanent-failure with the DSN's status and
 *              diagnostic, a 5.1.x marks the address invalid, and the
 *              transaction hops to its next channel. Otherwise it is
 *              journaled as a late bounce and changes nothing.
 *   delay      a 4.x.x report: journaled, nothing changes.
 *   complaint  an ARF report: the citizen is opted out of email.
 *
 * /metrics: herald_email_bounces_total and herald_email_complaints_total
 * by service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "config.h"
#include "failover.h"
#include "jlane.h"
#include "log.h"
#include "metrics.h"
#include "msgrec.h"
#include "msgstate.h"
#include "optout.h"
#include "plan.h"
#include "provref.h"
#include "text.h"

struct inbound {
	const char *kind, *token, *status, *diag;
	const char *id; /* the entry's in herald:inbound */
};

/* Did Redis not answer (or refuse) a look-up? Then nothing is concluded
 * from it: the entry is applied on a later pass. */
static int lookup_failed(const redisReply *rep, int *err)
{
	if (rep && rep->type != REDIS_REPLY_ERROR)
		return 0;
	*err = 1;
	return 1;
}

/* The message a VERP token names, its record read; NULL (logged) when
 * the token is unknown or the record gone, or (*err set) when Redis did
 * not answer. */
static struct msg *token_msg(struct router *r, const struct inbound *in, int *err)
{
	redisReply *rep = rdb_call(r->rdb, "GET " KEY_REF BOUNCE_CHANNEL ":%s", in->token);
	struct msg *m;

	if (lookup_failed(rep, err)) {
		freeReplyObject(rep);
		return NULL;
	}
	if (rep->type != REDIS_REPLY_STRING) {
		log_msg(LOG_L_NOTICE, "email: %s for unknown token '%s': ignored", in->kind,
			in->token);
		metrics_count("inbound_unmatched", "email", 1);
		freeReplyObject(rep);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		freeReplyObject(rep);
		return NULL;
	}
	snprintf(m->event_id, sizeof(m->event_id), "%s", rep->str);
	freeReplyObject(rep);
	rep = rdb_call(r->rdb, "HGETALL " KEY_MSG "%s", m->event_id);
	if (lookup_failed(rep, err)) {
		freeReplyObject(rep);
		msg_free(m);
		return NULL;
	}
	m->state = reply_to_object(rep);
	freeReplyObject(rep);
	if (!m->state || json_object_size(m->state) == 0) {
		log_msg(LOG_L_NOTICE, "%s: email %s, but the message record is gone", m->event_id,
			in->kind);
		msg_free(m);
		return NULL;
	}
	return m;
}

/* A record in the journey and the delivery log; the message is as it was. */
static void journal(struct router *r, struct msg *m, struct chan *email, const char *status,
		    const char *reason, const char *dsn)
{
	struct step s = step_of(status, reason);

	s.dsn = dsn;
	msg_journal(r, m, email, NULL, &s);
}

/* Does the bounce undo the current attempt: "sent" on email at the plan
 * position the token was made for, within the window? */
static int bounce_applies(struct router *r, struct msg *m, const char *status,
			  const struct inbound *in)
{
	struct msgrec_at at;
	char ref[PROVREF_LEN];
	long long sent = field_int(m->state, MSG_F_SENT, 0);

	msgrec_read_at(state_field, m->state, &at);
	if (strcmp(status, "sent") != 0 || strcmp(at.channel, "email") != 0 || !r->ref_key_ok ||
	    !field_str(m->state, MSG_F_EVENT))
		return 0;
	provider_ref(r->ref_key, m->event_id, "email", at.plan_idx, ref);
	if (strcmp(ref, in->token) != 0)
		return 0;
	return sent > 0 && now_ms() - sent <= r->cfg->bounce_window_ms;
}

static void apply_bounce(struct router *r, struct msg *m, struct chan *email, const char *status,
			 const struct inbound *in)
{
	struct herald_result res;
	char reason[512], err[256];
	const char *ev;

	metrics_count_service("email_bounces", m->service, 1);
	snprintf(reason, sizeof(reason), "bounced: %s%s%.300s", in->status, in->diag[0] ? " " : "",
		 in->diag);
	if (!bounce_applies(r, m, status, in)) {
		char late[600];
		snprintf(late, sizeof(late), "late bounce: %s; not applied (message is %s)", reason,
			 status);
		journal(r, m, email, "bounced", late, in->status);
		return;
	}
	ev = field_str(m->state, MSG_F_EVENT);
	if (event_parse(ev, strlen(ev), &m->ev, err, sizeof(err)) != 0) {
		log_warnx("%s: bounce, but the stored event is unreadable: %s", m->event_id, err);
		return;
	}
	jlane_msgf(r, m, "HDEL " KEY_MSG "%s " MSG_F_FULFILLED " " MSG_F_FINAL, m->event_id);
	json_object_del(m->state, MSG_F_FULFILLED);
	journal(r, m, email, "reopened",
		"bounced after the relay accepted it: fulfilled_in withdrawn", in->status);
	memset(&res, 0, sizeof(res));
	res.status = HERALD_PERMANENT;
	snprintf(res.dsn, sizeof(res.dsn), "%s", in->status);
	snprintf(res.reason, sizeof(res.reason), "%.250s", reason);
	/* as a 5.1.x at RCPT (mime.c email_map_reply): not 5.1.7/5.1.8,
	 * which are about the sender */
	if (!strncmp(in->status, "5.1.", 4) && strcmp(in->status, "5.1.7") != 0 &&
	    strcmp(in->status, "5.1.8") != 0)
		res.flags = HERALD_RF_BAD_ADDRESS;
	struct step s = step_of("permanent-failure", res.reason);
	s.dsn = res.dsn;
	state_step(r, m, &s);
	msg_load_citizen(r, m);
	failover_learn_invalid(r, m, &res);
	failover_hop(r, m, res.reason);
}

/* A complaint: the citizen is opted out of email for every service (the
 * record's optout): the report says the mail was unwanted, whoever sent it.
 * The refusal, the complaint's journey record and the acknowledgement of
 * its entry are one Redis call (optout_add): when Redis does not answer or
 * refuses it, nothing is acknowledged and the next pass applies it again
 * (a call that did land took the entry with it). -1 not applied, 0 done
 * (the entry to acknowledge), 1 done and acknowledged. */
static int apply_complaint(struct router *r, struct msg *m, struct chan *email,
			   const struct inbound *in)
{
	char reason[300];
	struct step s;
	struct optout_rec rec = {.chan = email, .step = &s, .journey = 1, .always = 1};
	int rc;

	msg_load_citizen(r, m);
	if (!m->citizen_rec && !rdb_ok(r->rdb))
		return -1;
	snprintf(reason, sizeof(reason), "complaint (%.100s): citizen opted out of email",
		 in->status[0] ? in->status : "abuse");
	s = step_of("complaint", reason);
	rec.ack_stream = KEY_INBOUND;
	rec.ack_id = in->id;
	rc = optout_add(r, m, NULL, "email", reason, &rec);
	if (rc == -2) {
		log_warnx("%s: complaint not confirmed (Redis refused or did not answer the "
			  "opt-out call): its entry stays pending, unless the call landed and took "
			  "it, and a later pass applies it",
			  m->event_id);
		return -1;
	}
	if (!rec.written) /* nothing written (a bad name): the record alone */
		journal(r, m, email, "complaint", reason, NULL);
	metrics_count_service("email_complaints", m->service, 1);
	log_info("%s: citizen %s complained: opted out of email", m->event_id, m->citizen);
	return rec.acked;
}

/* -1 not applied (Redis did not answer: left pending), 0 applied or
 * nothing to apply (the entry to acknowledge), 1 applied and acknowledged. */
static int apply_inbound(struct router *r, const struct inbound *in)
{
	struct chan *email = chans_find(&r->chans, "email");
	struct msg *m;
	const char *status;
	char reason[400];
	int err = 0, rc = 0;

	if (!email) {
		log_msg(LOG_L_NOTICE, "email %s recorded, but no email channel is loaded: ignored",
			in->kind);
		return 0;
	}
	m = token_msg(r, in, &err);
	if (!m)
		return err ? -1 : 0;
	status = msg_load_state(r, m);
	if (!strcmp(in->kind, INB_BOUNCE)) {
		apply_bounce(r, m, email, status, in);
	} else if (!strcmp(in->kind, INB_COMPLAINT)) {
		rc = apply_complaint(r, m, email, in);
	} else {
		snprintf(reason, sizeof(reason), "delayed: %s%s%.300s; still trying", in->status,
			 in->diag[0] ? " " : "", in->diag);
		journal(r, m, email, "delayed", reason, in->status);
	}
	msg_free(m);
	return rc;
}

static const char *entry_field(const redisReply *kv, const char *name)
{
	for (size_t i = 0; kv && i + 1 < kv->elements; i += 2)
		if (kv->element[i]->type == REDIS_REPLY_STRING &&
		    kv->element[i + 1]->type == REDIS_REPLY_STRING &&
		    !strcmp(kv->element[i]->str, name))
			return kv->element[i + 1]->str;
	return "";
}

/* One XREADGROUP answer: [[stream, [[id, [k, v, ...]], ...]]]. An entry
 * is acknowledged once applied; one that is not (Redis did not answer, or
 * refused the write) stays pending, and so does every entry when the
 * connection is lost meanwhile (its XACK may not have gone out): the next
 * poll reads this consumer's pending entries again. 1 when it is to. */
static int apply_entries(struct router *r, const redisReply *rep)
{
	const redisReply *entries;
	int again = 0;

	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->elements < 2)
		return 0;
	entries = rep->element[0]->element[1];
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i];
		int rc = 0;
		if (e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		struct inbound in = {entry_field(e->element[1], INB_F_KIND),
				     entry_field(e->element[1], INB_F_TOKEN),
				     entry_field(e->element[1], INB_F_STATUS),
				     entry_field(e->element[1], INB_F_DIAG), e->element[0]->str};
		if (in.token[0])
			rc = apply_inbound(r, &in);
		if (rc < 0) {
			again = 1;
			continue;
		}
		if (rc == 0) {
			rdb_cmdf(r->rdb, NULL, NULL, "XACK " KEY_INBOUND " " GROUP " %s",
				 e->element[0]->str);
			rdb_cmdf(r->rdb, NULL, NULL, "XDEL " KEY_INBOUND " %s", e->element[0]->str);
		}
	}
	return again || !rdb_ok(r->rdb);
}

void bounce_poll(struct router *r, int64_t now)
{
	redisReply *rep;
	const char *domain;
	int pending, again;

	if (now - r->last_bounce_ms < BOUNCE_POLL_MS)
		return;
	r->last_bounce_ms = now;
	/* nothing to hear without a VERP return path (or an email channel) */
	domain = config_get(r->cfg, "channel.email", "bounce_domain");
	if (!domain || !*domain || !chans_find(&r->chans, "email"))
		return;
	if (!r->inbound_group) {
		/* from 0: what was recorded before heraldd first ran counts */
		rep = rdb_call(r->rdb, "XGROUP CREATE " KEY_INBOUND " " GROUP " 0 MKSTREAM");
		if (!rep)
			return;
		r->inbound_group = rep->type != REDIS_REPLY_ERROR || strstr(rep->str, "BUSYGROUP");
		freeReplyObject(rep);
	}
	/* first what this consumer read before a restart and never
	 * acknowledged ("0"), then new entries */
	pending = r->inbound_group == 1;
	rep = rdb_call(r->rdb, "XREADGROUP GROUP " GROUP " %s COUNT 32 STREAMS " KEY_INBOUND " %s",
		       r->consumer, pending ? "0" : ">");
	if (rep && rep->type == REDIS_REPLY_ARRAY && pending &&
	    (rep->elements == 0 || rep->element[0]->elements < 2 ||
	     rep->element[0]->element[1]->elements == 0))
		r->inbound_group = 2; /* nothing (more) left pending */
	if (rep && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "NOGROUP"))
		r->inbound_group = 0;
	again = apply_entries(r, rep);
	freeReplyObject(rep);
	/* left pending: read again on the next poll but one, new entries
	 * between (one that keeps failing does not hold up the others) */
	if (r->inbound_group && again)
		r->inbound_group = pending ? 3 : 1;
	else if (r->inbound_group == 3)
		r->inbound_group = 1;
}
