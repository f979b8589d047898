/*
 * fax.c - the fax channel: every message becomes a PDF letter (see
 * channels/common/letter.c) uploaded to an HTTP fax gateway as a multipart
 * POST; the gateway's final word comes back later as a callback on
 * heraldd's HTTP listener (/receipts/fax, parsed in faxrcpt.c).
 *
 * [channel.fax]
 * url = https://fax.example/send   ; gateway upload URL
 * username = herald                 ; HTTP basic auth (optional)
 * password = ...
 * number_field = to                 ; form field for the E.164 number
 * file_field = file                 ; form field for the PDF
 * max_in_flight = 8                 ; concurrent uploads
 * timeout = 60                      ; per upload: seconds, or 30s / 2m
 * sender = DVLA|Swansea|SA6 7JL     ; letter sender block
 *
 * The upload: <number_field>=<E.164>, <file_field>=<stem>.pdf
 * (application/pdf), ref=<reference>, and callback_url=<public_url>/
 * receipts/fax when [http] public_url is set.
 *
 * Threads: submit() checks the number and queues a copy; one worker thread
 * renders letters and drives the libcurl multi driver (util/curlmulti.c;
 * cmulti_wakeup tells it new work is there). Outcomes: gateway 2xx -> sent
 * (not final; ref as sent in the form), 4xx -> permanent-failure (408/429 ->
 * temporary), 5xx / timeout / refused -> temporary-failure; not an E.164
 * number -> permanent-failure, bad address, nothing sent.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chanjob.h"
#include "chanq.h"
#include "curlmulti.h"
#include "e164.h"
#include "fax.h"
#include "letter.h"
#include "num.h"

#define FAX_QUEUE_CAP 1024
#define FAX_BODY_KEEP 512

struct fax_job {
	uint64_t msg_id;
	unsigned attempt;
	char number[20];
	char ref[128];
	char *event_id;
	struct letter l; /* owns its strings (letter_dup) */
};

/* One upload in flight. */
struct fax_xfer {
	struct cmulti_xfer cx; /* first: easy handle, in st->http while in flight */
	struct fax_job *job;
	curl_mime *mime;
	char body[FAX_BODY_KEEP + 1];
	size_t body_len;
	char err[CURL_ERROR_SIZE];
};

struct fax_state {
	struct resq *results; /* first: chanq_state_poll/fd */
	const struct herald_host *host;
	char url[2048], username[256], password[256];
	char number_field[64], file_field[64], sender[1024], callback[2048];
	long max_in_flight, timeout_ms;
	struct jobq *jobs;
	struct cmulti *http; /* at most max_in_flight uploads */
	struct curl_slist *headers;
	pthread_t thread;
	int started;
	int stop;
};
CHANQ_RESULTS_FIRST(struct fax_state);

static void job_free(struct fax_job *j)
{
	if (!j)
		return;
	free(j->event_id);
	letter_release(&j->l);
	free(j);
}

static void job_free_any(void *j)
{
	job_free(j);
}

static void fax_wake(void *arg)
{
	struct fax_state *st = arg;

	if (st->http)
		cmulti_wakeup(st->http);
}

static int stopping(struct fax_state *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_RELAXED);
}

/* ---- worker ----------------------------------------------------------------- */

static size_t keep_body(char *data, size_t size, size_t n, void *arg)
{
	struct fax_xfer *x = arg;
	size_t len = size * n, room = FAX_BODY_KEEP - x->body_len;

	if (room) {
		size_t k = len < room ? len : room;
		memcpy(x->body + x->body_len, data, k);
		x->body_len += k;
		x->body[x->body_len] = '\0';
	}
	return len;
}

static void xfer_free(struct fax_xfer *x)
{
	if (!x)
		return;
	if (x->cx.easy)
		curl_easy_cleanup(x->cx.easy);
	curl_mime_free(x->mime);
	job_free(x->job);
	free(x);
}

static void fax_log_to(struct fax_state *st, const char *number, char *out, size_t outlen)
{
	st->host->mask(st->host->ctx, number, out, outlen);
}

static void finish_xfer(struct cmulti_xfer *cx, CURLcode code);

/* The multipart form: number, the PDF (copied by libcurl), ref and, when
 * known, callback_url. 0, or -1 out of memory. */
static int fax_form(struct fax_state *st, struct fax_xfer *x, const unsigned char *pdf, size_t len)
{
	curl_mimepart *part;
	char fname[160];

	x->mime = curl_mime_init(x->cx.easy);
	if (!x->mime)
		return -1;
	part = curl_mime_addpart(x->mime);
	curl_mime_name(part, st->number_field);
	curl_mime_data(part, x->job->number, CURL_ZERO_TERMINATED);
	part = curl_mime_addpart(x->mime);
	curl_mime_name(part, st->file_field);
	snprintf(fname, sizeof(fname), "%.120s.pdf", x->job->ref);
	for (char *p = fname; *p; p++)
		if (*p == '"' || *p == '\\' || *p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	curl_mime_filename(part, fname);
	curl_mime_type(part, "application/pdf");
	if (curl_mime_data(part, (const char *)pdf, len) != CURLE_OK)
		return -1;
	part = curl_mime_addpart(x->mime);
	curl_mime_name(part, "ref");
	curl_mime_data(part, x->job->ref, CURL_ZERO_TERMINATED);
	if (st->callback[0]) {
		part = curl_mime_addpart(x->mime);
		curl_mime_name(part, "callback_url");
		curl_mime_data(part, st->callback, CURL_ZERO_TERMINATED);
	}
	return 0;
}

/* The options of an upload besides its form. */
static void fax_easy_opts(struct fax_state *st, struct fax_xfer *x)
{
	CURL *e = x->cx.easy;

	curl_easy_setopt(e, CURLOPT_URL, st->url);
	curl_easy_setopt(e, CURLOPT_MIMEPOST, x->mime);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, st->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 st->timeout_ms < 10000 ? st->timeout_ms : 10000L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "herald-fax/1");
	/* no "Expect: 100-continue" round trip for every letter */
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, st->headers);
	if (st->username[0]) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, st->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, st->password);
	}
	x->cx.done = finish_xfer;
	x->cx.arg = st;
}

/* Render the letter and start its upload. The job is consumed. */
static void start_job(struct fax_state *st, struct fax_job *j)
{
	struct letter l = j->l; /* the job keeps the strings */
	struct fax_xfer *x = NULL;
	unsigned char *pdf = NULL;
	size_t len = 0;
	int pages = 0;
	char err[512];

	l.sender = st->sender[0] ? st->sender : NULL;
	if (letter_render_mem(&l, &pdf, &len, &pages, err, sizeof(err)) != 0) {
		resq_pushf(st->results, j->msg_id, HERALD_TEMPORARY, 0, NULL, NULL,
			   "letter rendering failed: %s", err);
		job_free(j);
		return;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		goto oom;
	x->job = j;
	j = NULL;
	x->cx.easy = curl_easy_init();
	if (!x->cx.easy || fax_form(st, x, pdf, len) != 0)
		goto oom;
	free(pdf);
	pdf = NULL;
	fax_easy_opts(st, x);
	if (cmulti_add(st->http, &x->cx) != 0)
		goto oom;
	return;
oom:
	resq_pushf(st->results, x ? x->job->msg_id : j->msg_id, HERALD_TEMPORARY, 0, NULL, NULL,
		   "out of memory preparing the fax upload");
	free(pdf);
	if (x)
		xfer_free(x);
	else
		job_free(j);
}

/* An upload ended (the driver's callback): push its result, free it. */
static void finish_xfer(struct cmulti_xfer *cx, CURLcode code)
{
	struct fax_state *st = cx->arg;
	struct fax_xfer *x = (struct fax_xfer *)cx; /* cx is its first member */
	struct herald_result r;
	long http = 0;
	char to[64];

	if (code == CURLE_OK)
		curl_easy_getinfo(cx->easy, CURLINFO_RESPONSE_CODE, &http);
	memset(&r, 0, sizeof(r));
	r.version = HERALD_RESULT_VERSION;
	r.msg_id = x->job->msg_id;
	fax_upload_outcome(code == CURLE_OK, x->err[0] ? x->err : curl_easy_strerror(code), http,
			   x->body, &r);
	snprintf(r.ref, sizeof(r.ref), "%s", x->job->ref);
	fax_log_to(st, x->job->number, to, sizeof(to));
	st->host->log(st->host->ctx, r.status == HERALD_SENT ? HERALD_LOG_INFO : HERALD_LOG_WARNING,
		      "fax: %s: to=%s ref=%s %s", x->job->event_id, to, r.ref, r.reason);
	resq_push(st->results, &r);
	xfer_free(x);
}

static void *fax_worker(void *arg)
{
	struct fax_state *st = arg;

	while (!stopping(st)) {
		while (cmulti_room(st->http) && !stopping(st)) {
			struct fax_job *j = jobq_pop(st->jobs, 0);
			if (!j)
				break;
			start_job(st, j);
		}
		cmulti_step(st->http); /* finish_xfer() for each that ended */
		/* sleep until a socket is ready, a submit/close wakes us, or a
		 * curl timer is due (curl caps the wait by its own timeouts) */
		if (cmulti_room(st->http) && jobq_len(st->jobs) > 0)
			continue;
		cmulti_wait(st->http, 1000);
	}
	return NULL;
}

/* ---- plugin ----------------------------------------------------------------- */

/* A whole number (unit_ms 0) or a duration in ms (a bare number in seconds,
 * or 30s / 5m ...) in lo..hi of that unit; -1 (logged) on anything else. */
static int conf_num(const struct herald_host *h, const char *key, long def, long lo, long hi,
		    int64_t unit_ms, long *out)
{
	const char *v = h->conf(h->ctx, key);
	char why[160];
	int rc;

	*out = unit_ms ? def * unit_ms : def;
	if (!v || !*v)
		return 0;
	rc = num_parse_value(v, unit_ms, lo, hi, out, why, sizeof(why));
	if (rc)
		h->log(h->ctx, HERALD_LOG_ERR, "fax: %s = '%s': %s", key, v, why);
	return rc;
}

static void conf_str(const struct herald_host *h, const char *key, const char *def, char *out,
		     size_t outlen)
{
	const char *v = h->conf(h->ctx, key);
	snprintf(out, outlen, "%s", v && *v ? v : def);
}

static void fax_close(void *state);

/* The channel's settings into st, checked (fax_open and fax_check); -1
 * (logged) on a bad one. Nothing is connected. */
static int fax_conf_read(const struct herald_host *host, struct fax_state *st)
{
	conf_str(host, "url", "", st->url, sizeof(st->url));
	if (!st->url[0] || (strncmp(st->url, "http://", 7) && strncmp(st->url, "https://", 8))) {
		host->log(host->ctx, HERALD_LOG_ERR, "fax: url = must be an http(s) URL");
		return -1;
	}
	conf_str(host, "username", "", st->username, sizeof(st->username));
	conf_str(host, "password", "", st->password, sizeof(st->password));
	conf_str(host, "number_field", "to", st->number_field, sizeof(st->number_field));
	conf_str(host, "file_field", "file", st->file_field, sizeof(st->file_field));
	conf_str(host, "sender", "", st->sender, sizeof(st->sender));
	if (conf_num(host, "max_in_flight", 8, 1, 1000, 0, &st->max_in_flight) ||
	    conf_num(host, "timeout", 60, 1, 3600, 1000, &st->timeout_ms))
		return -1;
	return 0;
}

static int fax_open(const struct herald_host *host, void **state)
{
	struct fax_state *st = calloc(1, sizeof(*st));
	const char *pub;

	if (!st)
		return -1;
	st->host = host;
	if (fax_conf_read(host, st) != 0)
		goto fail;
	pub = host->conf_section ? host->conf_section(host->ctx, "http", "public_url") : NULL;
	if (pub && *pub) {
		size_t n = strlen(pub);
		while (n && pub[n - 1] == '/')
			n--;
		snprintf(st->callback, sizeof(st->callback), "%.*s/receipts/fax", (int)n, pub);
	} else {
		host->log(host->ctx, HERALD_LOG_WARNING,
			  "fax: no [http] public_url: the gateway gets no callback_url");
	}
	st->http = cmulti_new(&(struct cmulti_opts){.max_in_flight = (unsigned)st->max_in_flight});
	st->headers = curl_slist_append(NULL, "Expect:");
	st->jobs = jobq_new(FAX_QUEUE_CAP);
	st->results = resq_new();
	if (!st->http || !st->headers || !st->jobs || !st->results)
		goto fail;
	if (pthread_create(&st->thread, NULL, fax_worker, st) != 0) {
		host->log(host->ctx, HERALD_LOG_ERR, "fax: cannot start worker thread");
		goto fail;
	}
	st->started = 1;
	/* the URL may carry a token in its query: log scheme, host and path only */
	{
		const char *q = strchr(st->url, '?');
		char tmo[24];
		num_format_duration(st->timeout_ms, tmo, sizeof(tmo));
		host->log(host->ctx, HERALD_LOG_INFO, "fax: gateway %.*s, %ld in flight, %s",
			  q ? (int)(q - st->url) : (int)strlen(st->url), st->url, st->max_in_flight,
			  tmo);
	}
	*state = st;
	return 0;
fail:
	fax_close(st);
	return -1;
}

static int fax_submit(void *state, const struct herald_msg *m)
{
	struct fax_state *st = state;
	struct fax_job *j;
	struct letter l;

	if (!e164_valid(m->to))
		return resq_pushf(st->results, m->msg_id, HERALD_PERMANENT, HERALD_RF_BAD_ADDRESS,
				  NULL, NULL,
				  "not an E.164 fax number (+ and 8..15 digits, no spaces)") == 0
			   ? 0
			   : -1;
	letter_from_msg(&l, m, NULL);
	j = calloc(1, sizeof(*j));
	if (!j)
		return -1;
	j->msg_id = m->msg_id;
	j->attempt = m->attempt;
	snprintf(j->number, sizeof(j->number), "%s", m->to);
	if (m->version >= 2 && m->provider_ref && *m->provider_ref &&
	    strlen(m->provider_ref) < sizeof(j->ref)) /* the host's stable reference */
		snprintf(j->ref, sizeof(j->ref), "%s", m->provider_ref);
	else
		fax_make_ref(m->event_id, m->attempt, j->ref, sizeof(j->ref));
	/* a fax needs no window address; print the postal one when known */
	l.address = letter_meta(m->meta, "citizen.address");
	if (letter_dup(&j->l, &l) != 0) {
		free(j);
		return -1;
	}
	j->event_id = strdup(m->event_id ? m->event_id : "");
	if (!j->event_id || jobq_push(st->jobs, j) != 0) {
		job_free(j);
		return -1;
	}
	cmulti_wakeup(st->http);
	return 0;
}

static void fax_close(void *state)
{
	struct fax_state *st = state;
	struct fax_xfer *x;

	if (!st)
		return;
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELAXED);
	chan_workers_join(st->jobs, &st->thread, st->started ? 1 : 0, fax_wake, st);
	/* uploads still in flight are abandoned; the host re-queues them */
	while (st->http && (x = (struct fax_xfer *)cmulti_take(st->http)) != NULL)
		xfer_free(x);
	curl_slist_free_all(st->headers);
	jobq_drain_free(&st->jobs, job_free_any);
	resq_free(&st->results);
	cmulti_free(&st->http); /* after the easy handles; balances curl_global_init */
	free(st);
}

static const char *const fax_keys[] = {"url",		"username",   "password",
				       "number_field",	"file_field", "sender",
				       "max_in_flight", "timeout",    NULL};

/* heraldd -t: the settings, read as fax_open reads them, without
 * connecting to the gateway. */
static int fax_check(const struct herald_host *host, char *err, size_t errlen)
{
	struct fax_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = fax_conf_read(host, st);
	if (rc != 0)
		snprintf(err, errlen, "invalid [channel.fax] (reason logged above)");
	explicit_bzero(st->password, sizeof(st->password));
	free(st);
	return rc;
}

static const char *const fax_variants[] = {"fax", "print", NULL};

/* The host is stopping: what has not started is abandoned (it stays
 * pending in heraldd's queue and is resumed after the restart). */
static void fax_drain(void *state)
{
	struct fax_state *st = state;

	if (st)
		chan_jobs_abandon(st->jobs, st->results, job_free_any);
}
CHANJOB_ID_FIRST(struct fax_job);

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI,
    .version = 3,
    .name = "fax",
    .address_field = "fax",
    .variants = fax_variants,
    .html_variant = NULL,
    .open = fax_open,
    .submit = fax_submit,
    .poll = chanq_state_poll,
    .fd = chanq_state_fd,
    .receipt = fax_receipt,
    .close = fax_close,
    .keys = fax_keys,
    .check = fax_check,
    .drain = fax_drain,
};
