/*
 * callback_internal.h - what callback.c shows its tests and tools beyond
 * callback.h: the signature, and how much a service still has to send; and
 * the state callback.c shares with its sender thread (callback_post.c).
 */
#ifndef HERALD_CALLBACK_INTERNAL_H
#define HERALD_CALLBACK_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "callback.h"
#include "curlmulti.h"

/* Lowercase hex of HMAC-SHA256(secret, body[0..len)) into out (65 bytes with
 * the NUL). 0 on success, -1 if OpenSSL fails. */
int callback_sign(const char *secret, const char *body, size_t len, char out[65]);

/* Records of service not yet acknowledged with a 2xx (queued, in flight or
 * waiting for a retry); 0 for an unknown service or cb == NULL. */
size_t callbacks_pending(struct callbacks *cb, const char *service);

/* ---- shared by callback.c (configuration, queues) and callback_post.c
 * (the sender thread) ------------------------------------------------------ */

struct cb_rec {
	struct cb_rec *next;
	size_t len;
	char body[]; /* NUL-terminated copy of the JSON */
};

struct cb_service {
	struct callbacks *owner;
	char *name, *url, *secret;
	char *url_log; /* scheme://host[:port]/path: no user info, no query */
	long timeout_ms, retry_max_ms;
	size_t qmax;

	/* under callbacks.mu */
	struct cb_rec *head, *tail; /* waiting, oldest first */
	size_t qlen;
	size_t pending; /* qlen + the record at the head of line, if any */
	uint64_t dropped;
	int64_t drop_warn_ms;
	int drop_warned;

	/* sender thread only */
	struct cb_rec *cur;	 /* head of line: in flight or waiting for its retry */
	struct cmulti_xfer post; /* its easy handle (kept: connection reuse); in flight? */
	struct curl_slist *hdrs; /* of the request in flight */
	unsigned failures;	 /* consecutive failures of cur */
	int64_t next_ms;	 /* mono_ms when cur may be (re)sent */
	int64_t warn_ms;
	int warned;
	unsigned suppressed;
	char errbuf[CURL_ERROR_SIZE];
};

struct callbacks {
	struct cb_service *svc;
	size_t nsvc;
	struct cmulti *http; /* at most CB_MAX_IN_FLIGHT requests */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	int sleeping, stop; /* under mu */
	/* sender thread only */
	size_t rr;
	uint64_t rng;
};

/* The sender thread (callback_post.c): runs until cb->stop, then flushes
 * for up to a second. */
void *callbacks_sender(void *arg);

#endif
