/*
 * ops.c - what an operator drives heraldd with, apart from the loop: the
 * command line (-c -t -h -V), `heraldd -t` (configuration, channels,
 * templates as a set, services), and the log level at run time (SIGUSR2
 * cycles it; `heraldctl log-level` sets it for every heraldd through Redis),
 * and the gauges /metrics shows from Redis (queue depth, schedule, dead).
 */
#include "ops.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "callback.h"
#include "dispatch.h"
#include "idmap.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "router.h"
#include "schema.h"
#include "tmplstore.h"
#include "zap.h"

static void usage(FILE *fp)
{
	fprintf(fp, "usage: heraldd [-c CONFIG] [-t] [-h|--help] [-V|--version]\n"
		    "  -c CONFIG  configuration file (default /etc/herald/herald.conf)\n"
		    "  -t         check the configuration, channels and templates, then exit\n"
		    "             (0 when all is well, 1 on any error)\n"
		    "  -h, --help     this text\n"
		    "  -V, --version  print the version\n"
		    "exit: 0 stopped cleanly, 1 configuration or start-up error, 2 usage\n"
		    "signals: HUP reload templates, USR1 reopen delivery logs, USR2 cycle the\n"
		    "log level (info, debug, error, warning, notice, info ...)\n");
}

/* SIGUSR2: the next level, logged at the level it leaves and reaches. */
void ops_cycle_log_level(void)
{
	static const int order[] = {LOG_L_INFO, LOG_L_DEBUG, LOG_L_ERR, LOG_L_WARNING,
				    LOG_L_NOTICE};
	int cur = log_get_level(), next = LOG_L_INFO;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (order[i] == cur)
			next = order[(i + 1) % (sizeof(order) / sizeof(order[0]))];
	log_msg(LOG_L_ERR, "log level %s -> %s (SIGUSR2)", log_level_name(cur),
		log_level_name(next));
	log_set_level(next);
}

/* -1 to go on, else the exit code. */
int ops_parse_args(int argc, char **argv, const char **conf_path, int *check_only)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "c:thV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': *conf_path = optarg; break;
		case 't': *check_only = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("heraldd %s\n", HERALD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

static void say_error(const char *line, void *arg)
{
	log_msg(LOG_L_ERR, "templates: %s", line);
}

static void say_warning(const char *line, void *arg)
{
	log_msg(LOG_L_WARNING, "templates: %s", line);
}

/* At start (and after SIGHUP's reload): the template set against the
 * channels that opened; problems are warnings here, errors under -t. */
void ops_check_templates(struct router *r)
{
	struct tstore_channel chans[CHAN_MAX];
	size_t n = chans_variants(&r->chans, chans);

	tstore_check_set(r->templates, chans, n, say_warning, NULL);
}

/* heraldd -t: the server key and services.d as well. 0 if all is well. */
int ops_check_config(struct router *r, const char *conf_path, int errors)
{
	char err[512];
	size_t nsvc = 0, ncb = 0;
	struct services *svcs = NULL;
	int rc;

	struct tstore_channel chans[CHAN_MAX];
	size_t nchans = 0;

	errors += chans_check(r->cfg, chans, &nchans);

	errors += tstore_check_set(r->templates, chans, nchans, say_error, NULL);
	if (zap_check(r->cfg, &nsvc, &svcs, err, sizeof(err)) != 0) {
		log_msg(LOG_L_ERR, "%s", err);
		return -1;
	}
	/* callbacks: services.d's and the deprecated [service.NAME] (warned) */
	rc = callbacks_check(r->cfg, svcs, &ncb, err, sizeof(err));
	services_free(&svcs);
	if (rc != 0) {
		log_msg(LOG_L_ERR, "%s", err);
		return -1;
	}
	if (errors) {
		fprintf(stderr, "heraldd: %s: %d error%s\n", conf_path, errors,
			errors == 1 ? "" : "s");
		return -1;
	}
	printf("heraldd: %s: configuration OK, %zu templates, %zu services, %zu with callbacks\n",
	       conf_path, tstore_count(r->templates), nsvc, ncb);
	return 0;
}

/* GET herald:loglevel came back: apply a change (set or cleared). */
static void on_log_level(redisReply *rep, void *arg)
{
	static char applied[16]; /* what heraldctl log-level last set; "" none */
	struct router *r = arg;
	const char *want = rep && rep->type == REDIS_REPLY_STRING ? rep->str : "";
	int lvl;

	if (!rep || rep->type == REDIS_REPLY_ERROR || !strcmp(applied, want))
		return;
	lvl = *want ? log_level_parse(want) : r->cfg->log_level;
	if (lvl < 0)
		return;
	log_msg(LOG_L_ERR, "log level %s -> %s (%s)", log_level_name(log_get_level()),
		log_level_name(lvl), *want ? "heraldctl log-level" : "[log] level again");
	log_set_level(lvl);
	snprintf(applied, sizeof(applied), "%s", want);
}

void ops_poll_log_level(struct router *r)
{
	rdb_cmdf(r->rdb, on_log_level, r, "GET " KEY_LOGLEVEL);
}

/* Gauges from Redis, on the pipeline: the stream lengths add up as their
 * replies come; the schedule's size comes last and publishes them. */
static long long gauge_depth;

static void on_xlen(redisReply *rep, void *arg)
{
	(void)arg;
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		gauge_depth += rep->integer;
}

static void on_llen_dead(redisReply *rep, void *arg)
{
	metrics_gauge("redis_up", rep && rep->type != REDIS_REPLY_ERROR ? 1 : 0);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		metrics_gauge("dead_messages", (double)rep->integer);
}

static void on_zcard(redisReply *rep, void *arg)
{
	(void)arg;
	metrics_gauge("queue_depth", (double)gauge_depth);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		metrics_gauge("scheduled", (double)rep->integer);
}

void ops_update_gauges(struct router *r)
{
	static const char *const qs[] = KEY_STREAMS;

	gauge_depth = 0;
	for (int i = 0; i < 3; i++)
		rdb_cmdf(r->rdb, on_xlen, NULL, "XLEN %s", qs[i]);
	rdb_cmdf(r->rdb, on_zcard, NULL, "ZCARD " KEY_SCHED);
	rdb_cmdf(r->rdb, on_llen_dead, NULL, "LLEN " KEY_DEAD);
	rdb_check_group(r->rdb); /* appendfsync may have been changed */
	ops_poll_log_level(r);
	metrics_gauge("inflight", (double)idmap_len(r->inflight));
}
