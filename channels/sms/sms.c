/*
 * sms.c - the sms channel: SMS through an HTTP gateway with libcurl multi.
 *
 * [channel.sms]
 * profile = kannel | twilio | json
 * url = http://127.0.0.1:13013/cgi-bin/sendsms
 * username = herald        ; kannel, json (basic auth)
 * password = secret
 * account = AC...          ; twilio (basic auth account:token)
 * token = ...              ; json without account: Bearer token
 * from = HERALD
 * max_segments = 6         ; more is a permanent failure
 * max_in_flight = 32       ; concurrent HTTP requests
 * timeout = 10             ; per request: seconds, or 30s / 2m
 *
 * Threads: submit() (router thread) checks the number and the text - an
 * invalid E.164 number, invalid UTF-8, an empty text or too many segments
 * fail permanently there and never reach the network - and pushes a job to a
 * jobq, then wakes the one worker thread with cmulti_wakeup(). The worker
 * owns the libcurl multi driver (util/curlmulti.c) and a pool of transfer
 * slots (easy handle with the channel's fixed options, request buffer),
 * reused from message to message: it starts up to max_in_flight transfers,
 * waits in cmulti_wait() and hands outcomes to the resq whose eventfd the
 * router watches, a batch at a time. Delivery receipts arrive later through
 * receipt() (receipt.c) on heraldd's HTTP listener, matched by the ref of
 * the SENT result ([http] public_url must be set; without it no receipt is
 * asked for and SENT is final).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chanjob.h"
#include "chanq.h"
#include "curlmulti.h"
#include "e164.h"
#include "gsm7.h"
#include "smsreq.h"

#define SMS_RESP_MAX 1024 /* bytes of a gateway answer we keep */
/* Outcomes wait at most this long to be handed to the router together. */
#define SMS_HANDOVER_MS 2

/* One message on its way to the worker: a single allocation
 * (chan_job_pack). */
struct sms_job {
	uint64_t msg_id;
	enum gsm_encoding enc;
	char ref[SMS_REF_MAX];
	char masked[64];       /* number for logs */
	char from[64];	       /* the service's sender (meta service.sender), or "" */
	const char *to, *text; /* after the struct */
};

/* A transfer slot (worker thread only): in flight in st->http, or idle on
 * st->pool keeping its easy handle and request buffer for the next job. */
struct sms_xfer {
	struct cmulti_xfer cx; /* first: the driver's handle on this slot */
	struct sms_job *job;
	struct sms_request req;
	size_t resp_len;
	struct sms_xfer *next; /* in st->pool */
	char resp[SMS_RESP_MAX];
	char err[CURL_ERROR_SIZE];
};

struct sms_state {
	struct resq *results; /* first: chanq_state_poll/fd */
	const struct herald_host *host;
	struct sms_conf conf;
	struct jobq *jobs;
	size_t jobs_cap;
	struct cmulti *http; /* at most max_in_flight transfers */
	pthread_t thread;
	int thread_started;
	atomic_int stop;
	/* 1 while the worker waits and would take a new job: only then does
	 * submit() pay for a cmulti_wakeup(). */
	atomic_int sleeping;
	struct curl_slist *headers; /* Content-Type and no Expect, shared */
	/* worker thread only */
	struct sms_xfer *pool; /* idle slots (singly linked by next) */
	/* Finished outcomes not yet handed over: the router is woken once per
	 * batch (a quarter of max_in_flight, or SMS_HANDOVER_MS after the
	 * first, or when nothing is left in flight) rather than per message. */
	struct herald_result *done;
	unsigned ndone, batch;
	int64_t done_since_ms;
};
CHANQ_RESULTS_FIRST(struct sms_state);

static int64_t sms_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sms_job_free(struct sms_job *j)
{
	free(j);
}

static void sms_job_free_any(void *j)
{
	sms_job_free(j);
}

/* ---- worker thread ---------------------------------------------------------- */

static size_t sms_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sms_xfer *x = arg;
	size_t n = size * nmemb, room = sizeof(x->resp) - 1 - x->resp_len;

	if (n > room)
		n = room; /* keep the start, drop the rest */
	memcpy(x->resp + x->resp_len, data, n);
	x->resp_len += n;
	x->resp[x->resp_len] = '\0';
	return size * nmemb;
}

/* Free x's job and put the slot (no longer in flight) back in the pool. */
static void sms_xfer_release(struct sms_state *st, struct sms_xfer *x)
{
	sms_job_free(x->job);
	x->job = NULL;
	x->next = st->pool;
	st->pool = x;
}

static void sms_xfer_destroy(struct sms_xfer *x)
{
	if (x->cx.easy)
		curl_easy_cleanup(x->cx.easy);
	sms_request_free(&x->req);
	sms_job_free(x->job);
	free(x);
}

static void sms_log_result(struct sms_state *st, const struct herald_result *r, const char *masked)
{
	if (r->status == HERALD_PERMANENT)
		st->host->log(st->host->ctx, HERALD_LOG_NOTICE, "sms: to=%s ref=%s permanent: %s",
			      masked, r->ref, r->reason);
	else if (r->status == HERALD_TEMPORARY)
		st->host->log(st->host->ctx, HERALD_LOG_INFO, "sms: to=%s ref=%s temporary: %s",
			      masked, r->ref, r->reason);
}

static void sms_push(struct sms_state *st, const struct herald_result *r, const char *masked)
{
	sms_log_result(st, r, masked);
	if (resq_push(st->results, r) != 0)
		st->host->log(st->host->ctx, HERALD_LOG_ERR, "sms: result queue: out of memory");
}

/* A new easy handle with the options every request of this channel shares;
 * sms_start() sets only what differs per message. Handles are reused
 * without curl_easy_reset(), so these stay. */
static CURL *sms_easy_new(struct sms_state *st)
{
	const struct sms_conf *c = &st->conf;
	CURL *e = curl_easy_init();

	if (!e)
		return NULL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sms_write_cb);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "herald-sms/1");
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (c->profile == SMS_PROFILE_KANNEL) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* credentials are in the URL */
	} else {
		curl_easy_setopt(e, CURLOPT_URL, c->url);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, st->headers);
		if (c->user[0]) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(e, CURLOPT_USERNAME, c->user);
			curl_easy_setopt(e, CURLOPT_PASSWORD, c->pass);
		} else if (c->bearer[0]) {
			curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
			curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, c->bearer);
		}
	}
	return e;
}

static void sms_finish(struct cmulti_xfer *cx, CURLcode cc);

/* A slot from the pool, or a new one (at most max_in_flight exist). */
static struct sms_xfer *sms_xfer_get(struct sms_state *st)
{
	struct sms_xfer *x = st->pool;

	if (x) {
		st->pool = x->next;
		x->next = NULL;
		return x;
	}
	x = calloc(1, sizeof(*x));
	if (x && !(x->cx.easy = sms_easy_new(st))) {
		free(x);
		return NULL;
	}
	if (x) { /* the slot's own: set once */
		x->cx.done = sms_finish;
		x->cx.arg = st;
		curl_easy_setopt(x->cx.easy, CURLOPT_ERRORBUFFER, x->err);
		curl_easy_setopt(x->cx.easy, CURLOPT_WRITEDATA, x);
	}
	return x;
}

/* A job that could not be started: temporary failure, job freed. */
static void sms_start_failed(struct sms_state *st, struct sms_job *job)
{
	struct herald_result r = {
	    .version = HERALD_RESULT_VERSION, .msg_id = job->msg_id, .status = HERALD_TEMPORARY};

	snprintf(r.ref, sizeof(r.ref), "%s", job->ref);
	snprintf(r.reason, sizeof(r.reason), "sms: cannot set up the request (out of memory)");
	sms_push(st, &r, job->masked);
	sms_job_free(job);
}

/* Set up and add one transfer; on failure push a temporary result. */
static void sms_start(struct sms_state *st, struct sms_job *job)
{
	struct sms_xfer *x = sms_xfer_get(st);
	CURL *e;

	if (!x)
		goto fail;
	x->job = job;
	x->resp_len = 0;
	x->resp[0] = x->err[0] = '\0';
	if (sms_request_build_from(&st->conf, job->from, job->to, job->text, job->enc, job->ref,
				   &x->req) != 0)
		goto fail;
	e = x->cx.easy;
	if (st->conf.profile == SMS_PROFILE_KANNEL)
		curl_easy_setopt(e, CURLOPT_URL, x->req.url); /* the message is in it */
	if (x->req.body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->req.body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->req.body);
	}
	if (cmulti_add(st->http, &x->cx) != 0)
		goto fail;
	return;
fail:
	sms_start_failed(st, job);
	if (x) { /* never added to the multi handle: straight back to the pool */
		x->job = NULL;
		x->next = st->pool;
		st->pool = x;
	}
}

/* Hand the finished outcomes to the router. */
static void sms_flush(struct sms_state *st)
{
	for (unsigned i = 0; i < st->ndone; i++)
		if (resq_push(st->results, &st->done[i]) != 0)
			st->host->log(st->host->ctx, HERALD_LOG_ERR,
				      "sms: result queue: out of memory");
	st->ndone = 0;
}

/* A transfer ended (the driver's callback): its outcome joins the batch. */
static void sms_finish(struct cmulti_xfer *cx, CURLcode cc)
{
	struct sms_state *st = cx->arg;
	struct sms_xfer *x = (struct sms_xfer *)cx; /* cx is its first member */
	struct herald_result *r;
	long code = 0;

	if (cc == CURLE_OK)
		curl_easy_getinfo(cx->easy, CURLINFO_RESPONSE_CODE, &code);
	if (st->ndone == st->conf.max_in_flight)
		sms_flush(st); /* full: hand over what is there */
	if (st->ndone == 0)
		st->done_since_ms = sms_now_ms();
	r = &st->done[st->ndone++];
	sms_outcome(&st->conf, cc == CURLE_OK ? code : 0,
		    x->err[0] ? x->err : curl_easy_strerror(cc), x->resp, x->resp_len, x->job->ref,
		    r);
	r->msg_id = x->job->msg_id;
	if (r->status != HERALD_SENT)
		sms_log_result(st, r, x->job->masked);
	sms_xfer_release(st, x);
}

static void *sms_worker(void *arg)
{
	struct sms_state *st = arg;

	while (!atomic_load(&st->stop)) {
		struct sms_job *job;
		int room;

		/* jobq_len first: jobq_pop(q, 0) on an empty queue costs a
		 * timed condvar wait, a system call. */
		while (cmulti_room(st->http) && jobq_len(st->jobs) > 0 &&
		       (job = jobq_pop(st->jobs, 0)))
			sms_start(st, job);
		cmulti_step(st->http); /* sms_finish() for each that ended */
		if (st->ndone && (st->ndone >= st->batch || cmulti_in_flight(st->http) == 0 ||
				  sms_now_ms() - st->done_since_ms >= SMS_HANDOVER_MS))
			sms_flush(st);
		room = cmulti_room(st->http);
		if (room && jobq_len(st->jobs) > 0)
			continue;
		/* Announce the wait before the last look at the queue; submit()
		 * pushes before it looks at the flag (both fenced), so a job is
		 * either seen here or followed by a wakeup. */
		if (room) {
			atomic_store(&st->sleeping, 1);
			atomic_thread_fence(memory_order_seq_cst);
			if (jobq_len(st->jobs) > 0) {
				atomic_store(&st->sleeping, 0);
				continue;
			}
		}
		/* Sleeps until a socket is ready, a timeout is due, or submit()
		 * or close() calls cmulti_wakeup(). */
		cmulti_wait(st->http, st->ndone ? SMS_HANDOVER_MS : 1000);
		atomic_store(&st->sleeping, 0);
	}
	return NULL;
}

/* ---- plugin entry points ------------------------------------------------------ */

static const char *sms_lookup(void *ctx, const char *section, const char *key)
{
	const struct herald_host *h = ctx;
	return section ? h->conf_section(h->ctx, section, key) : h->conf(h->ctx, key);
}

static void sms_close(void *state);

static void sms_wake(void *arg)
{
	struct sms_state *st = arg;

	if (st->http)
		cmulti_wakeup(st->http);
}

static int sms_open(const struct herald_host *host, void **state)
{
	struct sms_state *st = calloc(1, sizeof(*st));
	char err[256];

	if (!st)
		return -1;
	st->host = host;
	if (sms_conf_load(&st->conf, sms_lookup, (void *)host, err, sizeof(err)) != 0) {
		host->log(host->ctx, HERALD_LOG_ERR, "sms: %s", err);
		free(st);
		return -1;
	}
	sms_receipt_auth(&st->conf);
	st->jobs_cap = st->conf.max_in_flight * 8 > 256 ? st->conf.max_in_flight * 8 : 256;
	st->jobs = jobq_new(st->jobs_cap);
	st->results = resq_new();
	st->http = cmulti_new(&(struct cmulti_opts){.max_in_flight = st->conf.max_in_flight,
						    .max_total_connections = st->conf.max_in_flight,
						    .max_connects = st->conf.max_in_flight});
	st->done = calloc(st->conf.max_in_flight, sizeof(*st->done));
	st->batch = st->conf.max_in_flight / 4 ? st->conf.max_in_flight / 4 : 1;
	st->headers =
	    curl_slist_append(NULL, st->conf.profile == SMS_PROFILE_JSON
					? "Content-Type: application/json"
					: "Content-Type: application/x-www-form-urlencoded");
	/* No "Expect: 100-continue" round trip for bigger bodies. */
	if (st->headers)
		st->headers = curl_slist_append(st->headers, "Expect:");
	if (!st->jobs || !st->results || !st->http || !st->done || !st->headers)
		goto fail;
	if (pthread_create(&st->thread, NULL, sms_worker, st) != 0)
		goto fail;
	st->thread_started = 1;
	if (!st->conf.public_url[0])
		host->log(host->ctx, HERALD_LOG_WARNING,
			  "sms: no [http] public_url: no delivery receipts are requested, "
			  "gateway acceptance counts as delivered");
	host->log(host->ctx, HERALD_LOG_INFO,
		  "sms: profile=%s max_in_flight=%u max_segments=%u timeout=%lds receipts=%s",
		  sms_profile_name(st->conf.profile), st->conf.max_in_flight, st->conf.max_segments,
		  st->conf.timeout_ms / 1000, st->conf.public_url[0] ? "yes" : "no");
	*state = st;
	return 0;
fail:
	host->log(host->ctx, HERALD_LOG_ERR, "sms: cannot start (out of memory or threads)");
	sms_close(st);
	return -1;
}

static int sms_fail_now(struct sms_state *st, const struct herald_msg *m, const char *ref,
			unsigned flags, const char *masked, const char *reason)
{
	struct herald_result r = {.version = HERALD_RESULT_VERSION,
				  .msg_id = m->msg_id,
				  .status = HERALD_PERMANENT,
				  .flags = flags};

	snprintf(r.ref, sizeof(r.ref), "%s", ref);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	sms_push(st, &r, masked);
	return 0;
}

/* The service's originator (meta service.sender: heraldd checked it, 1-11
 * letters, digits, spaces or a number), or "" for the configured from. */
static void sms_service_sender(const struct herald_msg *m, char *out, size_t outlen)
{
	out[0] = '\0';
	for (const char *const *kv = m->meta; kv && kv[0] && kv[1]; kv += 2)
		if (!strcmp(kv[0], "service.sender") && strlen(kv[1]) < outlen) {
			for (const char *c = kv[1]; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f)
					return; /* never: a control character */
			snprintf(out, outlen, "%s", kv[1]);
		}
}

static int sms_submit(void *state, const struct herald_msg *m)
{
	struct sms_state *st = state;
	struct gsm_info gi;
	struct sms_job *job;
	char ref[SMS_REF_MAX], masked[64], why[128];
	const char *text = m->body ? m->body : "";
	static const size_t off[] = {offsetof(struct sms_job, to), offsetof(struct sms_job, text)};

	/* Full: refuse before doing any work (only the worker takes jobs out,
	 * so the queue cannot fill up behind this check). */
	if (jobq_len(st->jobs) >= st->jobs_cap)
		return -1;
	/* the host's stable reference (same for every retry and restart, so
	 * a gateway that de-duplicates by it can); else event id + attempt */
	if (m->version >= 2 && m->provider_ref && sms_ref_valid(m->provider_ref))
		snprintf(ref, sizeof(ref), "%s", m->provider_ref);
	else
		sms_make_ref(m->event_id, m->attempt, ref, sizeof(ref));
	st->host->mask(st->host->ctx, m->to ? m->to : "", masked, sizeof(masked));
	if (!e164_valid(m->to))
		return sms_fail_now(st, m, ref, HERALD_RF_BAD_ADDRESS, masked,
				    "not an E.164 number (+ and 8..15 digits)");
	if (gsm_analyse(text, strlen(text), &gi) != 0)
		return sms_fail_now(st, m, ref, 0, masked, "text is not valid UTF-8");
	if (gi.segments == 0)
		return sms_fail_now(st, m, ref, 0, masked, "empty text");
	if (gi.segments > st->conf.max_segments) {
		snprintf(why, sizeof(why), "%zu segments > max_segments %u (%s, %zu chars)",
			 gi.segments, st->conf.max_segments, gsm_encoding_name(gi.encoding),
			 gi.chars);
		return sms_fail_now(st, m, ref, 0, masked, why);
	}
	job = chan_job_pack(sizeof(*job), 2, (const char *const[]){m->to, text}, off);
	if (!job)
		return -1;
	job->msg_id = m->msg_id;
	job->enc = gi.encoding;
	memcpy(job->ref, ref, sizeof(ref));
	memcpy(job->masked, masked, sizeof(masked));
	sms_service_sender(m, job->from, sizeof(job->from));
	if (jobq_push(st->jobs, job) != 0) {
		sms_job_free(job);
		return -1; /* full: the host offers it again later */
	}
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&st->sleeping))
		cmulti_wakeup(st->http);
	return 0;
}

static void sms_close(void *state)
{
	struct sms_state *st = state;
	struct sms_xfer *x;

	if (!st)
		return;
	atomic_store(&st->stop, 1);
	chan_workers_join(st->jobs, &st->thread, st->thread_started ? 1 : 0, sms_wake, st);
	/* Transfers still in flight are dropped: the host re-queues whatever
	 * has no result. */
	while (st->http && (x = (struct sms_xfer *)cmulti_take(st->http)) != NULL)
		sms_xfer_destroy(x);
	while (st->pool) {
		x = st->pool;
		st->pool = x->next;
		sms_xfer_destroy(x);
	}
	jobq_drain_free(&st->jobs, sms_job_free_any);
	resq_free(&st->results);
	free(st->done);
	curl_slist_free_all(st->headers);
	/* After the easy handles; balances curl_global_init of open. */
	cmulti_free(&st->http);
	free(st);
}

static const char *const sms_keys[] = {"profile",	"password", "url",	     "from",
				       "account",	"username", "token",	     "max_segments",
				       "max_in_flight", "timeout",  "stop_keywords", NULL};

/* heraldd -t: the section as open() reads it, nothing started. */
static int sms_check(const struct herald_host *host, char *err, size_t errlen)
{
	struct sms_conf c;
	int rc = sms_conf_load(&c, sms_lookup, (void *)host, err, errlen);

	explicit_bzero(&c, sizeof(c));
	return rc;
}

static const char *const sms_variants[] = {"sms", NULL};

/* The host is stopping: what has not started is abandoned (it stays
 * pending in heraldd's queue and is resumed after the restart). */
static void sms_drain(void *state)
{
	struct sms_state *st = state;

	if (st)
		chan_jobs_abandon(st->jobs, st->results, sms_job_free_any);
}
CHANJOB_ID_FIRST(struct sms_job);

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI,
    .version = 4,
    .name = "sms",
    .address_field = "phone",
    .variants = sms_variants,
    .html_variant = NULL,
    .open = sms_open,
    .submit = sms_submit,
    .poll = chanq_state_poll,
    .fd = chanq_state_fd,
    .receipt = sms_receipt,
    .close = sms_close,
    .keys = sms_keys,
    .check = sms_check,
    .drain = sms_drain,
    .inbound = sms_inbound,
};
