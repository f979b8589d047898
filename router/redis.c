/* redis.c - pipelined hiredis for the router thread. */
#include "redis.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "scripts.h"
#include "text.h"

struct pending {
	rdb_cb cb;
	void *arg;
};

struct rdb {
	char *host, *sock, *password;
	char where[264];     /* "host:port" or the socket path, for messages */
	int port, select_db; /* SELECT this database when not 0 */
	redisContext *ctx;
	struct pending *q; /* FIFO: the first `sent` went out, the rest wait */
	size_t n, cap, sent;
	int in_recv, in_hook;
	void (*on_send)(void *arg);
	void *on_send_arg;
	char *cmdbuf; /* rdb_cmd's protocol buffer, kept between commands */
	size_t cmdbuf_cap;
	unsigned long errs; /* failed writes not yet reported */
	int64_t errs_logged_ms;
	char err[512];
};

struct rdb *rdb_new(const char *host, int port, const char *sock, const char *password,
		    int select_db)
{
	struct rdb *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	db->host = strdup(host);
	db->sock = sock && *sock ? strdup(sock) : NULL;
	db->password = password ? strdup(password) : NULL;
	db->port = port;
	db->select_db = select_db;
	if (!db->host || (sock && *sock && !db->sock)) {
		rdb_free(&db);
		return NULL;
	}
	if (db->sock)
		snprintf(db->where, sizeof(db->where), "%s", db->sock);
	else
		snprintf(db->where, sizeof(db->where), "%s:%d", db->host, db->port);
	return db;
}

const char *rdb_where(const struct rdb *db)
{
	return db->where;
}

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

static void drop(struct rdb *db, const char *what)
{
	if (db->ctx) {
		snprintf(db->err, sizeof(db->err), "redis %s: %s: %s", db->where, what,
			 db->ctx->errstr[0] ? db->ctx->errstr : "connection lost");
		redisFree(db->ctx);
		db->ctx = NULL;
	}
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
	free(db->cmdbuf);
	free(db);
	*dbp = NULL;
}

int rdb_ok(const struct rdb *db)
{
	return db->ctx != NULL;
}

const char *rdb_err(const struct rdb *db)
{
	return db->err;
}

int rdb_connect(struct rdb *db)
{
	struct timeval tv = {5, 0};
	redisReply *rep;

	if (db->ctx)
		return 0;
	if (db->sock) /* the same machine: no TCP/IP stack on either side */
		db->ctx = redisConnectUnixWithTimeout(db->sock, tv);
	else
		db->ctx = redisConnectWithTimeout(db->host, db->port, tv);
	if (!db->ctx || db->ctx->err) {
		snprintf(db->err, sizeof(db->err), "redis %s: %s", db->where,
			 db->ctx ? db->ctx->errstr : "out of memory");
		if (db->ctx)
			redisFree(db->ctx);
		db->ctx = NULL;
		return -1;
	}
	redisSetTimeout(db->ctx, tv);
	if (!db->sock) { /* TCP keepalive; it would fail (and mark the context) on a Unix socket */
		redisEnableKeepAlive(db->ctx);
	} else {
		/* A Unix socket holds only the sender's buffer (208 KiB by
		 * default), less than one turn's pipeline: ask for 4 MiB, as
		 * TCP's autotuning gives on loopback (the kernel caps it at
		 * net.core.wmem_max). Measured: tests/bench/README.md. */
		int sz = 4 << 20;
		if (setsockopt(db->ctx->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) != 0)
			log_warn("redis %s: SO_SNDBUF", db->where);
	}
	if (db->password) {
		rep = redisCommand(db->ctx, "AUTH %s", db->password);
		if (!rep || reply_is_error(rep)) {
			snprintf(db->err, sizeof(db->err), "redis %s: AUTH failed", db->where);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	if (db->select_db) {
		rep = redisCommand(db->ctx, "SELECT %d", db->select_db);
		if (!rep || reply_is_error(rep)) {
			snprintf(db->err, sizeof(db->err), "redis: SELECT %d failed",
				 db->select_db);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	rep = redisCommand(db->ctx, "FUNCTION LOAD REPLACE %s", herald_lua_library);
	if (!rep || reply_is_error(rep)) {
		snprintf(db->err, sizeof(db->err), "redis: FUNCTION LOAD failed: %s",
			 rep ? rep->str : db->ctx->errstr);
		freeReplyObject(rep);
		goto fail;
	}
	freeReplyObject(rep);
	return 0;
fail:
	redisFree(db->ctx);
	db->ctx = NULL;
	return -1;
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

/* The command in the Redis protocol, in db->cmdbuf (reused: hiredis's own
 * formatting allocates a fresh buffer per command, big ones for records).
 * Returns its length, or 0 when out of memory. */
static size_t format_argv(struct rdb *db, int argc, const char **argv, const size_t *lens)
{
	size_t need = 24, len;
	char *p;

	for (int i = 0; i < argc; i++)
		need += 24 + 2 + (lens ? lens[i] : strlen(argv[i]));
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
	p = put_len(db->cmdbuf, '*', (size_t)argc);
	for (int i = 0; i < argc; i++) {
		len = lens ? lens[i] : strlen(argv[i]);
		p = put_len(p, '$', len);
		memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	return (size_t)(p - db->cmdbuf);
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

int rdb_send(struct rdb *db)
{
	int done = 0;

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
	while (!done) {
		if (redisBufferWrite(db->ctx, &done) != REDIS_OK) {
			drop(db, "write");
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

int rdb_recv(struct rdb *db)
{
	size_t i, sent = db->sent;
	int got = 0;

	if (!sent)
		return 0;
	db->in_recv = 1;
	/* Callbacks may queue further commands: they land after db->sent and
	 * go out with the next rdb_send. */
	for (i = 0; i < sent; i++) {
		redisReply *rep = NULL;
		struct pending p;
		if (!db->ctx || redisGetReply(db->ctx, (void **)&rep) != REDIS_OK) {
			drop(db, "pipeline");
			break;
		}
		p = db->q[i];
		if (p.cb)
			p.cb(rep, p.arg);
		else
			unwaited(db, rep);
		freeReplyObject(rep);
		got++;
	}
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
			drop(db, "read");
			break;
		}
		db->in_recv = 1;
		/* Callbacks may queue further commands (after db->sent) and grow
		 * db->q: copy each entry before its call. */
		while (done < db->sent) {
			redisReply *rep = NULL;
			struct pending p;
			if (redisGetReplyFromReader(db->ctx, (void **)&rep) != REDIS_OK) {
				drop(db, "protocol");
				break;
			}
			if (!rep)
				break;
			p = db->q[done++];
			if (p.cb)
				p.cb(rep, p.arg);
			else
				unwaited(db, rep);
			freeReplyObject(rep);
		}
		db->in_recv = 0;
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

redisReply *rdb_call(struct rdb *db, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	if (db->in_recv) {
		log_msg(LOG_L_ERR, "internal: synchronous Redis call from a pipeline callback");
		return NULL;
	}
	/* Queued pipeline replies come first on the wire: collect them. */
	rdb_flush(db);
	if (!db->ctx)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(db->ctx, fmt, ap);
	va_end(ap);
	if (!rep)
		drop(db, "command");
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
