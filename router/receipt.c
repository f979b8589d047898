/*
 * receipt.c - delivery receipts: the provider's reference (herald:ref:) leads
 * to the message; a receipt for the message's current "sent" attempt makes
 * it delivered or failed (then retry or hop, failover.c); a late one (for an
 * earlier attempt, or a message gone on) is journaled and changes nothing.
 * A receipt that overtakes the "sent" it confirms (the provider reports
 * before it answers the send, or before heraldd has recorded the answer)
 * is held and tried again for RCPT_HOLD_MS; one that still matches nothing
 * then is a warning and herald_receipts_unmatched_total.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "msgrec.h"
#include "msgstate.h"
#include "receipt.h"
#include "submit.h"
#include "text.h"

static const char *const status_names[] = {"?", "sent", "delivered", "temporary-failure",
					   "permanent-failure"};

static const char *status_name(const struct herald_result *res)
{
	return status_names[res->status <= 4 ? res->status : 0];
}

/* The message a receipt's reference names, with its record read; NULL
 * when the reference is unknown (*unknown set) or the record gone
 * (logged). */
static struct msg *receipt_msg(struct router *r, struct chan *c, const struct herald_result *res,
			       int *unknown)
{
	redisReply *rep = rdb_call(r->rdb, "GET " KEY_REF "%s:%s", c->name, res->ref);
	struct msg *m;

	*unknown = 0;
	if (!rep || rep->type != REDIS_REPLY_STRING) {
		*unknown = rep != NULL; /* no answer at all is not "unknown" */
		if (!rep)
			log_msg(LOG_L_NOTICE,
				"channel %s: receipt for '%s' (%s): Redis unavailable", c->name,
				res->ref, status_name(res));
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
	m->state = rep ? reply_to_object(rep) : NULL;
	freeReplyObject(rep);
	if (!m->state || json_object_size(m->state) == 0) {
		if (m->state)
			metrics_missing_record();
		log_msg(LOG_L_NOTICE, "%s: receipt from %s, but the message record is gone",
			m->event_id, c->name);
		msg_free(m);
		return NULL;
	}
	return m;
}

/* The message is still "sending" on this channel: the provider's receipt
 * overtook its answer to the send (or heraldd has not recorded that answer
 * yet). Applying it now would be undone by the "sent" that follows. */
static int receipt_early(const struct msg *m, const struct chan *c, const char *status)
{
	struct msgrec_at at;

	if (strcmp(status, "sending") != 0)
		return 0;
	msgrec_read_at(state_field, m->state, &at);
	return !strcmp(at.channel, c->name);
}

/* A receipt that matches no message, after its hold: a warning (at most
 * one a second, with the count of those not logged) and a counter. */
static void receipt_unmatched(struct router *r, struct chan *c, const struct herald_result *res)
{
	static int64_t last_s;
	static unsigned quiet;
	int64_t s = now_ms() / 1000;

	(void)r;
	metrics_count("receipts_unmatched", c->name, 1);
	if (s == last_s) {
		quiet++;
		return;
	}
	last_s = s;
	log_warnx("channel %s: receipt for unknown reference '%s' (%s): ignored%s", c->name,
		  res->ref, status_name(res), quiet ? " (and others not logged)" : "");
	quiet = 0;
}

/* A receipt too late (the message hopped on, or finished) or for an
 * earlier attempt is recorded in the journey, and never resurrects or
 * undoes anything. Returns 1 when the receipt is such a one. */
static int late_receipt(struct router *r, struct msg *m, struct chan *c,
			const struct herald_result *res, const char *status)
{
	const char *cur_ch, *cur_ref, *sname = status_name(res);
	struct chan *now_ch = m->chan;
	struct msgrec_at at;
	char reason[512];
	struct step s;

	msgrec_read_at(state_field, m->state, &at);
	cur_ch = at.channel[0] ? at.channel : NULL;
	cur_ref = field_str(m->state, "ref");
	if (!(strcmp(status, "sent") != 0 || !cur_ch || strcmp(cur_ch, c->name) != 0 || !cur_ref ||
	      strcmp(cur_ref, res->ref) != 0))
		return 0;
	snprintf(reason, sizeof(reason),
		 "late receipt from %s: %s%s%s; not applied (message is %s on %s)", c->name, sname,
		 res->reason[0] ? ", " : "", res->reason, status, cur_ch ? cur_ch : "-");
	m->chan = c;
	s = step_of(sname, reason);
	s.ref = res->ref;
	s.journal_only = 1;
	state_step(r, m, &s);
	m->chan = now_ch;
	return 1;
}

/* The receipt's word on the current attempt: delivered, failed for good
 * (hop; the citizen's record is read to mark a wrong address), or failed
 * for now (retry or hop). */
static void apply_status(struct router *r, struct msg *m, const struct herald_result *res)
{
	struct step s;

	switch (res->status) {
	case HERALD_DELIVERED:
		s = step_of("delivered", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		if (!field_str(m->state, "fulfilled_ms"))
			s.fulfilled_ms = now_ms() - m->accepted_ms;
		state_step(r, m, &s);
		break;
	case HERALD_PERMANENT: {
		s = step_of("permanent-failure", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		state_step(r, m, &s);
		redisReply *cr = rdb_call(r->rdb, "HGETALL " KEY_CITIZEN "%s", m->citizen);
		m->citizen_rec = cr ? reply_to_object(cr) : NULL;
		freeReplyObject(cr);
		failover_learn_invalid(r, m, res);
		failover_hop(r, m, res->reason[0] ? res->reason : "failed, says the receipt");
		break;
	}
	case HERALD_TEMPORARY: failover_retry_or_hop(r, m, res); break;
	default: break;
	}
}

/* Apply a receipt: 1 when it should be tried again a little later (its
 * reference not known yet, or its message not yet "sent"); final says
 * there is no later: unknown is unknown, early is late. */
static int receipt_try(struct router *r, struct chan *c, const struct herald_result *res, int final)
{
	int unknown;
	struct msg *m = receipt_msg(r, c, res, &unknown);
	const char *status, *ev;
	char err[512];
	int again = 0;

	if (!m) {
		if (unknown && !final)
			return 1;
		if (unknown)
			receipt_unmatched(r, c, res);
		return 0;
	}
	status = msg_load_state(r, m);
	m->possible_dup = submit_dup_is(m, "possible");
	if (!final && receipt_early(m, c, status)) {
		again = 1;
		goto out;
	}
	if (late_receipt(r, m, c, res, status))
		goto out;
	rdb_cmdf(r->rdb, NULL, NULL, "ZREM " KEY_SCHED " %s", m->event_id);
	/* "sent" keeps the event in the hash (state_step) */
	ev = field_str(m->state, "event");
	if (!ev || event_parse(ev, strlen(ev), &m->ev, err, sizeof(err)) != 0) {
		log_warnx("%s: receipt from %s, but the stored event is unreadable", m->event_id,
			  c->name);
		goto out;
	}
	apply_status(r, m, res);
out:
	msg_free(m);
	return again;
}

/* Keep a receipt to try again (receipt_retry); when the hold is full it
 * gets its final try now. */
static void receipt_hold(struct router *r, struct chan *c, const struct herald_result *res)
{
	struct rcpt_hold *h;

	if (!r->rcpt_held)
		r->rcpt_held = calloc(RCPT_HOLD_MAX, sizeof(*r->rcpt_held));
	if (!r->rcpt_held || r->rcpt_nheld >= RCPT_HOLD_MAX) {
		receipt_try(r, c, res, 1);
		return;
	}
	h = &r->rcpt_held[r->rcpt_nheld++];
	h->res = *res;
	h->c = c;
	h->until_ms = now_ms() + RCPT_HOLD_MS;
}

void receipt_apply(struct router *r, struct chan *c, const struct herald_result *res)
{
	if (receipt_try(r, c, res, 0))
		receipt_hold(r, c, res);
}

/* The held receipts, every RCPT_RETRY_MS: those that now find their
 * message are applied, the others wait until their time is up. */
static void receipt_retry(struct router *r)
{
	int64_t now = now_ms();
	int keep = 0;

	if (!r->rcpt_nheld || now < r->rcpt_next_ms)
		return;
	r->rcpt_next_ms = now + RCPT_RETRY_MS;
	for (int i = 0; i < r->rcpt_nheld; i++) {
		struct rcpt_hold h = r->rcpt_held[i];
		if (receipt_try(r, h.c, &h.res, now >= h.until_ms))
			r->rcpt_held[keep++] = h;
	}
	r->rcpt_nheld = keep;
}

void receipt_close(struct router *r)
{
	free(r->rcpt_held);
	r->rcpt_held = NULL;
	r->rcpt_nheld = 0;
}

void receipt_poll(struct router *r)
{
	struct herald_result res[32];
	struct chan *ch[32];
	int n;

	receipt_retry(r);
	if (!r->http)
		return;
	do {
		n = http_pop(r->http, res, ch, 32);
		for (int i = 0; i < n; i++)
			if (ch[i])
				receipt_apply(r, ch[i], &res[i]);
	} while (n == 32);
}
