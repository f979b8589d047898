/*
 * cmd_status.c - heraldctl status [-c FILE] [--json] EVENT_ID
 *
 * Show one message's record (herald:msg:<id>) readably: status, reason,
 * channel and masked address, plan position, times, whether it waits in
 * the schedule or the dead-letter list, then the event as published (the
 * service's own data). --json prints the hash as one JSON object.
 *
 * Without an id: the status page of every heraldd sharing the Redis
 * (tools/cmd_statuspage.c).
 *
 * Exit 0 when shown, 1 when the id is unknown (or expired), 2 when Redis
 * cannot be reached or fails.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis.h"
#include "heraldctl.h"
#include "reference.h"
#include "schema.h"

#define STATUS_USAGE "usage: heraldctl status [-c FILE] [--json] [EVENT_ID]\n"

static const char *field(const json_t *h, const char *k)
{
	const char *v = json_string_value(json_object_get(h, k));
	return v && *v ? v : "-";
}

static void line(const char *label, const char *v)
{
	printf("%-13s", label);
	ctl_put_clean(v);
	putchar('\n');
}

static void line_ms(const json_t *h, const char *label, const char *k)
{
	char ts[40];

	ctl_format_ms(json_string_value(json_object_get(h, k)), ts, sizeof(ts));
	line(label, ts);
}

/* The plan with the current position marked: "email,[sms],print". */
static void line_plan(const json_t *h)
{
	const char *plan = field(h, "plan");
	long idx = strtol(field(h, "plan_idx"), NULL, 10), n = 0;
	char buf[512];
	size_t o = 0;

	if (!strcmp(plan, "-")) {
		line("plan", "- (resolved when the message is next worked on)");
		return;
	}
	for (const char *p = plan; *p && o + 4 < sizeof(buf); p++) {
		if (p == plan || p[-1] == ',') {
			if (n == idx)
				buf[o++] = '[';
		}
		if (*p == ',') {
			if (n == idx)
				buf[o++] = ']';
			n++;
		}
		buf[o++] = *p;
	}
	if (n == idx && o + 1 < sizeof(buf))
		buf[o++] = ']';
	buf[o] = '\0';
	line("plan", buf);
}

static const char *const shown[] = {
    "status",	  "reason",  "service",	     "citizen", "tx",	    "reference", "stream",
    "channel",	  "to",	     "attempt",	     "plan",	"plan_idx", "ref",	 "accepted_ms",
    "updated_ms", "sent_ms", "fulfilled_ms", "event",	NULL};

static int is_shown(const char *k)
{
	for (int i = 0; shown[i]; i++)
		if (!strcmp(shown[i], k))
			return 1;
	return 0;
}

static void print_human(const char *id, json_t *h, const redisReply *sched, const redisReply *dead)
{
	const char *k, *ev = json_string_value(json_object_get(h, "event"));
	json_t *v, *evj;
	char buf[128];
	long long due;

	line("event id", id);
	line("status", field(h, "status"));
	line("reason", field(h, "reason"));
	line("service", field(h, "service"));
	line("citizen", field(h, "citizen"));
	line("transaction", field(h, "tx"));
	if (json_object_get(h, "reference")) {
		line("reference", field(h, "reference"));
	} else {
		tx_reference(json_object_get(h, "tx") ? field(h, "tx") : id, buf, sizeof(buf));
		line("reference", buf);
	}
	line("stream", field(h, "stream"));
	line("channel", field(h, "channel"));
	line("to", field(h, "to"));
	line("attempt", field(h, "attempt"));
	line_plan(h);
	line("provider ref", field(h, "ref"));
	line_ms(h, "accepted", "accepted_ms");
	line_ms(h, "updated", "updated_ms");
	line_ms(h, "sent", "sent_ms");
	if (json_object_get(h, "fulfilled_ms")) {
		snprintf(buf, sizeof(buf), "%.3f s after accepted",
			 (double)strtoll(field(h, "fulfilled_ms"), NULL, 10) / 1000.0);
		line("fulfilled", buf);
	} else {
		line("fulfilled", "no");
	}
	due = sched && sched->type == REDIS_REPLY_STRING ? ctl_reply_ll(sched, -1) : -1;
	if (due < 0 && sched && sched->type == REDIS_REPLY_STRING) /* "1.7e12" */
		due = (long long)strtod(sched->str, NULL);
	if (due > 0) {
		char ms[24], ts[40];
		snprintf(ms, sizeof(ms), "%lld", due);
		ctl_format_ms(ms, ts, sizeof(ts));
		snprintf(buf, sizeof(buf), "due %s (%s)", ts, KEY_SCHED);
		line("scheduled", buf);
	} else {
		line("scheduled", "no");
	}
	line("dead letter",
	     dead && dead->type == REDIS_REPLY_INTEGER ? "yes (" KEY_DEAD ")" : "no");
	json_object_foreach(h, k, v)
	{
		if (is_shown(k))
			continue;
		snprintf(buf, sizeof(buf), "%s", k);
		line(buf, json_string_value(v));
	}
	if (!ev) {
		line("event", "-");
		return;
	}
	evj = json_loads(ev, 0, NULL);
	if (evj) {
		char *s = json_dumps(evj, JSON_INDENT(2));
		printf("event\n");
		if (s)
			puts(s);
		free(s);
		json_decref(evj);
	} else {
		line("event", ev);
	}
}

int cmd_status(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	redisContext *rc = NULL;
	redisReply *hr = NULL, *sched = NULL, *dead = NULL;
	json_t *h = NULL;
	const char *id;
	int json = 0, opt, ret = 2;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 'h': printf(STATUS_USAGE); return 0;
		default: fprintf(stderr, STATUS_USAGE); return 2;
		}
	}
	if (optind == argc) /* no id: every instance's status page */
		return ctl_status_page(c, json);
	if (optind != argc - 1 || !*argv[optind]) {
		fprintf(stderr, STATUS_USAGE);
		return 2;
	}
	id = argv[optind];
	rc = ctl_redis_open(c, "status");
	if (!rc)
		return 2;
	redisAppendCommand(rc, "HGETALL " KEY_MSG "%s", id);
	redisAppendCommand(rc, "ZSCORE " KEY_SCHED " %s", id);
	redisAppendCommand(rc, "LPOS " KEY_DEAD " %s", id);
	if (!(hr = ctl_redis_reply(rc, "status")) || !(sched = ctl_redis_reply(rc, "status")) ||
	    !(dead = ctl_redis_reply(rc, "status")))
		goto out;
	h = ctl_reply_object(hr);
	if (h)
		ctl_msg_unpack(h); /* the fields as ever, from "meta" and "at" too */
	if (!h) {
		fprintf(stderr, "heraldctl status: out of memory\n");
		goto out;
	}
	if (json_object_size(h) == 0) {
		fprintf(stderr,
			"heraldctl status: no message '%s' (unknown, or expired after "
			"retention_days)\n",
			id);
		ret = 1;
		goto out;
	}
	if (json) {
		char *s = json_dumps(h, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (!s) {
			fprintf(stderr, "heraldctl status: out of memory\n");
			goto out;
		}
		puts(s);
		free(s);
	} else {
		print_human(id, h, sched, dead);
	}
	ret = 0;
out:
	json_decref(h);
	freeReplyObject(hr);
	freeReplyObject(sched);
	freeReplyObject(dead);
	ctl_redis_close(&rc);
	return ret;
}
