/*
 * cmd_tail.c - heraldctl tail [-e PUB_ENDPOINT] [--json] [--since WHEN]
 *              [--service S] [--citizen ID] [--tx ID] [--channel C]
 *              [--status S] [--count N] [--timeout DURATION]
 *
 * Follow the delivery log live from heraldd's PUB socket ([log] publish),
 * printing the same lines as the text log (or the JSON records), filtered.
 * --since 10m / 2h / 2026-11-22T09:00 first prints the matching records of
 * the JSON delivery log ([log] json) from then on, then follows.
 * --count N exits after N matching records (for scripts and tests).
 * An endpoint that does not accept the connection within --timeout
 * (default 5s) is an error (exit 2), not a silent wait.
 * Status words are coloured on a terminal unless NO_COLOR is set.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "dlogrec.h"
#include "heraldctl.h"
#include "num.h"

static volatile sig_atomic_t tail_stop;

static void on_int(int sig)
{
	tail_stop = 1;
}

struct tail {
	const char *service, *citizen, *tx, *channel, *status;
	char since[32]; /* RFC 3339 prefix; "" = live only */
	int json, colour;
	long count, seen;
};

static int match(const json_t *rec, const char *k, const char *want)
{
	const char *v;

	if (!want)
		return 1;
	v = json_string_value(json_object_get(rec, k));
	return v && !strcmp(v, want);
}

static const char *status_colour(const char *st)
{
	if (!st)
		return NULL;
	if (!strcmp(st, "delivered"))
		return "\033[32m";
	if (!strcmp(st, "failed") || !strcmp(st, "dead") || !strcmp(st, "rejected") ||
	    !strcmp(st, "bounced") || !strcmp(st, "complaint") || !strcmp(st, "unsubscribed"))
		return "\033[31m";
	if (!strcmp(st, "deferred") || !strcmp(st, "retry") || !strcmp(st, "held"))
		return "\033[33m";
	return "\033[36m";
}

/* One record (a JSON text line): print it if it passes the filters. */
static void tail_one(struct tail *t, const char *text)
{
	json_t *rec = json_loads(text, 0, NULL);
	const char *ts, *col;
	char line[4096];

	if (!rec)
		return;
	ts = json_string_value(json_object_get(rec, "ts"));
	if (match(rec, "service", t->service) && match(rec, "citizen", t->citizen) &&
	    match(rec, "tx", t->tx) && match(rec, "channel", t->channel) &&
	    match(rec, "status", t->status) &&
	    (!t->since[0] || (ts && strcmp(ts, t->since) >= 0))) {
		col = t->colour ? status_colour(json_string_value(json_object_get(rec, "status")))
				: NULL;
		if (t->json) {
			fputs(text, stdout);
			fputc('\n', stdout);
		} else {
			dlog_format_text(rec, line, sizeof(line));
			printf("%s%s%s\n", col ? col : "", line, col ? "\033[0m" : "");
		}
		fflush(stdout);
		t->seen++;
	}
	json_decref(rec);
}

/* --since: a duration back from now ("10m", "2h", "1d") or a time
 * ("2026-11-22T09:00", "2026-11-22 09:00:00", UTC) as an RFC 3339 prefix. */
static int parse_since(const char *v, char *out, size_t outlen)
{
	int64_t ms;
	time_t t;
	struct tm tm;

	if (num_parse_duration(v, 1000, 0, 3650LL * 86400000, &ms, NULL, 0) == 0) {
		t = time(NULL) - (time_t)(ms / 1000);
		gmtime_r(&t, &tm);
		strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
		return 0;
	}
	if (strlen(v) < 10 || strlen(v) >= outlen || v[4] != '-' || v[7] != '-')
		return -1;
	snprintf(out, outlen, "%s", v);
	if (out[10] == ' ')
		out[10] = 'T';
	return 0;
}

/* The JSON log from --since on: the records already written. */
static void tail_history(struct tail *t, const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[65536];

	if (!f) {
		fprintf(stderr, "heraldctl tail: --since: %s: cannot read the JSON log\n", path);
		return;
	}
	while (!tail_stop && (t->count < 0 || t->seen < t->count) && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		tail_one(t, buf);
	}
	fclose(f);
}

/* A PAIR socket that hears sub's ZMQ_EVENT_CONNECTED: set up before
 * zmq_connect, or the event may come and go unheard. NULL if unsupported. */
static void *monitor_open(void *ctx, void *sub)
{
	void *mon;

	if (zmq_socket_monitor(sub, "inproc://tail-monitor", ZMQ_EVENT_CONNECTED) != 0)
		return NULL;
	mon = zmq_socket(ctx, ZMQ_PAIR);
	if (mon && zmq_connect(mon, "inproc://tail-monitor") != 0) {
		zmq_close(mon);
		mon = NULL;
	}
	return mon;
}

/* 0 once the SUB socket has connected, -1 when timeout_ms passed first. */
static int wait_connected(void *sub, void *mon, int64_t timeout_ms)
{
	int rc = -1;
	zmq_pollitem_t it;

	if (!mon)
		return 0; /* cannot tell: do not refuse */
	it = (zmq_pollitem_t){mon, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&it, 1, (long)timeout_ms) > 0) {
		zmq_msg_t m;
		int more = 1;

		/* the event frame, then the endpoint frame */
		rc = 0;
		while (more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, mon, 0) < 0)
				more = 0;
			else
				more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		}
	}
	zmq_socket_monitor(sub, NULL, 0);
	zmq_close(mon);
	return rc;
}

static const char tail_usage[] =
    "usage: heraldctl tail [-e PUB_ENDPOINT] [--json] [--since DURATION|TIME] [--service S]\n"
    "                      [--citizen ID] [--tx ID] [--channel C] [--status S] [--count N]\n"
    "                      [--timeout DURATION]\n";

static void tail_follow(struct tail *t, void *sub)
{
	char buf[65536];

	while (!tail_stop && (t->count < 0 || t->seen < t->count)) {
		zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
		int n;

		if (zmq_poll(&it, 1, 500) <= 0)
			continue;
		n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
		if (n < 0 || (size_t)n > sizeof(buf) - 1)
			continue; /* truncated: not a record we can read */
		buf[n] = '\0';
		tail_one(t, buf);
	}
}

/* Options into t; 0, 1 (--help done) or 2 (usage error, said). */
static int tail_args(struct tail *t, int argc, char **argv, const char **endpoint,
		     int64_t *timeout_ms)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"citizen", required_argument, NULL, 'C'},
					     {"tx", required_argument, NULL, 'T'},
					     {"channel", required_argument, NULL, 'H'},
					     {"status", required_argument, NULL, 'S'},
					     {"service", required_argument, NULL, 'v'},
					     {"since", required_argument, NULL, 's'},
					     {"timeout", required_argument, NULL, 'w'},
					     {"count", required_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "e:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': *endpoint = optarg; break;
		case 'j': t->json = 1; break;
		case 'C': t->citizen = optarg; break;
		case 'T': t->tx = optarg; break;
		case 'H': t->channel = optarg; break;
		case 'S': t->status = optarg; break;
		case 'v': t->service = optarg; break;
		case 'h': fputs(tail_usage, stdout); return 1;
		case 's':
			if (parse_since(optarg, t->since, sizeof(t->since)) == 0)
				break;
			fprintf(stderr,
				"heraldctl tail: --since '%s': expected a duration "
				"(10m, 2h, 1d) or a UTC time (2026-11-22T09:00)\n",
				optarg);
			return 2;
		case 'w':
			if (num_parse_duration(optarg, 1000, 1, 3600000, timeout_ms, NULL, 0) == 0)
				break;
			fprintf(stderr, "heraldctl tail: --timeout '%s': expected a duration\n",
				optarg);
			return 2;
		case 'n':
			if (num_parse_long(optarg, 1, 1000000000, &t->count, NULL, 0) == 0)
				break;
			fprintf(stderr, "heraldctl tail: --count '%s': expected a number\n",
				optarg);
			return 2;
		default: fputs(tail_usage, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(tail_usage, stderr);
		return 2;
	}
	return 0;
}

int cmd_tail(struct ctl *c, int argc, char **argv)
{
	struct tail t = {.count = -1};
	const char *endpoint = NULL, *nc = getenv("NO_COLOR");
	int64_t timeout_ms = 5000;
	int rc;
	void *ctx, *sub, *mon = NULL;

	if ((rc = tail_args(&t, argc, argv, &endpoint, &timeout_ms)) != 0)
		return rc == 1 ? 0 : rc;
	t.colour = !t.json && isatty(1) && !(nc && *nc);
	if (!endpoint)
		endpoint = conf_get_def(c->conf, "log", "publish", "tcp://127.0.0.1:7401");
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	ctx = zmq_ctx_new();
	sub = zmq_socket(ctx, ZMQ_SUB);
	if (sub)
		mon = monitor_open(ctx, sub);
	if (!sub || zmq_connect(sub, endpoint) != 0) {
		fprintf(stderr, "heraldctl tail: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		rc = 2;
		goto out;
	}
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	rc = wait_connected(sub, mon, timeout_ms);
	mon = NULL;
	if (rc != 0) {
		fprintf(stderr,
			"heraldctl tail: %s: no answer within %lld ms (is heraldd running, and is "
			"this its [log] publish?)\n",
			endpoint, (long long)timeout_ms);
		rc = 2;
		goto out;
	}
	if (t.since[0])
		tail_history(
		    &t, conf_get_def(c->conf, "log", "json", "/var/log/herald/delivery.jsonl"));
	tail_follow(&t, sub);
out:
	if (mon) {
		zmq_socket_monitor(sub, NULL, 0);
		zmq_close(mon);
	}
	if (sub)
		zmq_close(sub);
	zmq_ctx_term(ctx);
	return rc;
}
