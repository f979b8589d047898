/*
 * outcome.c - the results channel plugins report: "sent" (awaiting a
 * receipt when the event asks for one), "delivered", a temporary failure
 * (failover.c: retry or hop) or a permanent one (hop). A result for a
 * message no longer in flight that names a reference is a later outcome of
 * a "sent" one, applied as a receipt (receipt.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failover.h"
#include "heldwrite.h"
#include "jlane.h"
#include "log.h"
#include "msgstate.h"
#include "outcome.h"
#include "policy.h"
#include "receipt.h"
#include "submit.h"
#include "testmode.h"
#include "text.h"

/* Not started by a plugin told to stop (drain): no transition, the stream
 * entry stays pending; after the restart it is resumed as the same attempt
 * (its status is still "sending"), known not to have been sent (dup
 * "abandoned", after this turn's "sending" write). */
static void on_abandoned(struct router *r, struct msg *m)
{
	char tag[64];

	if (m->held && m->held_gen == r->held_gen)
		held_emit(r, m->held);
	submit_dup_tag(m, "abandoned", tag, sizeof(tag));
	jlane_msgf(r, m, "HSET " KEY_MSG "%s dup %s", m->event_id, tag);
}

static void on_result(struct router *r, struct chan *c, const struct herald_result *res)
{
	struct msg *m = idmap_del(r->inflight, res->msg_id);
	int64_t now = now_ms();
	struct step s;
	char buf[32];

	if (!m) {
		/* A later outcome of a message already "sent" (CUPS job completed,
		 * gateway polled): the plugin repeats the reference, so it is
		 * matched like an HTTP receipt. */
		if (res->ref[0])
			receipt_apply(r, c, res);
		else
			log_debug("channel %s: result for unknown message %llu", c->name,
				  (unsigned long long)res->msg_id);
		return;
	}
	c->finished++;
	switch (res->status) {
	case HERALD_DELIVERED:
	case HERALD_SENT:
		if (res->status == HERALD_SENT && !(res->flags & HERALD_RF_FINAL)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)now);
			const char *kv[] = {"sent_ms", buf};
			s = step_of("sent", res->reason);
			s.ref = res->ref;
			s.dsn = res->dsn;
			s.kv = kv;
			s.nkv = 1;
			s.ack = 1;
			if (m->ev.deliver_within)
				s.sched_ms = now + m->ev.deliver_within * 1000;
			state_step(r, m, &s);
			/* a later result may name the message by either reference;
			 * submit wrote the plugin's own only if a receipt could
			 * overtake this result (submit_ref_early) */
			if (!submit_ref_early(c))
				rdb_cmdf(r->rdb, NULL, NULL, "SET " KEY_REF "%s:%s %s EX %lld",
					 c->name, m->pref, m->event_id,
					 (long long)policy_ttl_s(r, m->service));
			if (res->ref[0] && strcmp(res->ref, m->pref) != 0)
				rdb_cmdf(r->rdb, NULL, NULL, "SET " KEY_REF "%s:%s %s EX %lld",
					 c->name, res->ref, m->event_id,
					 (long long)policy_ttl_s(r, m->service));
			break;
		}
		/* "final" tells a sent message that waits for nothing more
		 * from one awaiting a receipt; delivered says it alone */
		static const char *const final_kv[] = {"final", "1"};
		s = step_of(res->status == HERALD_DELIVERED ? "delivered" : "sent", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		s.kv = final_kv;
		s.nkv = res->status == HERALD_SENT;
		s.ack = 1;
		s.finished_ok = 1;
		/* a bounce may hop it on (bounce.c): keep the event and when it
		 * was sent */
		snprintf(buf, sizeof(buf), "%lld", (long long)now);
		const char *prov_kv[] = {"final", "1", "sent_ms", buf};
		if (res->status == HERALD_SENT && (res->flags & HERALD_RF_PROVISIONAL)) {
			s.kv = prov_kv;
			s.nkv = 2;
			s.keep_event = 1;
		}
		if (!field_str(m->state, "fulfilled_ms"))
			s.fulfilled_ms = now - m->accepted_ms;
		state_step(r, m, &s);
		break;
	case HERALD_TEMPORARY: failover_retry_or_hop(r, m, res); break;
	case HERALD_ABANDONED: on_abandoned(r, m); break;
	case HERALD_PERMANENT:
	default:
		s = step_of("permanent-failure", res->reason);
		s.dsn = res->dsn;
		s.ref = res->ref;
		state_step(r, m, &s);
		failover_learn_invalid(r, m, res);
		failover_hop(r, m, res->reason[0] ? res->reason : "permanent failure");
		break;
	}
	msg_free(m);
}

void outcome_poll(struct router *r)
{
	struct herald_result res[64];

	testmode_drain(r, on_result); /* services in test or trial mode */
	for (int i = 0; i < r->chans.n; i++) {
		struct chan *c = &r->chans.ch[i];
		int n;
		do {
			n = c->desc->poll(c->state, res, 64);
			for (int k = 0; k < n; k++)
				on_result(r, c, &res[k]);
		} while (n == 64);
	}
}
