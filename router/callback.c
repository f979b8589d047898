/*
 * callback.c - status callbacks: every transition of a service's messages is
 * POSTed, signed, to that service's callback_url.
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

#define CB_PREFIX "service."
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

/* ---- configuration ----------------------------------------------------------- */

struct cb_scan {
	char **sections; /* distinct [service.*] sections with a callback_* key */
	size_t n, cap;
	int oom;
	char bad_sec[128], bad_key[64]; /* first unknown callback_* key */
};

static int cb_known_key(const char *key)
{
	static const char *const keys[] = {"callback_url",     "callback_secret",
					   "callback_timeout", "callback_retry_max",
					   "callback_queue",   "callback_max_age"};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

static void cb_scan_fn(const char *section, const char *key, const char *value, void *arg)
{
	struct cb_scan *sc = arg;
	char **grown;

	(void)value;
	if (strncmp(key, "callback_", 9) != 0)
		return;
	if (!cb_known_key(key) && !sc->bad_key[0]) {
		snprintf(sc->bad_sec, sizeof(sc->bad_sec), "%s", section);
		snprintf(sc->bad_key, sizeof(sc->bad_key), "%s", key);
	}
	for (size_t i = 0; i < sc->n; i++)
		if (!strcmp(sc->sections[i], section))
			return;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 8;
		grown = realloc(sc->sections, cap * sizeof(*grown));
		if (!grown) {
			sc->oom = 1;
			return;
		}
		sc->sections = grown;
		sc->cap = cap;
	}
	sc->sections[sc->n] = strdup(section);
	if (!sc->sections[sc->n])
		sc->oom = 1;
	else
		sc->n++;
}

/* [sec] key as a whole number (unit_ms 0) or a duration (a bare number in
 * seconds, or 30s / 5m / 2h / 1d; *out in ms), in lo..hi of that unit. */
static int cb_get_num(const struct config *cfg, const char *sec, const char *key, long def, long lo,
		      long hi, int64_t unit_ms, long *out, char *err, size_t errlen)
{
	const char *v = config_get(cfg, sec, key);
	char why[160];
	int rc;

	*out = unit_ms ? def * unit_ms : def;
	if (!v)
		return 0;
	rc = num_parse_value(v, unit_ms, lo, hi, out, why, sizeof(why));
	if (rc)
		snprintf(err, errlen, "%s: [%s] %s = '%s': %s", cfg->path ? cfg->path : "config",
			 sec, key, v, why);
	return rc;
}

/* http(s)://host... that libcurl parses; sets the loggable form. */
static int cb_check_url(struct cb_service *s, const char *path, const char *sec, char *err,
			size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *upath = NULL;
	int rc = -1;
	size_t n;

	if (strncasecmp(s->url, "http://", 7) && strncasecmp(s->url, "https://", 8)) {
		snprintf(err, errlen,
			 "%s: [%s] callback_url = '%s': expected an http:// or https:// URL", path,
			 sec, s->url);
		return -1;
	}
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		snprintf(err, errlen, "%s: [%s] callback_url = '%s': not a valid URL", path, sec,
			 s->url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &upath, 0) != CURLUE_OK)
		upath = NULL;
	n = strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) +
	    (upath ? strlen(upath) : 0) + 8;
	s->url_log = malloc(n);
	if (!s->url_log) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(s->url_log, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
		 upath ? upath : "");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(upath);
	curl_url_cleanup(u);
	return rc;
}

/* ordered = yes|no (default yes) and concurrency (with ordered = no; 4). */
static int cb_order_load(struct cb_service *s, const struct config *cfg, const char *sec, char *err,
			 size_t errlen)
{
	const char *path = cfg->path ? cfg->path : "config";
	const char *v = config_get(cfg, sec, "ordered");

	s->ordered = 1;
	if (v && (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
		  !strcasecmp(v, "off"))) {
		s->ordered = 0;
	} else if (v && strcasecmp(v, "yes") && strcasecmp(v, "true") && strcmp(v, "1") &&
		   strcasecmp(v, "on")) {
		snprintf(err, errlen, "%s: [%s] ordered = '%s': expected yes or no", path, sec, v);
		return -1;
	}
	if (cb_get_num(cfg, sec, "concurrency", s->ordered ? 1 : 4, 1, CB_MAX_IN_FLIGHT, 0,
		       &s->concurrency, err, errlen))
		return -1;
	if (s->ordered && s->concurrency > 1) {
		snprintf(err, errlen,
			 "%s: [%s] concurrency = %ld needs ordered = no (an ordered service gets "
			 "one record at a time)",
			 path, sec, s->concurrency);
		return -1;
	}
	return 0;
}

/* The service's stream and dead stream, and its hand of records. */
static int cb_keys(struct cb_service *s, char *err, size_t errlen)
{
	size_t n = strlen(s->name) + sizeof(KEY_CBDEAD);

	s->key = malloc(n);
	s->deadkey = malloc(n);
	s->lockkey = malloc(n);
	s->hand = calloc((size_t)s->concurrency, sizeof(*s->hand));
	if (!s->key || !s->deadkey || !s->lockkey || !s->hand) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(s->key, n, "%s%s", KEY_CB, s->name);
	snprintf(s->deadkey, n, "%s%s", KEY_CBDEAD, s->name);
	snprintf(s->lockkey, n, "%s%s", KEY_CBLOCK, s->name);
	s->nhand = (size_t)s->concurrency;
	snprintf(s->pel_cursor, sizeof(s->pel_cursor), "0");
	return 0;
}

/* Fill s from [sec]. 1 if the section has no callback_url (skip it), 0 when
 * configured, -1 with err on a configuration error. */
static int cb_service_load(struct cb_service *s, const struct config *cfg, const char *sec,
			   char *err, size_t errlen)
{
	const char *path = cfg->path ? cfg->path : "config";
	const char *url = config_get(cfg, sec, "callback_url");
	const char *secret = config_get(cfg, sec, "callback_secret");
	long qmax;

	if (!url || !*url) {
		log_warnx("callbacks: [%s] has callback_* keys but no callback_url; no callbacks "
			  "for this service",
			  sec);
		return 1;
	}
	if (!sec[strlen(CB_PREFIX)]) {
		snprintf(err, errlen,
			 "%s: [%s] callback_url is set but the section names no service", path,
			 sec);
		return -1;
	}
	if (!secret || !*secret) {
		snprintf(err, errlen,
			 "%s: [%s] callback_url is set but callback_secret is missing or empty "
			 "(callbacks are always signed)",
			 path, sec);
		return -1;
	}
	s->name = strdup(sec + strlen(CB_PREFIX));
	s->url = strdup(url);
	s->secret = strdup(secret);
	if (!s->name || !s->url || !s->secret) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (cb_check_url(s, path, sec, err, errlen) ||
	    cb_get_num(cfg, sec, "callback_timeout", 10, 1, 3600, 1000, &s->timeout_ms, err,
		       errlen) ||
	    cb_get_num(cfg, sec, "callback_retry_max", 600, 1, 86400, 1000, &s->retry_max_ms, err,
		       errlen) ||
	    cb_get_num(cfg, sec, "callback_max_age", 3 * 86400, 1, 30 * 86400, 1000, &s->max_age_ms,
		       err, errlen) ||
	    cb_get_num(cfg, sec, "callback_queue", 100000, 1, 100000000, 0, &qmax, err, errlen) ||
	    cb_order_load(s, cfg, sec, err, errlen))
		return -1;
	if (config_get(cfg, sec, "callback_queue"))
		log_warnx("callbacks: [%s] callback_queue is no longer used: the queue is in "
			  "Redis and never drops a record",
			  sec);
	return cb_keys(s, err, errlen);
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

/* The services with a callback_url; -1 with err. */
static int cb_load_all(struct callbacks *cb, const struct config *cfg, char *err, size_t errlen)
{
	struct cb_scan sc = {0};
	int rc = -1;

	conf_each(cfg->ini, CB_PREFIX, cb_scan_fn, &sc);
	if (sc.oom) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (sc.bad_key[0]) {
		snprintf(
		    err, errlen,
		    "%s: [%s] unknown key '%s' (expected callback_url, callback_secret, "
		    "callback_timeout, callback_retry_max, callback_max_age or callback_queue)",
		    cfg->path ? cfg->path : "config", sc.bad_sec, sc.bad_key);
		goto out;
	}
	if (sc.n && !(cb->svc = calloc(sc.n, sizeof(*cb->svc)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sc.n; i++) {
		int one = cb_service_load(&cb->svc[cb->nsvc], cfg, sc.sections[i], err, errlen);
		cb->svc[cb->nsvc].owner = cb;
		if (one == 0 || one < 0)
			cb->nsvc++; /* a half-filled entry is freed with the rest */
		if (one < 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < sc.n; i++)
		free(sc.sections[i]);
	free(sc.sections);
	return rc;
}

struct callbacks *callbacks_start(const struct config *cfg, char *err, size_t errlen)
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
	if (cb_load_all(cb, cfg, err, errlen) != 0)
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
