/* deliverylog.c - heraldd's delivery log: text file, JSON lines file, PUB
 * socket. The records' formats are lib/dlogrec.c's. */
#include "deliverylog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "text.h"

struct dlog {
	char *text_path, *json_path;
	FILE *text, *json;
	char *text_buf, *json_buf; /* their stdio buffers */
	void *pub;		   /* XPUB: it tells when someone subscribes */
	long topics;		   /* distinct topics subscribed to: 0, no one listens */
	int64_t subs_ms;	   /* when the (un)subscriptions were last taken */
};

/* The (un)subscriptions are taken at most this often (ms): a zmq_recv that
 * finds none still asks the socket's mailbox (getpid and poll), and a busy
 * loop turns every 0.1 ms. An idle loop wakes for its own work only (the
 * XPUB is not polled), so a new subscriber has waited up to a turn, 100
 * ms, for its first record anyway; records before that are not its. */
#define DLOG_SUBS_MS 10

/* A loop turn's records (a few hundred, ~300 bytes each) go out in one
 * write at dlog_flush instead of one per 4 KB of stdio's default buffer. */
#define DLOG_BUF (256 * 1024)

/* Open path for appending with a DLOG_BUF buffer (*buf: the new buffer,
 * to free after fclose; NULL when it could not be had: stdio's own). */
static FILE *open_append(const char *path, char **buf, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "a");

	*buf = NULL;
	if (!fp) {
		if (err)
			snprintf(err, errlen, "cannot open delivery log %s: %s", path,
				 strerror(errno));
		return NULL;
	}
	if ((*buf = malloc(DLOG_BUF)) && setvbuf(fp, *buf, _IOFBF, DLOG_BUF) != 0) {
		free(*buf);
		*buf = NULL;
	}
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
		if (!(d->text = open_append(text_path, &d->text_buf, err, errlen)))
			goto fail;
	}
	if (json_path && *json_path) {
		d->json_path = strdup(json_path);
		if (!(d->json = open_append(json_path, &d->json_buf, err, errlen)))
			goto fail;
	}
	if (pub_endpoint && *pub_endpoint) {
		int linger = 0, hwm = 100000;
		d->pub = zmq_socket(zctx, ZMQ_XPUB);
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
	free(d->text_buf);
	free(d->json_buf);
	if (d->pub)
		zmq_close(d->pub);
	free(d->text_path);
	free(d->json_path);
	free(d);
	*dp = NULL;
}

static int reopen_one(FILE **fp, char **buf, const char *path)
{
	FILE *n;
	char *nbuf;

	if (!*fp)
		return 0;
	n = open_append(path, &nbuf, NULL, 0);
	if (!n) {
		log_warn("cannot reopen delivery log %s, keeping the old file", path);
		return -1;
	}
	fclose(*fp);
	free(*buf);
	*fp = n;
	*buf = nbuf;
	return 0;
}

int dlog_reopen(struct dlog *d)
{
	int rc = 0;

	if (reopen_one(&d->text, &d->text_buf, d->text_path))
		rc = -1;
	if (reopen_one(&d->json, &d->json_buf, d->json_path))
		rc = -1;
	return rc;
}

/* Take the (un)subscriptions XPUB passed up: [1|0, topic]. Without
 * XPUB_VERBOSE it passes the first subscription of a topic and its last
 * unsubscription (also when a subscriber goes away), so the count is the
 * number of topics someone listens to. */
static void take_subscriptions(struct dlog *d)
{
	unsigned char m[256];
	int n;

	while ((n = zmq_recv(d->pub, m, sizeof(m), ZMQ_DONTWAIT)) >= 1) {
		if (m[0] == 1)
			d->topics++;
		else if (m[0] == 0 && d->topics > 0)
			d->topics--;
	}
}

void dlog_write(struct dlog *d, const char *text, const char *json)
{
	if (d->text) {
		fputs(text, d->text);
		fputc('\n', d->text);
	}
	if (d->json) {
		fputs(json, d->json);
		fputc('\n', d->json);
	}
	/* no one listens: PUB would drop it anyway (subscriptions are taken
	 * once a loop turn, in dlog_flush) */
	if (d->pub && d->topics)
		zmq_send(d->pub, json, strlen(json), ZMQ_DONTWAIT);
}

/* The (un)subscriptions once a turn at most (every DLOG_SUBS_MS). */
void dlog_flush(struct dlog *d)
{
	int64_t now = d->pub ? mono_ms() : 0;

	if (d->pub && now - d->subs_ms >= DLOG_SUBS_MS) {
		d->subs_ms = now;
		take_subscriptions(d);
	}
	dlog_flush_files(d);
}

void dlog_flush_files(struct dlog *d)
{
	if (d->text && fflush(d->text) == EOF)
		log_warn("delivery log %s", d->text_path);
	if (d->json && fflush(d->json) == EOF)
		log_warn("delivery log %s", d->json_path);
}
