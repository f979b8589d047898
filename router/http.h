/*
 * http.h - heraldd's HTTP listener (libmicrohttpd, its own thread):
 *   GET  /healthz                 200 "ok" while Redis answers, else 503
 *   GET  /metrics                 Prometheus text (router/metrics.c)
 *   GET|POST /receipts/<channel>[/rest]   delivery receipts and callbacks,
 *        parsed by that channel's receipt() and queued for the router.
 *   GET|POST <unsubscribe_url's path>/<token>   one-click unsubscribe
 *        (unsubscribe.c), when [channel.email] unsubscribe_url is set.
 *   GET|POST /inbound/<channel>[/rest]    what citizens send back (an SMS
 *        reply), parsed by the channel's inbound() and queued likewise
 *        (http_inbound.c).
 */
#ifndef HERALD_HTTP_H
#define HERALD_HTTP_H

#include <herald/channel.h>

#include "dispatch.h"

struct http;

/* public_url: the base URL gateways call back ([http] public_url, may be
 * NULL). Its path, if any, is where receipts are served: with
 * http://host/hook/<secret> they are taken at /hook/<secret>/receipts/...
 * only, so a secret path segment authenticates the gateway. */
struct http *http_start(const char *listen, const char *public_url, struct chanset *cs, char *err,
			size_t errlen);
void http_stop(struct http **h);
/* Readable while receipts wait. */
int http_fd(struct http *h);
/* Pop up to max receipts; chan[i] is the channel each came in for. */
int http_pop(struct http *h, struct herald_result *out, struct chan **chan, int max);
/* Readable while inbound messages wait; pop up to max (at most 8 a call);
 * chan[i] is the channel each came through. The gateway has no answer
 * yet: each popped message's token[i] must be given to http_inbound_done
 * once, when the message is applied (ok 1: 200 with the plugin's answer)
 * or could not be (ok 0: 503, the gateway sends it again). */
int http_inbound_fd(struct http *h);
int http_inbound_pop(struct http *h, struct herald_inbound *out, struct chan **chan, void **token,
		     int max);
void http_inbound_done(struct http *h, void *token, int ok);
void http_set_healthy(struct http *h, int ok);
/* Serve the one-click unsubscribe links (unsubscribe.h); before the
 * listener's first request only. */
struct unsub;
void http_set_unsub(struct http *h, struct unsub *u);
/* A line /healthz adds to its answer (a static string; NULL: none). */
void http_set_note(struct http *h, const char *note);

#endif
