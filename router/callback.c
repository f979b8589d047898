/*
 * callback.c - status callbacks: every transition of a service's messages is
 * POSTed, signed and in order, to that service's callback_url.
 *
 *   [service.dvla]
 *   callback_url = https://dvla.example/herald/status
 *   callback_secret = ...      ; HMAC-SHA256 key, never logged
 *   callback_timeout = 10      ; per request: seconds, or 30s / 5m / 1h
 *   callback_retry_max = 600   ; longest wait between two tries (same form)
 *   callback_queue = 100000    ; records kept per service; when full the
 *                              ; oldest is dropped (logged)
 *
 * Threads: callbacks_push() runs on the router thread. It copies the record
 * into its service's queue under a mutex - no I/O, nothing that waits on the
 * network - and wakes the sender with curl_multi_wakeup() only if the sender
 * said it was going to sleep. The sender thread owns the CURLM and every easy
 * handle. A service has at most one request in flight: record N+1 goes out
 * only after N got a 2xx, because services rebuild a message's state from the
 * sequence. A failed record stays at the head of its service and is tried
 * again after 1 s, 2 s, 4 s ... up to callback_retry_max (less up to a fifth
 * of jitter); meanwhile the other services go on, up to CB_MAX_IN_FLIGHT
 * requests at once. Each service keeps its easy handle, so its connection is
 * reused.
 */
#include "callback.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
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

#include "backoff.h"
#include "callback_internal.h"
#include "log.h"
#include "num.h"
#include "text.h"

#define CB_MAX_IN_FLIGHT 16
#define CB_WARN_EVERY_MS 10000 /* at most one failure line per service per 10 s */
#define CB_STOP_MS 1000	       /* callbacks_stop() flushes this long at most */
#define CB_PREFIX "service."

struct cb_rec {
	struct cb_rec *next;
	size_t len;
	char body[]; /* NUL-terminated copy of the JSON */
};

struct cb_service {
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
	struct cb_rec *cur; /* head of line: in flight or waiting for its retry */
	CURL *easy;
	struct curl_slist *hdrs; /* of the request in flight */
	int busy;
	unsigned failures; /* consecutive failures of cur */
	int64_t next_ms;   /* mono_ms when cur may be (re)sent */
	int64_t warn_ms;
	int warned;
	unsigned suppressed;
	char errbuf[CURL_ERROR_SIZE];
};

struct callbacks {
	struct cb_service *svc;
	size_t nsvc;
	CURLM *multi;
	pthread_t thread;
	int started, curl_ready;
	pthread_mutex_t mu;
	int sleeping, stop; /* under mu */
	/* sender thread only */
	unsigned in_flight;
	size_t rr;
	uint64_t rng;
};

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
	static const char *const keys[] = {"callback_url", "callback_secret", "callback_timeout",
					   "callback_retry_max", "callback_queue"};

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
	int64_t ms;
	int rc;

	*out = unit_ms ? def * unit_ms : def;
	if (!v)
		return 0;
	if (unit_ms) {
		rc = num_parse_duration(v, unit_ms, lo * unit_ms, hi * unit_ms, &ms, why,
					sizeof(why));
		if (!rc)
			*out = (long)ms;
	} else {
		rc = num_parse_long(v, lo, hi, out, why, sizeof(why));
	}
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
	    cb_get_num(cfg, sec, "callback_queue", 100000, 1, 100000000, 0, &qmax, err, errlen))
		return -1;
	s->qmax = (size_t)qmax;
	return 0;
}

/* ---- sender thread ---------------------------------------------------------- */

/* Wait before try number failures+1: 1 s doubling, capped at retry_max, less
 * up to a fifth so that services that failed together do not come back in
 * lockstep (the steps still grow: 0.8-1 s, 1.6-2 s, 3.2-4 s ...). */
static int64_t cb_backoff(struct callbacks *cb, const struct cb_service *s)
{
	return backoff_delay_ms(1000, s->retry_max_ms, s->failures, 20, backoff_rand(&cb->rng));
}

static size_t cb_discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void)data;
	(void)arg;
	return size * nmemb;
}

/* The event_id of a record, if it is a safe header value. */
static void cb_event_id(const struct cb_rec *r, char *out, size_t outlen)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	const char *id = j ? json_string_value(json_object_get(j, "event_id")) : NULL;

	out[0] = '\0';
	if (id && strlen(id) < outlen) {
		for (const char *p = id; *p; p++)
			if (*p <= ' ' || *p > '~')
				goto out;
		snprintf(out, outlen, "%s", id);
	}
out:
	json_decref(j);
}

static CURL *cb_easy(struct cb_service *s)
{
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_URL, s->url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cb_discard);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "herald-callback/1");
	curl_easy_setopt(e, CURLOPT_PRIVATE, s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	return e;
}

static void cb_failed(struct callbacks *cb, struct cb_service *s, const char *reason);

/* Append a header line; the list is unchanged on failure. */
static int cb_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (!n)
		return -1;
	*h = n;
	return 0;
}

static void cb_start(struct callbacks *cb, struct cb_service *s)
{
	char sig[65], line[160], id[129];
	struct curl_slist *h = NULL;

	if (!s->easy)
		s->easy = cb_easy(s);
	if (!s->easy || callback_sign(s->secret, s->cur->body, s->cur->len, sig))
		goto fail;
	cb_event_id(s->cur, id, sizeof(id));
	snprintf(line, sizeof(line), "X-Herald-Signature: sha256=%s", sig);
	if (cb_header(&h, "Content-Type: application/json") || cb_header(&h, "Expect:") ||
	    cb_header(&h, line))
		goto fail;
	if (id[0]) {
		snprintf(line, sizeof(line), "X-Herald-Event: %s", id);
		if (cb_header(&h, line))
			goto fail;
	}
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->cur->len);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, (const char *)s->cur->body);
	if (curl_multi_add_handle(cb->multi, s->easy) != CURLM_OK)
		goto fail;
	s->hdrs = h;
	s->busy = 1;
	cb->in_flight++;
	return;
fail:
	curl_slist_free_all(h);
	cb_failed(cb, s, "cannot set up the request");
}

static void cb_failed(struct callbacks *cb, struct cb_service *s, const char *reason)
{
	int64_t now = mono_ms(), wait;

	s->failures++;
	wait = cb_backoff(cb, s);
	s->next_ms = now + wait;
	if (!s->warned || now - s->warn_ms >= CB_WARN_EVERY_MS) {
		if (s->suppressed)
			log_warnx("callback %s: POST %s failed: %s; retrying in %" PRId64
				  " s (attempt %u; %u similar lines suppressed)",
				  s->name, s->url_log, reason, (wait + 500) / 1000, s->failures,
				  s->suppressed);
		else
			log_warnx("callback %s: POST %s failed: %s; retrying in %" PRId64
				  " s (attempt %u)",
				  s->name, s->url_log, reason, (wait + 500) / 1000, s->failures);
		s->warned = 1;
		s->warn_ms = now;
		s->suppressed = 0;
	} else {
		s->suppressed++;
	}
}

static void cb_finish(struct callbacks *cb, CURL *e, CURLcode cc)
{
	struct cb_service *s = NULL;
	char reason[CURL_ERROR_SIZE + 32];
	long code = 0;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
	if (!s)
		return;
	curl_multi_remove_handle(cb->multi, e);
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	s->busy = 0;
	cb->in_flight--;
	if (cc == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_OK && code >= 200 && code <= 299) {
		if (s->failures)
			log_info("callback %s: POST %s succeeded after %u failed attempts", s->name,
				 s->url_log, s->failures);
		free(s->cur);
		s->cur = NULL;
		s->failures = 0;
		s->next_ms = 0;
		pthread_mutex_lock(&cb->mu);
		s->pending--;
		pthread_mutex_unlock(&cb->mu);
		return;
	}
	if (cc == CURLE_OK)
		snprintf(reason, sizeof(reason), "HTTP %ld", code);
	else
		snprintf(reason, sizeof(reason), "%s",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
	cb_failed(cb, s, reason);
}

static void *cb_thread(void *arg)
{
	struct callbacks *cb = arg;
	int64_t deadline = 0;

	for (;;) {
		int stopping, work = 0, done = 1, running = 0, left;
		int64_t now, wait_ms = 1000;
		CURLMsg *m;

		/* Take the next record of every service with nothing at the head. */
		pthread_mutex_lock(&cb->mu);
		stopping = cb->stop;
		for (size_t i = 0; i < cb->nsvc; i++) {
			struct cb_service *s = &cb->svc[i];
			if (!s->cur && s->head) {
				s->cur = s->head;
				s->head = s->head->next;
				if (!s->head)
					s->tail = NULL;
				s->qlen--;
				s->cur->next = NULL;
			}
		}
		pthread_mutex_unlock(&cb->mu);

		now = mono_ms();
		if (stopping && !deadline)
			deadline = now + CB_STOP_MS;
		/* Round robin, so that more than CB_MAX_IN_FLIGHT busy services
		 * take turns. */
		cb->rr++;
		for (size_t k = 0; k < cb->nsvc && cb->in_flight < CB_MAX_IN_FLIGHT; k++) {
			struct cb_service *s = &cb->svc[(k + cb->rr) % cb->nsvc];
			if (s->cur && !s->busy && s->next_ms <= now)
				cb_start(cb, s);
		}
		curl_multi_perform(cb->multi, &running);
		while ((m = curl_multi_info_read(cb->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE)
				cb_finish(cb, m->easy_handle, m->data.result);

		/* What next: a record due now, a retry due later, or nothing. */
		now = mono_ms();
		if (cb->in_flight)
			done = 0;
		for (size_t i = 0; i < cb->nsvc; i++) {
			const struct cb_service *s = &cb->svc[i];
			if (!s->cur || s->busy)
				continue;
			if (s->next_ms <= now) {
				if (cb->in_flight < CB_MAX_IN_FLIGHT)
					work = 1;
				done = 0;
			} else {
				if (s->next_ms - now < wait_ms)
					wait_ms = s->next_ms - now;
				if (!deadline || s->next_ms < deadline)
					done = 0;
			}
		}
		if (stopping) {
			if (now >= deadline)
				break;
			if (deadline - now < wait_ms)
				wait_ms = deadline - now;
		}
		if (work)
			continue;
		pthread_mutex_lock(&cb->mu);
		for (size_t i = 0; i < cb->nsvc; i++)
			if (!cb->svc[i].cur && cb->svc[i].head)
				work = 1;
		if (cb->stop != stopping)
			work = 1;
		if (!work && !(stopping && done))
			cb->sleeping = 1; /* from here on a push calls curl_multi_wakeup() */
		pthread_mutex_unlock(&cb->mu);
		if (work)
			continue;
		if (stopping && done)
			break;
		curl_multi_poll(cb->multi, NULL, 0, (int)(wait_ms > 0 ? wait_ms : 1), NULL);
		pthread_mutex_lock(&cb->mu);
		cb->sleeping = 0;
		pthread_mutex_unlock(&cb->mu);
	}

	/* Whatever is still in flight is abandoned with the rest. */
	for (size_t i = 0; i < cb->nsvc; i++) {
		struct cb_service *s = &cb->svc[i];
		if (s->busy) {
			curl_multi_remove_handle(cb->multi, s->easy);
			curl_slist_free_all(s->hdrs);
			s->hdrs = NULL;
			s->busy = 0;
			cb->in_flight--;
		}
	}
	return NULL;
}

/* ---- public ------------------------------------------------------------------- */

static void cb_free(struct callbacks *cb)
{
	for (size_t i = 0; i < cb->nsvc; i++) {
		struct cb_service *s = &cb->svc[i];
		struct cb_rec *r, *next;
		size_t unsent = s->cur ? 1 : 0;

		for (r = s->head; r; r = next) {
			next = r->next;
			free(r);
			unsent++;
		}
		free(s->cur);
		if (unsent)
			log_warnx("callback %s: %zu records not delivered at shutdown, dropped",
				  s->name, unsent);
		if (s->easy)
			curl_easy_cleanup(s->easy);
		curl_slist_free_all(s->hdrs);
		if (s->secret)
			OPENSSL_cleanse(s->secret, strlen(s->secret));
		free(s->secret);
		free(s->name);
		free(s->url);
		free(s->url_log);
	}
	free(cb->svc);
	if (cb->multi)
		curl_multi_cleanup(cb->multi);
	if (cb->curl_ready)
		curl_global_cleanup();
	pthread_mutex_destroy(&cb->mu);
	free(cb);
}

struct callbacks *callbacks_start(const struct config *cfg, char *err, size_t errlen)
{
	struct callbacks *cb = calloc(1, sizeof(*cb));
	struct cb_scan sc = {0};
	sigset_t all, old;
	int rc;

	if (!cb) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&cb->mu, NULL);
	if (!cfg)
		return cb;
	conf_each(cfg->ini, CB_PREFIX, cb_scan_fn, &sc);
	if (sc.oom) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (sc.bad_key[0]) {
		snprintf(err, errlen,
			 "%s: [%s] unknown key '%s' (expected callback_url, callback_secret, "
			 "callback_timeout, callback_retry_max or callback_queue)",
			 cfg->path ? cfg->path : "config", sc.bad_sec, sc.bad_key);
		goto fail;
	}
	if (sc.n) {
		cb->svc = calloc(sc.n, sizeof(*cb->svc));
		if (!cb->svc) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < sc.n; i++) {
		rc = cb_service_load(&cb->svc[cb->nsvc], cfg, sc.sections[i], err, errlen);
		if (rc == 0 || rc < 0)
			cb->nsvc++; /* a half-filled entry is freed with the rest */
		if (rc < 0)
			goto fail;
	}
	if (!cb->nsvc)
		goto done;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "callbacks: curl_global_init failed");
		goto fail;
	}
	cb->curl_ready = 1;
	cb->multi = curl_multi_init();
	if (!cb->multi) {
		snprintf(err, errlen, "callbacks: curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(cb->multi, CURLMOPT_MAXCONNECTS, (long)CB_MAX_IN_FLIGHT * 2);
	cb->rng = (mono_us() << 16) ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;

	/* The sender takes no asynchronous signals: the router's handlers run
	 * on the router's thread (faults still reach whoever caused them). */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&cb->thread, NULL, cb_thread, cb);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		snprintf(err, errlen, "callbacks: cannot start the sender thread: %s",
			 strerror(rc));
		goto fail;
	}
	cb->started = 1;
	for (size_t i = 0; i < cb->nsvc; i++)
		log_info("callback %s: status callbacks to %s", cb->svc[i].name,
			 cb->svc[i].url_log);
done:
	for (size_t i = 0; i < sc.n; i++)
		free(sc.sections[i]);
	free(sc.sections);
	return cb;
fail:
	for (size_t i = 0; i < sc.n; i++)
		free(sc.sections[i]);
	free(sc.sections);
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
		curl_multi_wakeup(cb->multi);
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

void callbacks_push(struct callbacks *cb, const char *service, const char *json)
{
	struct cb_service *s;
	struct cb_rec *r, *old = NULL;
	size_t len;
	int wake, warn = 0;
	uint64_t dropped = 0;
	int64_t now;

	if (!cb || !service || !json || !(s = cb_find(cb, service)))
		return;
	len = strlen(json);
	r = malloc(sizeof(*r) + len + 1);
	if (!r) {
		log_warnx("callback %s: out of memory, status record dropped", s->name);
		return;
	}
	r->next = NULL;
	r->len = len;
	memcpy(r->body, json, len + 1);
	now = mono_ms();

	pthread_mutex_lock(&cb->mu);
	if (s->qlen >= s->qmax && s->head) {
		old = s->head;
		s->head = old->next;
		if (!s->head)
			s->tail = NULL;
		s->qlen--;
		s->pending--;
		dropped = ++s->dropped;
		if (!s->drop_warned || now - s->drop_warn_ms >= CB_WARN_EVERY_MS) {
			s->drop_warned = 1;
			s->drop_warn_ms = now;
			warn = 1;
		}
	}
	if (s->tail)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	s->qlen++;
	s->pending++;
	wake = cb->sleeping;
	cb->sleeping = 0; /* one wakeup is enough until the sender sleeps again */
	pthread_mutex_unlock(&cb->mu);

	free(old);
	if (warn)
		log_warnx("callback %s: queue full (%zu records), dropping the oldest; %" PRIu64
			  " dropped so far",
			  s->name, s->qmax, dropped);
	if (wake)
		curl_multi_wakeup(cb->multi);
}

size_t callbacks_pending(struct callbacks *cb, const char *service)
{
	struct cb_service *s;
	size_t n;

	if (!cb || !service || !(s = cb_find(cb, service)))
		return 0;
	pthread_mutex_lock(&cb->mu);
	n = s->pending;
	pthread_mutex_unlock(&cb->mu);
	return n;
}
