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
	int64_t at_ms; /* when it was first queued (mono) */
};

/* One state write of a gate: its bytes in the gate's buffer, the index of
 * its transaction's connection (-1: none configured), whether its reply
 * came. */
struct jwrite {
	size_t off, len;
	int lane;
	int done;
	int64_t at_ms; /* when it was first made (mono) */
};

/* What one held_flush let go of: its XACKs and the commands that must see
 * the state writes queued before it, released onto the main connection
 * when the last of those writes has its reply and every earlier gate was
 * released (the gates go in turn order). Its state writes are kept until
 * then: the ones a lost connection never confirmed are sent again. */
struct jgate {
	struct jgate *next;
	size_t pending; /* replies still to come */
	int failed;
	unsigned long errs; /* error replies (logged once per gate) */
	char first_err[160];
	struct ackq acks[PRIO_N];
	struct jdefer *defer;
	size_t ndefer, capdefer;
	char *buf;
	size_t len, cap;
	struct jwrite *w;
	size_t nw, capw;
	int64_t at_ms; /* opened (mono): when its writes were made */
};

/* A write to send again after the reconnect (jlane.h), in order. */
struct jreplay {
	char *cmd;
	size_t len;
	int lane;      /* -2: a jlane_after command */
	int64_t at_ms; /* when it was made (mono) */
};

static void sync_hook(void *arg);

/* *p (an array of *cap items of size bytes) with room for need items,
 * doubled from first: 0, or -1 when out of memory (unchanged). */
static int reserve(void **p, size_t *cap, size_t need, size_t size, size_t first)
{
	size_t n = *cap ? *cap : first;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (!(q = realloc(*p, n * size)))
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

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

/* A connection lost: the whole of heraldd's Redis goes through its outage
 * (jlane.h); the writes not confirmed are sent again after it. */
static void lanes_lost(struct router *r, const char *why)
{
	r->jlane_up = 0;
	for (int i = 0; i < r->njlane; i++)
		lane_reset(r->jlane[i], why);
	rdb_disconnect(r->rdb, "a state connection was lost");
}

static int lane_index(const struct router *r, const char *txkey)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	if (!r->njlane)
		return -1;
	for (const unsigned char *p = (const unsigned char *)txkey; *p; p++)
		h = (h ^ *p) * 16777619u;
	return (int)(h % (uint32_t)r->njlane);
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

/* Keep a write to send again (takes cmd). */
static void replay_keep(struct router *r, char *cmd, size_t len, int lane, int64_t at_ms)
{
	if (reserve((void **)&r->replay, &r->capreplay, r->nreplay + 1, sizeof(*r->replay), 64)) {
		log_warnx("out of memory: a state write lost with its connection is not "
			  "sent again (its stream entry is taken again)");
		free(cmd);
		return;
	}
	r->replay[r->nreplay++] =
	    (struct jreplay){.cmd = cmd, .len = len, .lane = lane, .at_ms = at_ms};
}

/* The writes a lost connection did not confirm, and the commands that were
 * to follow them, kept in order. */
static void gate_keep_lost(struct router *r, struct jgate *g, size_t *nw, size_t *nd)
{
	for (size_t i = 0; i < g->nw; i++) {
		const struct jwrite *w = &g->w[i];
		char *c;
		if (w->done)
			continue;
		if (!(c = malloc(w->len))) {
			log_warnx("out of memory: a state write lost with its connection is not "
				  "sent again (its stream entry is taken again)");
			continue;
		}
		memcpy(c, g->buf + w->off, w->len);
		replay_keep(r, c, w->len, w->lane, w->at_ms);
		(*nw)++;
	}
	for (size_t i = 0; i < g->ndefer; i++) {
		struct jdefer *d = &g->defer[i];
		if (d->cb) { /* a read: its owner is told */
			d->cb(NULL, d->arg);
			free(d->cmd);
		} else {
			replay_keep(r, d->cmd, d->len, -2, d->at_ms);
			(*nd)++;
		}
		d->cmd = NULL;
	}
}

static void gate_free(struct jgate *g)
{
	for (int p = 0; p < PRIO_N; p++)
		free(g->acks[p].ids);
	free(g->defer);
	free(g->buf);
	free(g->w);
	free(g);
}

static void gate_release(struct router *r, struct jgate *g)
{
	size_t nw = 0, nd = 0;

	if (g->errs)
		log_refused(g);
	if (g->failed || !rdb_ok(r->rdb)) {
		gate_keep_lost(r, g, &nw, &nd);
		if (nw || nd)
			log_msg(LOG_L_NOTICE,
				"redis: a connection was lost before %zu state writes were "
				"confirmed: they are sent again once Redis is back, with %zu "
				"commands that follow them; %zu stream entries stay pending",
				nw, nd, g->acks[0].n + g->acks[1].n + g->acks[2].n);
		gate_free(g);
		return;
	}
	for (size_t i = 0; i < g->ndefer; i++) {
		struct jdefer *d = &g->defer[i];
		rdb_raw(r->rdb, d->cb, d->arg, d->cmd, d->len);
		free(d->cmd);
	}
	for (int p = 0; p < PRIO_N; p++)
		if (g->acks[p].n && held_xack(r, p, &g->acks[p]) != 0)
			log_warnx("out of memory: %zu stream entries not acknowledged (taken "
				  "again later)",
				  g->acks[p].n);
	gate_free(g);
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
	size_t i; /* the write in g->w */
};

static void on_write(redisReply *rep, void *arg)
{
	struct gate_arg *a = arg;
	struct jgate *g = a->g;
	struct router *r = a->r;

	if (!rep)
		g->failed = 1;
	else
		g->w[a->i].done = 1; /* applied (or refused: not sent again) */
	if (rep && rep->type == REDIS_REPLY_ERROR && g->errs++ == 0)
		snprintf(g->first_err, sizeof(g->first_err), "%s", rep->str);
	free(a);
	if (--g->pending == 0 && g != r->jgate)
		gates_release(r);
}

/* The gate this turn's writes and held commands join (created); NULL when
 * out of memory. */
static struct jgate *open_gate(struct router *r)
{
	if (!r->jgate && (r->jgate = calloc(1, sizeof(*r->jgate))) != NULL)
		r->jgate->at_ms = mono_ms();
	return r->jgate;
}

/* Room for len more bytes in the gate's buffer and one more write: 0, or
 * -1 when out of memory. */
static int gate_room(struct jgate *g, size_t len)
{
	if (reserve((void **)&g->w, &g->capw, g->nw + 1, sizeof(*g->w), 64))
		return -1;
	return reserve((void **)&g->buf, &g->cap, g->len + len, 1, 16384);
}

/* Send the write just put at the end of g's buffer (len bytes) on
 * connection lane (its transaction's; the main one while they are off or
 * down); g keeps it until its reply. */
static void gate_send(struct router *r, struct jgate *g, size_t len, int lane, int64_t at_ms)
{
	struct rdb *db = lane >= 0 && r->jlane_up && rdb_ok(r->rdb) ? r->jlane[lane] : r->rdb;
	struct gate_arg *a = malloc(sizeof(*a));
	const char *cmd = g->buf + g->len;

	if (!a) {
		log_warnx("out of memory: a state write goes on the main connection, unwaited");
		rdb_raw(r->rdb, NULL, NULL, cmd, len);
		return;
	}
	g->w[g->nw] = (struct jwrite){.off = g->len, .len = len, .lane = lane, .at_ms = at_ms};
	*a = (struct gate_arg){.r = r, .g = g, .i = g->nw++};
	g->len += len;
	g->pending++;
	rdb_raw(db, on_write, a, cmd, len);
}

/* Queue one state write (in the protocol), kept by this turn's gate. */
static void lane_send(struct router *r, int lane, const char *cmd, size_t len, int64_t at_ms)
{
	struct jgate *g = open_gate(r);

	if (!g || gate_room(g, len) != 0) {
		log_warnx("out of memory: a state write goes on the main connection, unwaited");
		rdb_raw(r->rdb, NULL, NULL, cmd, len);
		return;
	}
	memcpy(g->buf + g->len, cmd, len);
	gate_send(r, g, len, lane, at_ms ? at_ms : g->at_ms);
}

void jlane_cmd(struct router *r, const char *txkey, int argc, const char **argv)
{
	struct jgate *g = open_gate(r);
	size_t need = rdb_format_bound(argc, argv, NULL);

	if (!g || gate_room(g, need) != 0) {
		log_warnx("out of memory: a state write goes on the main connection, unwaited");
		rdb_cmd(r->rdb, NULL, NULL, argc, argv, NULL);
		return;
	}
	/* formatted in place: the gate's copy is the one sent */
	gate_send(r, g, rdb_format_argv(g->buf + g->len, argc, argv, NULL), lane_index(r, txkey),
		  g->at_ms);
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
	lane_send(r, lane_index(r, txkey), cmd, (size_t)len, 0);
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

/* Hold a command in this turn's gate (takes cmd); -1 when out of memory. */
static int gate_defer(struct router *r, rdb_cb cb, void *arg, char *cmd, size_t len, int64_t at_ms)
{
	struct jgate *g = open_gate(r);

	if (!g)
		return -1;
	if (reserve((void **)&g->defer, &g->capdefer, g->ndefer + 1, sizeof(*g->defer), 16))
		return -1;
	g->defer[g->ndefer++] = (struct jdefer){
	    .cmd = cmd, .len = len, .cb = cb, .arg = arg, .at_ms = at_ms ? at_ms : g->at_ms};
	return 0;
}

void jlane_after(struct router *r, rdb_cb cb, void *arg, const char *fmt, ...)
{
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
	if (r->jgate || r->jgates) { /* else nothing to wait for: in order now */
		char *copy = malloc((size_t)len);
		if (copy) {
			memcpy(copy, cmd, (size_t)len);
			if (gate_defer(r, cb, arg, copy, (size_t)len, 0) == 0) {
				redisFreeCommand(cmd);
				return;
			}
			free(copy);
		}
	}
	rdb_raw(r->rdb, cb, arg, cmd, (size_t)len);
	redisFreeCommand(cmd);
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

/* The writes kept at a loss, sent again in their order (the main
 * connection is up). Not those kept longer than [queue] claim_idle: by
 * then another instance may have claimed their entries and written newer
 * state; they are dropped, and their entries taken again, as they would
 * be without this. */
static void replay(struct router *r)
{
	struct jreplay *q = r->replay;
	size_t n = r->nreplay, old = 0;
	int64_t now = mono_ms();

	if (!n)
		return;
	r->replay = NULL;
	r->nreplay = r->capreplay = 0;
	for (size_t i = 0; i < n; i++)
		old += now - q[i].at_ms > r->cfg->claim_idle_ms;
	if (old)
		log_warnx("redis: %zu writes a lost connection did not confirm are older than "
			  "claim_idle: not sent again (their stream entries are taken again)",
			  old);
	if (n > old)
		log_msg(LOG_L_NOTICE,
			"redis: sending again %zu writes a lost connection did not confirm",
			n - old);
	for (size_t i = 0; i < n; i++) {
		if (now - q[i].at_ms > r->cfg->claim_idle_ms) {
			free(q[i].cmd);
			continue;
		}
		if (q[i].lane == -2) {
			if (gate_defer(r, NULL, NULL, q[i].cmd, q[i].len, q[i].at_ms) == 0)
				continue; /* the gate owns it now */
			rdb_raw(r->rdb, NULL, NULL, q[i].cmd, q[i].len);
		} else {
			lane_send(r, q[i].lane, q[i].cmd, q[i].len, q[i].at_ms);
		}
		free(q[i].cmd);
	}
	free(q);
}

void jlane_connect(struct router *r)
{
	int up = 0;

	r->jlane_up = 0;
	for (int i = 0; i < r->njlane; i++) {
		if (rdb_ok(r->jlane[i]))
			rdb_flush(r->jlane[i]); /* the replies still to come, before the reset */
		lane_reset(r->jlane[i], "reconnecting with the main connection");
		up += rdb_connect(r->jlane[i]) == 0;
	}
	if (r->njlane && up < r->njlane)
		log_warnx("redis: %d of %d state connections up: every write goes on the main "
			  "connection until the next reconnect",
			  up, r->njlane);
	r->jlane_up = r->njlane > 0 && up == r->njlane;
	replay(r);
}

void jlane_turn(struct router *r)
{
	int lost = 0;

	for (int i = 0; i < r->njlane; i++) {
		struct rdb *db = r->jlane[i];
		if (!r->jlane_up && !rdb_outstanding(db))
			continue;
		if (rdb_ok(db))
			rdb_send(db);
		if (rdb_outstanding(db))
			rdb_poll(db);
		lost += !rdb_ok(db);
	}
	if (lost && r->jlane_up) {
		lanes_lost(r, "another state connection was lost");
		return;
	}
	if (!rdb_ok(r->rdb))
		r->jlane_up = 0; /* until jlane_connect, with the main one */
	if (r->nreplay && rdb_ok(r->rdb))
		replay(r); /* lost while the main connection stayed up */
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
			lane_reset(r->jlane[i], "lost while stopping");
}

void jlane_free(struct router *r)
{
	r->jlane_up = 0;
	for (int i = 0; i < r->njlane; i++)
		rdb_free(&r->jlane[i]); /* closed quietly; what waits fails (NULL) */
	r->njlane = 0;
	if (r->jgate) { /* never closed: its ids are still r->acks' */
		r->jgate->failed = 1;
		if (r->jgates_tail)
			r->jgates_tail->next = r->jgate;
		else
			r->jgates = r->jgate;
		r->jgates_tail = r->jgate;
		r->jgate = NULL;
	}
	gates_release(r);   /* the rest failed by lane_reset: reads get NULL */
	while (r->jgates) { /* still waiting for the main connection (it failed) */
		struct jgate *g = r->jgates;
		r->jgates = g->next;
		g->failed = 1;
		gate_release(r, g);
	}
	r->jgates_tail = NULL;
	if (r->nreplay)
		log_warnx("stopping with %zu state writes not confirmed by Redis: their stream "
			  "entries are taken again at the next start",
			  r->nreplay);
	for (size_t i = 0; i < r->nreplay; i++)
		free(r->replay[i].cmd);
	free(r->replay);
	r->replay = NULL;
	r->nreplay = r->capreplay = 0;
}
