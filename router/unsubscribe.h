/*
 * unsubscribe.h - one-click unsubscribe (RFC 8058; issue #16 point 4).
 *
 * With [channel.email] unsubscribe_url, every email carries
 *   List-Unsubscribe: <unsubscribe_url/TOKEN>
 *   List-Unsubscribe-Post: List-Unsubscribe=One-Click
 * (TOKEN: lib/unsubtok.h). heraldd's HTTP listener serves the link:
 *   GET  a short page with a button that POSTs the one-click form; changes
 *        nothing (mail scanners follow links)
 *   POST List-Unsubscribe=One-Click (urlencoded or multipart/form-data):
 *        the router thread opts the citizen out of email for that service
 *        only (optout@SERVICE, optout.h) with an "unsubscribed" record
 *        (journey, delivery log, callback) and
 *        herald_email_unsubscribes_total{service}, then the request is
 *        answered 200; 503 when Redis is down or failed while applying it
 *        (nothing confirmed that was not recorded). Again: 200, no record.
 *   A token heraldd did not make: 404, logged at most once a second.
 * The HTTP thread checks the token and queues it (no Redis there), the
 * request waiting for the router's answer; past 64 waiting, 503 at once.
 */
#ifndef HERALD_UNSUBSCRIBE_H
#define HERALD_UNSUBSCRIBE_H

#include <stddef.h>

#include <microhttpd.h>

struct unsub;
struct router;
struct msg;

/* For unsubscribe_url (config.c checked it). NULL when out of memory. */
struct unsub *unsub_new(const char *url);
void unsub_free(struct unsub **u);
/* Readable while unsubscribes wait for the router thread. */
int unsub_fd(const struct unsub *u);

/* HTTP thread: is url one of the links (the path, '/', one segment)? */
int unsub_match(const struct unsub *u, const char *url);
/* HTTP thread: answer a request unsub_match took (q: http_int.h; called
 * again once the router has resumed a POST it queued). */
struct req;
enum MHD_Result unsub_http(struct unsub *u, struct req *q, const char *url, const char *method);
/* At stop, before the listener goes: every POST still waiting answered 503. */
void unsub_drain(struct unsub *u);

/* Router thread, every turn: hand the HTTP thread the secret once loaded,
 * and apply what it queued. */
void unsub_poll(struct router *r);

/* Router thread: the link for m's email (the URL with its token) into out;
 * 0, or -1 without unsubscribe_url or the secret, or when it cannot be made. */
int unsub_link(struct router *r, const struct msg *m, char *out, size_t outlen);

#endif
