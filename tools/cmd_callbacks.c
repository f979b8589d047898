/*
 * cmd_callbacks.c - the status callbacks waiting in Redis (lib/schema.h:
 * herald:cb:<service>, and herald:cbdead:<service> for those heraldd gave
 * up on after callback_max_age).
 *
 *   heraldctl callbacks [-c FILE] [--service S] [--json]
 *       per service: records waiting (backlog), age of the oldest, records
 *       held by a sender right now, records in the dead stream.
 *   heraldctl callbacks dead list [-c FILE] --service S [--json]
 *       the dead records, oldest first: dead id, event, status, tries,
 *       the last error.
 *   heraldctl callbacks dead replay [-c FILE] --service S (ID...|--all)
 *       move records back to the service's stream (at its end), each in
 *       one MULTI/EXEC (XADD there, XDEL here).
 *
 * Exit 0 on success, 1 when an ID is not in the dead stream, 2 on a usage
 * error or when Redis cannot be reached or fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis.h"
#include "heraldctl.h"
#include "schema.h"
#include "text.h"

#define CB_USAGE                                                                                   \
	"usage: heraldctl callbacks [-c FILE] [--service S] [--json]\n"                            \
	"       heraldctl callbacks dead list [-c FILE] --service S [--json]\n"                    \
	"       heraldctl callbacks dead replay [-c FILE] --service S (ID...|--all)\n"
#define CB_MAX_SERVICES 256

struct cb_args {
	const char *service;
	int json, all;
	char **ids;
	int nids;
};

/* ---- which services ------------------------------------------------------ */

static void add_name(char **names, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return;
	if (*n < CB_MAX_SERVICES && (names[*n] = strdup(name)) != NULL)
		(*n)++;
}

/* Every service with a stream or a dead stream (SCAN; heraldd makes the
 * stream when it starts). -1 on a Redis failure. */
static int scan_services(redisContext *rc, char **names, int *n)
{
	static const char *const prefixes[] = {KEY_CB, KEY_CBDEAD};
	char cursor[32];

	for (size_t p = 0; p < 2; p++) {
		snprintf(cursor, sizeof(cursor), "0");
		do {
			redisReply *r = ctl_redis_cmd(
			    rc, "callbacks", "SCAN %s MATCH %s* COUNT 500", cursor, prefixes[p]);
			if (!r)
				return -1;
			if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
				freeReplyObject(r);
				return -1;
			}
			snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
			for (size_t i = 0; i < r->element[1]->elements; i++)
				add_name(names, n,
					 r->element[1]->element[i]->str + strlen(prefixes[p]));
			freeReplyObject(r);
		} while (strcmp(cursor, "0") != 0);
	}
	return 0;
}

/* ---- summary ------------------------------------------------------------- */

struct cb_summary {
	long long backlog, held, dead;
	double oldest_s;
};

static int summarise(redisContext *rc, const char *svc, struct cb_summary *out)
{
	redisReply *r[4];
	int ret = 0;

	redisAppendCommand(rc, "XLEN " KEY_CB "%s", svc);
	redisAppendCommand(rc, "XRANGE " KEY_CB "%s - + COUNT 1", svc);
	redisAppendCommand(rc, "XLEN " KEY_CBDEAD "%s", svc);
	redisAppendCommand(rc, "XPENDING " KEY_CB "%s " CB_GROUP, svc);
	for (int i = 0; i < 4; i++) {
		r[i] = NULL;
		if (redisGetReply(rc, (void **)&r[i]) != REDIS_OK)
			ret = -1;
	}
	if (ret == 0) {
		out->backlog = ctl_reply_ll(r[0], 0);
		out->dead = ctl_reply_ll(r[2], 0);
		out->held = r[3] && r[3]->type == REDIS_REPLY_ARRAY && r[3]->elements
				? ctl_reply_ll(r[3]->element[0], 0)
				: 0;
		out->oldest_s = 0;
		if (r[1] && r[1]->type == REDIS_REPLY_ARRAY && r[1]->elements &&
		    r[1]->element[0]->type == REDIS_REPLY_ARRAY && r[1]->element[0]->elements)
			out->oldest_s =
			    (double)(now_ms() -
				     strtoll(r[1]->element[0]->element[0]->str, NULL, 10)) /
			    1000.0;
	}
	for (int i = 0; i < 4; i++)
		freeReplyObject(r[i]);
	return ret;
}

static int cb_summary(redisContext *rc, const struct cb_args *a)
{
	char *names[CB_MAX_SERVICES] = {NULL};
	int n = 0, ret = 0;
	json_t *rows = json_array();

	if (a->service)
		add_name(names, &n, a->service);
	else if (scan_services(rc, names, &n) != 0)
		ret = 2;
	if (!a->json && !ret)
		printf("%-24s %10s %12s %6s %8s\n", "SERVICE", "BACKLOG", "OLDEST_AGE_S", "HELD",
		       "DEAD");
	for (int i = 0; i < n && !ret; i++) {
		struct cb_summary s;
		if (summarise(rc, names[i], &s) != 0) {
			fprintf(stderr, "heraldctl callbacks: Redis failed: %s\n", rc->errstr);
			ret = 2;
		} else if (a->json) {
			json_array_append_new(rows, json_pack("{s:s,s:I,s:f,s:I,s:I}", "service",
							      names[i], "backlog", s.backlog,
							      "oldest_age_s", s.oldest_s, "held",
							      s.held, "dead", s.dead));
		} else {
			printf("%-24s %10lld %12.1f %6lld %8lld\n", names[i], s.backlog, s.oldest_s,
			       s.held, s.dead);
		}
	}
	if (a->json && !ret) {
		char *txt = json_dumps(rows, JSON_COMPACT);
		if (txt)
			puts(txt);
		free(txt);
	}
	json_decref(rows);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return ret;
}

/* ---- dead list / replay ------------------------------------------------------ */

/* A field of a stream entry's [f, v, ...] array, or NULL. */
static const redisReply *entry_field(const redisReply *fields, const char *name)
{
	for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2)
		if (!strcmp(fields->element[i]->str, name))
			return fields->element[i + 1];
	return NULL;
}

static const char *fstr(const redisReply *fields, const char *name)
{
	const redisReply *v = entry_field(fields, name);

	return v && v->type == REDIS_REPLY_STRING ? v->str : "";
}

static void dead_row(const redisReply *e, json_t *rows, int json)
{
	const redisReply *f = e->element[1];
	json_t *rec = json_loads(fstr(f, CB_F_REC), 0, NULL);
	const char *ev = rec ? json_string_value(json_object_get(rec, "event_id")) : NULL;
	const char *st = rec ? json_string_value(json_object_get(rec, "status")) : NULL;

	if (json) {
		json_array_append_new(
		    rows, json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", e->element[0]->str, "queued_id",
				    fstr(f, CBDEAD_F_ID), "tries", fstr(f, CBDEAD_F_TRIES), "error",
				    fstr(f, CBDEAD_F_ERR), "record", rec ? rec : json_null()));
		return;
	}
	printf("%s event=", e->element[0]->str);
	ctl_put_clean(ev ? ev : "-");
	printf(" status=");
	ctl_put_clean(st ? st : "-");
	printf(" tries=%s error=", fstr(f, CBDEAD_F_TRIES));
	ctl_put_clean(fstr(f, CBDEAD_F_ERR));
	putchar('\n');
	json_decref(rec);
}

static int dead_list(redisContext *rc, const struct cb_args *a)
{
	redisReply *r = ctl_redis_cmd(rc, "callbacks", "XRANGE " KEY_CBDEAD "%s - +", a->service);
	json_t *rows = json_array();

	if (!r) {
		json_decref(rows);
		return 2;
	}
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ARRAY && r->element[i]->elements == 2)
			dead_row(r->element[i], rows, a->json);
	if (a->json) {
		char *txt = json_dumps(rows, JSON_COMPACT);
		if (txt)
			puts(txt);
		free(txt);
	}
	json_decref(rows);
	freeReplyObject(r);
	return 0;
}

/* One dead record back onto the stream: 0, 1 when not there, 2 on failure. */
static int replay_one(redisContext *rc, const char *svc, const char *id)
{
	redisReply *r =
	    ctl_redis_cmd(rc, "callbacks", "XRANGE " KEY_CBDEAD "%s %s %s", svc, id, id);
	const redisReply *body;
	int ret = 1;

	if (!r)
		return 2;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    !(body = entry_field(r->element[0]->element[1], CB_F_REC))) {
		fprintf(stderr, "heraldctl callbacks: %s is not in %s%s\n", id, KEY_CBDEAD, svc);
		goto out;
	}
	redisAppendCommand(rc, "MULTI");
	redisAppendCommand(rc, "XADD " KEY_CB "%s * " CB_F_REC " %b", svc, body->str, body->len);
	redisAppendCommand(rc, "XDEL " KEY_CBDEAD "%s %s", svc, id);
	redisAppendCommand(rc, "EXEC");
	ret = 0;
	for (int i = 0; i < 4; i++) {
		redisReply *x = ctl_redis_reply(rc, "callbacks");
		if (!x)
			ret = 2;
		freeReplyObject(x);
	}
	if (!ret)
		printf("replayed %s\n", id);
out:
	freeReplyObject(r);
	return ret;
}

static int dead_replay(redisContext *rc, const struct cb_args *a)
{
	redisReply *all = NULL;
	int ret = 0, n = 0;

	if (a->all) {
		all = ctl_redis_cmd(rc, "callbacks", "XRANGE " KEY_CBDEAD "%s - +", a->service);
		if (!all)
			return 2;
		for (size_t i = 0; all->type == REDIS_REPLY_ARRAY && i < all->elements; i++) {
			int one = replay_one(rc, a->service, all->element[i]->element[0]->str);
			ret = one > ret ? one : ret;
			n += !one;
		}
		freeReplyObject(all);
	}
	for (int i = 0; i < a->nids; i++) {
		int one = replay_one(rc, a->service, a->ids[i]);
		ret = one > ret ? one : ret;
		n += !one;
	}
	printf("%d replayed\n", n);
	return ret;
}

/* ---- arguments ------------------------------------------------------------------ */

/* argv from `from` on: --service S, --json, --all, IDs (when ids is set). */
static int parse(int argc, char **argv, int from, struct cb_args *a, int ids)
{
	for (int i = from; i < argc; i++) {
		if (!strcmp(argv[i], "--service") && i + 1 < argc && *argv[i + 1])
			a->service = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			a->json = 1;
		else if (ids && !strcmp(argv[i], "--all"))
			a->all = 1;
		else if (ids && argv[i][0] != '-') {
			if (!a->ids)
				a->ids = &argv[i];
			if (&argv[i] != a->ids + a->nids)
				return -1; /* IDs come together */
			a->nids++;
		} else
			return -1;
	}
	return 0;
}

int cmd_callbacks(struct ctl *c, int argc, char **argv)
{
	struct cb_args a = {0};
	redisContext *rc;
	int mode = 0, ret; /* 0 summary, 1 dead list, 2 dead replay */

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf(CB_USAGE);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "dead") && !strcmp(argv[2], "list"))
		mode = 1;
	else if (argc >= 3 && !strcmp(argv[1], "dead") && !strcmp(argv[2], "replay"))
		mode = 2;
	if (parse(argc, argv, mode ? 3 : 1, &a, mode == 2) != 0 || (mode && !a.service) ||
	    (mode == 2 && (a.json || (!a.all && !a.nids) || (a.all && a.nids)))) {
		fprintf(stderr, CB_USAGE);
		return 2;
	}
	rc = ctl_redis_open(c, "callbacks");
	if (!rc)
		return 2;
	ret = mode == 0 ? cb_summary(rc, &a) : mode == 1 ? dead_list(rc, &a) : dead_replay(rc, &a);
	ctl_redis_close(&rc);
	return ret;
}
