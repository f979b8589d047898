/*
 * http_int.h - what the HTTP listener's files share (http.c, and
 * http_inbound.c for /inbound/<channel>): the listener, one request, and
 * the helpers both answer with. Only these files include it (and
 * unsubscribe.c, for http_reply_with and struct req: it answers the links
 * http.c hands it, a POST once the router thread has resumed it).
 */
#ifndef HERALD_HTTP_INT_H
#define HERALD_HTTP_INT_H

#include <herald/channel.h>
#include <microhttpd.h>
#include <stdatomic.h>

#include "dispatch.h"
#include "form.h"

/* Receipts waiting for the router thread: past this many heraldd answers
 * 503 (the provider tries again) rather than queue without end. */
#define HTTP_RCPT_QUEUE_MAX 4096
/* Inbound messages waiting for the router thread: each holds its request
 * open (suspended) until applied, so past this many heraldd answers 503
 * at once, which also keeps most of the listener's 256 connections for
 * receipts, /metrics and /healthz. */
#define HTTP_INBOUND_QUEUE_MAX 64

struct http {
	struct MHD_Daemon *d;
	struct chanset *cs;
	struct itemq *q; /* receipts (struct herald_result); msg_id carries the channel index + 1 */
	struct itemq *inq; /* inbound messages (struct http_inbound_item) */
	atomic_int healthy;
	_Atomic(const char *) note; /* a line /healthz adds (http_set_note) */
	char *prefix;		    /* public_url's path ("" for none): receipts live below it */
	size_t plen;
	struct unsub *unsub; /* one-click unsubscribe links (http_set_unsub), or NULL */
};

/* An inbound request waiting for the router thread (http_inbound.c): the
 * router sets code (200 applied, 503 not) and resp, then done, then
 * resumes the connection; the listener answers with them. */
struct inbound_wait {
	atomic_int done;
	unsigned code;
	char resp[512]; /* the plugin's answer (TwiML, or empty) */
};

struct req {
	int suspended; /* an inbound request waiting (wait) */
	struct inbound_wait wait;
	char *body;
	size_t len;
	int too_big;
	struct MHD_Connection *conn;
	struct form form; /* a urlencoded body, decoded */
};

/* One parsed inbound message on its way to the router thread. */
struct http_inbound_item {
	int chan_idx; /* in the chanset */
	struct herald_inbound in;
	struct req *req; /* answered by http_inbound_done */
};

/* The plugin's view of request q (decodes a urlencoded body first). */
void http_req_fill(struct req *q, const char *method, const char *path, struct herald_http_req *hr);
/* Answer code with body (copied) as Content-Type type; http_reply_with
 * adds the headers name, value, name, value, ..., NULL. */
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned code, const char *type,
			   const char *body);
enum MHD_Result http_reply_with(struct MHD_Connection *c, unsigned code, const char *type,
				const char *body, const char *const *headers);
/* /inbound/<channel>[/rest] (url from /inbound/ on): http_inbound.c. */
enum MHD_Result http_inbound(struct http *h, struct req *q, const char *url, const char *method);
/* Answer 503 to every inbound request still queued (at stop). */
void http_inbound_drain(struct http *h);

#endif
