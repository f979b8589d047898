/*
 * callback_post.c - the sender thread of status callbacks (callback.c keeps
 * the configuration, callback_store.c the Redis side): it holds up to
 * `concurrency` records of each service (one when ordered), signs and POSTs
 * them through the libcurl multi driver (util/curlmulti.c), at most
 * CB_MAX_IN_FLIGHT in all; a failed record stays in hand and waits out a
 * back-off (util/backoff.c) while the other services go on, until
 * callback_max_age sends it to the dead stream.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "callback_internal.h"
#include "log.h"
#include "text.h"

#define CB_WARN_EVERY_MS 10000 /* at most one failure line per service per 10 s */
#define CB_STOP_MS 1000	       /* callbacks_stop() lets what is in flight finish */
#define CB_IDLE_MS 200	       /* longest wait for new records (stop latency) */
#define CB_BUSY_MS 100	       /* longest wait while records are in hand */

/* Wait before try number failures+1: 1 s doubling, capped at retry_max, less
 * up to a fifth so that services that failed together do not come back in
 * lockstep (the steps still grow: 0.8-1 s, 1.6-2 s, 3.2-4 s ...). */
static int64_t cb_backoff(struct callbacks *cb, const struct cb_rec *r)
{
	return backoff_delay_ms(1000, r->svc->retry_max_ms, r->failures, 20,
				backoff_rand(&cb->rng));
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

static void cb_finish(struct cmulti_xfer *x, CURLcode cc);

void cb_rec_free(struct cb_rec *r)
{
	if (!r)
		return;
	if (r->post.easy)
		curl_easy_cleanup(r->post.easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	free(r);
}

static CURL *cb_easy(struct cb_rec *r)
{
	const struct cb_service *s = r->svc;
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
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	r->post.done = cb_finish;
	r->post.arg = r;
	return e;
}

/* Append a header line; the list is unchanged on failure. */
static int cb_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (!n)
		return -1;
	*h = n;
	return 0;
}

/* The failure line, at most one per service per CB_WARN_EVERY_MS. */
static void cb_warn(struct cb_service *s, const struct cb_rec *r, int64_t wait)
{
	int64_t now = mono_ms();

	if (s->warned && now - s->warn_ms < CB_WARN_EVERY_MS) {
		s->suppressed++;
		return;
	}
	if (s->suppressed)
		log_warnx("callback %s: POST %s failed: %s; retrying in %" PRId64
			  " s (attempt %u; %u similar lines suppressed)",
			  s->name, s->url_log, r->last_err, (wait + 500) / 1000, r->failures,
			  s->suppressed);
	else
		log_warnx("callback %s: POST %s failed: %s; retrying in %" PRId64 " s (attempt %u)",
			  s->name, s->url_log, r->last_err, (wait + 500) / 1000, r->failures);
	s->warned = 1;
	s->warn_ms = now;
	s->suppressed = 0;
}

/* A failed try: back off, or give up once the record is callback_max_age
 * old (it then goes to the dead stream). */
static void cb_failed(struct callbacks *cb, struct cb_rec *r, const char *reason)
{
	struct cb_service *s = r->svc;
	int64_t wait;

	r->failures++;
	s->failures_total++;
	snprintf(r->last_err, sizeof(r->last_err), "%s", reason);
	if (now_ms() - r->added_ms >= s->max_age_ms) {
		r->settle = CB_SETTLE_DEAD;
		return;
	}
	wait = cb_backoff(cb, r);
	r->next_ms = mono_ms() + wait;
	cb_warn(s, r, wait);
}

static void cb_start(struct callbacks *cb, struct cb_rec *r)
{
	char sig[65], line[160], id[129];
	struct curl_slist *h = NULL;

	if (!r->post.easy)
		r->post.easy = cb_easy(r);
	if (!r->post.easy || callback_sign(r->svc->secret, r->body, r->len, sig))
		goto fail;
	cb_event_id(r, id, sizeof(id));
	snprintf(line, sizeof(line), "X-Herald-Signature: sha256=%s", sig);
	if (cb_header(&h, "Content-Type: application/json") || cb_header(&h, "Expect:") ||
	    cb_header(&h, line))
		goto fail;
	if (id[0]) {
		snprintf(line, sizeof(line), "X-Herald-Event: %s", id);
		if (cb_header(&h, line))
			goto fail;
	}
	r->errbuf[0] = '\0';
	curl_easy_setopt(r->post.easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->post.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
	curl_easy_setopt(r->post.easy, CURLOPT_POSTFIELDS, (const char *)r->body);
	if (cmulti_add(cb->http, &r->post) != 0)
		goto fail;
	r->hdrs = h;
	return;
fail:
	curl_slist_free_all(h);
	cb_failed(cb, r, "cannot set up the request");
}

/* A POST ended (the driver's callback): 2xx settles the record (Redis is
 * told in cb_settle), anything else keeps it in hand for a retry. */
static void cb_finish(struct cmulti_xfer *x, CURLcode cc)
{
	struct cb_rec *r = x->arg;
	struct cb_service *s = r->svc;
	char reason[CURL_ERROR_SIZE + 32];
	long code = 0;

	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	if (cc == CURLE_OK)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	if (cc == CURLE_OK && code >= 200 && code <= 299) {
		if (r->failures)
			log_info("callback %s: POST %s succeeded after %u failed attempts", s->name,
				 s->url_log, r->failures);
		r->settle = CB_SETTLE_DONE;
		return;
	}
	if (cc == CURLE_OK)
		snprintf(reason, sizeof(reason), "HTTP %ld", code);
	else
		snprintf(reason, sizeof(reason), "%s",
			 r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
	cb_failed(s->owner, r, reason);
}

/* ---- the loop ------------------------------------------------------------------ */

/* Tell Redis of every answered record (acknowledge, or move to the dead
 * stream) and free its slot; kept for the next turn when Redis fails. */
static void cb_settle(struct callbacks *cb)
{
	if (!cb->rc || cbs_done_all(cb) != 0)
		return;
	for (size_t i = 0; i < cb->nsvc; i++) {
		struct cb_service *s = &cb->svc[i];
		for (size_t k = 0; k < s->nhand; k++) {
			struct cb_rec *r = s->hand[k];
			if (r && r->settle == CB_SETTLE_DEAD && cbs_dead(cb, r) == 0) {
				cb_rec_free(r);
				s->hand[k] = NULL;
			}
		}
	}
}

/* Start every record that is due, round robin so that more than
 * CB_MAX_IN_FLIGHT busy services take turns; returns the time until the
 * next retry is due (at most CB_BUSY_MS), or -1 when nothing is in hand. */
static int64_t cb_start_due(struct callbacks *cb, int64_t now)
{
	int64_t wait = -1;

	cb->rr++;
	for (size_t n = 0; n < cb->nsvc; n++) {
		struct cb_service *s = &cb->svc[(n + cb->rr) % cb->nsvc];
		for (size_t k = 0; k < s->nhand; k++) {
			struct cb_rec *r = s->hand[k];
			if (!r || r->settle)
				continue;
			if (!r->post.in_flight && r->next_ms <= now && cmulti_room(cb->http))
				cb_start(cb, r);
			if (wait < 0 || wait > CB_BUSY_MS)
				wait = CB_BUSY_MS;
			if (!r->post.in_flight && r->next_ms > now && r->next_ms - now < wait)
				wait = r->next_ms - now;
		}
	}
	return wait;
}

static int cb_stopping(struct callbacks *cb)
{
	int stop;

	pthread_mutex_lock(&cb->mu);
	stop = cb->stop;
	pthread_mutex_unlock(&cb->mu);
	return stop;
}

/* Whatever is still in flight is abandoned: it stays pending in Redis and is
 * sent again after the next start. */
static void cb_abandon(struct callbacks *cb)
{
	struct cmulti_xfer *x;

	while ((x = cmulti_take(cb->http)) != NULL) {
		struct cb_rec *r = x->arg;
		curl_slist_free_all(r->hdrs);
		r->hdrs = NULL;
	}
}

/* Stopping: no new records; what is in flight gets until deadline. */
static int cb_stop_turn(struct callbacks *cb, int64_t deadline)
{
	int64_t now = mono_ms();

	cmulti_step(cb->http);
	if (cbs_ready(cb) == 0)
		cb_settle(cb);
	if (!cmulti_in_flight(cb->http) || now >= deadline)
		return 1;
	cmulti_wait(cb->http, (int)(deadline - now < 50 ? deadline - now : 50));
	return 0;
}

void *callbacks_sender(void *arg)
{
	struct callbacks *cb = arg;
	int64_t deadline, wait;

	while (!cb_stopping(cb)) {
		int64_t now = mono_ms();
		int redis_ok = cbs_ready(cb) == 0;

		if (redis_ok) {
			cb_settle(cb);
			for (size_t i = 0; i < cb->nsvc; i++)
				cbs_fill(cb, &cb->svc[i]);
			cbs_periodic(cb, now);
		}
		wait = cb_start_due(cb, now);
		if (cmulti_step(cb->http) > 0) { /* cb_finish() for each that ended */
			if (redis_ok && cb->rc)
				cb_settle(cb); /* frees the slot for the next record */
			continue;
		}
		if (wait >= 0 || cmulti_in_flight(cb->http))
			cmulti_wait(cb->http, (int)(wait > 0 ? wait : wait == 0 ? 1 : CB_BUSY_MS));
		else if (redis_ok)
			cbs_wait_new(cb, CB_IDLE_MS);
		else
			cmulti_wait(cb->http, CB_IDLE_MS);
	}
	deadline = mono_ms() + CB_STOP_MS;
	while (!cb_stop_turn(cb, deadline))
		;
	cb_abandon(cb);
	cbs_release(cb);
	return NULL;
}
