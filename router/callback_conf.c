/*
 * callback_conf.c - which services get status callbacks and how
 * (callback.c): services.d/NAME.conf's callback_* keys (lib/service.c
 * parses them), else the deprecated [service.NAME] of herald.conf.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "callback_internal.h"
#include "log.h"
#include "num.h"
#include "schema.h"

#define CB_PREFIX "service."

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
static int cb_check_url(struct cb_service *s, const char *where, char *err, size_t errlen)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *port = NULL, *upath = NULL;
	int rc = -1;
	size_t n;

	if (strncasecmp(s->url, "http://", 7) && strncasecmp(s->url, "https://", 8)) {
		snprintf(err, errlen, "%s callback_url = '%s': expected an http:// or https:// URL",
			 where, s->url);
		return -1;
	}
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, s->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		snprintf(err, errlen, "%s callback_url = '%s': not a valid URL", where, s->url);
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
	char where[512];
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
	snprintf(where, sizeof(where), "%s: [%s]", path, sec);
	if (cb_check_url(s, where, err, errlen) ||
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

/* Fill s from services.d/NAME.conf, which has a callback_url (lib/service.c
 * checked the keys and that the secret is there). 0, or -1 with err. */
static int cb_service_policy(struct cb_service *s, const struct service *sv, const char *dir,
			     char *err, size_t errlen)
{
	char where[512];

	s->name = strdup(sv->name);
	s->url = strdup(sv->callback_url);
	s->secret = strdup(sv->callback_secret);
	if (!s->name || !s->url || !s->secret) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->timeout_ms = sv->cb_timeout_ms > 0 ? sv->cb_timeout_ms : 10 * 1000;
	s->retry_max_ms = sv->cb_retry_max_ms > 0 ? sv->cb_retry_max_ms : 600 * 1000;
	s->max_age_ms = sv->cb_max_age_ms > 0 ? sv->cb_max_age_ms : 3 * 86400 * 1000L;
	s->ordered = sv->cb_ordered != 0; /* -1 (not given): yes */
	s->concurrency = sv->cb_concurrency > 0 ? sv->cb_concurrency : s->ordered ? 1 : 4;
	snprintf(where, sizeof(where), "%s/%s.conf:", dir ? dir : "services.d", sv->name);
	if (cb_check_url(s, where, err, errlen))
		return -1;
	return cb_keys(s, err, errlen);
}

/* services.d/NAME.conf with a callback_url, or NULL. */
static const struct service *cb_policy(const struct services *svcs, const char *name)
{
	const struct service *sv = svcs ? services_by_name(svcs, name) : NULL;

	return sv && sv->callback_url ? sv : NULL;
}

/* [sec] of herald.conf (the deprecated way) unless services.d has the
 * service's callbacks (which win). 1 skipped, 0 loaded, -1 with err. */
static int cb_section_load(struct callbacks *cb, const struct config *cfg,
			   const struct services *svcs, const char *sec, int warn, char *err,
			   size_t errlen)
{
	const char *path = cfg->path ? cfg->path : "config";
	const char *name = sec + strlen(CB_PREFIX);
	int one;

	if (*name && cb_policy(svcs, name)) {
		if (warn)
			log_warnx("callbacks: %s: [%s] is ignored: %s/%s.conf sets callback_url "
				  "and services.d wins (remove the section)",
				  path, sec, svcs->dir, name);
		return 1;
	}
	one = cb_service_load(&cb->svc[cb->nsvc], cfg, sec, err, errlen);
	cb->svc[cb->nsvc].owner = cb;
	if (one <= 0)
		cb->nsvc++; /* a half-filled entry is freed with the rest */
	if (one == 0 && warn)
		log_warnx("callbacks: %s: [%s] is deprecated: move its callback_url and "
			  "callback_secret (and callback_timeout, callback_retry_max, "
			  "callback_max_age, ordered as callback_ordered, concurrency as "
			  "callback_concurrency) to %s/%s.conf",
			  path, sec, svcs && svcs->dir ? svcs->dir : "services.d", name);
	return one;
}

/* The services with a callback_url: services.d's (svcs, may be NULL), then
 * herald.conf's [service.NAME] sections for the others; -1 with err. warn:
 * log what is deprecated or ignored. */
int cb_load_all(struct callbacks *cb, const struct config *cfg, const struct services *svcs,
		int warn, char *err, size_t errlen)
{
	struct cb_scan sc = {0};
	size_t nsv = svcs ? svcs->n : 0;
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
	if (sc.n + nsv && !(cb->svc = calloc(sc.n + nsv, sizeof(*cb->svc)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nsv; i++) {
		if (!svcs->v[i].callback_url)
			continue;
		if (warn && svcs->v[i].world_readable)
			log_warnx(
			    "callbacks: %s/%s.conf holds a callback_secret and anyone may read "
			    "it: chmod o-r it (0640, group herald)",
			    svcs->dir, svcs->v[i].name);
		cb->svc[cb->nsvc].owner = cb;
		if (cb_service_policy(&cb->svc[cb->nsvc++], &svcs->v[i], svcs->dir, err, errlen))
			goto out;
	}
	for (size_t i = 0; i < sc.n; i++)
		if (cb_section_load(cb, cfg, svcs, sc.sections[i], warn, err, errlen) < 0)
			goto out;
	rc = 0;
out:
	for (size_t i = 0; i < sc.n; i++)
		free(sc.sections[i]);
	free(sc.sections);
	return rc;
}
