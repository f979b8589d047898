/*
 * cmd_tail.c - heraldctl tail [-e PUB_ENDPOINT] [--json] [--citizen ID]
 *              [--tx ID] [--channel C] [--status S] [--count N]
 *
 * Follow the delivery log live from heraldd's PUB socket ([log] publish),
 * printing the same lines as the text log (or the JSON records), filtered.
 * --count N exits after N matching records (for scripts and tests).
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "dlogrec.h"
#include "heraldctl.h"

static volatile sig_atomic_t tail_stop;

static void on_int(int sig)
{
	tail_stop = 1;
}

static int match(const json_t *rec, const char *k, const char *want)
{
	const char *v;

	if (!want)
		return 1;
	v = json_string_value(json_object_get(rec, k));
	return v && !strcmp(v, want);
}

int cmd_tail(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"citizen", required_argument, NULL, 'C'},
					     {"tx", required_argument, NULL, 'T'},
					     {"channel", required_argument, NULL, 'H'},
					     {"status", required_argument, NULL, 'S'},
					     {"count", required_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	const char *endpoint = NULL, *citizen = NULL, *tx = NULL, *channel = NULL, *status = NULL;
	int json = 0, opt, rc = 0;
	long count = -1, seen = 0;
	void *ctx, *sub;
	char buf[65536], line[4096];

	while ((opt = getopt_long(argc, argv, "e:", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': endpoint = optarg; break;
		case 'j': json = 1; break;
		case 'C': citizen = optarg; break;
		case 'T': tx = optarg; break;
		case 'H': channel = optarg; break;
		case 'S': status = optarg; break;
		case 'n': count = atol(optarg); break;
		default:
			fprintf(stderr,
				"usage: heraldctl tail [-e PUB_ENDPOINT] [--json] [--citizen ID] "
				"[--tx ID] [--channel C] [--status S] [--count N]\n");
			return 2;
		}
	}
	if (!endpoint)
		endpoint = conf_get_def(c->conf, "log", "publish", "tcp://127.0.0.1:7401");
	signal(SIGINT, on_int);
	signal(SIGTERM, on_int);
	ctx = zmq_ctx_new();
	sub = zmq_socket(ctx, ZMQ_SUB);
	if (!sub || zmq_connect(sub, endpoint) != 0) {
		fprintf(stderr, "heraldctl tail: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		rc = 2;
		goto out;
	}
	zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
	while (!tail_stop && (count < 0 || seen < count)) {
		zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
		json_t *rec;
		int n;

		if (zmq_poll(&it, 1, 500) <= 0)
			continue;
		n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		if ((size_t)n > sizeof(buf) - 1)
			continue; /* truncated: not a record we can read */
		buf[n] = '\0';
		rec = json_loads(buf, 0, NULL);
		if (!rec)
			continue;
		if (match(rec, "citizen", citizen) && match(rec, "tx", tx) &&
		    match(rec, "channel", channel) && match(rec, "status", status)) {
			if (json) {
				puts(buf);
			} else {
				dlog_format_text(rec, line, sizeof(line));
				puts(line);
			}
			fflush(stdout);
			seen++;
		}
		json_decref(rec);
	}
out:
	if (sub)
		zmq_close(sub);
	zmq_ctx_term(ctx);
	return rc;
}
