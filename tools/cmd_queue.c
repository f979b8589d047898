/*
 * cmd_queue.c - heraldctl queue [--json] [--service S] [--channel C]
 *                 [--state STATE] [--older-than DURATION]
 *               heraldctl queue shape [--by channel|service] [--json] [filters]
 *
 * queue, like mailq: one line per message not yet final (tools/ctl_queue.h
 * says where they are found): id, service, channel, state, age, attempts,
 * next try, last reason; then a count per state. shape, like qshape: the
 * counts by channel (or service) by age bucket.
 *
 * Exit 0, 2 on a usage error or when Redis fails.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_queue.h"
#include "ctl_redis.h"
#include "heraldctl.h"
#include "num.h"

#define QUEUE_USAGE                                                                                \
	"usage: heraldctl queue [--json] [--service S] [--channel C] [--state STATE] "             \
	"[--older-than DURATION]\n"                                                                \
	"       heraldctl queue shape [--by channel|service] [--json] [filters]\n"

/* qshape's buckets, in minutes: T (all), then <= 5, 10, 20, ... , then more. */
static const int bucket_min[] = {5, 10, 20, 40, 80, 160, 320, 640, 1280};
#define NBUCKET ((int)(sizeof(bucket_min) / sizeof(bucket_min[0])) + 1)

static void age_text(int64_t ms, char *out, size_t n)
{
	if (ms < 0)
		ms = 0;
	if (ms >= 60000)
		snprintf(out, n, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
	else
		snprintf(out, n, "%llds", (long long)(ms / 1000));
}

static json_t *msg_json(const struct qmsg *m, int64_t now)
{
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:s, s:b}", "id", m->id, "service", m->service,
	    "channel", m->channel, "state", qstate_name(m->state), "status", m->status, "age_ms",
	    (json_int_t)(m->accepted_ms ? now - m->accepted_ms : 0), "attempts", (int)m->attempts,
	    "reason", m->reason ? m->reason : "", "held", m->held);
	if (o && m->due_ms)
		json_object_set_new(o, "next_try_ms", json_integer(m->due_ms));
	if (o && m->consumer[0])
		json_object_set_new(o, "consumer", json_string(m->consumer));
	return o;
}

static void print_line(const struct qmsg *m, int64_t now)
{
	char age[32], next[80] = "-";

	age_text(m->accepted_ms ? now - m->accepted_ms : 0, age, sizeof(age));
	if (m->due_ms) {
		char ms[24];
		snprintf(ms, sizeof(ms), "%lld", (long long)m->due_ms);
		ctl_format_ms(ms, next, sizeof(next));
	} else if (m->consumer[0]) {
		snprintf(next, sizeof(next), "(%s)", m->consumer);
	}
	printf("%-24s %-12s %-8s %-16s %8s %3ld %-24s ", m->id, m->service[0] ? m->service : "-",
	       m->channel[0] ? m->channel : "-", qstate_name(m->state), age, m->attempts, next);
	ctl_put_clean(m->reason && *m->reason ? m->reason : "-");
	putchar('\n');
}

static int list(const struct qlist *q, const struct qfilter *f, int json)
{
	size_t count[QS_N] = {0}, total = 0;
	json_t *arr = json ? json_array() : NULL;

	if (!json)
		printf("%-24s %-12s %-8s %-16s %8s %3s %-24s %s\n", "ID", "SERVICE", "CHANNEL",
		       "STATE", "AGE", "ATT", "NEXT TRY", "LAST REASON");
	for (size_t i = 0; i < q->n; i++) {
		if (!qfilter_match(f, &q->v[i], q->now_ms))
			continue;
		count[q->v[i].state]++;
		total++;
		if (json)
			json_array_append_new(arr, msg_json(&q->v[i], q->now_ms));
		else
			print_line(&q->v[i], q->now_ms);
	}
	if (json) {
		json_t *o = json_pack("{s:o, s:{}, s:I}", "messages", arr, "counts", "total",
				      (json_int_t)total);
		char *s;
		for (int k = 0; o && k < QS_N; k++)
			json_object_set_new(json_object_get(o, "counts"),
					    qstate_name((enum qstate)k),
					    json_integer((json_int_t)count[k]));
		s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(o);
		return 0;
	}
	printf("-- %zu message%s not final:", total, total == 1 ? "" : "s");
	for (int k = 0; k < QS_N; k++)
		printf(" %zu %s%s", count[k], qstate_name((enum qstate)k), k + 1 < QS_N ? "," : "");
	putchar('\n');
	return 0;
}

static int bucket_of(int64_t age_ms)
{
	for (int b = 0; b + 1 < NBUCKET; b++)
		if (age_ms <= (int64_t)bucket_min[b] * 60000)
			return b;
	return NBUCKET - 1;
}

struct row {
	char name[64];
	long n[NBUCKET], total;
};

static int shape(const struct qlist *q, const struct qfilter *f, int by_service, int json)
{
	struct row *rows = calloc(q->n + 1, sizeof(*rows)), *tot;
	size_t nr = 1;

	if (!rows)
		return 2;
	tot = &rows[0];
	snprintf(tot->name, sizeof(tot->name), "TOTAL");
	for (size_t i = 0; i < q->n; i++) {
		const struct qmsg *m = &q->v[i];
		const char *k = by_service ? m->service : m->channel;
		size_t r;
		int b;
		if (!qfilter_match(f, m, q->now_ms))
			continue;
		if (!*k)
			k = "-";
		for (r = 1; r < nr && strcmp(rows[r].name, k); r++)
			;
		if (r == nr)
			snprintf(rows[nr++].name, sizeof(rows[0].name), "%s", k);
		b = bucket_of(m->accepted_ms ? q->now_ms - m->accepted_ms : 0);
		rows[r].n[b]++, rows[r].total++, tot->n[b]++, tot->total++;
	}
	if (json) {
		json_t *o = json_object(), *bk = json_array(), *rs = json_object();
		char *s;
		for (int b = 0; b + 1 < NBUCKET; b++)
			json_array_append_new(bk, json_integer(bucket_min[b]));
		for (size_t r = 0; r < nr; r++) {
			json_t *a = json_array();
			for (int b = 0; b < NBUCKET; b++)
				json_array_append_new(a, json_integer(rows[r].n[b]));
			json_object_set_new(
			    rs, rows[r].name,
			    json_pack("{s:i, s:o}", "total", (int)rows[r].total, "buckets", a));
		}
		json_object_set_new(o, "by", json_string(by_service ? "service" : "channel"));
		json_object_set_new(o, "bucket_max_minutes", bk);
		json_object_set_new(o, "rows", rs);
		s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (s)
			puts(s);
		free(s);
		json_decref(o);
	} else {
		printf("%-16s %6s", by_service ? "SERVICE" : "CHANNEL", "T");
		for (int b = 0; b + 1 < NBUCKET; b++)
			printf(" %5d", bucket_min[b]);
		printf(" %5d+\n", bucket_min[NBUCKET - 2]);
		for (size_t r = 0; r < nr; r++) {
			printf("%-16s %6ld", rows[r].name, rows[r].total);
			for (int b = 0; b < NBUCKET; b++)
				printf(" %5ld", rows[r].n[b]);
			putchar('\n');
		}
	}
	free(rows);
	return 0;
}

int cmd_queue(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"service", required_argument, NULL, 's'},
					     {"channel", required_argument, NULL, 'C'},
					     {"state", required_argument, NULL, 'S'},
					     {"older-than", required_argument, NULL, 'o'},
					     {"by", required_argument, NULL, 'b'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct qfilter f = {NULL, NULL, -1, 0};
	struct qlist q = {0};
	redisContext *rc;
	int json = 0, by_service = 0, do_shape = 0, opt, k, ret;

	if (argc > 1 && !strcmp(argv[1], "shape")) {
		do_shape = 1;
		argv++, argc--;
	}
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((k = qfilter_opt(&f, opt, optarg, "queue")) != 0) {
			if (k < 0)
				return 2;
			continue;
		}
		switch (opt) {
		case 'j': json = 1; break;
		case 'b':
			if (!do_shape || (strcmp(optarg, "service") && strcmp(optarg, "channel"))) {
				fprintf(stderr, QUEUE_USAGE);
				return 2;
			}
			by_service = !strcmp(optarg, "service");
			break;
		case 'h': printf(QUEUE_USAGE); return 0;
		default: fprintf(stderr, QUEUE_USAGE); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, QUEUE_USAGE);
		return 2;
	}
	if (!(rc = ctl_redis_open(c, "queue")))
		return 2;
	ret = ctl_queue_load(rc, "queue", &q);
	if (ret == 0)
		ret = do_shape ? shape(&q, &f, by_service, json) : list(&q, &f, json);
	ctl_queue_free(&q);
	ctl_redis_close(&rc);
	return ret;
}
