/*
 * curlmulti.h - one libcurl multi driver for every HTTP client in Herald
 * (the SMS and fax plugins, heraldd's status callbacks): the CURLM, the
 * count of transfers in flight against a limit, perform + completion
 * dispatch, the wait and the wakeup. The caller keeps its own policy (what
 * to start next, batching, retries) and its own easy handles and options.
 *
 * A transfer is a struct cmulti_xfer the caller embeds in its own slot:
 * zero allocations per request. The driver owns CURLOPT_PRIVATE of an easy
 * handle while it is added (it points at the cmulti_xfer); the caller finds
 * its slot from the xfer pointer (arg, or container_of).
 *
 * Threads: one thread drives (add, step, wait, remove); cmulti_wakeup() may
 * be called from any thread. Knows nothing of Herald.
 */
#ifndef HERALD_CURLMULTI_H
#define HERALD_CURLMULTI_H

#include <curl/curl.h>

struct cmulti_xfer;
/* Called from cmulti_step() once a transfer has ended, after its easy
 * handle left the multi handle (it may be reused or added again at once).
 * cc is libcurl's result; the HTTP status is CURLINFO_RESPONSE_CODE. */
typedef void (*cmulti_done_fn)(struct cmulti_xfer *x, CURLcode cc);

struct cmulti_xfer {
	CURL *easy;
	cmulti_done_fn done;
	void *arg; /* the caller's */
	/* the driver's: in flight between add and done/remove */
	int in_flight;
	struct cmulti_xfer *prev, *next;
};

struct cmulti_opts {
	unsigned max_in_flight;	    /* cmulti_room() says no at this many; 0: no limit */
	long max_total_connections; /* CURLMOPT_MAX_TOTAL_CONNECTIONS; 0: libcurl's */
	long max_connects;	    /* CURLMOPT_MAXCONNECTS (cache); 0: libcurl's */
};

struct cmulti;

/* curl_global_init (counted by libcurl) and a CURLM set up from opts; NULL
 * when either fails. */
struct cmulti *cmulti_new(const struct cmulti_opts *opts);
/* Transfers still in flight are removed without their callback; the easy
 * handles stay the caller's. Balances curl_global_init. *m = NULL. */
void cmulti_free(struct cmulti **m);

/* Start x (x->easy, x->done set). 0, or -1 if libcurl refuses it (x is
 * then not in flight and its callback will not run). */
int cmulti_add(struct cmulti *m, struct cmulti_xfer *x);
/* Abandon x if in flight: no callback. */
void cmulti_remove(struct cmulti *m, struct cmulti_xfer *x);
/* Abandon one transfer in flight and return it (NULL: none), for a caller
 * that frees its slots at shutdown. */
struct cmulti_xfer *cmulti_take(struct cmulti *m);

unsigned cmulti_in_flight(const struct cmulti *m);
/* 1 while fewer than max_in_flight transfers are in flight. */
int cmulti_room(const struct cmulti *m);

/* Drive the transfers: curl_multi_perform, then the callback of every one
 * that ended. Returns how many ended. */
int cmulti_step(struct cmulti *m);
/* Sleep until a socket is ready, a libcurl timer is due, timeout_ms pass
 * or cmulti_wakeup() is called. */
void cmulti_wait(struct cmulti *m, int timeout_ms);
/* From any thread: end a cmulti_wait() now (or the next one). */
void cmulti_wakeup(struct cmulti *m);

#endif
