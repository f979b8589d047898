/*
 * cmd_dead.c - the dead-letter list (herald:dead: messages that failed for
 * good: every channel failed, status "exhausted"; or no plan could be made,
 * unknown citizen or no usable channel, status "permanent-failure"; the
 * hash's reason says which).
 *
 *   heraldctl dead list [-c FILE] [--json]
 *       one line per dead-lettered message, newest first: event id,
 *       citizen, last channel, when, reason.
 *   heraldctl dead replay [-c FILE] EVENT_ID
 *       re-queue the message with a fresh plan (heraldd resolves the
 *       citizen's channels again, from the record as it is now: a fixed
 *       citizen record is what a planning failure's replay needs): in one
 *       MULTI/EXEC, reset the message
 *       hash, take it off the list, add a journey record and an entry on its
 *       stream. WATCH makes the check "is it dead?" part of that step.
 *
 * Exit 0 on success, 1 when the id is not a dead letter (refused), 2 when
 * Redis cannot be reached or fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis.h"
#include "heraldctl.h"
#include "event.h"
#include "schema.h"
#include "service.h"
#include "text.h"
#include "transition.h"

#define DEAD_USAGE                                                                                 \
	"usage: heraldctl dead list [-c FILE] [--json]\n"                                          \
	"       heraldctl dead replay [-c FILE] EVENT_ID\n"
#define DEAD_REPLAY_TRIES 5 /* WATCH lost to heraldd touching the message */

/* ---- dead list ---------------------------------------------------------- */

/* The dead letters' rows (event_id, citizen, channel, when, status,
 * reason), each id once, in list order; NULL on a Redis failure. */
static json_t *dead_rows(redisContext *rc, const redisReply *ids)
{
	static const char *const names[] = {"citizen", "channel", "reason", "updated_ms",
					    "status",  "meta",	  "at",	    NULL};
	json_t *rows = json_array(), *row;
	size_t n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;

	for (size_t i = 0; i < n; i++)
		redisAppendCommand(
		    rc, "HMGET " KEY_MSG "%b citizen channel reason updated_ms status meta at",
		    ids->element[i]->str, ids->element[i]->len);
	for (size_t i = 0; rows && i < n; i++) {
		redisReply *r = ctl_redis_reply(rc, "dead");
		const char *id = ids->element[i]->str;
		json_t *h = r ? ctl_msg_fields(r, names) : NULL;
		char when[40];
		int dup = 0;
		size_t j;

		freeReplyObject(r);
		if (!h) {
			json_decref(rows);
			return NULL;
		}
		json_array_foreach(rows, j, row)
		{
			dup |= !strcmp(json_string_value(json_object_get(row, "event_id")), id);
		}
		if (!dup && id) {
			ctl_format_ms(ctl_field(h, "updated_ms"), when, sizeof(when));
			row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event_id", id, "citizen",
					ctl_field(h, "citizen"), "channel", ctl_field(h, "channel"),
					"when", when, "status", ctl_field(h, "status"), "reason",
					!strcmp(ctl_field(h, "status"), "-")
					    ? "(message record expired)"
					    : ctl_field(h, "reason"));
			if (row)
				json_array_append_new(rows, row);
		}
		json_decref(h);
	}
	return rows;
}

static int col_width(const json_t *rows, const char *key, int min)
{
	size_t i;
	const json_t *row;

	json_array_foreach(rows, i, row)
	{
		int l = (int)strlen(json_string_value(json_object_get(row, key)));
		min = l > min ? l : min;
	}
	return min;
}

/* The rows as a table an operator reads. */
static void dead_print(const json_t *rows)
{
	int wid = col_width(rows, "event_id", 8), wcit = col_width(rows, "citizen", 7),
	    wch = col_width(rows, "channel", 7);
	size_t i;
	const json_t *row;

	if (json_array_size(rows) == 0) {
		printf("no dead letters\n");
		return;
	}
	printf("%-*s  %-*s  %-*s  %-24s  %s\n", wid, "EVENT ID", wcit, "CITIZEN", wch, "CHANNEL",
	       "WHEN", "REASON");
	json_array_foreach(rows, i, row)
	{
		printf("%-*s  %-*s  %-*s  %-24s  ", wid,
		       json_string_value(json_object_get(row, "event_id")), wcit,
		       json_string_value(json_object_get(row, "citizen")), wch,
		       json_string_value(json_object_get(row, "channel")),
		       json_string_value(json_object_get(row, "when")));
		ctl_put_clean(json_string_value(json_object_get(row, "reason")));
		putchar('\n');
	}
	printf("%zu dead letter%s\n", json_array_size(rows), json_array_size(rows) == 1 ? "" : "s");
}

static int dead_list(redisContext *rc, int json)
{
	redisReply *ids = ctl_redis_cmd(rc, "dead", "LRANGE " KEY_DEAD " 0 -1");
	json_t *rows = ids ? dead_rows(rc, ids) : NULL;
	int ret = 2;

	if (!rows)
		goto out;
	if (json) {
		char *s = json_dumps(rows, JSON_INDENT(2));
		if (s)
			puts(s);
		free(s);
		ret = s ? 0 : 2;
	} else {
		dead_print(rows);
		ret = 0;
	}
out:
	json_decref(rows);
	freeReplyObject(ids);
	return ret;
}

/* ---- dead replay -------------------------------------------------------- */

/* What one replay reads and writes. */
struct replay {
	const char *id, *tx, *citizen, *stream, *service;
	char msgkey[EVENT_MAX_ID + 32], txkey[EVENT_MAX_ID + 32];
	char at[512];	/* the fresh "at" (lib/transition.h) */
	char rec[4096]; /* the journey record (JSON) */
};

/* WATCH the list and the message, then read both: *dead says whether the
 * id is on the list, *h the message hash's fields ("-" for none). 0, or 2
 * when Redis failed. */
static int replay_read(redisContext *rc, struct replay *p, int *dead, json_t **h)
{
	static const char *const names[] = {"tx",	   "citizen", "stream", "service",
					    "accepted_ms", "status",  "meta",	"at",
					    "channel",	   "to",      NULL};
	redisReply *r, *hr;

	r = ctl_redis_cmd(rc, "dead", "WATCH " KEY_DEAD " %s", p->msgkey);
	if (!r)
		return 2;
	freeReplyObject(r);
	redisAppendCommand(rc, "LPOS " KEY_DEAD " %s", p->id);
	redisAppendCommand(
	    rc, "HMGET %s tx citizen stream service accepted_ms status meta at channel to",
	    p->msgkey);
	r = ctl_redis_reply(rc, "dead");
	hr = ctl_redis_reply(rc, "dead");
	if (r && hr) {
		*dead = r->type == REDIS_REPLY_INTEGER;
		if (!(*h = ctl_msg_fields(hr, names)))
			fprintf(stderr, "heraldctl dead replay: out of memory\n");
	}
	freeReplyObject(r);
	freeReplyObject(hr);
	return *h ? 0 : 2;
}

/* 1 (and why, on stderr) when the message is not one to replay, else 0. */
static int replay_refused(const char *id, int dead, const char *status)
{
	if (dead && strcmp(status, "-") != 0)
		return 0;
	if (!dead && strcmp(status, "-") != 0)
		fprintf(stderr,
			"heraldctl dead replay: '%s' is not in the dead-letter list "
			"(status %s); refusing to replay it\n",
			id, status);
	else if (!dead)
		fprintf(stderr,
			"heraldctl dead replay: '%s' is not in the dead-letter list "
			"(no such message); nothing to replay\n",
			id);
	else
		fprintf(stderr,
			"heraldctl dead replay: '%s' is in the dead-letter list but its "
			"record has expired (retention_days); nothing to replay\n",
			id);
	return 1;
}

/* The replay's transition from the hash (lib/transition.h): where it goes,
 * its journey record and "at". 0, or 1 when the hash names no queue. */
static int replay_plan(const json_t *h, struct replay *p)
{
	const char *v;
	struct transition_msg m = {.event_id = p->id};

	v = ctl_field(h, "tx");
	p->tx = strcmp(v, "-") ? v : p->id;
	v = ctl_field(h, "citizen");
	p->citizen = strcmp(v, "-") ? v : "";
	v = ctl_field(h, "stream");
	p->stream = strcmp(v, "-") ? v : KEY_Q_DEFAULT;
	if (strncmp(p->stream, KEY_STREAM_PREFIX, strlen(KEY_STREAM_PREFIX)) != 0) {
		fprintf(stderr, "heraldctl dead replay: '%s' names no queue stream ('%s')\n", p->id,
			p->stream);
		return 1;
	}
	m.tx = p->tx;
	m.citizen = p->citizen;
	m.service = p->service = ctl_field(h, "service");
	m.accepted_ms = strtoll(ctl_field(h, "accepted_ms"), NULL, 10);
	transition_replay_record(&m, now_ms(), p->rec, sizeof(p->rec));
	v = ctl_field(h, "channel");
	transition_replay_at(strcmp(v, "-") ? v : "", ctl_field(h, "to"), p->at, sizeof(p->at));
	snprintf(p->txkey, sizeof(p->txkey), KEY_TX "%s", p->tx);
	return 0;
}

/* The replay's writes in one MULTI/EXEC: 0 done, 2 Redis failed, 3 the
 * WATCHed keys changed (EXEC did nothing). */
static int replay_exec(redisContext *rc, const struct replay *p, long long ttl_s)
{
	redisReply *r;
	int ret = 2;

	redisAppendCommand(rc, "MULTI");
	redisAppendCommand(rc,
			   "HSET %s " MSG_F_STATUS " accepted " MSG_F_AT " %s " MSG_F_REASON
			   " %s " MSG_F_UPDATED " %lld",
			   p->msgkey, p->at, REASON_REPLAYED, (long long)now_ms());
	redisAppendCommand(rc, "HDEL %s " TRANSITION_REPLAY_DROP, p->msgkey);
	redisAppendCommand(rc, "LREM " KEY_DEAD " 0 %s", p->id);
	redisAppendCommand(rc, "RPUSH %s %s", p->txkey, p->rec);
	redisAppendCommand(
	    rc, "XADD %s * " STREAM_F_ID " %s " STREAM_F_CITIZEN " %s " STREAM_F_TX " %s",
	    p->stream, p->id, p->citizen, p->tx);
	/* A fresh retention, as heraldd gives every step. */
	redisAppendCommand(rc, "EXPIRE %s %lld", p->msgkey, ttl_s);
	redisAppendCommand(rc, "EXPIRE %s %lld", p->txkey, ttl_s);
	redisAppendCommand(rc, "EXEC");
	for (int i = 0; i < 8; i++) {
		redisReply *q = ctl_redis_reply(rc, "dead");
		if (!q) {
			/* read the rest so EXEC's answer is not mistaken for this */
			while (++i < 9)
				freeReplyObject(ctl_redis_reply(rc, "dead"));
			return 2;
		}
		freeReplyObject(q);
	}
	if (!(r = ctl_redis_reply(rc, "dead")))
		return 2;
	if (r->type == REDIS_REPLY_NIL) {
		ret = 3;
		goto out;
	}
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			/* e.g. a key of the wrong type: the other steps did happen */
			fprintf(stderr, "heraldctl dead replay: %s: step %zu failed: %s\n", p->id,
				i + 1, r->element[i]->str);
			goto out;
		}
	ret = 0;
out:
	freeReplyObject(r);
	return ret;
}

/* One WATCH/check/MULTI/EXEC round. 0 done, 1 refused, 2 Redis failed,
 * 3 lost the race (retry). */
static int replay_once(redisContext *rc, const char *id, long long ttl_s,
		       const struct services *svcs)
{
	const struct service *sv;
	struct replay *p = calloc(1, sizeof(*p));
	json_t *h = NULL;
	int dead = 0, ret;

	if (!p) {
		fprintf(stderr, "heraldctl dead replay: out of memory\n");
		return 2;
	}
	p->id = id;
	snprintf(p->msgkey, sizeof(p->msgkey), KEY_MSG "%s", id);
	ret = replay_read(rc, p, &dead, &h);
	if (ret == 0 && !(ret = replay_refused(id, dead, ctl_field(h, "status"))))
		ret = replay_plan(h, p);
	if (ret == 0) {
		/* the service's retention_days (services.d), as heraldd gives it */
		sv = services_by_name(svcs, p->service);
		if (sv && sv->retention_days > 0)
			ttl_s = (long long)sv->retention_days * 86400;
		ret = replay_exec(rc, p, ttl_s);
		if (ret == 0)
			printf("replayed %s: re-queued on %s with a fresh plan (transaction %s)\n",
			       id, p->stream, p->tx);
	} else if (h) { /* read, but nothing to write */
		freeReplyObject(ctl_redis_cmd(rc, "dead", "UNWATCH"));
	}
	json_decref(h);
	free(p);
	return ret;
}

static int dead_replay(struct ctl *c, redisContext *rc, const char *id)
{
	const char *days = conf_get_def(c->conf, "queue", "retention_days", "30");
	const char *dir = conf_get_def(c->conf, "services", "dir", "/etc/herald/services.d");
	long long d = strtoll(days, NULL, 10);
	char err[512];
	int ret = 3, missing = 0;
	/* unreadable (heraldctl as another user): [queue] retention_days */
	struct services *svcs = services_load(dir, &missing, err, sizeof(err));

	if (d <= 0)
		d = 30;
	for (int i = 0; i < DEAD_REPLAY_TRIES && ret == 3; i++)
		ret = replay_once(rc, id, d * 86400, svcs);
	services_free(&svcs);
	if (ret == 3) {
		fprintf(stderr,
			"heraldctl dead replay: '%s' kept changing under us (heraldd working on "
			"it?); try again\n",
			id);
		ret = 2;
	}
	return ret;
}

int cmd_dead(struct ctl *c, int argc, char **argv)
{
	redisContext *rc;
	int json = 0, ret;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf(DEAD_USAGE);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		json = 0;
	} else if (argc == 3 && !strcmp(argv[1], "list") && !strcmp(argv[2], "--json")) {
		json = 1;
	} else if (!(argc == 3 && !strcmp(argv[1], "replay") && *argv[2] && argv[2][0] != '-')) {
		fprintf(stderr, DEAD_USAGE);
		return 2;
	}
	rc = ctl_redis_open(c, "dead");
	if (!rc)
		return 2;
	if (!strcmp(argv[1], "list"))
		ret = dead_list(rc, json);
	else
		ret = dead_replay(c, rc, argv[2]);
	ctl_redis_close(&rc);
	return ret;
}
