/*
 * ctl_redis.c - heraldctl's Redis connection (see ctl_redis.h). Unlike
 * heraldd's router/redis.c it loads no function library and keeps no
 * pipeline state: the tools are short-lived and mostly read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis.h"
#include "msgrec.h"
#include "num.h"
#include "text.h"

/* Bounded waits: an operator tool must not hang on a wedged server. */
#define CTL_CONNECT_TIMEOUT_S 5
#define CTL_IO_TIMEOUT_S 30

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char why[8];

	return num_parse_long(s, lo, hi, out, why, sizeof(why));
}

/* NULL (and reported) when the reply is missing or an error. */
static redisReply *checked(redisContext *rc, const char *cmd, redisReply *r)
{
	if (!r) {
		fprintf(stderr, "heraldctl %s: redis: %s\n", cmd,
			rc->err ? rc->errstr : "no reply");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "heraldctl %s: redis: %s\n", cmd, r->str ? r->str : "error");
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

redisContext *ctl_redis_open(const struct ctl *c, const char *cmd)
{
	const char *host = conf_get_def(c->conf, "redis", "host", "127.0.0.1");
	const char *port_s = conf_get_def(c->conf, "redis", "port", "6379");
	const char *sock = conf_get(c->conf, "redis", "socket");
	const char *password = conf_get(c->conf, "redis", "password");
	const char *db_s = conf_get_def(c->conf, "redis", "db", "0");
	struct timeval ct = {CTL_CONNECT_TIMEOUT_S, 0}, io = {CTL_IO_TIMEOUT_S, 0};
	redisContext *rc;
	redisReply *r;
	long port, db;

	if (parse_int(port_s, 1, 65535, &port) != 0) {
		fprintf(stderr, "heraldctl %s: %s: [redis] port '%s' is not a port number\n", cmd,
			c->conf_path, port_s);
		return NULL;
	}
	if (parse_int(db_s, 0, 100000, &db) != 0) {
		fprintf(stderr, "heraldctl %s: %s: [redis] db '%s' is not a database number\n", cmd,
			c->conf_path, db_s);
		return NULL;
	}
	if (sock && *sock)
		rc = redisConnectUnixWithTimeout(sock, ct);
	else
		rc = redisConnectWithTimeout(host, (int)port, ct);
	if (!rc || rc->err) {
		if (sock && *sock)
			fprintf(stderr, "heraldctl %s: cannot reach redis at %s: %s\n", cmd, sock,
				rc ? rc->errstr : "out of memory");
		else
			fprintf(stderr, "heraldctl %s: cannot reach redis at %s:%ld: %s\n", cmd,
				host, port, rc ? rc->errstr : "out of memory");
		if (rc)
			redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, io);
	if (password && *password) {
		r = redisCommand(rc, "AUTH %s", password);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			/* The server's words, never the password. */
			fprintf(stderr, "heraldctl %s: redis %s:%ld: AUTH failed: %s\n", cmd, host,
				port, r && r->str ? r->str : rc->errstr);
			goto fail;
		}
		freeReplyObject(r);
	}
	if (db) {
		r = redisCommand(rc, "SELECT %ld", db);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "heraldctl %s: redis %s:%ld: SELECT %ld failed: %s\n", cmd,
				host, port, db, r && r->str ? r->str : rc->errstr);
			goto fail;
		}
		freeReplyObject(r);
	}
	return rc;
fail:
	freeReplyObject(r);
	redisFree(rc);
	return NULL;
}

void ctl_redis_close(redisContext **rc)
{
	if (rc && *rc) {
		redisFree(*rc);
		*rc = NULL;
	}
}

redisReply *ctl_redis_cmd(redisContext *rc, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	return checked(rc, cmd, r);
}

redisReply *ctl_redis_cmdv(redisContext *rc, const char *cmd, int argc, const char **argv,
			   const size_t *lens)
{
	return checked(rc, cmd, redisCommandArgv(rc, argc, argv, lens));
}

redisReply *ctl_redis_reply(redisContext *rc, const char *cmd)
{
	void *r = NULL;

	if (redisGetReply(rc, &r) != REDIS_OK)
		r = NULL;
	return checked(rc, cmd, r);
}

json_t *ctl_reply_object(const redisReply *r)
{
	json_t *o = json_object();

	if (!o || !r || r->type != REDIS_REPLY_ARRAY)
		return o;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		json_t *s;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		s = json_stringn(v->str, v->len);
		if (s)
			json_object_setn_new(o, k->str, k->len, s);
	}
	return o;
}

static void set_str(json_t *h, const char *k, const char *v)
{
	json_object_set_new(h, k, json_string(v));
}

static void set_num(json_t *h, const char *k, long long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", v);
	set_str(h, k, buf);
}

void ctl_msg_unpack(json_t *h)
{
	struct msgrec_meta meta;
	struct msgrec_at at;

	if (msgrec_meta_parse(json_string_value(json_object_get(h, "meta")), &meta) == 0) {
		set_num(h, "accepted_ms", meta.accepted_ms);
		set_str(h, "service", meta.service);
		set_str(h, "citizen", meta.citizen);
		json_object_del(h, "meta");
	}
	if (msgrec_at_parse(json_string_value(json_object_get(h, "at")), &at) == 0) {
		if (at.channel[0])
			set_str(h, "channel", at.channel);
		if (at.plan[0])
			set_str(h, "plan", at.plan);
		else
			json_object_del(h, "plan");
		set_num(h, "attempt", at.attempt);
		set_num(h, "plan_idx", at.plan_idx);
		set_str(h, "to", at.to);
		json_object_del(h, "at");
	}
}

json_t *ctl_msg_fields(const redisReply *r, const char *const *names)
{
	json_t *o = json_object();

	if (!o || !r || r->type != REDIS_REPLY_ARRAY)
		return o;
	for (size_t i = 0; i < r->elements && names[i]; i++) {
		const redisReply *v = r->element[i];
		json_t *s;

		if (v->type != REDIS_REPLY_STRING)
			continue;
		s = json_stringn(v->str, v->len);
		if (s)
			json_object_set_new(o, names[i], s);
	}
	ctl_msg_unpack(o);
	return o;
}

const char *ctl_field(const json_t *h, const char *k)
{
	const char *v = json_string_value(json_object_get(h, k));
	return v && *v ? v : "-";
}

long long ctl_reply_ll(const redisReply *r, long long def)
{
	char *end;
	long long v;

	if (!r)
		return def;
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	if (r->type != REDIS_REPLY_STRING || !r->str)
		return def;
	errno = 0;
	v = strtoll(r->str, &end, 10);
	return errno || end == r->str || *end ? def : v;
}

void ctl_format_ms(const char *ms_text, char *out, size_t outlen)
{
	char *end;
	long long v;

	if (!ms_text || !*ms_text) {
		snprintf(out, outlen, "-");
		return;
	}
	errno = 0;
	v = strtoll(ms_text, &end, 10);
	if (errno || *end || v <= 0) {
		snprintf(out, outlen, "-");
		return;
	}
	rfc3339_format((int64_t)v, out, outlen);
}

void ctl_put_clean(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}
