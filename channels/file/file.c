/*
 * file.c - the file channel: one JSON line per message appended to a file.
 * For demos, tests and benchmarks, and for sites that hand messages to
 * another system by file. Needs no address. Writing is local buffered I/O,
 * so it happens in submit(); poll() flushes and then reports "delivered" (a
 * line in the file is as delivered as this channel gets).
 *
 * [channel.file]
 * path = /var/spool/herald/file.jsonl
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chanq.h"

struct file_state {
	const struct herald_host *host;
	FILE *fp;
	char path[4096];
	struct resq *results;
	uint64_t *pending; /* msg_ids written but not yet flushed */
	size_t npending, cap;
};

static int file_open(const struct herald_host *host, void **state)
{
	struct file_state *st = calloc(1, sizeof(*st));
	const char *path = host->conf(host->ctx, "path");

	if (!st)
		return -1;
	st->host = host;
	if (!path || !*path)
		path = "/var/spool/herald/file.jsonl";
	snprintf(st->path, sizeof(st->path), "%s", path);
	st->fp = fopen(st->path, "a");
	if (!st->fp) {
		host->log(host->ctx, HERALD_LOG_ERR, "file: cannot open %s: %s", st->path,
			  strerror(errno));
		free(st);
		return -1;
	}
	st->results = resq_new();
	if (!st->results) {
		fclose(st->fp);
		free(st);
		return -1;
	}
	*state = st;
	return 0;
}

static int file_submit(void *state, const struct herald_msg *m)
{
	struct file_state *st = state;
	json_t *o;
	int rc = -1;
	time_t now = time(NULL);
	struct tm tm;
	char ts[32];

	if (st->npending == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		uint64_t *p = realloc(st->pending, cap * sizeof(*p));
		if (!p)
			return -1;
		st->pending = p;
		st->cap = cap;
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:s, s:i}", "ts", ts,
		      "event_id", m->event_id, "citizen_id", m->citizen_id, "transaction_id",
		      m->transaction_id, "reference", m->reference, "channel", "file", "template",
		      m->template_name, "locale", m->locale, "subject", m->subject, "body",
		      m->body ? m->body : "", "attempt", (int)m->attempt);
	if (!o)
		goto fail;
	if (json_dumpf(o, st->fp, JSON_COMPACT | JSON_ENSURE_ASCII) < 0 ||
	    fputc('\n', st->fp) == EOF) {
		resq_pushf(st->results, m->msg_id, HERALD_TEMPORARY, 0, NULL, NULL, "write %s: %s",
			   st->path, strerror(errno));
		clearerr(st->fp);
		rc = 0;
		goto fail;
	}
	st->pending[st->npending++] = m->msg_id;
	rc = 0;
fail:
	json_decref(o);
	return rc;
}

static int file_poll(void *state, struct herald_result *out, int max)
{
	struct file_state *st = state;

	if (st->npending) {
		int err = fflush(st->fp) == EOF ? errno : 0;
		for (size_t i = 0; i < st->npending; i++) {
			if (err)
				resq_pushf(st->results, st->pending[i], HERALD_TEMPORARY, 0, NULL,
					   NULL, "write %s: %s", st->path, strerror(err));
			else
				resq_pushf(st->results, st->pending[i], HERALD_DELIVERED, 0, NULL,
					   NULL, "written to %s", st->path);
		}
		if (err)
			clearerr(st->fp);
		st->npending = 0;
	}
	return resq_pop(st->results, out, max);
}

static void file_close(void *state)
{
	struct file_state *st = state;

	if (!st)
		return;
	fclose(st->fp);
	resq_free(&st->results);
	free(st->pending);
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
    .fd = NULL,
    .close = file_close,
};
