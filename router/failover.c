/*
 * failover.c - after a failed attempt: retry on the same channel with
 * exponential back-off (the channel's retry_min, retry_max, max_attempts,
 * max_age), else hop to the next channel of the plan, else "exhausted"
 * and the dead-letter list (herald:dead). A failure proving the address
 * wrong marks the channel invalid on the citizen's record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "citizen.h"
#include "failover.h"
#include "log.h"
#include "msgstate.h"
#include "text.h"

/* The current channel is done with this message: move to the next channel
 * of the plan, or give up (exhausted, dead-letter list). */
void failover_hop(struct router *r, struct msg *m, const char *why)
{
	int next = m->plan_idx + 1;
	char name[64], reason[512], idx[16];
	struct step s;

	if (plan_channel(m->plan, next, name, sizeof(name))) {
		snprintf(reason, sizeof(reason), "%s; next channel %s", why, name);
		snprintf(idx, sizeof(idx), "%d", next);
		const char *kv[] = {"plan_idx", idx, "attempt", "0"};
		s = step_of("hopped", reason);
		s.kv = kv;
		s.nkv = 2;
		s.sched_ms = now_ms();
		s.ack = 1;
		state_step(r, m, &s);
		r->want_read = 1;
		return;
	}
	snprintf(reason, sizeof(reason), "every channel failed (plan %s); last: %s",
		 m->plan[0] ? m->plan : "-", why);
	s = step_of("exhausted", reason);
	s.ack = 1;
	s.dead = 1;
	state_step(r, m, &s);
	log_warnx("%s: exhausted: %s", m->event_id, reason);
}

/* Exponential back-off with jitter: retry_min * 2^(attempt-1), capped at
 * retry_max, then a random 75-100 % of it (so retries do not march in step). */
static int64_t backoff_ms(const struct chan *c, unsigned attempt)
{
	return backoff_delay_ms(c->retry_min * 1000LL, c->retry_max * 1000LL, attempt, 25,
				(uint64_t)random());
}

void failover_retry_or_hop(struct router *r, struct msg *m, const struct herald_result *res)
{
	int64_t now = now_ms();
	struct step s = step_of("temporary-failure", res->reason);
	char why[400];

	s.dsn = res->dsn;
	if ((long)m->attempt < m->chan->max_attempts &&
	    now - m->accepted_ms < m->chan->max_age * 1000) {
		s.sched_ms = now + backoff_ms(m->chan, m->attempt);
		s.ack = 1;
		state_step(r, m, &s);
		return;
	}
	state_step(r, m, &s);
	snprintf(why, sizeof(why), "retries exhausted after %u attempts on %s", m->attempt,
		 m->chan->name);
	failover_hop(r, m, why);
}

/* A permanent failure that proves the address wrong (SMTP 5.1.1, invalid
 * number) marks the channel invalid on the citizen record, so the next
 * event skips it without another failed send. Updating the address clears
 * nothing by itself: operators (or the service) remove the channel from
 * `invalid` when the citizen gives a new one. */
void failover_learn_invalid(struct router *r, struct msg *m, const struct herald_result *res)
{
	char at[64], when[40], note[512];

	if (!(res->flags & HERALD_RF_BAD_ADDRESS) || !m->chan || !m->citizen_rec)
		return;
	rfc3339_format(now_ms(), when, sizeof(when));
	snprintf(note, sizeof(note), "%s %s (event %s)", when, res->reason, m->event_id);
	snprintf(at, sizeof(at), CIT_F_INVALID_PREFIX "%s", m->chan->name);
	/* in Redis, not from this message's copy of the hash (scripts.c) */
	rdb_cmdf(r->rdb, NULL, NULL, "FCALL herald_list_add 0 %s " CIT_F_INVALID " %s %s %s %d",
		 m->citizen, at, m->chan->name, note, CITIZEN_LIST_MAX);
	log_info("%s: citizen %s: %s address marked invalid: %s", m->event_id, m->citizen,
		 m->chan->name, res->reason);
}
