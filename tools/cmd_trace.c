/*
 * cmd_trace.c - heraldctl trace [-c FILE] [--json] TX_OR_EVENT_ID
 *
 * Print a transaction's journey (herald:tx:<id>): every transition of every
 * message, in order, with channel, masked address, attempt, status and
 * reason, then each message's fulfilment time. An event id stands for its
 * transaction. Reads only the journey and the message hashes, which hold
 * addresses already masked; never the citizen record.
 *
 * Exit 0 when printed, 1 when nothing is known by that id, 2 when Redis
 * cannot be reached or fails.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis.h"
#include "event.h"
#include "heraldctl.h"
#include "reference.h"
#include "schema.h"

#define TRACE_COL_MAX 40 /* widest column before it stops aligning */

static const char *rstr(const json_t *rec, const char *key)
{
	const char *v = json_string_value(json_object_get(rec, key));
	return v && *v ? v : "-";
}

static void put_col(const char *s, int width)
{
	int n = (int)strlen(s);

	ctl_put_clean(s);
	for (; n < width; n++)
		putchar(' ');
	putchar(' ');
	putchar(' ');
}

static int widen(int w, const char *s)
{
	int n = (int)strlen(s);
	return n > w && n <= TRACE_COL_MAX ? n : w;
}

/* "0.810 s", or "172805.000 s, 2d 00h 00m" when long enough to need it. */
static void fmt_duration(double s, char *out, size_t len)
{
	long t = (long)(s + 0.5);

	if (t < 60)
		snprintf(out, len, "%.3f s", s);
	else if (t < 3600)
		snprintf(out, len, "%.3f s, %ldm %02lds", s, t / 60, t % 60);
	else if (t < 86400)
		snprintf(out, len, "%.3f s, %ldh %02ldm %02lds", s, t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(out, len, "%.3f s, %ldd %02ldh %02ldm", s, t / 86400, t / 3600 % 24,
			 t / 60 % 60);
}

/* Find the transaction: herald:tx:<arg>, else the tx of herald:msg:<arg>.
 * 0 found (tx set), 1 unknown, -1 Redis failed. *has_msg tells whether
 * arg was an event id whose journey may be gone. */
static int find_tx(redisContext *rc, const char *arg, char *tx, size_t txlen, int *has_msg)
{
	redisReply *r;
	int found = 0;

	*has_msg = 0;
	r = ctl_redis_cmd(rc, "trace", "EXISTS " KEY_TX "%s", arg);
	if (!r)
		return -1;
	found = ctl_reply_ll(r, 0) > 0;
	freeReplyObject(r);
	if (found) {
		snprintf(tx, txlen, "%s", arg);
		return 0;
	}
	/* status is always set on a message, so nil/nil means no message */
	r = ctl_redis_cmd(rc, "trace", "HMGET " KEY_MSG "%s tx status", arg);
	if (!r)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    (r->element[0]->type == REDIS_REPLY_STRING ||
	     r->element[1]->type == REDIS_REPLY_STRING)) {
		const redisReply *t = r->element[0];
		*has_msg = 1;
		snprintf(tx, txlen, "%s", t->type == REDIS_REPLY_STRING && t->len ? t->str : arg);
		found = 1;
	}
	freeReplyObject(r);
	return found ? 0 : 1;
}

/* The journey as an array of parsed records (unreadable ones reported and
 * left out). NULL when Redis failed. */
static json_t *load_journey(redisContext *rc, const char *tx)
{
	redisReply *r = ctl_redis_cmd(rc, "trace", "LRANGE " KEY_TX "%s 0 -1", tx);
	json_t *recs;

	if (!r)
		return NULL;
	recs = json_array();
	if (recs && r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];
			json_t *rec = e->type == REDIS_REPLY_STRING
					  ? json_loadb(e->str, e->len, 0, NULL)
					  : NULL;
			if (!json_is_object(rec)) {
				fprintf(stderr,
					"heraldctl trace: %s%s: record %zu is not a JSON object; "
					"left out\n",
					KEY_TX, tx, i + 1);
				json_decref(rec);
				continue;
			}
			json_array_append_new(recs, rec);
		}
	freeReplyObject(r);
	return recs;
}

/* Append v to the array of distinct strings. */
static void add_distinct(json_t *set, const char *v)
{
	size_t i;
	json_t *x;

	if (!strcmp(v, "-"))
		return;
	json_array_foreach(set, i, x)
	{
		if (!strcmp(json_string_value(x), v))
			return;
	}
	json_array_append_new(set, json_string(v));
}

static void print_list(const json_t *set)
{
	size_t i;
	json_t *x;

	if (json_array_size(set) == 0)
		fputs("-", stdout);
	json_array_foreach(set, i, x)
	{
		if (i)
			fputs(", ", stdout);
		ctl_put_clean(json_string_value(x));
	}
}

/* Per message: fulfilled_in from its first record that has one; else its
 * current status (the message hash, or its last record when that expired).
 * Returns -1 when Redis failed. */
static int print_fulfilment(redisContext *rc, const json_t *recs, const json_t *ids)
{
	size_t i, j;
	json_t *id, *rec;
	int w = 0;

	json_array_foreach(ids, i, id)
	{
		w = widen(w, json_string_value(id));
	}
	json_array_foreach(ids, i, id)
	{
		redisAppendCommand(rc, "HMGET " KEY_MSG "%s status fulfilled_ms",
				   json_string_value(id));
	}
	printf("\nfulfilment\n");
	json_array_foreach(ids, i, id)
	{
		const char *eid = json_string_value(id), *last = "-", *via = "-", *how = "-";
		redisReply *r = ctl_redis_reply(rc, "trace");
		const json_t *fin = NULL;
		char d[64];

		if (!r)
			return -1;
		json_array_foreach(recs, j, rec)
		{
			if (strcmp(rstr(rec, "event_id"), eid) != 0)
				continue;
			last = rstr(rec, "status");
			if (!fin && json_is_number(json_object_get(rec, "fulfilled_in"))) {
				fin = json_object_get(rec, "fulfilled_in");
				via = rstr(rec, "channel");
				how = rstr(rec, "status");
			}
		}
		printf("  ");
		put_col(eid, w);
		if (fin) {
			fmt_duration(json_number_value(fin), d, sizeof(d));
			printf("fulfilled in %s (%s by ", d, how);
			ctl_put_clean(via);
			printf(")\n");
		} else {
			const redisReply *st =
			    r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? r->element[0] : NULL;
			long long fms = r->type == REDIS_REPLY_ARRAY && r->elements == 2
					    ? ctl_reply_ll(r->element[1], -1)
					    : -1;
			const char *now = st && st->type == REDIS_REPLY_STRING ? st->str : last;

			if (fms >= 0) {
				/* delivered, but the record with fulfilled_in is gone */
				fmt_duration((double)fms / 1000.0, d, sizeof(d));
				printf("fulfilled in %s (status ", d);
			} else {
				printf("not fulfilled (status ");
			}
			ctl_put_clean(now);
			printf(st && st->type == REDIS_REPLY_STRING
				   ? ")\n"
				   : "; message record expired)\n");
		}
		freeReplyObject(r);
	}
	return 0;
}

static int print_journey(redisContext *rc, const char *tx, const json_t *recs)
{
	json_t *ids = json_array(), *citizens = json_array(), *services = json_array(), *rec;
	int wid = 8, wch = 7, wto = 2, wst = 6, rc_out = 0;
	char ref[32];
	size_t i;

	if (!ids || !citizens || !services) {
		fprintf(stderr, "heraldctl trace: out of memory\n");
		rc_out = 2;
		goto out;
	}
	json_array_foreach(recs, i, rec)
	{
		add_distinct(ids, rstr(rec, "event_id"));
		add_distinct(citizens, rstr(rec, "citizen"));
		add_distinct(services, rstr(rec, "service"));
		wid = widen(wid, rstr(rec, "event_id"));
		wch = widen(wch, rstr(rec, "channel"));
		wto = widen(wto, rstr(rec, "to"));
		wst = widen(wst, rstr(rec, "status"));
	}
	tx_reference(tx, ref, sizeof(ref));
	printf("transaction  ");
	ctl_put_clean(tx);
	printf("\nreference    %s\ncitizen      ", ref);
	print_list(citizens);
	printf("\nservice      ");
	print_list(services);
	printf("\nmessages     %zu: ", json_array_size(ids));
	print_list(ids);
	printf("\nrecords      %zu\n\n", json_array_size(recs));

	put_col("TIME", 24);
	put_col("EVENT ID", wid);
	put_col("CHANNEL", wch);
	put_col("TO", wto);
	put_col("ATTEMPT", 7);
	put_col("STATUS", wst);
	printf("REASON\n");
	json_array_foreach(recs, i, rec)
	{
		char att[24];
		const json_t *a = json_object_get(rec, "attempt");

		if (json_is_integer(a))
			snprintf(att, sizeof(att), "%lld", (long long)json_integer_value(a));
		else
			snprintf(att, sizeof(att), "%s", rstr(rec, "attempt"));
		put_col(rstr(rec, "ts"), 24);
		put_col(rstr(rec, "event_id"), wid);
		put_col(rstr(rec, "channel"), wch);
		put_col(rstr(rec, "to"), wto);
		put_col(att, 7);
		put_col(rstr(rec, "status"), wst);
		ctl_put_clean(json_string_value(json_object_get(rec, "reason"))
				  ? json_string_value(json_object_get(rec, "reason"))
				  : "");
		putchar('\n');
	}
	if (print_fulfilment(rc, recs, ids) != 0)
		rc_out = 2;
out:
	json_decref(ids);
	json_decref(citizens);
	json_decref(services);
	return rc_out;
}

int cmd_trace(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	redisContext *rc = NULL;
	json_t *recs = NULL;
	char tx[EVENT_MAX_ID + 16];
	int json = 0, opt, has_msg, ret = 2;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 'h':
			printf("usage: heraldctl trace [-c FILE] [--json] TX_OR_EVENT_ID\n");
			return 0;
		default:
			fprintf(stderr,
				"usage: heraldctl trace [-c FILE] [--json] TX_OR_EVENT_ID\n");
			return 2;
		}
	}
	if (optind != argc - 1 || !*argv[optind]) {
		fprintf(stderr, "usage: heraldctl trace [-c FILE] [--json] TX_OR_EVENT_ID\n");
		return 2;
	}
	rc = ctl_redis_open(c, "trace");
	if (!rc)
		return 2;
	switch (find_tx(rc, argv[optind], tx, sizeof(tx), &has_msg)) {
	case -1: goto out;
	case 1:
		fprintf(stderr,
			"heraldctl trace: no transaction or message '%s' (unknown, or expired "
			"after retention_days)\n",
			argv[optind]);
		ret = 1;
		goto out;
	}
	recs = load_journey(rc, tx);
	if (!recs)
		goto out;
	if (json_array_size(recs) == 0) {
		fprintf(stderr, "heraldctl trace: message '%s' has no journey (%s%s is %s)\n",
			argv[optind], KEY_TX, tx, has_msg ? "empty or expired" : "empty");
		ret = 1;
		goto out;
	}
	if (json) {
		char *s = json_dumps(recs, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		if (!s) {
			fprintf(stderr, "heraldctl trace: out of memory\n");
			goto out;
		}
		puts(s);
		free(s);
		ret = 0;
	} else {
		ret = print_journey(rc, tx, recs);
	}
out:
	json_decref(recs);
	ctl_redis_close(&rc);
	return ret;
}
