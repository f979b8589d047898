/*
 * control.c - suspended channels (control.h). A suspended channel takes
 * nothing: in prepare its messages are rescheduled SUSPEND_RECHECK_MS
 * later with REASON_SUSPENDED ("wait"), or hop to the next channel of
 * their plan ("hop"). What is already with the plugin finishes.
 */
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "failover.h"
#include "log.h"
#include "metrics.h"
#include "msgstate.h"
#include "redis.h"
#include "schema.h"
#include "text.h"

static int mode_of(const redisReply *rep, const char *name)
{
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *k = rep->element[i], *v = rep->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || strcmp(k->str, name) != 0 ||
		    v->type != REDIS_REPLY_STRING)
			continue;
		return !strcmp(v->str, SUSPEND_HOP) ? CHAN_SUSPEND_HOP : CHAN_SUSPEND_WAIT;
	}
	return 0;
}

static void on_suspended(redisReply *rep, void *arg)
{
	struct router *r = arg;

	if (!rep || rep->type != REDIS_REPLY_ARRAY)
		return; /* no answer: the last known stays */
	for (int i = 0; i < r->chans.n; i++) {
		struct chan *c = &r->chans.ch[i];
		int mode = mode_of(rep, c->name);
		metrics_channel_gauge("channel_suspended", c->name, mode ? 1 : 0);
		if (mode == c->suspended)
			continue;
		if (mode)
			log_info("channel %s suspended by an operator: its messages %s", c->name,
				 mode == CHAN_SUSPEND_HOP ? "hop to their next channel" : "wait");
		else
			log_info("channel %s resumed by an operator", c->name);
		c->suspended = mode;
	}
}

void control_tick(struct router *r, int64_t now)
{
	if (now - r->last_control_ms < CONTROL_REFRESH_MS)
		return;
	r->last_control_ms = now;
	rdb_cmdf(r->rdb, on_suspended, r, "HGETALL " KEY_SUSPENDED);
}

int control_suspended(struct router *r, struct msg *m)
{
	char why[160];
	struct step s;

	if (!m->chan || !m->chan->suspended)
		return 0;
	snprintf(why, sizeof(why), REASON_SUSPENDED " (%s)", m->chan->name);
	if (m->chan->suspended == CHAN_SUSPEND_HOP) {
		failover_hop(r, m, why);
		return 1;
	}
	s = step_of("scheduled", why);
	s.sched_ms = now_ms() + SUSPEND_RECHECK_MS;
	s.ack = 1;
	state_step(r, m, &s);
	return 1;
}
