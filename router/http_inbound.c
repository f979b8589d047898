/*
 * http_inbound.c - /inbound/<channel>[/rest] on the HTTP listener: what a
 * citizen sends back through a channel (an SMS reply), parsed by that
 * channel's inbound() (version >= 4 plugins) on the listener's thread and
 * queued for the router thread (router/inbound_sms.c applies it). Served
 * under [http] public_url's path like receipts (http.c routes it), a
 * signature the provider adds checked by the plugin; no Redis here. A full
 * queue is answered 503: the gateway tries again.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "http_int.h"
#include "log.h"
#include "metrics.h"
#include "workq.h"

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
	if (rc > 0 && itemq_push(h->inq, &it) != 0) {
		metrics_status(name, "inbound-busy");
		log_msg(LOG_L_WARNING, "inbound for %s: queue full (%d waiting): answered 503",
			name, HTTP_INBOUND_QUEUE_MAX);
		return http_reply(q->conn, 503, "text/plain", "busy, try again later\n");
	}
	metrics_status(name, rc > 0 ? "inbound" : "inbound-ignored");
	/* Kannel sends a non-empty answer back to the phone as a text: none;
	 * Twilio takes TwiML */
	return http_reply(q->conn, 200, !strncmp(resp, "<?xml", 5) ? "text/xml" : "text/plain",
			  resp);
}

int http_inbound_fd(struct http *h)
{
	return itemq_fd(h->inq);
}

int http_inbound_pop(struct http *h, struct herald_inbound *out, struct chan **chan, int max)
{
	struct http_inbound_item it[8];
	int n = itemq_pop(h->inq, it, max < 8 ? max : 8);

	for (int i = 0; i < n; i++) {
		out[i] = it[i].in;
		chan[i] = it[i].chan_idx < h->cs->n ? &h->cs->ch[it[i].chan_idx] : NULL;
	}
	return n;
}
