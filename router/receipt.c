/*
 * receipt.c - delivery receipts: the provider's reference (herald:ref:) leads
 * to the message; a receipt for the message's current "sent" attempt makes
 * it delivered or failed (then retry or hop, failover.c); a late one (for an
 * earlier attempt, or a message gone on) is journaled and changes nothing.
 * A receipt that overtakes the "sent" it confirms (the provider reports
 * before it answers the send, or before heraldd has recorded the answer)
 * is held and tried again for RCPT_HOLD_MS; one that still matches nothing
 * then is a warning and herald_receipts_unmatched_total.
 *
 * Each receipt goes through the Redis pipeline (rdb_cmdf with callbacks:
 * GET the reference, HGETALL the message, HGETALL the citizen for a
 * failure for good), never a synchronous call on the router thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover.h"
#include "http.h"
#include "jlane.h"
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
	s = step_of(sname, reason);
	s.ref = res->ref;
	msg_journal(r, m, c, NULL, &s);
	return 1;
}

/* A receipt on its way through the pipeline: GET the reference, then
 * HGETALL the message (and, for a failure for good, its citizen): no
 * synchronous round trip on the router thread. */
struct rcpt_job {
	struct router *r;
	struct chan *c;
	struct herald_result res;
	int final;	  /* no later try: unknown is unknown, early is late */
	int64_t until_ms; /* held until then (0: not held yet) */
	struct msg *m;
};

static void rcpt_job_free(struct rcpt_job *j)
{
	if (j->m)
		msg_free(j->m);
	free(j);
}

/* A failure for good: the citizen's record (read first) tells
 * failover_learn_invalid which address was wrong; then the hop. */
static void on_citizen(redisReply *rep, void *arg)
{
	struct rcpt_job *j = arg;
	struct msg *m = j->m;

	m->citizen_rec = rep ? reply_to_object(rep) : NULL;
	failover_learn_invalid(j->r, m, &j->res);
	failover_hop(j->r, m, j->res.reason[0] ? j->res.reason : "failed, says the receipt");
	rcpt_job_free(j);
}

/* The receipt's word on the current attempt: delivered, failed for good
 * (hop; the citizen's record is read to mark a wrong address), or failed
 * for now (retry or hop). Takes the job. */
static void apply_status(struct rcpt_job *j)
{
	struct router *r = j->r;
	struct msg *m = j->m;
	const struct herald_result *res = &j->res;
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
	case HERALD_PERMANENT:
		s = step_of("permanent-failure", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		state_step(r, m, &s);
		rdb_cmdf(r->rdb, on_citizen, j, "HGETALL " KEY_CITIZEN "%s", m->citizen);
		return; /* on_citizen goes on */
	case HERALD_TEMPORARY: failover_retry_or_hop(r, m, res); break;
	default: break;
	}
	rcpt_job_free(j);
}

static void receipt_start(struct router *r, struct chan *c, const struct herald_result *res,
			  int final, int64_t until_ms);

/* Keep a receipt to try again (receipt_retry); when the hold is full it
 * gets its final try now. Takes the job. */
static void receipt_hold(struct rcpt_job *j)
{
	struct router *r = j->r;
	struct rcpt_hold *h;

	if (!r->rcpt_held)
		r->rcpt_held = calloc(RCPT_HOLD_MAX, sizeof(*r->rcpt_held));
	if (!r->rcpt_held || r->rcpt_nheld >= RCPT_HOLD_MAX) {
		receipt_start(r, j->c, &j->res, 1, 0);
	} else {
		h = &r->rcpt_held[r->rcpt_nheld++];
		h->res = j->res;
		h->c = j->c;
		h->until_ms = j->until_ms ? j->until_ms : now_ms() + RCPT_HOLD_MS;
	}
	rcpt_job_free(j);
}

/* The message's record: apply the receipt, or hold it when it overtook
 * the "sent" it confirms. */
static void on_msg(redisReply *rep, void *arg)
{
	struct rcpt_job *j = arg;
	struct msg *m = j->m;
	const char *status, *ev;
	char err[512];

	m->state = rep ? reply_to_object(rep) : NULL;
	if (!m->state || json_object_size(m->state) == 0) {
		if (m->state)
			metrics_missing_record();
		log_msg(LOG_L_NOTICE, "%s: receipt from %s, but the message record is %s",
			m->event_id, j->c->name, rep ? "gone" : "unreadable (Redis unavailable)");
		rcpt_job_free(j);
		return;
	}
	status = msg_load_state(j->r, m);
	m->possible_dup = submit_dup_is(m, "possible");
	if (!j->final && receipt_early(m, j->c, status)) {
		receipt_hold(j);
		return;
	}
	if (late_receipt(j->r, m, j->c, &j->res, status)) {
		rcpt_job_free(j);
		return;
	}
	rdb_cmdf(j->r->rdb, NULL, NULL, "ZREM " KEY_SCHED " %s", m->event_id);
	/* "sent" keeps the event in the hash (state_step) */
	ev = field_str(m->state, "event");
	if (!ev || event_parse(ev, strlen(ev), &m->ev, err, sizeof(err)) != 0) {
		log_warnx("%s: receipt from %s, but the stored event is unreadable", m->event_id,
			  j->c->name);
		rcpt_job_free(j);
		return;
	}
	apply_status(j);
}

/* The reference's message id: read its record next; an unknown reference
 * is held (or, at its final try, unmatched). */
static void on_ref(redisReply *rep, void *arg)
{
	struct rcpt_job *j = arg;

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		if (!rep)
			log_msg(LOG_L_NOTICE,
				"channel %s: receipt for '%s' (%s): Redis unavailable", j->c->name,
				j->res.ref, status_name(&j->res));
		else if (!j->final) {
			receipt_hold(j);
			return;
		} else
			receipt_unmatched(j->r, j->c, &j->res);
		rcpt_job_free(j);
		return;
	}
	j->m = calloc(1, sizeof(*j->m));
	if (!j->m) {
		rcpt_job_free(j);
		return;
	}
	snprintf(j->m->event_id, sizeof(j->m->event_id), "%s", rep->str);
	/* after this instance's writes to it (jlane.h) */
	jlane_after(j->r, on_msg, j, "HGETALL " KEY_MSG "%s", j->m->event_id);
}

static void receipt_start(struct router *r, struct chan *c, const struct herald_result *res,
			  int final, int64_t until_ms)
{
	struct rcpt_job *j = calloc(1, sizeof(*j));

	if (!j) {
		log_warnx("channel %s: receipt for '%s': out of memory", c->name, res->ref);
		return;
	}
	*j = (struct rcpt_job){.r = r, .c = c, .res = *res, .final = final, .until_ms = until_ms};
	rdb_cmdf(r->rdb, on_ref, j, "GET " KEY_REF "%s:%s", c->name, res->ref);
}

void receipt_apply(struct router *r, struct chan *c, const struct herald_result *res)
{
	receipt_start(r, c, res, 0, 0);
}

/* The held receipts, every RCPT_RETRY_MS: each is tried again through the
 * pipeline (held anew if its message is still not there), its last try
 * once its time is up. */
static void receipt_retry(struct router *r)
{
	int64_t now = now_ms();
	int n = r->rcpt_nheld;

	if (!n || now < r->rcpt_next_ms)
		return;
	r->rcpt_next_ms = now + RCPT_RETRY_MS;
	r->rcpt_nheld = 0;
	for (int i = 0; i < n; i++) {
		struct rcpt_hold h = r->rcpt_held[i];
		receipt_start(r, h.c, &h.res, now >= h.until_ms, h.until_ms);
	}
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
