/*
 * print.c - the print channel: every message becomes a PDF letter (see
 * channels/common/letter.c) that goes either to a CUPS queue over IPP or
 * into a print-and-post house's spool folder.
 *
 * [channel.print]
 * mode = ipp              ; ipp | spool
 * sender = DVLA|Swansea|SA6 7JL   ; sender block, lines separated by '|'
 * ; mode = ipp
 * server = localhost:631  ; CUPS host:port ([v6]:port works too)
 * queue = letters         ; CUPS queue (printer) name
 * poll_interval = 2       ; seconds between job state checks
 * track_timeout = 86400   ; stop tracking a job after this many seconds
 * ; mode = spool
 * dir = /var/spool/herald/print   ; see spool.c for the file contract
 *
 * Threads: submit() only checks the address and copies the message onto a
 * bounded queue; one worker thread renders, submits and tracks, so the
 * router thread never waits for cairo or CUPS.
 *
 * Outcomes, ipp: job accepted -> sent (ref "<queue>-<job id>"), later
 * completed -> delivered, aborted/canceled -> permanent-failure (same
 * msg_id and ref); CUPS unreachable or busy -> temporary-failure; a document
 * CUPS refuses as such -> permanent-failure. spool: files in place -> sent,
 * final (ref "<stem>.pdf"). No postal address -> permanent-failure.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chanjob.h"
#include "chanq.h"
#include "letter.h"
#include "num.h"
#include "print.h"

#define PRINT_QUEUE_CAP 1024

enum print_mode { PRINT_IPP, PRINT_SPOOL };

struct tracked {
	uint64_t msg_id;
	int job;
	int warned;
	double since;
	char ref[200];
	char event_id[160];
};

struct print_state {
	struct resq *results; /* first: chanq_state_poll/fd */
	const struct herald_host *host;
	enum print_mode mode;
	char sender[1024];
	char dir[4096];
	char server[256];
	int port;
	char queue[100]; /* "<queue>-<job id>" must fit a result ref */
	double poll_interval, track_timeout;
	struct jobq *jobs;
	pthread_t thread;
	int started;
	int stop; /* set by close(); also libcups' cancel flag */
	/* worker thread only */
	struct pipp *ipp;
	struct tracked *tr;
	size_t ntr, captr;
};
CHANQ_RESULTS_FIRST(struct print_state);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int stopping(struct print_state *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_RELAXED);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void job_free(struct print_job *j)
{
	if (!j)
		return;
	free(j->event_id);
	free(j->name);
	free(j->citizen_id);
	free(j->template_name);
	letter_release(&j->l);
	free(j);
}

/* ---- worker ----------------------------------------------------------------- */

static void print_log_to(struct print_state *st, const char *address, char *out, size_t outlen)
{
	st->host->mask(st->host->ctx, address ? address : "", out, outlen);
}

static void track_add(struct print_state *st, const struct print_job *j, int job, const char *ref)
{
	struct tracked *t;

	if (st->ntr == st->captr) {
		size_t cap = st->captr ? st->captr * 2 : 32;
		struct tracked *n = realloc(st->tr, cap * sizeof(*n));
		if (!n) {
			st->host->log(st->host->ctx, HERALD_LOG_WARNING,
				      "print: %s: out of memory, job %s not tracked", j->event_id,
				      ref);
			return;
		}
		st->tr = n;
		st->captr = cap;
	}
	t = &st->tr[st->ntr++];
	memset(t, 0, sizeof(*t));
	t->msg_id = j->msg_id;
	t->job = job;
	t->since = now_s();
	snprintf(t->ref, sizeof(t->ref), "%s", ref);
	snprintf(t->event_id, sizeof(t->event_id), "%s", j->event_id);
}

static void handle_job(struct print_state *st, struct print_job *j)
{
	struct letter l = j->l; /* the job keeps the strings */
	unsigned char *pdf = NULL;
	size_t len = 0;
	int pages = 0, perm = 0, job;
	char err[512], ref[200], to[128];

	l.sender = st->sender[0] ? st->sender : NULL;
	print_log_to(st, l.address, to, sizeof(to));
	if (letter_render_mem(&l, &pdf, &len, &pages, err, sizeof(err)) != 0) {
		resq_pushf(st->results, j->msg_id, HERALD_TEMPORARY, 0, NULL, NULL,
			   "letter rendering failed: %s", err);
		return;
	}
	if (st->mode == PRINT_SPOOL) {
		char stem[160];
		spool_stem(j->name, stem, sizeof(stem));
		snprintf(ref, sizeof(ref), "%s.pdf", stem);
		if (spool_write(st->dir, j, pdf, len, pages, err, sizeof(err)) != 0) {
			st->host->log(st->host->ctx, HERALD_LOG_WARNING, "print: %s: spool: %s",
				      j->event_id, err);
			resq_pushf(st->results, j->msg_id, HERALD_TEMPORARY, 0, NULL, NULL,
				   "spool: %s", err);
		} else {
			st->host->log(st->host->ctx, HERALD_LOG_INFO,
				      "print: %s: to=%s spooled %s/%s (%d pages, %zu bytes)",
				      j->event_id, to, st->dir, ref, pages, len);
			resq_pushf(st->results, j->msg_id, HERALD_SENT, HERALD_RF_FINAL, ref, NULL,
				   "spooled %s (%d page%s)", ref, pages, pages == 1 ? "" : "s");
		}
		goto done;
	}
	job = pipp_submit(st->ipp, j->name, pdf, len, &perm, err, sizeof(err));
	if (job <= 0) {
		st->host->log(st->host->ctx, HERALD_LOG_WARNING, "print: %s: to=%s %s", j->event_id,
			      to, err);
		resq_pushf(st->results, j->msg_id, perm ? HERALD_PERMANENT : HERALD_TEMPORARY, 0,
			   NULL, NULL, "%s", err);
		goto done;
	}
	snprintf(ref, sizeof(ref), "%s-%d", st->queue, job);
	st->host->log(st->host->ctx, HERALD_LOG_INFO,
		      "print: %s: to=%s submitted as %s on %s:%d (%d pages, %zu bytes)",
		      j->event_id, to, ref, st->server, st->port, pages, len);
	resq_pushf(st->results, j->msg_id, HERALD_SENT, 0, ref, NULL,
		   "submitted to CUPS queue %s as job %d (%d page%s)", st->queue, job, pages,
		   pages == 1 ? "" : "s");
	track_add(st, j, job, ref);
done:
	free(pdf);
}

/* Ask CUPS about every tracked job; report and forget finished ones. */
static void track_poll(struct print_state *st)
{
	size_t i = 0;
	double now = now_s();

	while (i < st->ntr && !stopping(st)) {
		struct tracked *t = &st->tr[i];
		char msg[512];
		enum pipp_state s = pipp_job_state(st->ipp, t->job, msg, sizeof(msg));
		int forget = 1;

		switch (s) {
		case PIPP_COMPLETED:
			resq_pushf(st->results, t->msg_id, HERALD_DELIVERED, 0, t->ref, NULL,
				   "CUPS %s", msg);
			break;
		case PIPP_ABORTED:
			resq_pushf(st->results, t->msg_id, HERALD_PERMANENT, 0, t->ref, NULL,
				   "CUPS %s", msg);
			break;
		case PIPP_UNKNOWN:
			resq_pushf(st->results, t->msg_id, HERALD_TEMPORARY, 0, t->ref, NULL, "%s",
				   msg);
			break;
		case PIPP_UNREACHABLE:
			if (!t->warned)
				st->host->log(st->host->ctx, HERALD_LOG_WARNING,
					      "print: %s: cannot check %s: %s", t->event_id, t->ref,
					      msg);
			t->warned = 1;
			return; /* the server is down: try every job again next round */
		case PIPP_PENDING:
			forget = now - t->since > st->track_timeout;
			if (forget)
				st->host->log(st->host->ctx, HERALD_LOG_WARNING,
					      "print: %s: %s still not finished after %.0f s, "
					      "no longer tracked (%s)",
					      t->event_id, t->ref, now - t->since, msg);
			break;
		}
		if (forget)
			st->tr[i] = st->tr[--st->ntr];
		else
			i++;
	}
}

static void *print_worker(void *arg)
{
	struct print_state *st = arg;
	double next_poll = now_s() + st->poll_interval;

	for (;;) {
		int timeout_ms = 1000;
		struct print_job *j;

		if (st->ntr) {
			double wait = next_poll - now_s();
			timeout_ms = wait <= 0 ? 0 : (int)(wait * 1000) + 1;
		}
		j = jobq_pop(st->jobs, timeout_ms);
		if (stopping(st)) {
			job_free(j); /* the host re-queues what got no result */
			break;
		}
		if (j) {
			handle_job(st, j);
			job_free(j);
		}
		if (st->ntr && now_s() >= next_poll) {
			track_poll(st);
			next_poll = now_s() + st->poll_interval;
		} else if (!st->ntr) {
			next_poll = now_s() + st->poll_interval;
		}
	}
	return NULL;
}

/* ---- plugin ----------------------------------------------------------------- */

static int parse_server(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	size_t n;
	long p = 631;

	if (!s || !*s)
		s = "localhost:631";
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end)
			return -1;
		n = (size_t)(end - s - 1);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return -1;
	} else {
		colon = strrchr(s, ':');
		n = colon ? (size_t)(colon - s) : strlen(s);
		if (n == 0 || n >= hostlen)
			return -1;
		memcpy(host, s, n);
		host[n] = '\0';
	}
	if (colon) {
		int port_n;
		if (num_parse_port(colon + 1, &port_n, NULL, 0))
			return -1;
		p = port_n;
	}
	*port = (int)p;
	return 0;
}

/* A number of seconds >= min: a decimal ("0.3", "2") or a duration with a
 * unit ("250ms", "5m": util/num.c); *out def when unset. -1 (logged) on
 * anything else: a typo stops the channel, never becomes the default. */
static int conf_secs(const struct herald_host *h, const char *key, double def, double min,
		     double *out)
{
	const char *v = h->conf(h->ctx, key);
	char why[128], *end;
	int64_t ms;
	double d;

	*out = def;
	if (!v || !*v)
		return 0;
	if (num_parse_duration(v, 1000, (int64_t)(min * 1000.0), INT64_C(31536000000), &ms, why,
			       sizeof(why)) == 0) {
		*out = (double)ms / 1000.0;
		return 0;
	}
	errno = 0;
	d = strtod(v, &end);
	if (errno == 0 && end != v && !*end && d >= min && d <= 31536000.0) {
		*out = d;
		return 0;
	}
	h->log(h->ctx, HERALD_LOG_ERR, "print: %s = '%s': not a number of seconds >= %g", key, v,
	       min);
	return -1;
}

/* The channel's settings into st, checked (print_open and print_check):
 * sender, the intervals, and the mode with its queue and server or folder.
 * -1 (logged) on a bad one. Nothing is connected or created. */
static int print_conf_read(const struct herald_host *host, struct print_state *st)
{
	const char *mode = host->conf(host->ctx, "mode");
	const char *v = host->conf(host->ctx, "sender");

	snprintf(st->sender, sizeof(st->sender), "%s", v ? v : "");
	if (conf_secs(host, "poll_interval", 2.0, 0.05, &st->poll_interval) ||
	    conf_secs(host, "track_timeout", 86400.0, 1.0, &st->track_timeout))
		return -1;
	if (!mode || !*mode || strcmp(mode, "ipp") == 0) {
		st->mode = PRINT_IPP;
		v = host->conf(host->ctx, "queue");
		if (!v || !*v) {
			host->log(host->ctx, HERALD_LOG_ERR, "print: mode ipp needs queue =");
			return -1;
		}
		snprintf(st->queue, sizeof(st->queue), "%s", v);
		if (parse_server(host->conf(host->ctx, "server"), st->server, sizeof(st->server),
				 &st->port) != 0) {
			host->log(host->ctx, HERALD_LOG_ERR, "print: server = %s is not host:port",
				  host->conf(host->ctx, "server"));
			return -1;
		}
	} else if (strcmp(mode, "spool") == 0) {
		st->mode = PRINT_SPOOL;
		v = host->conf(host->ctx, "dir");
		if (!v || !*v) {
			host->log(host->ctx, HERALD_LOG_ERR, "print: mode spool needs dir =");
			return -1;
		}
		snprintf(st->dir, sizeof(st->dir), "%s", v);
	} else {
		host->log(host->ctx, HERALD_LOG_ERR, "print: mode = %s (want ipp or spool)", mode);
		return -1;
	}
	return 0;
}

static void print_close(void *state);

static void job_free_any(void *j)
{
	job_free(j);
}

static int print_open(const struct herald_host *host, void **state)
{
	struct print_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -1;
	st->host = host;
	if (print_conf_read(host, st) != 0)
		goto fail;
	if (st->mode == PRINT_IPP) {
		st->ipp = pipp_new(st->server, st->port, st->queue, &st->stop);
		if (!st->ipp)
			goto fail;
	} else {
		if (mkdir(st->dir, 0750) != 0 && errno != EEXIST) {
			host->log(host->ctx, HERALD_LOG_ERR, "print: cannot create %s: %s", st->dir,
				  strerror(errno));
			goto fail;
		}
		if (access(st->dir, W_OK | X_OK) != 0) {
			host->log(host->ctx, HERALD_LOG_ERR, "print: spool dir %s: %s", st->dir,
				  strerror(errno));
			goto fail;
		}
	}
	st->jobs = jobq_new(PRINT_QUEUE_CAP);
	st->results = resq_new();
	if (!st->jobs || !st->results)
		goto fail;
	if (pthread_create(&st->thread, NULL, print_worker, st) != 0) {
		host->log(host->ctx, HERALD_LOG_ERR, "print: cannot start worker thread");
		goto fail;
	}
	st->started = 1;
	if (st->mode == PRINT_IPP)
		host->log(host->ctx, HERALD_LOG_INFO, "print: CUPS %s:%d queue %s", st->server,
			  st->port, st->queue);
	else
		host->log(host->ctx, HERALD_LOG_INFO, "print: spool folder %s", st->dir);
	*state = st;
	return 0;
fail:
	print_close(st);
	return -1;
}

static int print_submit(void *state, const struct herald_msg *m)
{
	struct print_state *st = state;
	struct print_job *j;
	struct letter l;

	if (!letter_has_address(m->to))
		return resq_pushf(st->results, m->msg_id, HERALD_PERMANENT, 0, NULL, NULL,
				  "no postal address for citizen %s: a letter cannot be sent",
				  m->citizen_id ? m->citizen_id : "?") == 0
			   ? 0
			   : -1;
	letter_from_msg(&l, m, NULL);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	j->msg_id = m->msg_id;
	j->attempt = m->attempt;
	if (letter_dup(&j->l, &l) != 0) {
		free(j);
		return -1;
	}
	j->event_id = strdup(m->event_id ? m->event_id : "");
	j->name = strdup(m->version >= 2 && m->provider_ref && *m->provider_ref ? m->provider_ref
			 : j->event_id						? j->event_id
										: "");
	j->citizen_id = dup_or_null(m->citizen_id);
	j->template_name = dup_or_null(m->template_name);
	if (!j->event_id || !j->name || jobq_push(st->jobs, j) != 0) {
		job_free(j);
		return -1;
	}
	return 0;
}

static void print_close(void *state)
{
	struct print_state *st = state;

	if (!st)
		return;
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELAXED);
	chan_workers_join(st->jobs, &st->thread, st->started ? 1 : 0, NULL, NULL);
	jobq_drain_free(&st->jobs, job_free_any);
	pipp_free(&st->ipp);
	free(st->tr);
	resq_free(&st->results);
	free(st);
}

/* heraldctl render --pdf: the letter as print_submit would send it. */
static int print_preview(const struct herald_host *host, const struct herald_msg *msg,
			 unsigned char **out, size_t *len, char *err, size_t errlen)
{
	const char *sender = host->conf(host->ctx, "sender");
	struct letter l;

	letter_from_msg(&l, msg, sender && *sender ? sender : NULL);
	return letter_render_mem(&l, out, len, NULL, err, errlen);
}

static const char *const print_keys[] = {"mode",  "sender", "poll_interval", "track_timeout",
					 "queue", "server", "dir",	     NULL};

/* heraldd -t: the settings, read as print_open reads them, without
 * connecting to CUPS or creating the spool folder. */
static int print_check(const struct herald_host *host, char *err, size_t errlen)
{
	struct print_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = print_conf_read(host, st);
	if (rc != 0)
		snprintf(err, errlen, "invalid [channel.print] (reason logged above)");
	free(st);
	return rc;
}

static const char *const print_variants[] = {"print", NULL};

/* The host is stopping: what has not started is abandoned (it stays
 * pending in heraldd's queue and is resumed after the restart). */
static void print_drain(void *state)
{
	struct print_state *st = state;

	if (st)
		chan_jobs_abandon(st->jobs, st->results, job_free_any);
}
CHANJOB_ID_FIRST(struct print_job);

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI,
    .version = 3,
    .name = "print",
    .address_field = "address",
    .variants = print_variants,
    .html_variant = NULL,
    .open = print_open,
    .submit = print_submit,
    .poll = chanq_state_poll,
    .fd = chanq_state_fd,
    .receipt = NULL,
    .close = print_close,
    .keys = print_keys,
    .check = print_check,
    .preview = print_preview,
    .drain = print_drain,
};
