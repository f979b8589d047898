/*
 * unsubscribe.c - one-click unsubscribe links (unsubscribe.h): the HTTP
 * side (token check, page, queue) and the router side (the opt-out, its
 * record). The token carries event, transaction, service and citizen
 * (lib/unsubtok.h), so a link still opts out after the message record has
 * expired; the record then goes to the delivery logs and the callback only
 * (the journey has expired with it).
 *
 * A POST is answered once the router thread has applied it (the request
 * waits, suspended, as an inbound SMS does: http_inbound.c): 200 "You are
 * unsubscribed" only when the opt-out is in Redis (or was already), 503
 * "try again" when Redis is down or failed while applying it; never a
 * confirmation for an opt-out nobody recorded. The opt-out and its
 * `unsubscribed` journey record are one Redis call (optout_add): both or
 * neither.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "form.h"
#include "heldwrite.h"
#include "http_int.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "msgstate.h"
#include "optout.h"
#include "router.h"
#include "text.h"
#include "unsubscribe.h"
#include "unsubtok.h"
#include "workq.h"

/* Unsubscribes waiting for the router thread (each holds its request
 * open); past this, 503 at once. */
#define UNSUB_QUEUE_MAX 64

/* One waiting: the token and the request to answer. */
struct unsub_item {
	struct unsub_tok t;
	struct req *req;
};

struct unsub {
	struct itemq *q; /* struct unsub_item */
	char *base;	 /* unsubscribe_url without its trailing slashes */
	char *path;	 /* its path: the links are path/TOKEN */
	size_t plen;
	unsigned char key[PROVREF_KEY_LEN];
	atomic_int key_ok; /* key written (by the router thread), then this set */
	atomic_llong refused_logged_s;
	atomic_ulong refused;
};

struct unsub *unsub_new(const char *url)
{
	struct unsub *u = calloc(1, sizeof(*u));
	const char *p = strstr(url, "://");
	size_t n = strlen(url);

	if (!u)
		return NULL;
	while (n > 0 && url[n - 1] == '/')
		n--;
	u->base = strndup(url, n);
	p = p ? strchr(p + 3, '/') : NULL;
	u->path = strndup(p ? p : "/", p ? (size_t)(url + n - p) : 1);
	u->q = itemq_new(sizeof(struct unsub_item));
	if (!u->base || !u->path || !u->q) {
		unsub_free(&u);
		return NULL;
	}
	itemq_set_limit(u->q, UNSUB_QUEUE_MAX);
	u->plen = strlen(u->path);
	return u;
}

void unsub_free(struct unsub **up)
{
	struct unsub *u = *up;

	if (!u)
		return;
	itemq_free(&u->q);
	free(u->base);
	free(u->path);
	explicit_bzero(u->key, sizeof(u->key));
	free(u);
	*up = NULL;
}

int unsub_fd(const struct unsub *u)
{
	return itemq_fd(u->q);
}

/* ---- the HTTP thread ----------------------------------------------------- */

int unsub_match(const struct unsub *u, const char *url)
{
	return !strncmp(url, u->path, u->plen) && url[u->plen] == '/' && url[u->plen + 1] &&
	       !strchr(url + u->plen + 1, '/');
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *type,
			      const char *body)
{
	/* the page is static: nothing of the citizen's in it */
	static const char *const headers[] = {"Cache-Control", "no-store", "Referrer-Policy",
					      "no-referrer", NULL};

	return http_reply_with(c, code, type, body, headers);
}

/* A forged, altered or truncated link: logged at most once a second
 * (with how many since), never the token. */
static void refused(struct unsub *u, const char *method)
{
	long long now = (long long)time(NULL);
	unsigned long n = atomic_fetch_add(&u->refused, 1) + 1;
	long long last = atomic_load(&u->refused_logged_s);

	metrics_count("unsubscribe_refused", "email", 1);
	if (now != last && atomic_compare_exchange_strong(&u->refused_logged_s, &last, now)) {
		atomic_store(&u->refused, 0);
		log_msg(LOG_L_NOTICE,
			"unsubscribe: %s with a link heraldd did not make: refused (%lu since the "
			"last such line)",
			method, n);
	}
}

/* Does the body say List-Unsubscribe=One-Click (RFC 8058 section 3.1), as
 * application/x-www-form-urlencoded or multipart/form-data? */
static int one_click(const char *ctype, const char *body, size_t len)
{
	static const char field[] = "name=\"List-Unsubscribe\"";
	struct form f;
	const char *p, *v;
	int ok;

	if (!body || !len)
		return 0;
	if (ctype && !strncasecmp(ctype, "multipart/form-data", 19)) {
		p = memmem(body, len, field, sizeof(field) - 1);
		v = p ? memmem(p, len - (size_t)(p - body), "\r\n\r\n", 4) : NULL;
		if (!v)
			return 0;
		v += 4;
		return (size_t)(body + len - v) >= 9 && !strncmp(v, "One-Click", 9) &&
		       (v + 9 == body + len || v[9] == '\r');
	}
	if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33))
		return 0;
	if (memchr(body, '\0', len) || form_parse(&f, body) != 0)
		return 0;
	v = form_get(&f, "List-Unsubscribe");
	ok = v && !strcmp(v, "One-Click");
	form_free(&f);
	return ok;
}

static const char page[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"robots\" content=\"noindex\"><title>Unsubscribe</title></head>\n<body>"
    "<h1>Unsubscribe from these emails</h1>\n<p>Press the button to stop receiving email "
    "from this service. Other services that write to you are not affected, and you may "
    "still hear from this one by other means.</p>\n"
    "<form method=\"post\" enctype=\"application/x-www-form-urlencoded\">"
    "<input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
    "<button type=\"submit\">Unsubscribe</button></form>\n</body></html>\n";

static const char done_text[] = "You are unsubscribed: this service will no longer email you.\n";

/* Hand it to the router thread; the request waits for its answer (503 at
 * once when too many wait). */
static enum MHD_Result queue(struct unsub *u, struct req *q, const struct unsub_tok *t)
{
	struct unsub_item it = {.t = *t, .req = q};

	atomic_store(&q->wait.done, 0);
	MHD_suspend_connection(q->conn); /* first: the router may answer at once */
	q->suspended = 1;
	if (itemq_push(u->q, &it) != 0) {
		log_msg(LOG_L_WARNING, "unsubscribe: queue full (%d waiting): answered 503",
			UNSUB_QUEUE_MAX);
		q->wait.code = 503;
		atomic_store(&q->wait.done, 1);
		MHD_resume_connection(q->conn);
	}
	return MHD_YES;
}

enum MHD_Result unsub_http(struct unsub *u, struct req *q, const char *url, const char *method)
{
	const char *tok = url + u->plen + 1;
	struct MHD_Connection *c = q->conn;
	struct unsub_tok t;

	if (q->suspended) /* resumed by the router thread: its answer */
		return atomic_load(&q->wait.done) && q->wait.code == 200
			   ? answer(c, 200, "text/plain; charset=utf-8", done_text)
			   : answer(c, 503, "text/plain",
				    "not recorded: the service is unavailable, try again later\n");
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return answer(c, 405, "text/plain", "GET or POST\n");
	if (!atomic_load(&u->key_ok)) /* Redis not reached yet: the secret may be there */
		return answer(c, 503, "text/plain", "not ready, try again later\n");
	if (unsub_token_read(u->key, tok, strlen(tok), &t) != 0) {
		refused(u, method);
		return answer(c, 404, "text/plain", "unknown link\n");
	}
	if (!strcmp(method, "GET")) /* a scanner following links changes nothing */
		return answer(c, 200, "text/html; charset=utf-8", page);
	if (q->too_big)
		return answer(c, 413, "text/plain", "body too large\n");
	if (!one_click(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"), q->body,
		       q->len))
		return answer(c, 400, "text/plain", "expected List-Unsubscribe=One-Click\n");
	return queue(u, q, &t);
}

/* Router thread (or at stop): answer a waiting request, 200 or 503; the
 * listener's thread sends it (q is not touched after). */
static void done(struct req *q, int ok)
{
	q->wait.code = ok ? 200 : 503;
	atomic_store(&q->wait.done, 1);
	MHD_resume_connection(q->conn);
}

void unsub_drain(struct unsub *u)
{
	struct unsub_item it[16];
	int n;

	while (u && (n = itemq_pop(u->q, it, 16)) > 0)
		for (int i = 0; i < n; i++)
			done(it[i].req, 0);
}

/* ---- the router thread --------------------------------------------------- */

int unsub_link(struct router *r, const struct msg *m, char *out, size_t outlen)
{
	struct unsub_tok t;
	char tok[UNSUB_TOKEN_MAX];
	int n;

	if (!r->unsub || !r->ref_key_ok)
		return -1;
	copy_to(t.event_id, sizeof(t.event_id), m->event_id);
	copy_to(t.tx, sizeof(t.tx), m->tx[0] ? m->tx : m->event_id);
	copy_to(t.service, sizeof(t.service), m->service);
	copy_to(t.citizen, sizeof(t.citizen), m->citizen);
	if (unsub_token_make(r->ref_key, &t, tok, sizeof(tok)) != 0)
		return -1;
	n = snprintf(out, outlen, "%s/%s", r->unsub->base, tok);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* The message's record (when it has not expired) and the citizen's. */
static struct msg *unsub_msg(struct router *r, const struct unsub_tok *t, int *have_state)
{
	struct msg *m = calloc(1, sizeof(*m));
	redisReply *rep;

	if (!m)
		return NULL;
	copy_to(m->event_id, sizeof(m->event_id), t->event_id);
	copy_to(m->tx, sizeof(m->tx), t->tx);
	rep = rdb_call(r->rdb, "HGETALL " KEY_MSG "%s", m->event_id);
	m->state = rep ? reply_to_object(rep) : NULL;
	freeReplyObject(rep);
	*have_state = m->state && json_object_size(m->state) > 0;
	if (*have_state)
		msg_load_state(r, m);
	/* the token's word, whatever the record says */
	copy_to(m->service, sizeof(m->service), t->service);
	copy_to(m->citizen, sizeof(m->citizen), t->citizen);
	msg_load_citizen(r, m);
	return m;
}

/* 1 applied (or nothing to do), 0 not recorded: answered 503. */
static int apply(struct router *r, const struct unsub_tok *t)
{
	struct chan *email = chans_find(&r->chans, "email");
	char reason[300];
	int have_state, added;
	struct msg *m = unsub_msg(r, t, &have_state);
	char masked[sizeof(m->to_masked)];
	struct step s;
	struct optout_rec rec = {0};

	if (!m)
		return 0;
	if (!m->citizen_rec || json_object_size(m->citizen_rec) == 0) {
		/* a look-up that failed dropped the connection: not "unknown" */
		int ok = rdb_ok(r->rdb);
		log_msg(LOG_L_NOTICE, "%s: unsubscribe, but citizen %s %s", m->event_id, m->citizen,
			ok ? "is not known (any more)" : "cannot be read (Redis did not answer)");
		msg_free(m);
		return ok;
	}
	snprintf(reason, sizeof(reason),
		 "one-click unsubscribe: citizen opted out of email from service %s", m->service);
	if (field_str(m->citizen_rec, "email"))
		mask_contact(field_str(m->citizen_rec, "email"), masked, sizeof(masked));
	s = step_of("unsubscribed", reason);
	s.no_channel = !email;
	/* the journey when the message is still there, else the logs and the
	 * callback only (a journey would start with this record alone); the
	 * message's own counts stay as they were either way (journal_only).
	 * The opt-out and its journey record are one call: both or neither. */
	rec.chan = email;
	rec.to_masked = field_str(m->citizen_rec, "email") ? masked : NULL;
	rec.step = &s;
	rec.journey = have_state;
	added = optout_add(r, m, m->service, "email", reason, &rec);
	if (added <= 0) {
		log_msg(added < 0 ? LOG_L_WARNING : LOG_L_INFO, "%s: unsubscribe from %s: %s",
			m->event_id, m->service,
			added == -2 ? "cannot be recorded now (Redis did not answer)"
			: added < 0 ? "cannot be recorded (service name or opt-out list)"
				    : "already opted out, nothing to do");
		msg_free(m);
		return added != -2;
	}
	metrics_count_service("email_unsubscribes", m->service, 1);
	log_info("%s: citizen %s unsubscribed from email of %s", m->event_id, m->citizen,
		 m->service);
	msg_free(m);
	return 1;
}

void unsub_poll(struct router *r)
{
	struct unsub_item it[16];
	int n;

	if (!r->unsub)
		return;
	if (r->ref_key_ok && !atomic_load(&r->unsub->key_ok)) {
		memcpy(r->unsub->key, r->ref_key, sizeof(r->unsub->key));
		atomic_store(&r->unsub->key_ok, 1);
	}
	n = itemq_pop(r->unsub->q, it, 16);
	for (int i = 0; i < n; i++) {
		int ok = 0;
		if (!rdb_ok(r->rdb)) /* nothing tried: 503, the citizen tries again */
			log_warnx("%s: unsubscribe not applied (Redis is down): answered 503",
				  it[i].t.event_id);
		else
			ok = apply(r, &it[i].t);
		if (!ok)
			metrics_count("unsubscribe_retry_later", "email", 1);
		done(it[i].req, ok);
	}
}
