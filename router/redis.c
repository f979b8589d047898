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
	char where[264]; /* "host:port" or the socket path, for messages */
	int port, db;
	redisContext *c;
	struct pending *q; /* FIFO: the first `sent` went out, the rest wait */
	size_t n, cap, sent;
	int in_recv, in_hook;
	void (*on_send)(void *arg);
	void *on_send_arg;
	char *fb; /* rdb_cmd's protocol buffer, kept between commands */
	size_t fcap;
	unsigned long errs; /* failed writes not yet reported */
	int64_t errs_logged_ms;
	char err[512];
};

struct rdb *rdb_new(const char *host, int port, const char *sock, const char *password, int db)
{
	struct rdb *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->host = strdup(host);
	r->sock = sock && *sock ? strdup(sock) : NULL;
	r->password = password ? strdup(password) : NULL;
	r->port = port;
	r->db = db;
	if (!r->host || (sock && *sock && !r->sock)) {
		rdb_free(&r);
		return NULL;
	}
	if (r->sock)
		snprintf(r->where, sizeof(r->where), "%s", r->sock);
	else
		snprintf(r->where, sizeof(r->where), "%s:%d", r->host, r->port);
	return r;
}

const char *rdb_where(const struct rdb *r)
{
	return r->where;
}

static void fail_pending(struct rdb *r)
{
	/* The callbacks may queue more commands; take the list first. */
	struct pending *q = r->q;
	size_t n = r->n;

	r->q = NULL;
	r->n = r->cap = r->sent = 0;
	for (size_t i = 0; i < n; i++)
		if (q[i].cb)
			q[i].cb(NULL, q[i].arg);
	free(q);
}

static void drop(struct rdb *r, const char *what)
{
	if (r->c) {
		snprintf(r->err, sizeof(r->err), "redis %s: %s: %s", r->where, what,
			 r->c->errstr[0] ? r->c->errstr : "connection lost");
		redisFree(r->c);
		r->c = NULL;
	}
}

void rdb_free(struct rdb **rp)
{
	struct rdb *r = *rp;

	if (!r)
		return;
	fail_pending(r);
	if (r->c)
		redisFree(r->c);
	free(r->host);
	free(r->sock);
	free(r->password);
	free(r->fb);
	free(r);
	*rp = NULL;
}

int rdb_ok(const struct rdb *r)
{
	return r->c != NULL;
}

const char *rdb_err(const struct rdb *r)
{
	return r->err;
}

int rdb_connect(struct rdb *r)
{
	struct timeval tv = {5, 0};
	redisReply *rep;

	if (r->c)
		return 0;
	if (r->sock) /* the same machine: no TCP/IP stack on either side */
		r->c = redisConnectUnixWithTimeout(r->sock, tv);
	else
		r->c = redisConnectWithTimeout(r->host, r->port, tv);
	if (!r->c || r->c->err) {
		snprintf(r->err, sizeof(r->err), "redis %s: %s", r->where,
			 r->c ? r->c->errstr : "out of memory");
		if (r->c)
			redisFree(r->c);
		r->c = NULL;
		return -1;
	}
	redisSetTimeout(r->c, tv);
	if (!r->sock) { /* TCP keepalive; it would fail (and mark the context) on a Unix socket */
		redisEnableKeepAlive(r->c);
	} else {
		/* A Unix socket holds only the sender's buffer (208 KiB by
		 * default): one turn's pipeline is larger, and the blocking
		 * write then waits for Redis to read it, so the two stop
		 * working side by side (the core bench fell from 19,000 to
		 * 14,200 events/s). Ask for 4 MiB, as TCP's autotuning gives on
		 * loopback; the kernel caps it at net.core.wmem_max, and less
		 * is slower, not wrong. */
		int sz = 4 << 20;
		if (setsockopt(r->c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) != 0)
			log_warn("redis %s: SO_SNDBUF", r->where);
	}
	if (r->password) {
		rep = redisCommand(r->c, "AUTH %s", r->password);
		if (!rep || reply_is_error(rep)) {
			snprintf(r->err, sizeof(r->err), "redis %s: AUTH failed", r->where);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	if (r->db) {
		rep = redisCommand(r->c, "SELECT %d", r->db);
		if (!rep || reply_is_error(rep)) {
			snprintf(r->err, sizeof(r->err), "redis: SELECT %d failed", r->db);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	rep = redisCommand(r->c, "FUNCTION LOAD REPLACE %s", herald_lua_library);
	if (!rep || reply_is_error(rep)) {
		snprintf(r->err, sizeof(r->err), "redis: FUNCTION LOAD failed: %s",
			 rep ? rep->str : r->c->errstr);
		freeReplyObject(rep);
		goto fail;
	}
	freeReplyObject(rep);
	return 0;
fail:
	redisFree(r->c);
	r->c = NULL;
	return -1;
}

static int push(struct rdb *r, rdb_cb cb, void *arg)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct pending *q = realloc(r->q, cap * sizeof(*q));
		if (!q)
			return -1;
		r->q = q;
		r->cap = cap;
	}
	r->q[r->n].cb = cb;
	r->q[r->n].arg = arg;
	r->n++;
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

/* The command in the Redis protocol, in r->fb (reused: hiredis's own
 * formatting allocates a fresh buffer per command, big ones for records).
 * Returns its length, or 0 when out of memory. */
static size_t format_argv(struct rdb *r, int argc, const char **argv, const size_t *lens)
{
	size_t need = 24, len;
	char *p;

	for (int i = 0; i < argc; i++)
		need += 24 + 2 + (lens ? lens[i] : strlen(argv[i]));
	if (need > r->fcap) {
		size_t cap = r->fcap ? r->fcap : 4096;
		char *b;
		while (cap < need)
			cap *= 2;
		if (!(b = realloc(r->fb, cap)))
			return 0;
		r->fb = b;
		r->fcap = cap;
	}
	p = put_len(r->fb, '*', (size_t)argc);
	for (int i = 0; i < argc; i++) {
		len = lens ? lens[i] : strlen(argv[i]);
		p = put_len(p, '$', len);
		memcpy(p, argv[i], len);
		p += len;
		*p++ = '\r';
		*p++ = '\n';
	}
	return (size_t)(p - r->fb);
}

void rdb_cmd(struct rdb *r, rdb_cb cb, void *arg, int argc, const char **argv, const size_t *lens)
{
	size_t len = 0;

	if (!r->c || push(r, cb, arg) != 0 || (len = format_argv(r, argc, argv, lens)) == 0 ||
	    redisAppendFormattedCommand(r->c, r->fb, len) != REDIS_OK) {
		if (r->c && r->n && r->q[r->n - 1].cb == cb && r->q[r->n - 1].arg == arg)
			r->n--;
		if (cb)
			cb(NULL, arg);
	}
}

void rdb_cmdf(struct rdb *r, rdb_cb cb, void *arg, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!r->c || push(r, cb, arg) != 0) {
		if (cb)
			cb(NULL, arg);
		return;
	}
	va_start(ap, fmt);
	rc = redisvAppendCommand(r->c, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		r->n--;
		if (cb)
			cb(NULL, arg);
	}
}

int rdb_fd(const struct rdb *r)
{
	return r->c ? r->c->fd : -1;
}

size_t rdb_outstanding(const struct rdb *r)
{
	return r->sent;
}

void rdb_on_send(struct rdb *r, void (*fn)(void *arg), void *arg)
{
	r->on_send = fn;
	r->on_send_arg = arg;
}

int rdb_send(struct rdb *r)
{
	int done = 0;

	if (r->on_send && !r->in_hook) {
		r->in_hook = 1;
		r->on_send(r->on_send_arg);
		r->in_hook = 0;
	}
	if (!r->c) {
		fail_pending(r);
		return -1;
	}
	if (r->n == r->sent)
		return 0;
	while (!done) {
		if (redisBufferWrite(r->c, &done) != REDIS_OK) {
			drop(r, "write");
			fail_pending(r);
			return -1;
		}
	}
	r->sent = r->n;
	return 0;
}

/* A reply nobody waits for (a state write): an error there would
 * otherwise go unseen (OOM, a key of the wrong type), so it is logged, at
 * most once a second with the count of the others. */
static void unwaited(struct rdb *r, const redisReply *rep)
{
	int64_t now;

	if (!rep || rep->type != REDIS_REPLY_ERROR)
		return;
	r->errs++;
	now = mono_ms();
	if (now - r->errs_logged_ms < 1000)
		return;
	log_warnx("redis: a write failed: %.200s%s", rep->str,
		  r->errs > 1 ? " (and others since the last report)" : "");
	r->errs_logged_ms = now;
	r->errs = 0;
}

int rdb_recv(struct rdb *r)
{
	size_t i, sent = r->sent;
	int got = 0;

	if (!sent)
		return 0;
	r->in_recv = 1;
	/* Callbacks may queue further commands: they land after r->sent and
	 * go out with the next rdb_send. */
	for (i = 0; i < sent; i++) {
		redisReply *rep = NULL;
		struct pending p;
		if (!r->c || redisGetReply(r->c, (void **)&rep) != REDIS_OK) {
			drop(r, "pipeline");
			break;
		}
		p = r->q[i];
		if (p.cb)
			p.cb(rep, p.arg);
		else
			unwaited(r, rep);
		freeReplyObject(rep);
		got++;
	}
	for (; i < sent; i++) {
		struct pending p = r->q[i];
		if (p.cb)
			p.cb(NULL, p.arg);
	}
	memmove(r->q, r->q + sent, (r->n - sent) * sizeof(*r->q));
	r->n -= sent;
	r->sent = 0;
	r->in_recv = 0;
	return r->c ? got : -1;
}

int rdb_poll(struct rdb *r)
{
	int total = 0;

	/* a few reads at most (16 KiB each), then back to the loop */
	for (int round = 0; round < 16 && r->sent && r->c; round++) {
		struct pollfd pfd = {.fd = r->c->fd, .events = POLLIN};
		size_t done = 0;
		int rc = poll(&pfd, 1, 0);

		if (rc < 0 && errno == EINTR)
			break;
		if (rc == 0)
			break;
		if (rc < 0 || redisBufferRead(r->c) != REDIS_OK) {
			drop(r, "read");
			break;
		}
		r->in_recv = 1;
		/* Callbacks may queue further commands (after r->sent) and grow
		 * r->q: copy each entry before its call. */
		while (done < r->sent) {
			redisReply *rep = NULL;
			struct pending p;
			if (redisGetReplyFromReader(r->c, (void **)&rep) != REDIS_OK) {
				drop(r, "protocol");
				break;
			}
			if (!rep)
				break;
			p = r->q[done++];
			if (p.cb)
				p.cb(rep, p.arg);
			else
				unwaited(r, rep);
			freeReplyObject(rep);
		}
		r->in_recv = 0;
		memmove(r->q, r->q + done, (r->n - done) * sizeof(*r->q));
		r->n -= done;
		r->sent -= done;
		total += (int)done;
	}
	if (!r->c && r->sent)
		return rdb_recv(r) < 0 ? -1 : total; /* fails what is left */
	return total;
}

int rdb_flush(struct rdb *r)
{
	int total = 0, n;

	/* Until nothing is left: replies may queue follow-up commands. */
	do {
		if (rdb_send(r) != 0)
			return -1;
		n = rdb_recv(r);
		if (n < 0)
			return -1;
		total += n;
	} while (r->n > 0);
	return total;
}

redisReply *rdb_call(struct rdb *r, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	if (r->in_recv) {
		log_msg(LOG_L_ERR, "internal: synchronous Redis call from a pipeline callback");
		return NULL;
	}
	/* Queued pipeline replies come first on the wire: collect them. */
	rdb_flush(r);
	if (!r->c)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	if (!rep)
		drop(r, "command");
	return rep;
}

int reply_is_error(const redisReply *r)
{
	return !r || r->type == REDIS_REPLY_ERROR;
}

json_t *reply_to_object(const redisReply *r)
{
	json_t *o = json_object();

	if (!o || !r)
		return o;
	if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i + 1 < r->elements; i += 2) {
			const redisReply *k = r->element[i], *v = r->element[i + 1];
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
