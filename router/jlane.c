/*
 * jlane.c - the state connections (jlane.h): which one a transaction's
 * writes go on, the gates that hold a turn's XACKs and the main
 * connection's dependent commands until the turn's state writes are in,
 * the barrier before a synchronous read, and the connections' turn,
 * connect and loss.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heldwrite.h"
#include "jlane.h"
#include "log.h"
#include "redis.h"
#include "text.h"

/* A main-connection command held by a gate (jlane_after), in the protocol. */
struct jdefer {
	char *cmd;
	size_t len;
	rdb_cb cb;
	void *arg;
};

/* What one held_flush let go of: its XACKs and the commands that must see
 * the state writes queued before it, released onto the main connection
 * when the last of those writes has its reply and every earlier gate was
 * released (the gates go in turn order). */
struct jgate {
	struct jgate *next;
	size_t pending; /* replies still to come */
	int failed;
	unsigned long errs; /* error replies (logged once per gate) */
	char first_err[160];
	struct ackq acks[PRIO_N];
	struct jdefer *defer;
	size_t ndefer, capdefer;
};

static void sync_hook(void *arg);

int jlane_open(struct router *r, char *err, size_t errlen)
{
	const struct config *c = r->cfg;

	r->njlane = c->redis_state_connections;
	for (int i = 0; i < r->njlane; i++) {
		char name[32];
		r->jlane[i] = rdb_new(c->redis_host, c->redis_port, c->redis_socket,
				      c->redis_password, c->redis_db);
		if (!r->jlane[i]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		snprintf(name, sizeof(name), "herald-state-%d", i + 1);
		rdb_set_aux(r->jlane[i], name);
		rdb_set_connect_timeout(r->jlane[i], c->redis_connect_timeout_ms);
		if (c->redis_sentinels &&
		    rdb_set_sentinels(r->jlane[i], c->redis_sentinels, c->redis_master_name,
				      c->redis_sentinel_password, err, errlen) != 0)
			return -1;
	}
	if (r->njlane)
		rdb_on_call(r->rdb, sync_hook, r);
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
		log_warnx("redis: %d of %d state connections up: every write goes on the main "
			  "connection until the next reconnect",
			  up, r->njlane);
	r->jlane_up = r->njlane > 0 && up == r->njlane;
}

/* A connection lost: the whole of heraldd's Redis goes through its outage
 * (jlane.h), every gate fails. */
static void lanes_lost(struct router *r, const char *why)
{
	r->jlane_up = 0;
	for (int i = 0; i < r->njlane; i++)
		lane_reset(r->jlane[i], why);
	rdb_disconnect(r->rdb, "a state connection was lost");
}

static struct rdb *lane_of(const struct router *r, const char *txkey)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)txkey; *p; p++)
		h = (h ^ *p) * 16777619u;
	return r->jlane[h % (uint32_t)r->njlane];
}

/* A state write Redis refused (OOM, a key of the wrong type): logged as
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
	size_t dropped = 0;

	if (g->errs)
		log_refused(g);
	for (size_t i = 0; i < g->ndefer; i++) {
		struct jdefer *d = &g->defer[i];
		if (!g->failed)
			rdb_raw(r->rdb, d->cb, d->arg, d->cmd, d->len);
		else if (d->cb)
			d->cb(NULL, d->arg);
		else
			dropped++;
		free(d->cmd);
	}
	free(g->defer);
	for (int p = 0; p < PRIO_N; p++) {
		if (g->acks[p].n && !g->failed && held_xack(r, p, &g->acks[p]) != 0)
			log_warnx("out of memory: %zu stream entries not acknowledged (taken "
				  "again later)",
				  g->acks[p].n);
		free(g->acks[p].ids);
	}
	if (g->failed)
		log_msg(LOG_L_NOTICE,
			"redis: a state connection failed before its writes were confirmed: "
			"their stream entries stay pending and are taken again%s",
			dropped ? "; the schedule and dead-letter writes that followed them are "
				  "redone with them"
				: "");
	free(g);
}

/* Release the gates at the head whose writes are all in, in turn order. */
static void gates_release(struct router *r)
{
	while (r->jgates && r->jgates->pending == 0) {
		struct jgate *g = r->jgates;
		r->jgates = g->next;
		if (!r->jgates)
			r->jgates_tail = NULL;
		gate_release(r, g);
	}
}

struct gate_arg {
	struct router *r;
	struct jgate *g;
};

static void on_write(redisReply *rep, void *arg)
{
	struct gate_arg *a = arg;
	struct jgate *g = a->g;
	struct router *r = a->r;

	free(a);
	if (!rep)
		g->failed = 1;
	else if (rep->type == REDIS_REPLY_ERROR && g->errs++ == 0)
		snprintf(g->first_err, sizeof(g->first_err), "%s", rep->str);
	if (--g->pending == 0 && g != r->jgate)
		gates_release(r);
}

/* The gate this turn's writes and held commands join (created); NULL when
 * out of memory. */
static struct jgate *open_gate(struct router *r)
{
	if (!r->jgate)
		r->jgate = calloc(1, sizeof(*r->jgate));
	return r->jgate;
}

/* The connection for a state write of the transaction whose journey key
 * is txkey, and the gate argument its reply goes to (*ap; NULL: the main
 * connection, unwaited). */
static struct rdb *lane_pick(struct router *r, const char *txkey, struct gate_arg **ap)
{
	struct gate_arg *a;
	struct jgate *g;

	*ap = NULL;
	if (!r->jlane_up || !rdb_ok(r->rdb))
		return r->rdb;
	if (!(g = open_gate(r)) || !(a = malloc(sizeof(*a)))) {
		log_warnx("out of memory: a state write goes on the main connection, unordered");
		return r->rdb;
	}
	a->r = r;
	a->g = g;
	g->pending++;
	*ap = a;
	return lane_of(r, txkey);
}

void jlane_cmd(struct router *r, const char *txkey, int argc, const char **argv)
{
	struct gate_arg *a;
	struct rdb *db = lane_pick(r, txkey, &a);

	rdb_cmd(db, a ? on_write : NULL, a, argc, argv, NULL);
}

void jlane_msgf(struct router *r, const struct msg *m, const char *fmt, ...)
{
	char txkey[160], *cmd = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		log_warnx("out of memory: a state write not sent to Redis");
		return;
	}
	key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx); /* as held_get's */
	struct gate_arg *a;
	struct rdb *db = lane_pick(r, txkey, &a);
	rdb_raw(db, a ? on_write : NULL, a, cmd, (size_t)len);
	redisFreeCommand(cmd);
}

void jlane_expire(struct router *r, const char *key, const char *txkey, long long ttl,
		  const char *how)
{
	char ttls[24];

	fmt_int(ttl, ttls);
	const char *argv[] = {"EXPIRE", key, ttls, how};
	jlane_cmd(r, txkey, how ? 4 : 3, argv);
}

void jlane_after(struct router *r, rdb_cb cb, void *arg, const char *fmt, ...)
{
	struct jdefer *d;
	struct jgate *g;
	char *cmd = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = redisvFormatCommand(&cmd, fmt, ap);
	va_end(ap);
	if (len < 0) {
		if (cb)
			cb(NULL, arg);
		return;
	}
	if (!r->jlane_up || !(g = open_gate(r))) { /* off (or out of memory): in order now */
		rdb_raw(r->rdb, cb, arg, cmd, (size_t)len);
		redisFreeCommand(cmd);
		return;
	}
	if (g->ndefer == g->capdefer) {
		size_t cap = g->capdefer ? g->capdefer * 2 : 16;
		struct jdefer *nd = realloc(g->defer, cap * sizeof(*nd));
		if (!nd) {
			rdb_raw(r->rdb, cb, arg, cmd, (size_t)len);
			redisFreeCommand(cmd);
			return;
		}
		g->defer = nd;
		g->capdefer = cap;
	}
	d = &g->defer[g->ndefer++];
	*d = (struct jdefer){.cmd = cmd, .len = (size_t)len, .cb = cb, .arg = arg};
}

int jlane_gate(struct router *r)
{
	struct jgate *g = r->jgate;

	if (!g && !r->jgates)
		return 0; /* nothing waits: the XACKs go now */
	if (!g && !(g = open_gate(r)))
		return 0; /* out of memory: they go now */
	r->jgate = NULL;
	for (int p = 0; p < PRIO_N; p++) { /* the ids move into the gate */
		g->acks[p] = r->acks[p];
		memset(&r->acks[p], 0, sizeof(r->acks[p]));
	}
	if (r->jgates_tail)
		r->jgates_tail->next = g;
	else
		r->jgates = g;
	r->jgates_tail = g;
	gates_release(r);
	return 1;
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
	if (lost) {
		lanes_lost(r, "another state connection was lost");
		return;
	}
	if (!rdb_ok(r->rdb))
		r->jlane_up = 0; /* until jlane_connect, with the main one */
	/* what the replies released goes out now, not at the next turn */
	rdb_send_grouped(r->rdb);
}

/* Before a synchronous call on the main connection: this turn's writes
 * are let go of, and every state write sent so far has its reply, so the
 * call sees them as it would on one connection. */
static void sync_hook(void *arg)
{
	struct router *r = arg;

	if (!r->jlane_up)
		return;
	held_flush(r);
	for (int i = 0; i < r->njlane; i++) {
		if (rdb_flush(r->jlane[i]) < 0) {
			lanes_lost(r, "another state connection was lost");
			return;
		}
	}
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
		r->jgate->pending = 0;
		r->jgate->failed = 1;
		if (r->jgates_tail)
			r->jgates_tail->next = r->jgate;
		else
			r->jgates = r->jgate;
		r->jgates_tail = r->jgate;
		r->jgate = NULL;
	}
	gates_release(r); /* every one failed by lane_reset: callbacks get NULL */
}
