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
#include "msgrec.h"
#include "msgstate.h"
#include "receipt.h"
#include "text.h"

static const char *const status_names[] = {"?", "sent", "delivered", "temporary-failure",
					   "permanent-failure"};

void receipt_apply(struct router *r, struct chan *c, const struct herald_result *res)
{
	redisReply *rep = rdb_call(r->rdb, "GET " KEY_REF "%s:%s", c->name, res->ref);
	struct msg *m = NULL;
	const char *status, *cur_ch, *cur_ref, *sname;
	struct step s;
	char reason[512];

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		log_msg(LOG_L_NOTICE,
			"channel %s: receipt for unknown reference '%s' (%s): ignored", c->name,
			res->ref, status_names[res->status <= 4 ? res->status : 0]);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out;
	snprintf(m->event_id, sizeof(m->event_id), "%s", rep->str);
	freeReplyObject(rep);
	rep = rdb_call(r->rdb, "HGETALL " KEY_MSG "%s", m->event_id);
	m->state = rep ? reply_to_object(rep) : NULL;
	if (!m->state || json_object_size(m->state) == 0) {
		log_msg(LOG_L_NOTICE, "%s: receipt from %s, but the message record is gone",
			m->event_id, c->name);
		goto out;
	}
	status = msg_load_state(r, m);
	struct msgrec_at at;
	msgrec_read_at(state_field, m->state, &at);
	cur_ch = at.channel[0] ? at.channel : NULL;
	cur_ref = field_str(m->state, "ref");
	sname = status_names[res->status <= 4 ? res->status : 0];
	if (strcmp(status, "sent") != 0 || !cur_ch || strcmp(cur_ch, c->name) != 0 || !cur_ref ||
	    strcmp(cur_ref, res->ref) != 0) {
		/* Too late (hopped, finished) or for an earlier attempt: record it,
		 * never resurrect or undo anything. */
		struct chan *now_ch = m->chan;
		snprintf(reason, sizeof(reason),
			 "late receipt from %s: %s%s%s; not applied (message is %s on %s)", c->name,
			 sname, res->reason[0] ? ", " : "", res->reason, status,
			 cur_ch ? cur_ch : "-");
		m->chan = c;
		s = step_of(sname, reason);
		s.ref = res->ref;
		s.journal_only = 1;
		state_step(r, m, &s);
		m->chan = now_ch;
		goto out;
	}
	rdb_cmdf(r->rdb, NULL, NULL, "ZREM " KEY_SCHED " %s", m->event_id);
	/* "sent" keeps the event in the hash (state_step) */
	if (!field_str(m->state, "event") ||
	    event_parse(field_str(m->state, "event"), strlen(field_str(m->state, "event")), &m->ev,
			reason, sizeof(reason)) != 0) {
		log_warnx("%s: receipt from %s, but the stored event is unreadable", m->event_id,
			  c->name);
		goto out;
	}
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
		freeReplyObject(rep); /* the message record, read above */
		rep = NULL;
		{
			redisReply *cr = rdb_call(r->rdb, "HGETALL " KEY_CITIZEN "%s", m->citizen);
			m->citizen_rec = cr ? reply_to_object(cr) : NULL;
			freeReplyObject(cr);
		}
		failover_learn_invalid(r, m, res);
		failover_hop(r, m, res->reason[0] ? res->reason : "failed, says the receipt");
		break;
	case HERALD_TEMPORARY: failover_retry_or_hop(r, m, res); break;
	default: break;
	}
out:
	freeReplyObject(rep);
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
