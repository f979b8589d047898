/*
 * http_inbound.c - /inbound/<channel>[/rest] on the HTTP listener: what a
 * citizen sends back through a channel (an SMS reply), parsed by that
 * channel's inbound() (version >= 4 plugins) on the listener's thread and
 * queued for the router thread (router/inbound_sms.c applies it). Served
 * under [http] public_url's path like receipts (http.c routes it), a
 * signature the provider adds checked by the plugin; no Redis here.
 *
 * The gateway is answered only once the router thread has applied the
 * message (its opt-out or engagement is in Redis): the request is
 * suspended (libmicrohttpd's suspend/resume: the listener goes on serving
 * others) and resumed by http_inbound_done, 200 with the plugin's answer,
 * or 503 when Redis is down or failed while applying it; a gateway that
 * gets no 2xx sends it again (Kannel with http-request-retry, Twilio with
 * a retry policy: README), and a message sent again is heard once (the
 * opt-out is already there; a reply is deduplicated by the gateway's id).
 * A 200 is never given for a message not applied. More than
 * HTTP_INBOUND_QUEUE_MAX waiting is answered 503 at once.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "workq.h"

/* The answer of a request the router thread has resumed. */
static enum MHD_Result answer(struct req *q)
{
	struct inbound_wait *w = &q->wait;

	if (!atomic_load(&w->done)) /* cannot be: resumed only when done */
		return http_reply(q->conn, 503, "text/plain", "busy, try again later\n");
	if (w->code != 200)
		return http_reply(q->conn, w->code, "text/plain",
				  "not recorded, try again later\n");
	/* Kannel sends a non-empty answer back to the phone as a text: none;
	 * Twilio takes TwiML */
	return http_reply(q->conn, 200, !strncmp(w->resp, "<?xml", 5) ? "text/xml" : "text/plain",
			  w->resp);
}

/* Hand it to the router thread; the request waits for its answer. */
static enum MHD_Result queue(struct http *h, struct req *q, struct http_inbound_item *it,
			     const char *name, const char *resp)
{
	snprintf(q->wait.resp, sizeof(q->wait.resp), "%s", resp);
	atomic_store(&q->wait.done, 0);
	it->req = q;
	/* suspended first: the router may answer before this returns */
	MHD_suspend_connection(q->conn);
	q->suspended = 1;
	if (itemq_push(h->inq, it) != 0) {
		metrics_status(name, "inbound-busy");
		log_msg(LOG_L_WARNING, "inbound for %s: queue full (%d waiting): answered 503",
			name, HTTP_INBOUND_QUEUE_MAX);
		q->wait.code = 503;
		atomic_store(&q->wait.done, 1);
		MHD_resume_connection(q->conn);
		return MHD_YES;
	}
	metrics_status(name, "inbound");
	return MHD_YES;
}

enum MHD_Result http_inbound(struct http *h, struct req *q, const char *url, const char *method)
{
	const char *rest = url + strlen("/inbound/");
	const char *slash = strchr(rest, '/');
	size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
	struct http_inbound_item it;
	struct herald_http_req hr;
	char name[33], resp[512] = "";
	const struct chan *c = NULL;
	int rc;

	if (q->suspended)
		return answer(q);
	if (nlen == 0 || nlen >= sizeof(name))
		return http_reply(q->conn, 404, "text/plain", "unknown channel\n");
	memcpy(name, rest, nlen);
	name[nlen] = '\0';
	memset(&it, 0, sizeof(it));
	for (int i = 0; i < h->cs->n; i++)
		if (!strcmp(h->cs->ch[i].name, name)) {
			c = &h->cs->ch[i];
			it.chan_idx = i;
		}
	if (!c || c->desc->version < 4 || !c->desc->inbound)
		return http_reply(q->conn, 404, "text/plain",
				  "no inbound messages for this channel\n");
	if (q->too_big)
		return http_reply(q->conn, 413, "text/plain", "body too large\n");
	http_req_fill(q, method, slash ? slash : "", &hr);
	rc = c->desc->inbound(&hr, &it.in, resp, sizeof(resp));
	if (rc < 0) {
		log_msg(LOG_L_NOTICE, "inbound for %s: malformed or unsigned request (%s %s): %s",
			name, method, hr.path, resp[0] ? resp : "refused");
		metrics_status(name, "inbound-refused");
		return http_reply(q->conn, 400, "text/plain",
				  resp[0] ? resp : "malformed request\n");
	}
	if (rc > 0)
		return queue(h, q, &it, name, resp);
	metrics_status(name, "inbound-ignored");
	return http_reply(q->conn, 200, !strncmp(resp, "<?xml", 5) ? "text/xml" : "text/plain",
			  resp);
}

int http_inbound_fd(struct http *h)
{
	return itemq_fd(h->inq);
}

int http_inbound_pop(struct http *h, struct herald_inbound *out, struct chan **chan, void **token,
		     int max)
{
	struct http_inbound_item it[8];
	int n = itemq_pop(h->inq, it, max < 8 ? max : 8);

	for (int i = 0; i < n; i++) {
		out[i] = it[i].in;
		chan[i] = it[i].chan_idx < h->cs->n ? &h->cs->ch[it[i].chan_idx] : NULL;
		token[i] = it[i].req;
	}
	return n;
}

/* On the router thread: the request's answer, then its connection resumed
 * (the listener's thread answers it; q is not touched after). */
void http_inbound_done(struct http *h, void *token, int ok)
{
	struct req *q = token;

	if (!q)
		return;
	q->wait.code = ok ? 200 : 503;
	atomic_store(&q->wait.done, 1);
	MHD_resume_connection(q->conn);
}

/* At stop, before the listener goes: what still waits is answered 503 (the
 * gateway sends it again, to this instance's successor or another). */
void http_inbound_drain(struct http *h)
{
	struct herald_inbound in[8];
	struct chan *ch[8];
	void *tok[8];
	int n;

	while ((n = http_inbound_pop(h, in, ch, tok, 8)) > 0)
		for (int i = 0; i < n; i++)
			http_inbound_done(h, tok[i], 0);
}
