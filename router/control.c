/*
 * control.c - suspended channels (control.h). A suspended channel takes
 * nothing: in prepare its messages are rescheduled SUSPEND_RECHECK_MS
 * later with REASON_SUSPENDED ("wait"), or hop to the next channel of
 * their plan ("hop"). What is already with the plugin finishes.
 */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "control.h"
#include "fnv.h"
#include "idmap.h"
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

/* This instance's copy of herald:held: fnv1a64(id) -> id. */
static struct idmap *held;
static long long held_ver = -1;

static void free_id(uint64_t k, void *v, void *arg)
{
	free(v);
}

static void on_held(redisReply *rep, void *arg)
{
	struct idmap *m;

	if (!rep || rep->type != REDIS_REPLY_ARRAY || !(m = idmap_new()))
		return;
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		char *id = e->type == REDIS_REPLY_STRING ? strdup(e->str) : NULL;
		if (id && idmap_put(m, fnv1a64(e->str, e->len), id) != 0)
			free(id);
	}
	if (held) {
		idmap_each(held, free_id, NULL);
		idmap_free(&held);
	}
	held = m;
	held_ver = (long long)(intptr_t)arg;
}

static void on_held_ver(redisReply *rep, void *arg)
{
	struct router *r = arg;
	long long v = rep && rep->type == REDIS_REPLY_STRING ? strtoll(rep->str, NULL, 10) : 0;

	if (!rep || rep->type == REDIS_REPLY_ERROR || v == held_ver)
		return;
	rdb_cmdf(r->rdb, on_held, (void *)(intptr_t)v, "SMEMBERS " KEY_HELD);
}

void control_tick(struct router *r, int64_t now)
{
	if (now - r->last_control_ms < CONTROL_REFRESH_MS)
		return;
	r->last_control_ms = now;
	rdb_cmdf(r->rdb, on_suspended, r, "HGETALL " KEY_SUSPENDED);
	rdb_cmdf(r->rdb, on_held_ver, r, "GET " KEY_HELD_VER);
}

int control_held(struct router *r, struct msg *m)
{
	const char *id = held ? idmap_get(held, fnv1a64(m->event_id, strlen(m->event_id))) : NULL;
	struct step s;

	if (!id || strcmp(id, m->event_id) != 0)
		return 0;
	s = step_of("scheduled", REASON_HELD);
	s.sched_ms = now_ms() + HOLD_RECHECK_MS;
	s.ack = 1;
	s.no_channel = !m->chan;
	state_step(r, m, &s);
	return 1;
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
