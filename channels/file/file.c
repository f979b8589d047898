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

#include "chanq.h"

struct file_job {
	uint64_t msg_id;
	unsigned attempt;
	/* NUL-terminated strings stored after the struct */
	const char *event_id, *citizen_id, *transaction_id, *reference, *template_name, *locale,
	    *subject, *body;
};

struct file_state {
	const struct herald_host *host;
	FILE *fp;
	char path[4096];
	struct jobq *jobs;
	struct resq *results;
	pthread_t writer;
	atomic_int stop;
};

/* Append a JSON string value (the text is UTF-8 already: the router
 * checked it; escape what JSON requires). */
static void put_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': fputs("\\\"", fp); break;
		case '\\': fputs("\\\\", fp); break;
		case '\n': fputs("\\n", fp); break;
		case '\r': fputs("\\r", fp); break;
		case '\t': fputs("\\t", fp); break;
		default:
			if (c < 0x20)
				fprintf(fp, "\\u%04x", c);
			else
				fputc(c, fp);
		}
	}
	fputc('"', fp);
}

static void put_kv(FILE *fp, const char *k, const char *v, int first)
{
	if (!v)
		return;
	fputs(first ? "{\"" : ",\"", fp);
	fputs(k, fp);
	fputs("\":", fp);
	put_str(fp, v);
}

static int write_one(struct file_state *st, const struct file_job *j, const char *ts)
{
	put_kv(st->fp, "ts", ts, 1);
	put_kv(st->fp, "event_id", j->event_id, 0);
	put_kv(st->fp, "citizen_id", j->citizen_id, 0);
	put_kv(st->fp, "transaction_id", j->transaction_id, 0);
	put_kv(st->fp, "reference", j->reference, 0);
	put_kv(st->fp, "channel", "file", 0);
	put_kv(st->fp, "template", j->template_name, 0);
	put_kv(st->fp, "locale", j->locale, 0);
	put_kv(st->fp, "subject", j->subject, 0);
	put_kv(st->fp, "body", j->body ? j->body : "", 0);
	fprintf(st->fp, ",\"attempt\":%u}\n", j->attempt);
	return ferror(st->fp) ? -1 : 0;
}

static void *writer_main(void *arg)
{
	struct file_state *st = arg;
	struct file_job *batch[256];

	while (!atomic_load(&st->stop) || jobq_len(st->jobs) > 0) {
		struct file_job *j = jobq_pop(st->jobs, 200);
		int n = 0, err = 0;
		char ts[32];
		time_t now;
		struct tm tm;

		if (!j)
			continue;
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		/* take what is queued now, write it all, flush once */
		do {
			batch[n++] = j;
			if (!err && write_one(st, j, ts) != 0)
				err = errno ? errno : EIO;
		} while (n < 256 && (j = jobq_pop(st->jobs, 0)) != NULL);
		if (!err && fflush(st->fp) == EOF)
			err = errno ? errno : EIO;
		for (int i = 0; i < n; i++) {
			if (err)
				resq_pushf(st->results, batch[i]->msg_id, HERALD_TEMPORARY, 0, NULL,
					   NULL, "write %s: %s", st->path, strerror(err));
			else
				resq_pushf(st->results, batch[i]->msg_id, HERALD_DELIVERED, 0, NULL,
					   NULL, "written to %s", st->path);
			free(batch[i]);
		}
		if (err)
			clearerr(st->fp);
	}
	return NULL;
}

static int file_open(const struct herald_host *host, void **state)
{
	struct file_state *st = calloc(1, sizeof(*st));
	const char *path = host->conf(host->ctx, "path");
	const char *q = host->conf(host->ctx, "queue");
	long qlen = q ? atol(q) : 65536;

	if (!st)
		return -1;
	st->host = host;
	if (!path || !*path)
		path = "/var/spool/herald/file.jsonl";
	snprintf(st->path, sizeof(st->path), "%s", path);
	if (qlen < 1) {
		host->log(host->ctx, HERALD_LOG_ERR, "file: queue = %s: expected a positive number",
			  q);
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
	const char *f[8] = {m->event_id, m->citizen_id,	  m->transaction_id, m->reference,
			    m->template_name, m->locale, m->subject, m->body};
	size_t len[8], total = sizeof(struct file_job);
	struct file_job *j;
	char *p;

	for (int i = 0; i < 8; i++) {
		len[i] = f[i] ? strlen(f[i]) + 1 : 0;
		total += len[i];
	}
	j = malloc(total);
	if (!j)
		return -1;
	j->msg_id = m->msg_id;
	j->attempt = m->attempt;
	p = (char *)(j + 1);
	const char **dst[8] = {&j->event_id,	  &j->citizen_id, &j->transaction_id,
			       &j->reference,	  &j->template_name, &j->locale,
			       &j->subject,	  &j->body};
	for (int i = 0; i < 8; i++) {
		*dst[i] = NULL;
		if (f[i]) {
			memcpy(p, f[i], len[i]);
			*dst[i] = p;
			p += len[i];
		}
	}
	if (jobq_push(st->jobs, j) != 0) {
		free(j);
		return -1; /* the writer is behind: the router tries again */
	}
	return 0;
}

static int file_poll(void *state, struct herald_result *out, int max)
{
	struct file_state *st = state;
	return resq_pop(st->results, out, max);
}

static int file_fd(void *state)
{
	struct file_state *st = state;
	return resq_fd(st->results);
}

static void file_close(void *state)
{
	struct file_state *st = state;

	if (!st)
		return;
	atomic_store(&st->stop, 1);
	jobq_close(st->jobs);
	pthread_join(st->writer, NULL);
	fclose(st->fp);
	resq_free(&st->results);
	jobq_free(&st->jobs);
	free(st);
}

static const char *const file_variants[] = {"file", "email", NULL};

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI,
    .version = 1,
    .name = "file",
    .address_field = NULL,
    .variants = file_variants,
    .html_variant = NULL,
    .open = file_open,
    .submit = file_submit,
    .poll = file_poll,
    .fd = file_fd,
    .close = file_close,
};
