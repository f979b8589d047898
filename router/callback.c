/*
 * callback.c - status callbacks: every transition of a service's messages is
 * POSTed, signed, to that service's callback_url.
 *
 * Where: services.d/NAME.conf (callback_url, callback_secret and the
 * callback_* options below, ordered and concurrency as callback_ordered and
 * callback_concurrency; lib/service.c parses them). The old place, still
 * read with a deprecation warning and ignored for a service whose policy
 * file has a callback_url:
 *
 *   [service.dvla]
 *   callback_url = https://dvla.example/herald/status
 *   callback_secret = ...      ; HMAC-SHA256 key, never logged
 *   callback_timeout = 10      ; per request: seconds, or 30s / 5m / 1h
 *   callback_retry_max = 600   ; longest wait between two tries (same form)
 *   callback_max_age = 3d      ; then the record goes to the dead stream
 *   ordered = yes              ; one record at a time, in order (default)
 *   concurrency = 8            ; with ordered = no: POSTs at once (default 4)
 *
 * Durability: callbacks_push() runs on the router thread and appends the
 * record to the service's Redis stream (KEY_CB) with an XADD on the
 * router's pipeline: no I/O of its own, no extra round trip. The sender
 * thread (callback_post.c) reads the streams through a consumer group on a
 * connection of its own (callback_store.c), POSTs, and deletes a record only
 * after a 2xx. Whatever is unsent at a stop or crash is still in Redis; our
 * own pending records are read again at the next start, a dead instance's
 * are claimed after CB_CLAIM_IDLE_MS (lib/schema.h names every key).
 *
 * Ordered services get record N+1 only after N got a 2xx, because services
 * rebuild a message's state from the sequence: a failing record blocks its
 * service until it succeeds or goes dead. A failed record is tried again
 * after 1 s, 2 s, 4 s ... up to callback_retry_max (less up to a fifth of
 * jitter); other services go on, up to CB_MAX_IN_FLIGHT requests at once.
 */
#include "callback.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "callback_internal.h"
#include "log.h"
#include "num.h"
#include "schema.h"
#include "text.h"

#define CB_LOST_WARN_MS 10000 /* one "not queued" line per service per 10 s */

/* ---- signature ------------------------------------------------------------- */

int callback_sign(const char *secret, const char *body, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, md,
		  &mdlen) ||
	    mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* ---- public ------------------------------------------------------------------- */

static void cb_free(struct callbacks *cb)
{
	for (size_t i = 0; i < cb->nsvc; i++) {
		struct cb_service *s = &cb->svc[i];

		for (size_t k = 0; k < s->nhand; k++)
			cb_rec_free(s->hand[k]); /* still in Redis: sent after the next start */
		free(s->hand);
		if (s->secret)
			OPENSSL_cleanse(s->secret, strlen(s->secret));
		free(s->secret);
		free(s->name);
		free(s->url);
		free(s->url_log);
		free(s->key);
		free(s->deadkey);
		free(s->lockkey);
	}
	free(cb->svc);
	cbs_close(cb);
	cmulti_free(&cb->http); /* after the easy handles; balances curl_global_init */
	if (cb->redis_password)
		OPENSSL_cleanse(cb->redis_password, strlen(cb->redis_password));
	free(cb->redis_password);
	free(cb->redis_host);
	free(cb->redis_sock);
	if (cb->sentinel_password)
		OPENSSL_cleanse(cb->sentinel_password, strlen(cb->sentinel_password));
	free(cb->sentinel_password);
	free(cb->master_name);
	pthread_mutex_destroy(&cb->mu);
	free(cb);
}

/* Start the sender thread. It takes no asynchronous signals: the router's
 * handlers run on the router's thread (faults still reach whoever caused
 * them). 0 or an errno. */
static int cb_spawn(struct callbacks *cb)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&cb->thread, NULL, callbacks_sender, cb);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Where the sender's own connection goes ([redis], as the router's), and
 * its consumer name in the groups: [queue] consumer, else the host name,
 * as the router's (a restarted instance finds its own pending records). */
static int cb_redis_conf(struct callbacks *cb, const struct config *cfg)
{
	char host[64];

	cb->redis_host = strdup(cfg->redis_host ? cfg->redis_host : "127.0.0.1");
	cb->redis_sock = cfg->redis_socket ? strdup(cfg->redis_socket) : NULL;
	cb->redis_password = cfg->redis_password ? strdup(cfg->redis_password) : NULL;
	cb->redis_port = cfg->redis_port ? cfg->redis_port : 6379;
	cb->redis_db = cfg->redis_db;
	cb->connect_timeout_ms = cfg->redis_connect_timeout_ms;
	if (cfg->redis_sentinels) { /* checked by config_load */
		char why[200];
		if (sentinel_parse(cfg->redis_sentinels, &cb->sentinels, why, sizeof(why)) != 0)
			return -1;
		cb->master_name = strdup(cfg->redis_master_name);
		cb->sentinel_password =
		    cfg->redis_sentinel_password ? strdup(cfg->redis_sentinel_password) : NULL;
		if (!cb->master_name || (cfg->redis_sentinel_password && !cb->sentinel_password))
			return -1;
	}
	if (cfg->consumer) {
		snprintf(cb->consumer, sizeof(cb->consumer), "%s", cfg->consumer);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "heraldd");
		host[sizeof(host) - 1] = '\0';
		snprintf(cb->consumer, sizeof(cb->consumer), "%s", host);
	}
	if (!cb->redis_host || (cfg->redis_socket && !cb->redis_sock) ||
	    (cfg->redis_password && !cb->redis_password))
		return -1;
	return 0;
}

struct callbacks *callbacks_start(const struct config *cfg, char *err, size_t errlen)
{
	return callbacks_start_svc(cfg, NULL, err, errlen);
}

struct callbacks *callbacks_start_svc(const struct config *cfg, const struct services *svcs,
				      char *err, size_t errlen)
{
	struct callbacks *cb = calloc(1, sizeof(*cb));
	int rc;

	if (!cb) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&cb->mu, NULL);
	if (!cfg)
		return cb;
	cb->retention_ms = (int64_t)cfg->retention_days * 86400 * 1000;
	if (cb_load_all(cb, cfg, svcs, 1, err, errlen) != 0)
		goto fail;
	if (!cb->nsvc)
		return cb;
	if (cb_redis_conf(cb, cfg) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	cb->http = cmulti_new(&(struct cmulti_opts){.max_in_flight = CB_MAX_IN_FLIGHT,
						    .max_connects = CB_MAX_IN_FLIGHT * 2});
	if (!cb->http) {
		snprintf(err, errlen,
			 "callbacks: cannot set up libcurl (curl_global_init or "
			 "curl_multi_init failed)");
		goto fail;
	}
	cb->rng = (mono_us() << 16) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
	rc = cb_spawn(cb);
	if (rc) {
		snprintf(err, errlen, "callbacks: cannot start the sender thread: %s",
			 strerror(rc));
		goto fail;
	}
	cb->started = 1;
	for (size_t i = 0; i < cb->nsvc; i++)
		log_info("callback %s: status callbacks to %s (%s)", cb->svc[i].name,
			 cb->svc[i].url_log, cb->svc[i].ordered ? "ordered" : "unordered");
	return cb;
fail:
	cb_free(cb);
	return NULL;
}

/* A table loaded without starting anything (callbacks_check, the reload's
 * look before it restarts). NULL with err. */
static struct callbacks *cb_dry(const struct config *cfg, const struct services *svcs, int warn,
				char *err, size_t errlen)
{
	struct callbacks *cb = calloc(1, sizeof(*cb));

	if (!cb) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&cb->mu, NULL);
	if (cb_load_all(cb, cfg, svcs, warn, err, errlen) != 0) {
		cb_free(cb);
		return NULL;
	}
	return cb;
}

int callbacks_check(const struct config *cfg, const struct services *svcs, size_t *n, char *err,
		    size_t errlen)
{
	struct callbacks *cb = cb_dry(cfg, svcs, 1, err, errlen);

	if (!cb)
		return -1;
	*n = cb->nsvc;
	cb_free(cb);
	return 0;
}

/* 1 if a and b send the same services' callbacks the same way. */
static int cb_same(const struct callbacks *a, const struct callbacks *b)
{
	if (!a || a->nsvc != b->nsvc)
		return 0;
	for (size_t i = 0; i < a->nsvc; i++) {
		const struct cb_service *x = &a->svc[i], *y = &b->svc[i];
		if (strcmp(x->name, y->name) || strcmp(x->url, y->url) ||
		    strcmp(x->secret, y->secret) || x->timeout_ms != y->timeout_ms ||
		    x->retry_max_ms != y->retry_max_ms || x->max_age_ms != y->max_age_ms ||
		    x->ordered != y->ordered || x->concurrency != y->concurrency)
			return 0;
	}
	return 1;
}

void callbacks_reload(struct callbacks **cbp, struct rdb *db, const struct config *cfg,
		      const struct services *svcs)
{
	char err[512];
	struct callbacks *next = cb_dry(cfg, svcs, 0, err, sizeof(err));
	int same;

	if (!next) {
		log_warnx("reload: callbacks not reloaded, keeping the old ones: %s", err);
		return;
	}
	same = cb_same(*cbp, next);
	cb_free(next);
	if (same)
		return;
	/* the XADDs on the pipeline answer to the old table (cb_on_xadd):
	 * their replies first; what is unsent stays in Redis, the new sender
	 * reads it again */
	if (db)
		rdb_flush(db);
	callbacks_stop(cbp);
	*cbp = callbacks_start_svc(cfg, svcs, err, sizeof(err));
	if (!*cbp)
		log_warnx("reload: callbacks are stopped: %s (the records wait in Redis)", err);
	else
		log_info("reload: callbacks of %zu services", (*cbp)->nsvc);
}

void callbacks_stop(struct callbacks **cbp)
{
	struct callbacks *cb;

	if (!cbp || !*cbp)
		return;
	cb = *cbp;
	if (cb->started) {
		pthread_mutex_lock(&cb->mu);
		cb->stop = 1;
		pthread_mutex_unlock(&cb->mu);
		cmulti_wakeup(cb->http);
		pthread_join(cb->thread, NULL);
	}
	cb_free(cb);
	*cbp = NULL;
}

static struct cb_service *cb_find(struct callbacks *cb, const char *service)
{
	for (size_t i = 0; i < cb->nsvc; i++)
		if (!strcmp(cb->svc[i].name, service))
			return &cb->svc[i];
	return NULL;
}

/* The XADD's reply (router thread): a record Redis did not take is lost,
 * which the operator must hear of. */
static void cb_on_xadd(redisReply *rep, void *arg)
{
	struct cb_service *s = arg;
	int64_t now;

	if (rep && rep->type != REDIS_REPLY_ERROR)
		return;
	s->lost++;
	now = mono_ms();
	if (s->lost_warned && now - s->lost_warn_ms < CB_LOST_WARN_MS)
		return;
	log_warnx("callback %s: status record not queued: %s (%" PRIu64 " lost so far)", s->name,
		  rep ? rep->str : "Redis connection lost", s->lost);
	s->lost_warned = 1;
	s->lost_warn_ms = now;
}

void callbacks_push(struct callbacks *cb, struct rdb *db, const char *service, const char *json)
{
	struct cb_service *s;

	if (!cb || !db || !service || !json || !(s = cb_find(cb, service)))
		return;
	rdb_cmdf(db, cb_on_xadd, s, "XADD %s * " CB_F_REC " %s", s->key, json);
}

size_t callbacks_pending(struct callbacks *cb, struct rdb *db, const char *service)
{
	struct cb_service *s;
	redisReply *rep;
	size_t n = 0;

	if (!cb || !db || !service || !(s = cb_find(cb, service)))
		return 0;
	rep = rdb_call(db, "XLEN %s", s->key);
	if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
		n = (size_t)rep->integer;
	freeReplyObject(rep);
	return n;
}
