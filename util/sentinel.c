/* sentinel.c - find and reach a Redis master, through Sentinel or not (see
 * sentinel.h). */
#include "sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "num.h"

static struct timeval tv_ms(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* One "host:port" or "[v6]:port" of len bytes at p into s. 0 or -1 (err). */
static int parse_one(const char *p, size_t len, struct sentinels *s, char *err, size_t errlen)
{
	char item[300], *colon, *host = item;
	char why[128];

	if (len == 0 || len >= sizeof(item)) {
		snprintf(err, errlen, "expected host:port,host:port,...");
		return -1;
	}
	memcpy(item, p, len);
	item[len] = '\0';
	colon = strrchr(item, ':');
	if (!colon || colon == item) {
		snprintf(err, errlen, "'%s': expected host:port", item);
		return -1;
	}
	*colon = '\0';
	if (*host == '[' && colon[-1] == ']') { /* [::1]:26379 */
		host++;
		colon[-1] = '\0';
	}
	if (!*host || strlen(host) >= sizeof(s->at[0].host)) {
		snprintf(err, errlen, "'%.*s': expected host:port", (int)len, p);
		return -1;
	}
	if (s->n == SENTINEL_MAX) {
		snprintf(err, errlen, "more than %d sentinels", SENTINEL_MAX);
		return -1;
	}
	if (num_parse_port(colon + 1, &s->at[s->n].port, why, sizeof(why))) {
		snprintf(err, errlen, "'%.*s': port: %s", (int)len, p, why);
		return -1;
	}
	memcpy(s->at[s->n].host, host, strlen(host) + 1); /* length checked above */
	s->n++;
	return 0;
}

int sentinel_parse(const char *list, struct sentinels *s, char *err, size_t errlen)
{
	const char *p = list;

	memset(s, 0, sizeof(*s));
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (parse_one(p, len, s, err, errlen) != 0)
			return -1;
		if (!end)
			return 0;
		p = end + 1;
	}
}

/* AUTH on c when password is set: 0, or -1 (err, never the password). */
static int auth(redisContext *c, const char *password, char *err, size_t errlen)
{
	redisReply *rep;

	if (!password || !*password)
		return 0;
	rep = redisCommand(c, "AUTH %s", password);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "AUTH failed: %s",
			 rep && rep->str ? rep->str
			 : c->errstr[0]	 ? c->errstr
					 : "no reply");
		freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* Ask sentinel i. 1 it named the master, 0 it does not know it, -1 no
 * answer; why gets the reason for 0 and -1. */
static int ask_one(const struct sentinels *s, int i, const char *name, const char *password,
		   int timeout_ms, char *host, size_t hostlen, int *port, char *why, size_t whylen)
{
	redisContext *c = redisConnectWithTimeout(s->at[i].host, s->at[i].port, tv_ms(timeout_ms));
	redisReply *rep = NULL;
	int rc = -1;
	char e[200];

	if (!c || c->err) {
		snprintf(why, whylen, "%s", c ? c->errstr : "out of memory");
		goto out;
	}
	redisSetTimeout(c, tv_ms(timeout_ms));
	if (auth(c, password, e, sizeof(e)) != 0) {
		snprintf(why, whylen, "%s", e);
		goto out;
	}
	rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
	if (!rep) {
		snprintf(why, whylen, "%s", c->errstr[0] ? c->errstr : "no reply");
	} else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		   rep->element[0]->type == REDIS_REPLY_STRING &&
		   rep->element[1]->type == REDIS_REPLY_STRING &&
		   num_parse_port(rep->element[1]->str, port, NULL, 0) == 0 &&
		   rep->element[0]->len < hostlen) {
		snprintf(host, hostlen, "%s", rep->element[0]->str);
		rc = 1;
	} else if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "%s", rep->str);
	} else {
		snprintf(why, whylen, "does not know master '%s'", name);
		rc = 0;
	}
out:
	freeReplyObject(rep);
	if (c)
		redisFree(c);
	return rc;
}

int sentinel_master(struct sentinels *s, const char *name, const char *password, int timeout_ms,
		    char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
	char why[256] = "no sentinel configured";

	for (int i = 0; i < s->n; i++) {
		if (ask_one(s, i, name, password, timeout_ms, host, hostlen, port, why,
			    sizeof(why)) == 1) {
			if (i > 0) { /* the one that answered is asked first next time */
				__typeof__(s->at[0]) first = s->at[i];
				memmove(&s->at[1], &s->at[0], (size_t)i * sizeof(s->at[0]));
				s->at[0] = first;
			}
			return 0;
		}
		snprintf(err, errlen, "sentinel %s:%d: %s", s->at[i].host, s->at[i].port, why);
	}
	if (s->n > 1) { /* the last reason, and that every one was tried */
		char last[512];
		snprintf(last, sizeof(last), "%s", err);
		snprintf(err, errlen, "no sentinel of %d named master '%s' (last: %s)", s->n, name,
			 last);
	} else if (s->n == 0) {
		snprintf(err, errlen, "%s", why);
	}
	return -1;
}

int redis_role_master(redisContext *c, int *replicas, char *err, size_t errlen)
{
	redisReply *rep = redisCommand(c, "ROLE");
	int rc = -1;

	if (!rep) {
		snprintf(err, errlen, "ROLE: %s", c->errstr[0] ? c->errstr : "no reply");
	} else if (rep->type == REDIS_REPLY_ERROR) {
		/* not allowed (an ACL), or renamed: the role cannot be told
		 * here; a replica still shows at the first write (READONLY) */
		snprintf(err, errlen, "ROLE: %s", rep->str);
		if (replicas)
			*replicas = -1;
		rc = 1;
	} else if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
		   rep->element[0]->type != REDIS_REPLY_STRING) {
		snprintf(err, errlen, "ROLE: unexpected reply");
	} else if (strcmp(rep->element[0]->str, "master") != 0) {
		snprintf(err, errlen, "the server is a %s, not the master", rep->element[0]->str);
		rc = 0;
	} else {
		if (replicas)
			*replicas = rep->elements >= 3 && rep->element[2]->type == REDIS_REPLY_ARRAY
					? (int)rep->element[2]->elements
					: 0;
		rc = 1;
	}
	freeReplyObject(rep);
	return rc;
}

/* The master's address for ep: from the sentinels, or as configured. */
static int find_master(struct redis_endpoint *ep, char *host, size_t hostlen, int *port,
		       char *where, size_t wherelen, char *err, size_t errlen)
{
	if (ep->sentinels && ep->sentinels->n > 0) {
		if (sentinel_master(ep->sentinels, ep->master_name, ep->sentinel_password,
				    ep->connect_timeout_ms, host, hostlen, port, err, errlen) != 0)
			return -1;
		snprintf(where, wherelen, "%s:%d", host, *port);
	} else if (ep->socket && *ep->socket) {
		snprintf(where, wherelen, "%s", ep->socket);
	} else {
		snprintf(host, hostlen, "%s", ep->host);
		*port = ep->port;
		snprintf(where, wherelen, "%s:%d", host, *port);
	}
	return 0;
}

redisContext *redis_endpoint_connect(struct redis_endpoint *ep, char *where, size_t wherelen,
				     int *replicas, char *err, size_t errlen)
{
	char host[256], e[300];
	int port = 0, sock = !(ep->sentinels && ep->sentinels->n) && ep->socket && *ep->socket;
	redisContext *c;
	redisReply *rep;

	if (find_master(ep, host, sizeof(host), &port, where, wherelen, err, errlen) != 0)
		return NULL;
	c = sock ? redisConnectUnixWithTimeout(ep->socket, tv_ms(ep->connect_timeout_ms))
		 : redisConnectWithTimeout(host, port, tv_ms(ep->connect_timeout_ms));
	if (!c || c->err) {
		snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv_ms(ep->io_timeout_ms));
	if (auth(c, ep->password, e, sizeof(e)) != 0 ||
	    redis_role_master(c, replicas, e, sizeof(e)) != 1)
		goto fail;
	if (ep->db) {
		rep = redisCommand(c, "SELECT %d", ep->db);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			snprintf(e, sizeof(e), "SELECT %d failed: %s", ep->db,
				 rep && rep->str ? rep->str : c->errstr);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	return c;
fail:
	snprintf(err, errlen, "%s", e);
	redisFree(c);
	return NULL;
}
