/* metrics.c - a handful of counters behind one mutex (contention is one
 * scrape every few seconds against the router thread). */
#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 256
#define MAX_GAUGES 16
#define MAX_SERVICES 64 /* distinct service labels; the rest count as "other" */
#define MAX_COUNTERS 64
#define MAX_CB_SERVICES 64

struct series {
	char service[33], channel[33], status[24];
	unsigned long long n;
};

/* HELP text of each gauge heraldd sets (metrics_gauge). */
static const struct {
	const char *name, *help;
} gauge_help[] = {
    {"queue_depth", "Entries in the ingest streams (urgent, normal, bulk)."},
    {"scheduled", "Messages waiting for a retry or a quiet-hours window."},
    {"inflight", "Messages handed to a channel and not yet back."},
    {"redis_up", "1 while heraldd's last Redis command got an answer, else 0."},
    {"dead_messages", "Messages in the dead-letter list (heraldctl dead list)."},
    {"channel_suspended", "1 while an operator has the channel suspended (heraldctl channel)."},
};

static const char *gauge_help_of(const char *name)
{
	for (size_t h = 0; h < sizeof(gauge_help) / sizeof(gauge_help[0]); h++)
		if (!strcmp(gauge_help[h].name, name))
			return gauge_help[h].help;
	return "A gauge of heraldd.";
}

/* The loop's own histograms (issue #15: where the time goes): turn
 * length in seconds, commands per Redis send, events per herald_accept. */
#define LHIST_MAX 12
struct lhist {
	unsigned long long n[LHIST_MAX + 1], count;
	double sum;
};
static const double turn_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005,
				 0.01,	 0.02,	  0.05,	  0.1,	 0.5};
static const double count_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
#define NTURN_LE (sizeof(turn_le) / sizeof(turn_le[0]))
#define NCOUNT_LE (sizeof(count_le) / sizeof(count_le[0]))

static const double buckets[] = {1, 5, 30, 60, 300, 900, 3600, 14400, 86400, 259200};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static struct {
	pthread_mutex_t mu;
	struct series s[MAX_SERIES];
	int ns;
	unsigned long long ingest[5], throttled, missing, redis_lost;
	unsigned long long hist[NBUCKETS + 1], hist_count;
	double hist_sum;
	struct {
		char name[32];
		double v;
	} g[MAX_GAUGES];
	int ng;
	struct {
		char name[40], channel[33];
		int by_service; /* the label is service=, not channel= */
		unsigned long long n;
	} c[MAX_COUNTERS];
	int nc;
	struct {
		char service[64];
		double backlog, oldest_age, dead;
		unsigned long long failures;
	} cb[MAX_CB_SERVICES];
	int ncb;
	struct {
		char name[32], channel[33];
		double v;
	} cg[MAX_COUNTERS];
	int ncg;
	struct lhist turn, send_cmds, accept_events;
	unsigned long long send_bytes, lone_sends, held_sends, pipe_batches, pipe_cmds;
	unsigned long long wakes[WAKE_N];
} M = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* A service label from a bounded set: the first MAX_SERVICES names seen
 * keep theirs, later ones are "other" (the series table stays small). */
static const char *service_label(const char *service)
{
	int nsvc = 0;

	if (!service || !*service)
		return "-";
	for (int i = 0; i < M.ns; i++) {
		if (!strcmp(M.s[i].service, service))
			return service;
		nsvc += i == 0 || strcmp(M.s[i - 1].service, M.s[i].service) != 0;
	}
	return nsvc < MAX_SERVICES ? service : "other";
}

void metrics_status(const char *channel, const char *status)
{
	metrics_message(NULL, channel, status);
}

void metrics_message(const char *service, const char *channel, const char *status)
{
	pthread_mutex_lock(&M.mu);
	service = service_label(service);
	for (int i = 0; i < M.ns; i++)
		if (!strcmp(M.s[i].service, service) && !strcmp(M.s[i].channel, channel) &&
		    !strcmp(M.s[i].status, status)) {
			M.s[i].n++;
			goto out;
		}
	if (M.ns < MAX_SERIES) {
		snprintf(M.s[M.ns].service, sizeof(M.s[M.ns].service), "%s", service);
		snprintf(M.s[M.ns].channel, sizeof(M.s[M.ns].channel), "%s", channel);
		snprintf(M.s[M.ns].status, sizeof(M.s[M.ns].status), "%s", status);
		M.s[M.ns++].n = 1;
	}
out:
	pthread_mutex_unlock(&M.mu);
}

void metrics_ingest(const char *outcome)
{
	int i = !strcmp(outcome, "accepted")	  ? 0
		: !strcmp(outcome, "duplicate")	  ? 1
		: !strcmp(outcome, "unavailable") ? 3
		: !strcmp(outcome, "throttled")	  ? 4
						  : 2;

	pthread_mutex_lock(&M.mu);
	M.ingest[i]++;
	pthread_mutex_unlock(&M.mu);
}

void metrics_ingest_throttled(void)
{
	pthread_mutex_lock(&M.mu);
	M.throttled++;
	pthread_mutex_unlock(&M.mu);
}

void metrics_missing_record(void)
{
	pthread_mutex_lock(&M.mu);
	M.missing++;
	pthread_mutex_unlock(&M.mu);
}

void metrics_redis_lost(void)
{
	pthread_mutex_lock(&M.mu);
	M.redis_lost++;
	pthread_mutex_unlock(&M.mu);
}

void metrics_fulfilled(double seconds)
{
	size_t b = 0;

	while (b < NBUCKETS && seconds > buckets[b])
		b++;
	pthread_mutex_lock(&M.mu);
	M.hist[b]++;
	M.hist_count++;
	M.hist_sum += seconds;
	pthread_mutex_unlock(&M.mu);
}

static void lhist_add(struct lhist *h, const double *le, size_t nle, double v)
{
	size_t b = 0;

	while (b < nle && v > le[b])
		b++;
	h->n[b]++;
	h->count++;
	h->sum += v;
}

void metrics_loop_turn(long long us)
{
	pthread_mutex_lock(&M.mu);
	lhist_add(&M.turn, turn_le, NTURN_LE, (double)us / 1e6);
	pthread_mutex_unlock(&M.mu);
}

void metrics_redis_send(size_t cmds, size_t bytes, int lone)
{
	pthread_mutex_lock(&M.mu);
	lhist_add(&M.send_cmds, count_le, NCOUNT_LE, (double)cmds);
	M.send_bytes += bytes;
	M.lone_sends += lone != 0;
	pthread_mutex_unlock(&M.mu);
}

void metrics_loop_wake(enum loop_wake by)
{
	if (by >= WAKE_N)
		return;
	pthread_mutex_lock(&M.mu);
	M.wakes[by]++;
	pthread_mutex_unlock(&M.mu);
}

void metrics_redis_held(void)
{
	pthread_mutex_lock(&M.mu);
	M.held_sends++;
	pthread_mutex_unlock(&M.mu);
}

void metrics_redis_pipe(size_t batches, size_t cmds)
{
	pthread_mutex_lock(&M.mu);
	M.pipe_batches += batches;
	M.pipe_cmds += cmds;
	pthread_mutex_unlock(&M.mu);
}

void metrics_accept_batch(int events)
{
	pthread_mutex_lock(&M.mu);
	lhist_add(&M.accept_events, count_le, NCOUNT_LE, (double)events);
	pthread_mutex_unlock(&M.mu);
}

static void render_lhist(FILE *fp, const char *name, const char *help, const struct lhist *h,
			 const double *le, size_t nle)
{
	unsigned long long cum = 0;

	fprintf(fp, "# HELP herald_%s %s\n# TYPE herald_%s histogram\n", name, help, name);
	for (size_t b = 0; b < nle; b++) {
		cum += h->n[b];
		fprintf(fp, "herald_%s_bucket{le=\"%g\"} %llu\n", name, le[b], cum);
	}
	fprintf(fp, "herald_%s_bucket{le=\"+Inf\"} %llu\nherald_%s_sum %.6f\n", name, h->count,
		name, h->sum);
	fprintf(fp, "herald_%s_count %llu\n", name, h->count);
}

static void render_wakes(FILE *fp)
{
	static const char *const by[WAKE_N] = {"fd", "timeout", "signal", "ready"};

	fprintf(fp, "# HELP herald_loop_wakes_total How the router loop's wait for work ended: "
		    "a descriptor was ready (fd), the poll timed out (timeout), a signal "
		    "(signal), or work was there already and it did not wait (ready).\n"
		    "# TYPE herald_loop_wakes_total counter\n");
	for (int i = 0; i < WAKE_N; i++)
		fprintf(fp, "herald_loop_wakes_total{by=\"%s\"} %llu\n", by[i], M.wakes[i]);
}

static void render_loop(FILE *fp)
{
	render_wakes(fp);
	render_lhist(fp, "loop_turn_seconds", "Length of one router loop turn (not its wait).",
		     &M.turn, turn_le, NTURN_LE);
	render_lhist(fp, "redis_send_commands", "Commands written to Redis by one pipeline send.",
		     &M.send_cmds, count_le, NCOUNT_LE);
	render_lhist(fp, "ingest_accept_events", "Events in one herald_accept call.",
		     &M.accept_events, count_le, NCOUNT_LE);
	fprintf(fp,
		"# HELP herald_redis_send_bytes_total Bytes written to Redis by pipeline sends.\n"
		"# TYPE herald_redis_send_bytes_total counter\nherald_redis_send_bytes_total "
		"%llu\n",
		M.send_bytes);
	fprintf(fp,
		"# HELP herald_redis_lone_sends_total Pipeline sends made while no earlier "
		"reply was outstanding.\n"
		"# TYPE herald_redis_lone_sends_total counter\nherald_redis_lone_sends_total "
		"%llu\n",
		M.lone_sends);
	fprintf(fp,
		"# HELP herald_redis_held_sends_total Loop turns whose commands waited for the "
		"replies outstanding, to go out with the next ones (group commit).\n"
		"# TYPE herald_redis_held_sends_total counter\nherald_redis_held_sends_total "
		"%llu\n",
		M.held_sends);
	fprintf(fp,
		"# HELP herald_redis_script_batches_total Runs of writes sent as one "
		"herald_pipe script (appendfsync always, large sends).\n"
		"# TYPE herald_redis_script_batches_total counter\n"
		"herald_redis_script_batches_total %llu\n"
		"# HELP herald_redis_script_commands_total Commands sent inside herald_pipe "
		"scripts.\n"
		"# TYPE herald_redis_script_commands_total counter\n"
		"herald_redis_script_commands_total %llu\n",
		M.pipe_batches, M.pipe_cmds);
}

void metrics_gauge(const char *name, double value)
{
	pthread_mutex_lock(&M.mu);
	for (int i = 0; i < M.ng; i++)
		if (!strcmp(M.g[i].name, name)) {
			M.g[i].v = value;
			goto out;
		}
	if (M.ng < MAX_GAUGES) {
		snprintf(M.g[M.ng].name, sizeof(M.g[M.ng].name), "%s", name);
		M.g[M.ng++].v = value;
	}
out:
	pthread_mutex_unlock(&M.mu);
}

static void count_labelled(const char *name, const char *label, int by_service,
			   unsigned long long n)
{
	if (!label)
		label = "";
	pthread_mutex_lock(&M.mu);
	for (int i = 0; i < M.nc; i++)
		if (!strcmp(M.c[i].name, name) && !strcmp(M.c[i].channel, label) &&
		    M.c[i].by_service == by_service) {
			M.c[i].n += n;
			goto out;
		}
	if (M.nc < MAX_COUNTERS) {
		snprintf(M.c[M.nc].name, sizeof(M.c[M.nc].name), "%s", name);
		snprintf(M.c[M.nc].channel, sizeof(M.c[M.nc].channel), "%s", label);
		M.c[M.nc].by_service = by_service;
		M.c[M.nc++].n = n;
	}
out:
	pthread_mutex_unlock(&M.mu);
}

void metrics_channel_gauge(const char *name, const char *channel, double value)
{
	int i;

	pthread_mutex_lock(&M.mu);
	for (i = 0; i < M.ncg && (strcmp(M.cg[i].name, name) || strcmp(M.cg[i].channel, channel));
	     i++)
		;
	if (i == M.ncg && M.ncg < MAX_COUNTERS) {
		snprintf(M.cg[i].name, sizeof(M.cg[i].name), "%s", name);
		snprintf(M.cg[i].channel, sizeof(M.cg[i].channel), "%s", channel);
		M.ncg++;
	}
	if (i < M.ncg)
		M.cg[i].v = value;
	pthread_mutex_unlock(&M.mu);
}

static void render_channel_gauges(FILE *fp)
{
	for (int i = 0; i < M.ncg; i++) {
		int seen = 0;
		for (int k = 0; k < i && !seen; k++)
			seen = !strcmp(M.cg[k].name, M.cg[i].name);
		if (seen)
			continue;
		fprintf(fp, "# HELP herald_%s %s\n# TYPE herald_%s gauge\n", M.cg[i].name,
			gauge_help_of(M.cg[i].name), M.cg[i].name);
		for (int k = i; k < M.ncg; k++)
			if (!strcmp(M.cg[k].name, M.cg[i].name))
				fprintf(fp, "herald_%s{channel=\"%s\"} %g\n", M.cg[k].name,
					M.cg[k].channel, M.cg[k].v);
	}
}

void metrics_count(const char *name, const char *channel, unsigned long long n)
{
	count_labelled(name, channel, 0, n);
}

void metrics_count_service(const char *name, const char *service, unsigned long long n)
{
	count_labelled(name, service, 1, n);
}

/* The counters of metrics_count, grouped by name (labelled by channel
 * where they have one). */
static void render_counters(FILE *fp)
{
	for (int i = 0; i < M.nc; i++) {
		int seen = 0;
		for (int k = 0; k < i && !seen; k++)
			seen = !strcmp(M.c[k].name, M.c[i].name);
		if (seen)
			continue;
		fprintf(fp, "# HELP herald_%s_total Times heraldd counted %s.\n", M.c[i].name,
			M.c[i].name);
		fprintf(fp, "# TYPE herald_%s_total counter\n", M.c[i].name);
		for (int k = i; k < M.nc; k++) {
			if (strcmp(M.c[k].name, M.c[i].name) != 0)
				continue;
			if (M.c[k].channel[0])
				fprintf(fp, "herald_%s_total{%s=\"%s\"} %llu\n", M.c[k].name,
					M.c[k].by_service ? "service" : "channel", M.c[k].channel,
					M.c[k].n);
			else
				fprintf(fp, "herald_%s_total %llu\n", M.c[k].name, M.c[k].n);
		}
	}
}

void metrics_callback(const char *service, double backlog, double oldest_age_s,
		      unsigned long long failures, double dead)
{
	int i;

	pthread_mutex_lock(&M.mu);
	for (i = 0; i < M.ncb && strcmp(M.cb[i].service, service); i++)
		;
	if (i == M.ncb && M.ncb < MAX_CB_SERVICES)
		snprintf(M.cb[M.ncb++].service, sizeof(M.cb[0].service), "%s", service);
	if (i < M.ncb) {
		M.cb[i].backlog = backlog;
		M.cb[i].oldest_age = oldest_age_s;
		M.cb[i].failures = failures;
		M.cb[i].dead = dead;
	}
	pthread_mutex_unlock(&M.mu);
}

/* The four callback families, one series per service (under M.mu). */
static void render_callbacks(FILE *fp)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	    {"herald_callback_backlog", "gauge",
	     "Status callbacks waiting in Redis (including those being sent)."},
	    {"herald_callback_oldest_age_seconds", "gauge",
	     "Age of the oldest status callback not yet answered 2xx."},
	    {"herald_callback_failures_total", "counter",
	     "Failed status callback POSTs (this process)."},
	    {"herald_callback_dead", "gauge",
	     "Status callbacks given up after callback_max_age (heraldctl callbacks dead)."},
	};

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
			fam[f].type);
		for (int i = 0; i < M.ncb; i++) {
			fprintf(fp, "%s{service=\"%s\"} ", fam[f].name, M.cb[i].service);
			if (f == 0)
				fprintf(fp, "%.0f\n", M.cb[i].backlog);
			else if (f == 1)
				fprintf(fp, "%.3f\n", M.cb[i].oldest_age);
			else if (f == 2)
				fprintf(fp, "%llu\n", M.cb[i].failures);
			else
				fprintf(fp, "%.0f\n", M.cb[i].dead);
		}
	}
}

char *metrics_render(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	unsigned long long cum = 0;
	static const char *const ingest_names[] = {"accepted", "duplicate", "rejected",
						   "unavailable", "throttled"};

	if (!fp)
		return NULL;
	pthread_mutex_lock(&M.mu);
	fprintf(fp, "# HELP herald_ingest_total Events answered on the ingest socket.\n"
		    "# TYPE herald_ingest_total counter\n");
	for (int i = 0; i < 5; i++)
		fprintf(fp, "herald_ingest_total{outcome=\"%s\"} %llu\n", ingest_names[i],
			M.ingest[i]);
	fprintf(fp,
		"# HELP herald_ingest_throttled_turns_total Loop turns that took fewer new events "
		"because the streams had a backlog.\n"
		"# TYPE herald_ingest_throttled_turns_total counter\n"
		"herald_ingest_throttled_turns_total %llu\n",
		M.throttled);
	fprintf(fp,
		"# HELP herald_missing_records_total Messages found queued or scheduled "
		"without their record (expired or purged).\n"
		"# TYPE herald_missing_records_total counter\n"
		"herald_missing_records_total %llu\n",
		M.missing);
	fprintf(fp,
		"# HELP herald_redis_disconnects_total Redis connections lost (herald_redis_up "
		"says whether it is connected now).\n"
		"# TYPE herald_redis_disconnects_total counter\n"
		"herald_redis_disconnects_total %llu\n",
		M.redis_lost);
	fprintf(fp, "# HELP herald_messages_total Message transitions by service, channel and "
		    "status.\n"
		    "# TYPE herald_messages_total counter\n");
	for (int i = 0; i < M.ns; i++)
		fprintf(fp,
			"herald_messages_total{service=\"%s\",channel=\"%s\",status=\"%s\"} %llu\n",
			M.s[i].service, M.s[i].channel, M.s[i].status, M.s[i].n);
	fprintf(fp, "# HELP herald_fulfilment_seconds Time from accepted to first delivered.\n"
		    "# TYPE herald_fulfilment_seconds histogram\n");
	for (size_t b = 0; b < NBUCKETS; b++) {
		cum += M.hist[b];
		fprintf(fp, "herald_fulfilment_seconds_bucket{le=\"%g\"} %llu\n", buckets[b], cum);
	}
	fprintf(fp, "herald_fulfilment_seconds_bucket{le=\"+Inf\"} %llu\n", M.hist_count);
	fprintf(fp, "herald_fulfilment_seconds_sum %.3f\nherald_fulfilment_seconds_count %llu\n",
		M.hist_sum, M.hist_count);
	render_callbacks(fp);
	for (int i = 0; i < M.ng; i++)
		fprintf(fp, "# HELP herald_%s %s\n# TYPE herald_%s gauge\nherald_%s %g\n",
			M.g[i].name, gauge_help_of(M.g[i].name), M.g[i].name, M.g[i].name,
			M.g[i].v);
	fprintf(fp,
		"# HELP herald_build_info The running heraldd's version (value 1).\n"
		"# TYPE herald_build_info gauge\nherald_build_info{version=\"%s\"} 1\n",
		HERALD_VERSION);
	render_counters(fp);
	render_channel_gauges(fp);
	render_loop(fp);
	pthread_mutex_unlock(&M.mu);
	fclose(fp);
	return buf;
}
