/* deliverylog.c - the delivery log: text file, JSON lines file, PUB socket. */
#include "deliverylog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"

struct dlog {
	char *text_path, *json_path;
	FILE *text, *json;
	void *pub;
};

static FILE *open_append(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "a");

	if (!fp && err)
		snprintf(err, errlen, "cannot open delivery log %s: %s", path, strerror(errno));
	return fp;
}

struct dlog *dlog_open(const char *text_path, const char *json_path, const char *pub_endpoint,
		       void *zctx, char *err, size_t errlen)
{
	struct dlog *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (text_path && *text_path) {
		d->text_path = strdup(text_path);
		if (!(d->text = open_append(text_path, err, errlen)))
			goto fail;
	}
	if (json_path && *json_path) {
		d->json_path = strdup(json_path);
		if (!(d->json = open_append(json_path, err, errlen)))
			goto fail;
	}
	if (pub_endpoint && *pub_endpoint) {
		int linger = 0, hwm = 100000;
		d->pub = zmq_socket(zctx, ZMQ_PUB);
		if (!d->pub)
			goto zfail;
		zmq_setsockopt(d->pub, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_setsockopt(d->pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		if (zmq_bind(d->pub, pub_endpoint) != 0)
			goto zfail;
	}
	return d;
zfail:
	snprintf(err, errlen, "cannot bind delivery log publisher %s: %s", pub_endpoint,
		 zmq_strerror(zmq_errno()));
fail:
	dlog_close(&d);
	return NULL;
}

void dlog_close(struct dlog **dp)
{
	struct dlog *d = *dp;

	if (!d)
		return;
	if (d->text)
		fclose(d->text);
	if (d->json)
		fclose(d->json);
	if (d->pub)
		zmq_close(d->pub);
	free(d->text_path);
	free(d->json_path);
	free(d);
	*dp = NULL;
}

static int reopen_one(FILE **fp, const char *path)
{
	FILE *n;

	if (!*fp)
		return 0;
	n = fopen(path, "a");
	if (!n) {
		log_warn("cannot reopen delivery log %s, keeping the old file", path);
		return -1;
	}
	fclose(*fp);
	*fp = n;
	return 0;
}

int dlog_reopen(struct dlog *d)
{
	int rc = 0;

	if (reopen_one(&d->text, d->text_path))
		rc = -1;
	if (reopen_one(&d->json, d->json_path))
		rc = -1;
	return rc;
}

static const char *str(const json_t *rec, const char *k)
{
	const char *v = json_string_value(json_object_get(rec, k));
	return v && *v ? v : "-";
}

void dlog_format_text(const json_t *rec, char *buf, size_t len)
{
	json_t *fi = json_object_get(rec, "fulfilled_in");
	json_t *ch = json_object_get(rec, "channel");
	char extra[64] = "";
	int n;

	if (json_is_number(fi))
		snprintf(extra, sizeof(extra), ", fulfilled_in=%.3f", json_number_value(fi));
	n = snprintf(buf, len,
		     "%s %s: tx=%s, citizen=%s, channel=%s, to=%s, attempt=%d, delay=%.3f, "
		     "delays=%s, dsn=%s%s, status=%s",
		     str(rec, "ts"), str(rec, "event_id"), str(rec, "tx"), str(rec, "citizen"),
		     json_is_string(ch) ? json_string_value(ch) : "-", str(rec, "to"),
		     (int)json_integer_value(json_object_get(rec, "attempt")),
		     json_number_value(json_object_get(rec, "delay")), str(rec, "delays"),
		     str(rec, "dsn"), extra, str(rec, "status"));
	if (n >= 0 && (size_t)n < len) {
		const char *reason = json_string_value(json_object_get(rec, "reason"));
		if (reason && *reason)
			snprintf(buf + n, len - (size_t)n, " (%s)", reason);
	}
	/* Never let a reason from a remote peer split the line. */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

void dlog_write(struct dlog *d, const json_t *rec, const char *js_in)
{
	char line[2048];
	char *js = NULL;
	const char *out = js_in;

	if (d->text) {
		dlog_format_text(rec, line, sizeof(line));
		fputs(line, d->text);
		fputc('\n', d->text);
	}
	if (!out && (d->json || d->pub))
		out = js = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (out) {
		if (d->json) {
			fputs(out, d->json);
			fputc('\n', d->json);
		}
		if (d->pub)
			zmq_send(d->pub, out, strlen(out), ZMQ_DONTWAIT);
	}
	free(js);
}

void dlog_flush(struct dlog *d)
{
	if (d->text && fflush(d->text) == EOF)
		log_warn("delivery log %s", d->text_path);
	if (d->json && fflush(d->json) == EOF)
		log_warn("delivery log %s", d->json_path);
}
