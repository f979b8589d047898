/* deliverylog.c - the delivery log: text file, JSON lines file, PUB socket. */
#include "deliverylog.h"

#include <errno.h>
#include <openssl/crypto.h>
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
};

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

static const char *dash(const char *v)
{
	return v && *v ? v : "-";
}

/* Appending to a caller buffer, cut at its end (always NUL-terminated). */
struct out {
	char *p, *end; /* end: the last byte, kept for the NUL */
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (n > (size_t)(o->end - o->p))
		n = (size_t)(o->end - o->p);
	memcpy(o->p, s, n);
	o->p += n;
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

static void out_fixed3(struct out *o, double v)
{
	char num[64];
	out_put(o, num, fmt_fixed3(v, num, sizeof(num)));
}

size_t dlog_rec_text(const struct dlog_rec *r, char *buf, size_t len)
{
	struct out o = {buf, buf + len - 1};
	char num[24];

	if (len == 0)
		return 0;
	out_str(&o, dash(r->ts));
	out_put(&o, " ", 1);
	out_str(&o, dash(r->event_id));
	out_put(&o, ": tx=", 5);
	out_str(&o, dash(r->tx));
	out_put(&o, ", citizen=", 10);
	out_str(&o, dash(r->citizen));
	out_put(&o, ", channel=", 10);
	out_str(&o, dash(r->channel));
	out_put(&o, ", to=", 5);
	out_str(&o, dash(r->to));
	out_put(&o, ", attempt=", 10);
	out_put(&o, num, fmt_int(r->attempt, num));
	out_put(&o, ", delay=", 8);
	out_fixed3(&o, r->delay);
	out_put(&o, ", delays=", 9);
	out_str(&o, dash(r->delays));
	out_put(&o, ", dsn=", 6);
	out_str(&o, dash(r->dsn));
	if (r->fulfilled_in >= 0) {
		out_put(&o, ", fulfilled_in=", 15);
		out_fixed3(&o, r->fulfilled_in);
	}
	out_put(&o, ", status=", 9);
	out_str(&o, dash(r->status));
	if (r->reason && *r->reason) {
		out_put(&o, " (", 2);
		out_str(&o, r->reason);
		out_put(&o, ")", 1);
	}
	*o.p = '\0';
	/* Never let a reason from a remote peer split the line. */
	for (char *p = buf; p < o.p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return (size_t)(o.p - buf);
}

/* Append a JSON string: escapes quotes, backslashes and controls; bytes
 * that are not valid UTF-8 become '?'. */
static void put_json_str(char **p, char *end, const char *s)
{
	if (*p < end)
		*(*p)++ = '"';
	while (s && *s && *p < end - 8) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*(*p)++ = '\\';
			*(*p)++ = (char)c;
			s++;
		} else if (c < 0x20) {
			memcpy(*p, "\\u00", 4);
			/* two hex digits and a NUL (room: end - 8) */
			OPENSSL_buf2hexstr_ex(*p + 4, 3, NULL, &c, 1, '\0');
			*p += 6;
			s++;
		} else if (c < 0x80) {
			*(*p)++ = (char)c;
			s++;
		} else {
			size_t n = strnlen(s, 4);
			long bad = utf8_invalid_at(s, n);
			size_t seq = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
			if (bad == 0 || seq > n) {
				*(*p)++ = '?';
				s++;
			} else {
				memcpy(*p, s, seq);
				*p += seq;
				s += seq;
			}
		}
	}
	if (*p < end)
		*(*p)++ = '"';
}

static void put_raw(char **p, char *end, const char *s)
{
	size_t n = strlen(s);
	if (*p + n > end)
		n = (size_t)(end - *p);
	memcpy(*p, s, n);
	*p += n;
}

static void put_field(char **p, char *end, const char *key, const char *v)
{
	put_raw(p, end, ",\"");
	put_raw(p, end, key);
	put_raw(p, end, "\":");
	put_json_str(p, end, v ? v : "");
}

size_t dlog_rec_json(const struct dlog_rec *r, char *buf, size_t len)
{
	char *p = buf, *end = buf + len - 1, num[64];

	put_raw(&p, end, "{\"ts\":");
	put_json_str(&p, end, r->ts);
	put_field(&p, end, "event_id", r->event_id);
	put_field(&p, end, "tx", r->tx);
	put_field(&p, end, "citizen", r->citizen);
	put_field(&p, end, "service", r->service);
	if (r->channel)
		put_field(&p, end, "channel", r->channel);
	else
		put_raw(&p, end, ",\"channel\":null");
	put_field(&p, end, "to", r->to ? r->to : "-");
	put_raw(&p, end, ",\"attempt\":");
	fmt_int(r->attempt, num);
	put_raw(&p, end, num);
	put_raw(&p, end, ",\"delay\":");
	fmt_fixed3(r->delay, num, sizeof(num));
	put_raw(&p, end, num);
	put_field(&p, end, "delays", r->delays);
	put_field(&p, end, "dsn", r->dsn && *r->dsn ? r->dsn : "-");
	put_field(&p, end, "status", r->status);
	put_field(&p, end, "reason", r->reason);
	if (r->ref && *r->ref)
		put_field(&p, end, "ref", r->ref);
	if (r->fulfilled_in >= 0) {
		put_raw(&p, end, ",\"fulfilled_in\":");
		fmt_fixed3(r->fulfilled_in, num, sizeof(num));
		put_raw(&p, end, num);
	}
	put_raw(&p, end, "}");
	*p = '\0';
	return (size_t)(p - buf);
}

static const char *jstr(const json_t *rec, const char *k)
{
	return json_string_value(json_object_get(rec, k));
}

void dlog_format_text(const json_t *rec, char *buf, size_t len)
{
	json_t *fi = json_object_get(rec, "fulfilled_in");
	struct dlog_rec r = {
	    .ts = jstr(rec, "ts"),
	    .event_id = jstr(rec, "event_id"),
	    .tx = jstr(rec, "tx"),
	    .citizen = jstr(rec, "citizen"),
	    .service = jstr(rec, "service"),
	    .channel = jstr(rec, "channel"),
	    .to = jstr(rec, "to"),
	    .delays = jstr(rec, "delays"),
	    .dsn = jstr(rec, "dsn"),
	    .status = jstr(rec, "status"),
	    .reason = jstr(rec, "reason"),
	    .ref = jstr(rec, "ref"),
	    .attempt = (int)json_integer_value(json_object_get(rec, "attempt")),
	    .delay = json_number_value(json_object_get(rec, "delay")),
	    .fulfilled_in = json_is_number(fi) ? json_number_value(fi) : -1.0,
	};
	dlog_rec_text(&r, buf, len);
}

/* Take the (un)subscriptions XPUB passed up: [1|0, topic]. Without
 * XPUB_VERBOSE it passes the first subscription of a topic and its last
 * unsubscription (also when a subscriber goes away), so the count is the
 * number of topics someone listens to. Cheap when none wait (no syscall). */
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

void dlog_flush(struct dlog *d)
{
	if (d->pub)
		take_subscriptions(d);
	if (d->text && fflush(d->text) == EOF)
		log_warn("delivery log %s", d->text_path);
	if (d->json && fflush(d->json) == EOF)
		log_warn("delivery log %s", d->json_path);
}
