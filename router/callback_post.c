/*
 * callback_post.c - the sender thread of status callbacks (callback.c keeps
 * the configuration and the queues): it takes the head record of each
 * service, signs it and POSTs it through the libcurl multi driver
 * (util/curlmulti.c), one request per service at a time and at most
 * CB_MAX_IN_FLIGHT in all; a failed record stays at the head and waits
 * out a back-off (util/backoff.c) while the other services go on.
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
#define CB_STOP_MS 1000	       /* callbacks_stop() flushes this long at most */

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

static void cb_finish(struct cmulti_xfer *x, CURLcode cc);

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
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	s->post.done = cb_finish;
	s->post.arg = s;
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

static void cb_start(struct callbacks *cb, struct cb_service *s)
{
	char sig[65], line[160], id[129];
	struct curl_slist *h = NULL;

	if (!s->post.easy)
		s->post.easy = cb_easy(s);
	if (!s->post.easy || callback_sign(s->secret, s->cur->body, s->cur->len, sig))
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
	curl_easy_setopt(s->post.easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(s->post.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->cur->len);
	curl_easy_setopt(s->post.easy, CURLOPT_POSTFIELDS, (const char *)s->cur->body);
	if (cmulti_add(cb->http, &s->post) != 0)
		goto fail;
	s->hdrs = h;
	return;
fail:
	curl_slist_free_all(h);
	cb_failed(cb, s, "cannot set up the request");
}

/* A POST ended (the driver's callback): 2xx ends the record, anything else
 * keeps it at the head for a retry. */
static void cb_finish(struct cmulti_xfer *x, CURLcode cc)
{
	struct cb_service *s = x->arg;
	struct callbacks *cb = s->owner;
	char reason[CURL_ERROR_SIZE + 32];
	long code = 0;

	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	if (cc == CURLE_OK)
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
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

/* ---- the loop ------------------------------------------------------------------ */

/* Take the next record of every service with nothing at the head; returns
 * the stop flag as it was then. */
static int cb_take_heads(struct callbacks *cb)
{
	int stopping;

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
	return stopping;
}

/* Start every record that is due, round robin so that more than
 * CB_MAX_IN_FLIGHT busy services take turns. */
static void cb_start_due(struct callbacks *cb, int64_t now)
{
	cb->rr++;
	for (size_t k = 0; k < cb->nsvc && cmulti_room(cb->http); k++) {
		struct cb_service *s = &cb->svc[(k + cb->rr) % cb->nsvc];
		if (s->cur && !s->post.in_flight && s->next_ms <= now)
			cb_start(cb, s);
	}
}

struct cb_outlook {
	int work;	 /* a record can start now */
	int done;	 /* nothing left that could go before the stop deadline */
	int64_t wait_ms; /* until the next retry is due */
};

/* What next: a record due now, a retry due later, or nothing. */
static struct cb_outlook cb_look_ahead(struct callbacks *cb, int64_t now, int64_t deadline)
{
	struct cb_outlook o = {0, cmulti_in_flight(cb->http) == 0, 1000};

	for (size_t i = 0; i < cb->nsvc; i++) {
		const struct cb_service *s = &cb->svc[i];
		if (!s->cur || s->post.in_flight)
			continue;
		if (s->next_ms <= now) {
			if (cmulti_room(cb->http))
				o.work = 1;
			o.done = 0;
		} else {
			if (s->next_ms - now < o.wait_ms)
				o.wait_ms = s->next_ms - now;
			if (!deadline || s->next_ms < deadline)
				o.done = 0;
		}
	}
	return o;
}

/* Under the lock: new records or a stop request mean work; with none,
 * announce the sleep (a push then calls cmulti_wakeup). */
static int cb_work_or_sleep(struct callbacks *cb, int stopping, int done)
{
	int work = 0;

	pthread_mutex_lock(&cb->mu);
	for (size_t i = 0; i < cb->nsvc; i++)
		if (!cb->svc[i].cur && cb->svc[i].head)
			work = 1;
	if (cb->stop != stopping)
		work = 1;
	if (!work && !(stopping && done))
		cb->sleeping = 1;
	pthread_mutex_unlock(&cb->mu);
	return work;
}

/* Whatever is still in flight is abandoned with the rest. */
static void cb_abandon(struct callbacks *cb)
{
	struct cmulti_xfer *x;

	while ((x = cmulti_take(cb->http)) != NULL) {
		struct cb_service *s = x->arg;
		curl_slist_free_all(s->hdrs);
		s->hdrs = NULL;
	}
}

void *callbacks_sender(void *arg)
{
	struct callbacks *cb = arg;
	int64_t deadline = 0;

	for (;;) {
		int stopping = cb_take_heads(cb);
		int64_t now = mono_ms();
		struct cb_outlook o;

		if (stopping && !deadline)
			deadline = now + CB_STOP_MS;
		cb_start_due(cb, now);
		cmulti_step(cb->http); /* cb_finish() for each that ended */
		now = mono_ms();
		o = cb_look_ahead(cb, now, deadline);
		if (stopping) {
			if (now >= deadline)
				break;
			if (deadline - now < o.wait_ms)
				o.wait_ms = deadline - now;
		}
		if (o.work || cb_work_or_sleep(cb, stopping, o.done))
			continue;
		if (stopping && o.done)
			break;
		cmulti_wait(cb->http, (int)(o.wait_ms > 0 ? o.wait_ms : 1));
		pthread_mutex_lock(&cb->mu);
		cb->sleeping = 0;
		pthread_mutex_unlock(&cb->mu);
	}
	cb_abandon(cb);
	return NULL;
}
