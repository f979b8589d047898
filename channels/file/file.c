/*
 * file.c - the file channel: one JSON line per message appended to a file.
 * For demos, tests and benchmarks, and for sites that hand messages to
 * another system by file. Needs no address. A writer thread of its own
 * takes messages from a queue, writes them, flushes after each run of the
 * queue, and only then reports them "delivered" (a line in the file is as
 * delivered as this channel gets).
 *
 * [channel.file]
 * path = /var/spool/herald/file.jsonl
 * queue = 65536        ; messages waiting for the writer before submit says busy
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "chanjob.h"
#include "chanq.h"
#include "num.h"

struct file_job {
	uint64_t msg_id;
	unsigned attempt;
	/* NUL-terminated strings stored after the struct */
	const char *event_id, *citizen_id, *transaction_id, *reference, *template_name, *locale,
	    *subject, *body;
};

struct file_state {
	struct resq *results; /* first: chanq_state_poll/fd */
	const struct herald_host *host;
	FILE *fp;
	char path[4096];
	struct jobq *jobs;
	pthread_t writer;
	atomic_int stop;
};
CHANQ_RESULTS_FIRST(struct file_state);

/* A growing line buffer: each message becomes one line, written with one
 * fwrite. */
/* One record is built in a util/buf.c buffer (an allocation failure drops
 * the bytes, as before: the line is cut, never overrun). */
static void line_put(struct buf *l, const char *s, size_t n)
{
	buf_add(l, s, n);
}

static void put_str(struct buf *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	line_put(l, "\"", 1);
	while (s && *s) {
		const char *run = s;
		while ((unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
			s++;
		line_put(l, run, (size_t)(s - run));
		if (!*s)
			break;
		unsigned char c = (unsigned char)*s++;
		switch (c) {
		case '"': line_put(l, "\\\"", 2); break;
		case '\\': line_put(l, "\\\\", 2); break;
		case '\n': line_put(l, "\\n", 2); break;
		case '\r': line_put(l, "\\r", 2); break;
		case '\t': line_put(l, "\\t", 2); break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			line_put(l, u, 6);
		}
		}
	}
	line_put(l, "\"", 1);
}

static void put_kv(struct buf *l, const char *k, const char *v, int first)
{
	if (!v)
		return;
	line_put(l, first ? "{\"" : ",\"", 2);
	line_put(l, k, strlen(k));
	line_put(l, "\":", 2);
	put_str(l, v);
}

static void write_one(struct buf *l, const struct file_job *j, const char *ts)
{
	char tail[48];
	int n;

	put_kv(l, "ts", ts, 1);
	put_kv(l, "event_id", j->event_id, 0);
	put_kv(l, "citizen_id", j->citizen_id, 0);
	put_kv(l, "transaction_id", j->transaction_id, 0);
	put_kv(l, "reference", j->reference, 0);
	put_kv(l, "channel", "file", 0);
	put_kv(l, "template", j->template_name, 0);
	put_kv(l, "locale", j->locale, 0);
	put_kv(l, "subject", j->subject, 0);
	put_kv(l, "body", j->body ? j->body : "", 0);
	n = snprintf(tail, sizeof(tail), ",\"attempt\":%u}\n", j->attempt);
	line_put(l, tail, (size_t)n);
}

#define WRITE_BATCH 256
/* pause after a partial batch so the next ones gather (1 ms) */
#define WRITE_GATHER_NS 1000000L

/* reason = prefix + path, cut to the field as the old printf-style did */
static void set_reason(struct herald_result *r, const char *prefix, const char *path)
{
	size_t n = strlen(prefix), m = strlen(path);

	if (n > sizeof(r->reason) - 1)
		n = sizeof(r->reason) - 1;
	memcpy(r->reason, prefix, n);
	if (m > sizeof(r->reason) - 1 - n)
		m = sizeof(r->reason) - 1 - n;
	memcpy(r->reason + n, path, m);
	r->reason[n + m] = '\0';
}

static void *writer_main(void *arg)
{
	struct file_state *st = arg;
	struct file_job *batch[WRITE_BATCH];
	struct herald_result res[WRITE_BATCH], ok, bad;
	struct buf l = BUF_INIT;

	memset(&ok, 0, sizeof(ok));
	ok.version = HERALD_RESULT_VERSION;
	ok.status = HERALD_DELIVERED;
	set_reason(&ok, "written to ", st->path);
	while (!atomic_load(&st->stop) || jobq_len(st->jobs) > 0) {
		/* take what is queued now, write it all, flush once */
		size_t n = jobq_pop_many(st->jobs, (void **)batch, WRITE_BATCH, 200);
		int err = 0;
		char ts[32];
		time_t now;
		struct tm tm;

		if (!n)
			continue;
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_reset(&l);
		for (size_t i = 0; i < n; i++)
			write_one(&l, batch[i], ts);
		if (l.oom)
			err = ENOMEM; /* nothing half-built is written: retried */
		else if (l.len && fwrite(l.data, 1, l.len, st->fp) != l.len)
			err = errno ? errno : EIO;
		if (!err && fflush(st->fp) == EOF)
			err = errno ? errno : EIO;
		if (err) {
			memset(&bad, 0, sizeof(bad));
			bad.version = HERALD_RESULT_VERSION;
			bad.status = HERALD_TEMPORARY;
			char what[64];
			snprintf(what, sizeof(what), ": %s", strerror(err));
			set_reason(&bad, "write ", st->path);
			strncat(bad.reason, what, sizeof(bad.reason) - strlen(bad.reason) - 1);
			clearerr(st->fp);
		}
		for (size_t i = 0; i < n; i++) {
			res[i] = err ? bad : ok;
			res[i].msg_id = batch[i]->msg_id;
			free(batch[i]);
		}
		resq_push_many(st->results, res, n);
		/* Coalesce: after a partial batch, let the next jobs gather for
		 * a moment instead of waking for each one (a wake-up per job
		 * cost the router a futex call and both a context switch). An
		 * idle writer still waits on the queue and starts at once. */
		if (n < WRITE_BATCH && !atomic_load(&st->stop)) {
			struct timespec gather = {0, WRITE_GATHER_NS};
			nanosleep(&gather, NULL);
		}
	}
	buf_free(&l);
	return NULL;
}

static int file_open(const struct herald_host *host, void **state)
{
	struct file_state *st = calloc(1, sizeof(*st));
	const char *path = host->conf(host->ctx, "path");
	const char *q = host->conf(host->ctx, "queue");
	long qlen = 65536;

	if (!st)
		return -1;
	st->host = host;
	if (!path || !*path)
		path = "/var/spool/herald/file.jsonl";
	snprintf(st->path, sizeof(st->path), "%s", path);
	if (q && num_parse_long(q, 1, 100000000, &qlen, NULL, 0) != 0) {
		host->log(host->ctx, HERALD_LOG_ERR,
			  "file: queue = %s: expected a whole number 1..100000000", q);
		goto fail;
	}
	st->fp = fopen(st->path, "a");
	if (!st->fp) {
		host->log(host->ctx, HERALD_LOG_ERR, "file: cannot open %s: %s", st->path,
			  strerror(errno));
		goto fail;
	}
	setvbuf(st->fp, NULL, _IOFBF, 1 << 16);
	st->results = resq_new();
	st->jobs = jobq_new((size_t)qlen);
	if (!st->results || !st->jobs)
		goto fail;
	if (pthread_create(&st->writer, NULL, writer_main, st) != 0)
		goto fail;
	*state = st;
	return 0;
fail:
	if (st->fp)
		fclose(st->fp);
	resq_free(&st->results);
	jobq_free(&st->jobs);
	free(st);
	return -1;
}

static int file_submit(void *state, const struct herald_msg *m)
{
	struct file_state *st = state;
	static const size_t off[] = {
	    offsetof(struct file_job, event_id),       offsetof(struct file_job, citizen_id),
	    offsetof(struct file_job, transaction_id), offsetof(struct file_job, reference),
	    offsetof(struct file_job, template_name),  offsetof(struct file_job, locale),
	    offsetof(struct file_job, subject),	       offsetof(struct file_job, body)};
	const char *f[] = {m->event_id,	     m->citizen_id, m->transaction_id, m->reference,
			   m->template_name, m->locale,	    m->subject,	       m->body};
	struct file_job *j = chan_job_pack(sizeof(*j), 8, f, off);

	if (!j)
		return -1;
	j->msg_id = m->msg_id;
	j->attempt = m->attempt;
	if (jobq_push(st->jobs, j) != 0) {
		free(j);
		return -1; /* the writer is behind: the router tries again */
	}
	return 0;
}

static void file_close(void *state)
{
	struct file_state *st = state;

	if (!st)
		return;
	atomic_store(&st->stop, 1);
	chan_workers_join(st->jobs, &st->writer, 1, NULL, NULL); /* the writer drains the queue */
	fclose(st->fp);
	resq_free(&st->results);
	jobq_drain_free(&st->jobs, free);
	free(st);
}

static const char *const file_keys[] = {"path", "queue", NULL};

/* heraldd -t: queue is a whole number, path's directory exists. */
static int file_check(const struct herald_host *host, char *err, size_t errlen)
{
	const char *q = host->conf(host->ctx, "queue");
	long n;
	char why[128];

	if (q && num_parse_long(q, 1, 100000000, &n, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "queue = '%s': %s", q, why);
		return -1;
	}
	return 0;
}

static const char *const file_variants[] = {"file", "email", NULL};

/* The host is stopping: what has not started is abandoned (it stays
 * pending in heraldd's queue and is resumed after the restart). */
static void file_drain(void *state)
{
	struct file_state *st = state;

	if (st)
		chan_jobs_abandon(st->jobs, st->results, free);
}
CHANJOB_ID_FIRST(struct file_job);

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI,
    .version = 3,
    .name = "file",
    .address_field = NULL,
    .variants = file_variants,
    .html_variant = NULL,
    .open = file_open,
    .submit = file_submit,
    .poll = chanq_state_poll,
    .fd = chanq_state_fd,
    .close = file_close,
    .keys = file_keys,
    .check = file_check,
    .drain = file_drain,
};
