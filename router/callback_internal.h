/*
 * callback_internal.h - what callback.c shows its tests and tools beyond
 * callback.h: the signature, and how much a service still has to send; and
 * the state callback.c (configuration, push), callback_post.c (the sender
 * thread, HTTP) and callback_store.c (the sender's Redis side) share.
 */
#ifndef HERALD_CALLBACK_INTERNAL_H
#define HERALD_CALLBACK_INTERNAL_H

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "callback.h"
#include "curlmulti.h"
#include "redis.h"
#include "sentinel.h"

/* Lowercase hex of HMAC-SHA256(secret, body[0..len)) into out (65 bytes with
 * the NUL). 0 on success, -1 if OpenSSL fails. */
int callback_sign(const char *secret, const char *body, size_t len, char out[65]);

/* Records of service not yet answered with a 2xx (in its Redis stream:
 * waiting, in flight or waiting for a retry), read through db (a
 * synchronous XLEN); 0 for an unknown service, cb == NULL or no Redis. */
size_t callbacks_pending(struct callbacks *cb, struct rdb *db, const char *service);

/* ---- shared by callback.c, callback_post.c and callback_store.c ----------- */

#define CB_ID_MAX 48
#define CB_MAX_IN_FLIGHT 16 /* POSTs at once, all services; most per service */
#define CB_ERR_MAX 200

/* One record the sender holds: read from the stream (pending in the group
 * under our consumer name) until a 2xx acknowledges and deletes it, or
 * callback_max_age moves it to the dead stream. */
struct cb_rec {
	struct cb_service *svc;
	char id[CB_ID_MAX]; /* stream entry id */
	int64_t added_ms;   /* wall clock, from the id */
	char *body;
	size_t len;
	unsigned failures;	 /* consecutive failed POSTs */
	int64_t next_ms;	 /* mono_ms when it may be (re)sent */
	struct cmulti_xfer post; /* in flight? */
	struct curl_slist *hdrs; /* of the request in flight */
	char errbuf[CURL_ERROR_SIZE];
	char last_err[CB_ERR_MAX];
	int settle; /* CB_SETTLE_*: answered, Redis still to be told */
};

enum { CB_SETTLE_NONE, CB_SETTLE_DONE, CB_SETTLE_DEAD };

struct cb_service {
	struct callbacks *owner;
	char *name, *url, *secret;
	char *url_log; /* scheme://host[:port]/path: no user info, no query */
	char *key, *deadkey, *lockkey;
	long timeout_ms, retry_max_ms, max_age_ms;
	long concurrency; /* records in hand at once (1 when ordered) */
	int ordered;

	/* router thread only (callbacks_push's XADD replies) */
	uint64_t lost;
	int64_t lost_warn_ms;
	int lost_warned;

	/* sender thread only */
	struct cb_rec **hand; /* concurrency slots; NULL = free */
	size_t nhand;
	int pel_done;		    /* our own pending entries re-read after a start */
	char pel_cursor[CB_ID_MAX]; /* how far */
	int64_t claim_ms;	    /* next XAUTOCLAIM of a dead consumer's records */
	int leased;		    /* ordered: we hold the service's lease */
	int claim_all;		    /* ordered, lease just taken: claim every record */
	int64_t lease_try_ms;	    /* next try to take the lease */
	int64_t warn_ms;
	int warned;
	unsigned suppressed;
	uint64_t failures_total;
};

struct callbacks {
	struct cb_service *svc;
	size_t nsvc;
	struct cmulti *http; /* at most CB_MAX_IN_FLIGHT requests */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	int stop; /* under mu */

	/* the sender's own Redis connection (callback_store.c) */
	char *redis_host, *redis_sock, *redis_password;
	int redis_port, redis_db;
	struct sentinels sentinels; /* n > 0: the master is the one they name */
	char *master_name, *sentinel_password;
	int connect_timeout_ms;
	/* [queue] retention_days: a dead record older than this is trimmed when
	 * the next one is added (it holds personal data: an SMS reply's text) */
	int64_t retention_ms;
	char consumer[160];
	redisContext *rc;
	int64_t reconnect_ms, stats_ms, beat_ms;
	int redis_warned;

	/* sender thread only */
	size_t rr;
	uint64_t rng;
};

/* The sender thread (callback_post.c): runs until cb->stop, lets what is in
 * flight finish for up to a second, then leaves the rest in Redis. */
void *callbacks_sender(void *arg);
void cb_rec_free(struct cb_rec *r);

/* ---- callback_store.c: the sender's Redis side ----------------------------- */

/* Connected (again) and the groups exist? 0, or -1 (retried later). The one
 * place the sender's connection is made. */
int cbs_ready(struct callbacks *cb);
void cbs_close(struct callbacks *cb);
/* Fill the free hand slots of s: our own pending records first (after a
 * restart), then a dead consumer's (XAUTOCLAIM), then new ones. */
void cbs_fill(struct callbacks *cb, struct cb_service *s);
/* Nothing in hand anywhere: wait up to ms for a new record (XREADGROUP
 * BLOCK over every stream with a free slot). */
void cbs_wait_new(struct callbacks *cb, int ms);
/* Every record answered 2xx: acknowledge and delete (one round trip for
 * all), and free its slot. 0, or -1 (kept in hand, tried again). */
int cbs_done_all(struct callbacks *cb);
/* Too old: move to the dead stream with the last error (0 or -1, as
 * above). */
int cbs_dead(struct callbacks *cb, struct cb_rec *r);
/* Every few seconds: touch what we hold (so no one claims it), and publish
 * backlog, oldest age, failures and dead for /metrics. */
void cbs_periodic(struct callbacks *cb, int64_t now);
/* At the stop: give up the leases we hold (another instance goes on). */
void cbs_release(struct callbacks *cb);

/* callback_conf.c: fill cb->svc from services.d (svcs, may be NULL) and
 * herald.conf's [service.NAME] sections; warn: log what is deprecated or
 * ignored. 0, or -1 with err (a half-filled table: free it with the rest). */
int cb_load_all(struct callbacks *cb, const struct config *cfg, const struct services *svcs,
		int warn, char *err, size_t errlen);

#endif
