/* redis.c - pipelined hiredis for the router thread (the connection itself:
 * redisconn.c). */
#include "redis_int.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "text.h"

static void fail_pending(struct rdb *db)
{
	/* The callbacks may queue more commands; take the list first. */
	struct pending *q = db->q;
	size_t n = db->n;

	db->q = NULL;
	db->n = db->cap = db->sent = 0;
	for (size_t i = 0; i < n; i++)
		if (q[i].cb)
			q[i].cb(NULL, q[i].arg);
	free(q);
}

void rdb_free(struct rdb **dbp)
{
	struct rdb *db = *dbp;

	if (!db)
		return;
	fail_pending(db);
	if (db->ctx)
		redisFree(db->ctx);
	free(db->host);
	free(db->sock);
	free(db->password);
	free(db->master_name);
	free(db->sentinel_password);
	free(db->cmdbuf);
	free(db->pcmd);
	free(db->pipebuf);
	free(db->pipeout);
	free(db);
	*dbp = NULL;
}

static int push(struct rdb *db, rdb_cb cb, void *arg)
{
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap * 2 : 256;
		struct pending *q = realloc(db->q, cap * sizeof(*q));
		if (!q)
			return -1;
		db->q = q;
		db->cap = cap;
	}
	db->q[db->n].cb = cb;
	db->q[db->n].arg = arg;
	db->q[db->n].batch = 0;
	db->n++;
	return 0;
}

/* "<c><n>\r\n" at p; returns the end. */
static char *put_len(char *p, char c, size_t n)
{
	char d[24];
	int k = 0;

	*p++ = c;
	do
		d[k++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	while (k)
		*p++ = d[--k];
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

size_t rdb_format_bound(int argc, const char **argv, const size_t *lens)
{
	size_t need = 24;

	for (int i = 0; i < argc; i++)
		need += 24 + 2 + (lens ? lens[i] : strlen(argv[i]));
	return need;
}

size_t rdb_format_argv(char *out, int argc, const char **argv, const size_t *lens)
{
	char *p = put_len(out, '*', (size_t)argc);

	for (int i = 0; i < argc; i++) {
		size_t len = lens ? lens[i] : strlen(argv[i]);
		p = put_len(p, '$', len);
		memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	return (size_t)(p - out);
}

/* The command in the Redis protocol, in db->cmdbuf (reused: hiredis's own
 * formatting allocates a fresh buffer per command, big ones for records).
 * Returns its length, or 0 when out of memory. */
static size_t format_argv(struct rdb *db, int argc, const char **argv, const size_t *lens)
{
	size_t need = rdb_format_bound(argc, argv, lens);

	if (need > db->cmdbuf_cap) {
		size_t cap = db->cmdbuf_cap ? db->cmdbuf_cap : 4096;
		char *b;
		while (cap < need)
			cap *= 2;
		if (!(b = realloc(db->cmdbuf, cap)))
			return 0;
		db->cmdbuf = b;
		db->cmdbuf_cap = cap;
	}
	return rdb_format_argv(db->cmdbuf, argc, argv, lens);
}

void rdb_cmd(struct rdb *db, rdb_cb cb, void *arg, int argc, const char **argv, const size_t *lens)
{
	size_t len = 0;

	if (!db->ctx || push(db, cb, arg) != 0 || (len = format_argv(db, argc, argv, lens)) == 0 ||
	    redisAppendFormattedCommand(db->ctx, db->cmdbuf, len) != REDIS_OK) {
		if (db->ctx && db->n && db->q[db->n - 1].cb == cb && db->q[db->n - 1].arg == arg)
			db->n--;
		if (cb)
			cb(NULL, arg);
	}
}

void rdb_raw(struct rdb *db, rdb_cb cb, void *arg, const char *cmd, size_t len)
{
	if (!db->ctx || push(db, cb, arg) != 0) {
		if (cb)
			cb(NULL, arg);
		return;
	}
	if (redisAppendFormattedCommand(db->ctx, cmd, len) != REDIS_OK) {
		db->n--;
		if (cb)
			cb(NULL, arg);
	}
}

void rdb_cmdf(struct rdb *db, rdb_cb cb, void *arg, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!db->ctx || push(db, cb, arg) != 0) {
		if (cb)
			cb(NULL, arg);
		return;
	}
	va_start(ap, fmt);
	rc = redisvAppendCommand(db->ctx, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		db->n--;
		if (cb)
			cb(NULL, arg);
	}
}

int rdb_fd(const struct rdb *db)
{
	return db->ctx ? db->ctx->fd : -1;
}

size_t rdb_outstanding(const struct rdb *db)
{
	return db->sent;
}

void rdb_on_send(struct rdb *db, void (*fn)(void *arg), void *arg)
{
	db->on_send = fn;
	db->on_send_arg = arg;
}

void rdb_on_call(struct rdb *db, void (*fn)(void *arg), void *arg)
{
	db->on_call = fn;
	db->on_call_arg = arg;
}

int rdb_send(struct rdb *db)
{
	int done = 0, pipe = db->pipe_now;

	db->pipe_now = 0;
	if (db->on_send && !db->in_hook) {
		db->in_hook = 1;
		db->on_send(db->on_send_arg);
		db->in_hook = 0;
	}
	if (!db->ctx) {
		fail_pending(db);
		return -1;
	}
	if (db->n == db->sent)
		return 0;
	if (pipe && db->pipe_bytes && sdslen(db->ctx->obuf) >= db->pipe_bytes)
		rdb_pipe_pack(db);
	if (!db->aux[0])
		metrics_redis_send(db->n - db->sent, sdslen(db->ctx->obuf), db->sent == 0);
	while (!done) {
		if (redisBufferWrite(db->ctx, &done) != REDIS_OK) {
			rdb_drop(db, "write", NULL);
			fail_pending(db);
			return -1;
		}
	}
	db->sent = db->n;
	return 0;
}

/* A reply nobody waits for (a state write): an error there would
 * otherwise go unseen (OOM, a key of the wrong type), so it is logged, at
 * most once a second with the count of the others. */
static void unwaited(struct rdb *db, const redisReply *rep)
{
	int64_t now;

	if (!rep || rep->type != REDIS_REPLY_ERROR)
		return;
	db->errs++;
	now = mono_ms();
	if (now - db->errs_logged_ms < 1000)
		return;
	log_warnx("redis: a write failed: %.200s%s", rep->str,
		  db->errs > 1 ? " (and others since the last report)" : "");
	db->errs_logged_ms = now;
	db->errs = 0;
}

/* One reply to its callback. A reply that says the server no longer takes
 * writes (a failover made it a replica) is remembered: the connection is
 * dropped once the replies in hand are given out (check_demoted), and the
 * next connect asks the sentinels again. */
static void deliver(struct rdb *db, const struct pending *p, redisReply *rep)
{
	if (rdb_reply_demoted(rep) && !db->demoted[0]) {
		snprintf(db->demoted, sizeof(db->demoted), "%.150s", rep->str);
		db->demoted_what = "the server can no longer take writes";
	}
	if (p->cb)
		p->cb(rep, p->arg);
	else
		unwaited(db, rep);
}

static void check_demoted(struct rdb *db)
{
	if (db->demoted[0]) {
		rdb_drop(db, db->demoted_what, db->demoted);
		db->demoted[0] = '\0';
	}
}

/* The reply to q[i], given out: its own, or a herald_pipe batch's
 * (redispipe.c), whose array holds a reply for each command of the batch
 * in order. A call rejected whole (READONLY, OOM, BUSY...) gives its error
 * to every command of the batch; "function not found" (the library gone:
 * FUNCTION FLUSH, a server restarted without it) drops the connection,
 * and the next connect loads it again. Returns the entries served. */
static size_t take(struct rdb *db, size_t i, redisReply *rep)
{
	struct pending p = db->q[i];
	size_t k = p.batch;
	int whole;

	if (k < 2) {
		deliver(db, &p, rep);
		return 1;
	}
	whole = rep->type != REDIS_REPLY_ARRAY || rep->elements != k;
	if (whole && !db->demoted[0] &&
	    (rep->type != REDIS_REPLY_ERROR || !strncmp(rep->str, "ERR Function not found", 22))) {
		snprintf(db->demoted, sizeof(db->demoted), "%.150s",
			 rep->type == REDIS_REPLY_ERROR ? rep->str : "not one reply per command");
		db->demoted_what = "herald_pipe";
	}
	for (size_t j = 0; j < k; j++) {
		p = db->q[i + j]; /* callbacks may have grown db->q */
		if (whole && rep->type != REDIS_REPLY_ERROR) {
			if (p.cb)
				p.cb(NULL, p.arg);
		} else {
			deliver(db, &p, whole ? rep : rep->element[j]);
		}
	}
	return k;
}

int rdb_recv(struct rdb *db)
{
	size_t i, sent = db->sent;
	int got = 0;

	if (!sent)
		return 0;
	db->in_recv = 1;
	/* Callbacks may queue further commands: they land after db->sent and
	 * go out with the next rdb_send. */
	for (i = 0; i < sent;) {
		redisReply *rep = NULL;
		size_t k;
		if (!db->ctx || redisGetReply(db->ctx, (void **)&rep) != REDIS_OK) {
			rdb_drop(db, "pipeline", NULL);
			break;
		}
		k = take(db, i, rep);
		freeReplyObject(rep);
		i += k;
		got += (int)k;
	}
	check_demoted(db);
	for (; i < sent; i++) {
		struct pending p = db->q[i];
		if (p.cb)
			p.cb(NULL, p.arg);
	}
	memmove(db->q, db->q + sent, (db->n - sent) * sizeof(*db->q));
	db->n -= sent;
	db->sent = 0;
	db->in_recv = 0;
	return db->ctx ? got : -1;
}

int rdb_poll(struct rdb *db)
{
	int total = 0;

	/* a few reads at most (16 KiB each), then back to the loop */
	for (int round = 0; round < 16 && db->sent && db->ctx; round++) {
		struct pollfd pfd = {.fd = db->ctx->fd, .events = POLLIN};
		size_t done = 0;
		int rc = poll(&pfd, 1, 0);

		if (rc < 0 && errno == EINTR)
			break;
		if (rc == 0)
			break;
		if (rc < 0 || redisBufferRead(db->ctx) != REDIS_OK) {
			rdb_drop(db, "read", NULL);
			break;
		}
		db->in_recv = 1;
		/* Callbacks may queue further commands (after db->sent) and grow
		 * db->q: copy each entry before its call. */
		while (done < db->sent) {
			redisReply *rep = NULL;
			if (redisGetReplyFromReader(db->ctx, (void **)&rep) != REDIS_OK) {
				rdb_drop(db, "protocol", NULL);
				break;
			}
			if (!rep)
				break;
			done += take(db, done, rep);
			freeReplyObject(rep);
		}
		db->in_recv = 0;
		check_demoted(db);
		memmove(db->q, db->q + done, (db->n - done) * sizeof(*db->q));
		db->n -= done;
		db->sent -= done;
		total += (int)done;
	}
	if (!db->ctx && db->sent)
		return rdb_recv(db) < 0 ? -1 : total; /* fails what is left */
	return total;
}

int rdb_flush(struct rdb *db)
{
	int total = 0, n;

	/* Until nothing is left: replies may queue follow-up commands. */
	do {
		if (rdb_send(db) != 0)
			return -1;
		n = rdb_recv(db);
		if (n < 0)
			return -1;
		total += n;
	} while (db->n > 0);
	return total;
}

/* Redis reads a client's input PROTO_IOBUF_LEN (16 KiB) at a time, one
 * read per client per event-loop iteration, and under appendfsync always
 * commits each iteration's writes with one fsync. */
#define GROUP_BYTES 16384

void rdb_set_pipe(struct rdb *db, size_t bytes)
{
	db->pipe_bytes = bytes;
}

int rdb_send_grouped(struct rdb *db)
{
	if (db->group && db->ctx && db->sent && db->n > db->sent &&
	    sdslen(db->ctx->obuf) < GROUP_BYTES) {
		metrics_redis_held();
		return 0;
	}
	db->pipe_now = db->group;
	return rdb_send(db) == 0 ? 1 : -1;
}

static void on_appendfsync(redisReply *rep, void *arg)
{
	struct rdb *db = arg;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_STRING)
		db->group = strcmp(rep->element[1]->str, "always") == 0;
}

void rdb_check_group(struct rdb *db)
{
	rdb_cmdf(db, on_appendfsync, db, "CONFIG GET appendfsync");
}

redisReply *rdb_call(struct rdb *db, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	if (db->in_recv) {
		log_msg(LOG_L_ERR, "internal: synchronous Redis call from a pipeline callback");
		return NULL;
	}
	if (db->on_call)
		db->on_call(db->on_call_arg);
	/* Queued pipeline replies come first on the wire: collect them. */
	rdb_flush(db);
	if (!db->ctx)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(db->ctx, fmt, ap);
	va_end(ap);
	if (!rep)
		rdb_drop(db, "command", NULL);
	else if (rdb_reply_demoted(rep))
		rdb_drop(db, "the server can no longer take writes", rep->str);
	return rep;
}

int reply_is_error(const redisReply *rep)
{
	return !rep || rep->type == REDIS_REPLY_ERROR;
}

json_t *reply_to_object(const redisReply *rep)
{
	json_t *o = json_object();

	if (!o || !rep)
		return o;
	if (rep->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i + 1 < rep->elements; i += 2) {
			const redisReply *k = rep->element[i], *v = rep->element[i + 1];
			if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
				continue;
			json_t *s = json_stringn(v->str, v->len);
			if (!s) /* not UTF-8: leave the field out */
				continue;
			json_object_setn_new(o, k->str, k->len, s);
		}
	}
	return o;
}
