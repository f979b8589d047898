/*
 * receipt.c - delivery receipts: the provider's reference (herald:ref:) leads
 * to the message; a receipt for the message's current "sent" attempt makes
 * it delivered or failed (then retry or hop, failover.c); a late one (for an
 * earlier attempt, or a message gone on) is journaled and changes nothing.
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
#include "text.h"

static const char *const status_names[] = {"?", "sent", "delivered", "temporary-failure",
					   "permanent-failure"};

static const char *status_name(const struct herald_result *res)
{
	return status_names[res->status <= 4 ? res->status : 0];
}

/* The message a receipt's reference names, with its record read; NULL
 * when the reference is unknown or the record gone (logged). */
static struct msg *receipt_msg(struct router *r, struct chan *c, const struct herald_result *res)
{
	redisReply *rep = rdb_call(r->rdb, "GET " KEY_REF "%s:%s", c->name, res->ref);
	struct msg *m;

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		log_msg(LOG_L_NOTICE,
			"channel %s: receipt for unknown reference '%s' (%s): ignored", c->name,
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

void receipt_apply(struct router *r, struct chan *c, const struct herald_result *res)
{
	struct msg *m = receipt_msg(r, c, res);
	const char *status, *ev;
	char err[512];

	if (!m)
		return;
	status = msg_load_state(r, m);
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
}

void receipt_poll(struct router *r)
{
	struct herald_result res[32];
	struct chan *ch[32];
	int n;

	if (!r->http)
		return;
	do {
		n = http_pop(r->http, res, ch, 32);
		for (int i = 0; i < n; i++)
			if (ch[i])
				receipt_apply(r, ch[i], &res[i]);
	} while (n == 32);
}
