/*
 * jlane.c - the journey connections (jlane.h): which one a transaction's
 * journey goes on, the gate that holds a turn's XACKs until its journey
 * writes are in, and the connections' turn, connect and loss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heldwrite.h"
#include "jlane.h"
#include "log.h"
#include "redis.h"
#include "text.h"

/* The XACKs of one held_flush, waiting for the journey writes queued
 * before it: released onto the main connection when the last reply is in
 * and the gate is closed (held_flush has given it its XACKs). */
struct jgate {
	size_t pending; /* replies still to come */
	int closed, failed;
	unsigned long errs; /* error replies (logged once per gate) */
	char first_err[160];
	struct ackq acks[PRIO_N];
};

int jlane_open(struct router *r, char *err, size_t errlen)
{
	const struct config *c = r->cfg;

	r->njlane = c->redis_journey_connections;
	for (int i = 0; i < r->njlane; i++) {
		char name[32];
		r->jlane[i] = rdb_new(c->redis_host, c->redis_port, c->redis_socket,
				      c->redis_password, c->redis_db);
		if (!r->jlane[i]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(name, sizeof(name), "herald-journey-%d", i + 1);
		rdb_set_aux(r->jlane[i], name);
		rdb_set_connect_timeout(r->jlane[i], c->redis_connect_timeout_ms);
		if (c->redis_sentinels &&
		    rdb_set_sentinels(r->jlane[i], c->redis_sentinels, c->redis_master_name,
				      c->redis_sentinel_password, err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Every reply still to come fails (NULL to its gate), the connection
 * closed. */
static void lane_reset(struct rdb *db, const char *why)
{
	if (rdb_ok(db))
		rdb_disconnect(db, why);
	rdb_send(db); /* without a connection: fails what was sent or queued */
}

void jlane_connect(struct router *r)
{
	int up = 0;

	r->jlane_up = 0;
	for (int i = 0; i < r->njlane; i++) {
		lane_reset(r->jlane[i], "reconnecting with the main connection");
		up += rdb_connect(r->jlane[i]) == 0;
	}
	if (r->njlane && up < r->njlane)
		log_warnx("redis: %d of %d journey connections up: journeys go on the main "
			  "connection until the next reconnect",
			  up, r->njlane);
	r->jlane_up = r->njlane > 0 && up == r->njlane;
}

static struct rdb *lane_of(const struct router *r, const char *txkey)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)txkey; *p; p++)
		h = (h ^ *p) * 16777619u;
	return r->jlane[h % (uint32_t)r->njlane];
}

/* A journey write Redis refused (OOM, a key of the wrong type): logged as
 * the main connection's unwaited writes are (redis.c), at most once a
 * second with the count of the others. */
static void log_refused(const struct jgate *g)
{
	static int64_t last_ms;
	static unsigned long others;
	int64_t now = mono_ms();

	if (now - last_ms < 1000) {
		others += g->errs;
		return;
	}
	log_warnx("redis: a write failed: %.150s%s", g->first_err,
		  g->errs + others > 1 ? " (and others since the last report)" : "");
	last_ms = now;
	others = 0;
}

static void gate_release(struct router *r, struct jgate *g)
{
	if (g->errs)
		log_refused(g);
	for (int p = 0; p < PRIO_N; p++) {
		if (g->acks[p].n && !g->failed && held_xack(r, p, &g->acks[p]) != 0)
			log_warnx("out of memory: %zu stream entries not acknowledged (taken "
				  "again later)",
				  g->acks[p].n);
		free(g->acks[p].ids);
	}
	if (g->failed)
		log_msg(LOG_L_NOTICE, "redis: a journey connection failed before its writes "
				      "were confirmed: their stream entries stay pending and "
				      "are taken again");
	free(g);
}

struct gate_arg {
	struct router *r;
	struct jgate *g;
};

static void on_journey(redisReply *rep, void *arg)
{
	struct gate_arg *a = arg;
	struct jgate *g = a->g;
	struct router *r = a->r;

	free(a);
	if (!rep)
		g->failed = 1;
	else if (rep->type == REDIS_REPLY_ERROR && g->errs++ == 0)
		snprintf(g->first_err, sizeof(g->first_err), "%s", rep->str);
	if (--g->pending == 0 && g->closed)
		gate_release(r, g);
}

void jlane_cmd(struct router *r, const char *txkey, int argc, const char **argv)
{
	struct gate_arg *a;

	if (!r->jlane_up || !rdb_ok(r->rdb)) {
		rdb_cmd(r->rdb, NULL, NULL, argc, argv, NULL);
		return;
	}
	if (!r->jgate && !(r->jgate = calloc(1, sizeof(*r->jgate)))) {
		rdb_cmd(r->rdb, NULL, NULL, argc, argv, NULL); /* out of memory: unordered */
		return;
	}
	if (!(a = malloc(sizeof(*a)))) {
		rdb_cmd(r->rdb, NULL, NULL, argc, argv, NULL);
		return;
	}
	a->r = r;
	a->g = r->jgate;
	r->jgate->pending++;
	rdb_cmd(lane_of(r, txkey), on_journey, a, argc, argv, NULL);
}

void jlane_expire(struct router *r, const char *txkey, long long ttl, const char *how)
{
	char ttls[24];

	fmt_int(ttl, ttls);
	const char *argv[] = {"EXPIRE", txkey, ttls, how};
	jlane_cmd(r, txkey, 4, argv);
}

void jlane_gate(struct router *r)
{
	struct jgate *g = r->jgate;

	if (!g)
		return;
	r->jgate = NULL;
	for (int p = 0; p < PRIO_N; p++) { /* the ids move into the gate */
		g->acks[p] = r->acks[p];
		memset(&r->acks[p], 0, sizeof(r->acks[p]));
	}
	g->closed = 1;
	if (g->pending == 0)
		gate_release(r, g);
}

void jlane_turn(struct router *r)
{
	int lost = 0;

	if (!r->jlane_up)
		return;
	for (int i = 0; i < r->njlane; i++) {
		struct rdb *db = r->jlane[i];
		if (rdb_ok(db))
			rdb_send(db);
		if (rdb_outstanding(db))
			rdb_poll(db);
		lost += !rdb_ok(db);
	}
	if (lost) { /* the whole of heraldd's Redis goes through its outage */
		r->jlane_up = 0;
		for (int i = 0; i < r->njlane; i++)
			lane_reset(r->jlane[i], "another journey connection was lost");
		rdb_disconnect(r->rdb, "a journey connection was lost");
		return;
	}
	if (!rdb_ok(r->rdb))
		r->jlane_up = 0; /* until jlane_connect, with the main one */
	/* XACKs released by the replies go out now, not at the next turn */
	rdb_send_grouped(r->rdb);
}

void jlane_flush(struct router *r)
{
	for (int i = 0; i < r->njlane; i++)
		if (rdb_ok(r->jlane[i]) && rdb_flush(r->jlane[i]) < 0)
			lane_reset(r->jlane[i], "stopping");
}

void jlane_free(struct router *r)
{
	for (int i = 0; i < r->njlane; i++) {
		lane_reset(r->jlane[i], "stopping");
		rdb_free(&r->jlane[i]);
	}
	r->njlane = r->jlane_up = 0;
	if (r->jgate) { /* never closed: its ids are still r->acks' */
		free(r->jgate);
		r->jgate = NULL;
	}
}
