/*
 * cmd_channel.c - heraldctl channel suspend NAME [--hop]
 *                 heraldctl channel resume NAME
 *                 heraldctl channel list [--json]
 *
 * A suspended channel takes nothing, in every heraldd sharing the Redis
 * (each reads herald:suspended every CONTROL_REFRESH_MS): its messages
 * wait, or with --hop move on to the next channel of their plan. resume
 * lifts it and makes the messages that waited for it due at once. Both
 * are logged in herald:oplog with the operator's name.
 *
 * Exit 0, 2 on a usage error or a Redis failure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_queue.h"
#include "ctl_redis.h"
#include "heraldctl.h"
#include "schema.h"

#define CHANNEL_USAGE                                                                              \
	"usage: heraldctl channel suspend NAME [--hop] | channel resume NAME | channel list "      \
	"[--json]\n"

static int valid_name(const char *s)
{
	if (!*s || strlen(s) > 32)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

static int drain_replies(redisContext *rc, int n)
{
	int ret = 0;

	while (n-- > 0) {
		redisReply *r = ctl_redis_reply(rc, "channel");
		if (!r)
			ret = 2;
		freeReplyObject(r);
	}
	return ret;
}

/* The messages that waited for the channel: due now. */
static int wake(redisContext *rc, const char *name)
{
	struct qlist q = {0};
	int n = 0, ret = ctl_queue_load(rc, "channel", &q);

	for (size_t i = 0; ret == 0 && i < q.n; i++) {
		const struct qmsg *m = &q.v[i];
		if (m->state != QS_SCHEDULED || strcmp(m->channel, name) || !m->reason ||
		    strncmp(m->reason, REASON_SUSPENDED, strlen(REASON_SUSPENDED)))
			continue;
		redisAppendCommand(rc, "ZADD " KEY_SCHED " XX LT %lld %s", (long long)q.now_ms,
				   m->id);
		n++;
	}
	if (ret == 0)
		ret = drain_replies(rc, n);
	if (ret == 0)
		fprintf(stderr, "heraldctl channel: %d waiting message%s of %s due now\n", n,
			n == 1 ? "" : "s", name);
	ctl_queue_free(&q);
	return ret;
}

static int list(redisContext *rc, int json)
{
	redisReply *r = ctl_redis_cmd(rc, "channel", "HGETALL " KEY_SUSPENDED);
	json_t *o;

	if (!r)
		return 2;
	o = ctl_reply_object(r);
	if (json) {
		char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (s)
			puts(s);
		free(s);
	} else {
		const char *k;
		json_t *v;
		if (!json_object_size(o))
			printf("no channel suspended\n");
		json_object_foreach(o, k, v)
		{
			printf("%s suspended (%s)\n", k, json_string_value(v));
		}
	}
	json_decref(o);
	freeReplyObject(r);
	return 0;
}

static int set(redisContext *rc, const char *name, int resume, int hop)
{
	int64_t now;
	int n;

	if (resume)
		redisAppendCommand(rc, "HDEL " KEY_SUSPENDED " %s", name);
	else
		redisAppendCommand(rc, "HSET " KEY_SUSPENDED " %s %s", name,
				   hop ? SUSPEND_HOP : SUSPEND_WAIT);
	now = ctl_now_ms();
	n = 1 + ctl_oplog_append(rc,
				 resume ? "resume"
				 : hop	? "suspend-hop"
					: "suspend",
				 name, now);
	if (drain_replies(rc, n) != 0)
		return 2;
	printf("channel %s %s\n", name,
	       resume ? "resumed"
	       : hop  ? "suspended (messages hop)"
		      : "suspended (messages wait)");
	if (!resume)
		return 0;
	/* every instance reads herald:suspended every CONTROL_REFRESH_MS: one
	 * that has not seen the resume yet would put a woken message back */
	usleep((CONTROL_REFRESH_MS * 2 + 200) * 1000);
	return wake(rc, name);
}

int cmd_channel(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"hop", no_argument, NULL, 'H'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	redisContext *rc;
	const char *sub;
	int hop = 0, json = 0, opt, ret;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': hop = 1; break;
		case 'j': json = 1; break;
		case 'h': printf(CHANNEL_USAGE); return 0;
		default: fprintf(stderr, CHANNEL_USAGE); return 2;
		}
	}
	sub = optind < argc ? argv[optind] : "";
	if (!strcmp(sub, "list")
		? optind + 1 != argc || hop
		: (strcmp(sub, "suspend") && strcmp(sub, "resume")) || optind + 2 != argc ||
		      !valid_name(argv[optind + 1]) || json || (hop && strcmp(sub, "suspend"))) {
		fprintf(stderr, CHANNEL_USAGE);
		return 2;
	}
	if (!(rc = ctl_redis_open(c, "channel")))
		return 2;
	if (!strcmp(sub, "list"))
		ret = list(rc, json);
	else
		ret = set(rc, argv[optind + 1], !strcmp(sub, "resume"), hop);
	ctl_redis_close(&rc);
	return ret;
}
