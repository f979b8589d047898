/*
 * worker.c - the message state machine on the router thread.
 *
 *   stream entry --prepare--> resolve plan, render, submit --> "sending"
 *   plugin result --> sent / delivered / temporary-failure (retry later)
 *                     / permanent-failure (hop to the next channel)
 *   receipt      --> delivered / permanent-failure of a "sent" message
 *   herald:sched --> due messages go back on their stream (retries, hops,
 *                    send_after, receipt deadlines)
 *
 * Redis work is batched: a read brings up to [queue] batch entries, their
 * records and citizens come back in one pipelined round trip, and every
 * transition is queued on the same pipeline, flushed once per loop turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "msgrec.h"
#include "router.h"
#include "http.h"
#include "mustache.h"
#include "text.h"
#include "tz.h"

static const char *const streams[PRIO_N] = KEY_STREAMS;

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static long long iget(const json_t *o, const char *k, long long def)
{
	const char *v = sget(o, k);
	return v && *v ? atoll(v) : def;
}

void msg_free(struct msg *m)
{
	if (!m)
		return;
	event_clear(&m->ev);
	json_decref(m->state);
	json_decref(m->citizen_rec);
	json_decref(m->front);
	json_decref(m->fm);
	free(m->subject);
	free(m->body);
	free(m->html);
	free(m->locale);
	free(m->meta);
	free(m->entry_ev);
	free(m);
}

static void release_rendered(struct msg *m)
{
	json_decref(m->front);
	json_decref(m->fm);
	m->front = NULL;
	m->fm = NULL;
	free(m->body);
	free(m->html);
	free(m->subject);
	free(m->locale);
	free(m->meta);
	m->body = m->html = m->subject = m->locale = NULL;
	m->meta = NULL;
}

static void on_engaged(redisReply *rep, void *arg)
{
	struct msg *m = arg;

	if (rep && rep->type == REDIS_REPLY_STRING)
		snprintf(m->engaged, sizeof(m->engaged), "%s", rep->str);
}

static struct step step_of(const char *status, const char *reason)
{
	struct step s;

	memset(&s, 0, sizeof(s));
	s.status = status;
	s.reason = reason;
	s.fulfilled_ms = -1;
	return s;
}

/* Acknowledge a stream entry that needs no transition. */
static void ack_only(struct router *r, struct msg *m)
{
	if (!m->stream_id[0])
		return;
	rdb_cmdf(r->rdb, NULL, NULL, "XACK %s " GROUP " %s", m->stream, m->stream_id);
	rdb_cmdf(r->rdb, NULL, NULL, "XDEL %s %s", m->stream, m->stream_id);
	m->stream_id[0] = '\0';
}

/* ---- hop, retry ------------------------------------------------------ */

/* The current channel is done with this message: move to the next channel
 * of the plan, or give up (exhausted, dead-letter list). */
static void hop(struct router *r, struct msg *m, const char *why)
{
	int next = m->plan_idx + 1;
	char name[64], reason[512], idx[16];
	struct step s;

	if (plan_channel(m->plan, next, name, sizeof(name))) {
		snprintf(reason, sizeof(reason), "%s; next channel %s", why, name);
		snprintf(idx, sizeof(idx), "%d", next);
		const char *kv[] = {"plan_idx", idx, "attempt", "0"};
		s = step_of("hopped", reason);
		s.kv = kv;
		s.nkv = 2;
		s.sched_ms = now_ms();
		s.ack = 1;
		state_step(r, m, &s);
		r->want_read = 1;
		return;
	}
	snprintf(reason, sizeof(reason), "every channel failed (plan %s); last: %s",
		 m->plan[0] ? m->plan : "-", why);
	s = step_of("exhausted", reason);
	s.ack = 1;
	s.dead = 1;
	state_step(r, m, &s);
	log_warnx("%s: exhausted: %s", m->event_id, reason);
}

/* Exponential back-off with jitter: retry_min * 2^(attempt-1), capped at
 * retry_max, then a random 75-100 % of it (so retries do not march in step). */
static int64_t backoff_ms(const struct chan *c, unsigned attempt)
{
	double d = (double)c->retry_min * 1000.0;

	for (unsigned i = 1; i < attempt && d < (double)c->retry_max * 1000.0; i++)
		d *= 2;
	if (d > (double)c->retry_max * 1000.0)
		d = (double)c->retry_max * 1000.0;
	return (int64_t)(d * (0.75 + 0.25 * ((double)random() / (double)RAND_MAX)));
}

static void retry_or_hop(struct router *r, struct msg *m, const struct herald_result *res)
{
	int64_t now = now_ms();
	struct step s = step_of("temporary-failure", res->reason);
	char why[400];

	s.dsn = res->dsn;
	if ((long)m->attempt < m->chan->max_attempts &&
	    now - m->accepted_ms < m->chan->max_age * 1000) {
		s.sched_ms = now + backoff_ms(m->chan, m->attempt);
		s.ack = 1;
		state_step(r, m, &s);
		return;
	}
	state_step(r, m, &s);
	snprintf(why, sizeof(why), "retries exhausted after %u attempts on %s", m->attempt,
		 m->chan->name);
	hop(r, m, why);
}

/* ---- prepare: resolve, render, submit ------------------------------- */

static json_t *render_data(struct msg *m)
{
	json_t *d = m->ev.personalisation ? json_copy(m->ev.personalisation) : json_object();
	json_t *c = json_object(), *t = json_object(), *e = json_object();
	const char *name = sget(m->citizen_rec, "name");

	if (!d || !c || !t || !e) {
		json_decref(d), json_decref(c), json_decref(t), json_decref(e);
		return NULL;
	}
	json_object_set_new_nocheck(c, "id", json_string(m->citizen));
	json_object_set_new_nocheck(c, "name", json_string(name ? name : ""));
	json_object_set_new_nocheck(c, "locale", json_string(m->locale ? m->locale : "en"));
	json_object_set_new_nocheck(t, "id", json_string(m->tx));
	json_object_set_new_nocheck(t, "reference", json_string(m->reference));
	json_object_set_new_nocheck(e, "id", json_string(m->event_id));
	json_object_set_new_nocheck(e, "service", json_string(m->service));
	json_object_set_new_nocheck(e, "template", json_string(m->ev.template_name));
	json_object_set_new_nocheck(d, "citizen", c);
	json_object_set_new_nocheck(d, "transaction", t);
	json_object_set_new_nocheck(d, "event", e);
	return d;
}

static int render(struct router *r, struct msg *m, char *err, size_t errlen)
{
	const struct herald_channel *d = m->chan->desc;
	const struct tentry *e = NULL;
	const char *loc = sget(m->citizen_rec, "locale");
	json_t *data, *hfront = NULL;
	const char *k;
	json_t *v;
	size_t nmeta = 0, i = 0;
	static const char *const cfields[] = {"name", "accessibility", "address", "locale"};
	int rc = -1;

	for (const char *const *var = d->variants; *var && !e; var++)
		e = tstore_find(r->templates, m->ev.template_name, *var, loc);
	if (!e) {
		snprintf(err, errlen, "template %s has no %s variant", m->ev.template_name,
			 d->variants[0]);
		return -1;
	}
	m->locale = strdup(tentry_locale(e));
	data = render_data(m);
	if (!data || !m->locale) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (tentry_render(r->templates, e, data, 0, &m->body, &m->front, err, errlen) != 0)
		goto out;
	if (d->html_variant) {
		const struct tentry *h =
		    tstore_find(r->templates, m->ev.template_name, d->html_variant, loc);
		if (h && tentry_render(r->templates, h, data, 1, &m->html, &hfront, err, errlen))
			goto out;
	}
	if (sget(m->front, "subject"))
		m->subject = strdup(sget(m->front, "subject"));
	/* meta: fm.<key> for the front matter, then citizen fields */
	nmeta = json_object_size(m->front) + 4;
	m->meta = calloc(2 * nmeta + 1, sizeof(*m->meta));
	if (!m->meta) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* the front matter again, keyed fm.<key>: meta points into m->fm */
	m->fm = json_object();
	if (!m->fm) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	json_object_foreach(m->front, k, v)
	{
		char key[96];
		snprintf(key, sizeof(key), "fm.%s", k);
		json_object_set(m->fm, key, v);
	}
	json_object_foreach(m->fm, k, v)
	{
		m->meta[i++] = k;
		m->meta[i++] = json_string_value(v);
	}
	for (size_t c = 0; c < sizeof(cfields) / sizeof(cfields[0]); c++) {
		const char *val = sget(m->citizen_rec, cfields[c]);
		static const char *const keys[] = {"citizen.name", "citizen.accessibility",
						   "citizen.address", "citizen.locale"};
		if (val) {
			m->meta[i++] = keys[c];
			m->meta[i++] = val;
		}
	}
	rc = 0;
out:
	json_decref(hfront);
	json_decref(data);
	return rc;
}

/* Hand a rendered message to its plugin: 0 taken, -1 plugin busy. */
static int submit(struct router *r, struct msg *m)
{
	struct herald_msg hm;
	const struct herald_channel *d = m->chan->desc;
	struct step s;

	memset(&hm, 0, sizeof(hm));
	hm.version = HERALD_MSG_VERSION;
	hm.msg_id = m->id = ++r->next_id;
	hm.event_id = m->event_id;
	hm.transaction_id = m->tx;
	hm.reference = m->reference;
	hm.service = m->service;
	hm.citizen_id = m->citizen;
	hm.template_name = m->ev.template_name;
	hm.locale = m->locale;
	hm.to = d->address_field ? sget(m->citizen_rec, d->address_field) : NULL;
	hm.subject = m->subject;
	hm.body = m->body;
	hm.html = m->html;
	hm.meta = m->meta;
	hm.attempt = m->attempt;
	hm.urgent = m->ev.priority == PRIO_URGENT;
	if (d->submit(m->chan->state, &hm) != 0) {
		m->id = 0;
		return -1;
	}
	m->chan->submitted++;
	m->submitted_ms = now_ms();
	idmap_put(r->inflight, m->id, m);
	/* What was sent, without what it said: the rendered subject carries
	 * the citizen's personalisation, which stays out of the logs. (Plan
	 * and position go to the hash's "at" with every step.) */
	char what[EVENT_MAX_ID + 64];
	snprintf(what, sizeof(what), "template %s, locale %s", m->ev.template_name,
		 m->locale ? m->locale : "-");
	s = step_of("sending", m->note[0] ? m->note : what);
	state_step(r, m, &s);
	release_rendered(m);
	return 0;
}

static void backlog_push(struct router *r, struct msg *m)
{
	m->next = NULL;
	if (r->backlog_tail)
		r->backlog_tail->next = m;
	else
		r->backlog = m;
	r->backlog_tail = m;
}

void worker_submit_backlog(struct router *r)
{
	struct msg *m = r->backlog, *keep = NULL, *keep_tail = NULL;

	r->backlog = r->backlog_tail = NULL;
	while (m) {
		struct msg *next = m->next;
		if (submit(r, m) != 0) {
			m->next = NULL;
			if (keep_tail)
				keep_tail->next = m;
			else
				keep = m;
			keep_tail = m;
		}
		m = next;
	}
	r->backlog = keep;
	r->backlog_tail = keep_tail;
}

static int terminal(const char *status)
{
	return !strcmp(status, "delivered") || !strcmp(status, "exhausted") ||
	       !strcmp(status, "permanent-failure") || !strcmp(status, "rejected");
}

static const char *st_get(const char *name, void *arg)
{
	return sget(arg, name);
}

/* Fill the message from its Redis record; returns the status. */
static const char *load_state(struct router *r, struct msg *m)
{
	const json_t *st = m->state;
	int64_t now = now_ms();
	struct msgrec_meta meta;
	struct msgrec_at at;

	/* a hash no transition was written to yet holds only the status: the
	 * stream entry told tx, citizen and acceptance time */
	if (sget(st, "tx"))
		snprintf(m->tx, sizeof(m->tx), "%s", sget(st, "tx"));
	else if (!m->tx[0])
		snprintf(m->tx, sizeof(m->tx), "%s", m->event_id);
	m->first_touch = !msgrec_read_meta(st_get, (void *)st, &meta);
	snprintf(m->service, sizeof(m->service), "%s", meta.service[0] ? meta.service : "-");
	if (meta.citizen[0])
		snprintf(m->citizen, sizeof(m->citizen), "%s", meta.citizen);
	m->ev_in_hash = sget(st, "event") != NULL;
	m->accepted_ms = meta.accepted_ms ? meta.accepted_ms
			 : m->accepted_ms ? m->accepted_ms
					  : now;
	msgrec_read_at(st_get, (void *)st, &at);
	m->plan_idx = at.plan_idx;
	m->attempt = at.attempt;
	snprintf(m->plan, sizeof(m->plan), "%s", at.plan);
	tx_reference(m->tx, m->reference, sizeof(m->reference));
	if (at.channel[0])
		m->chan = chans_find(&r->chans, at.channel);
	if (at.to[0])
		snprintf(m->to_masked, sizeof(m->to_masked), "%s", at.to);
	/* what the hash's "at" holds: state_step leaves it alone if unchanged
	 * (an older hash without it gets it with the next transition) */
	snprintf(m->hw_at, sizeof(m->hw_at), "%s", sget(st, "at") ? sget(st, "at") : "");
	return sget(st, "status") ? sget(st, "status") : "accepted";
}

/* The citizen engaged on a channel in this transaction: if it is in the
 * plan, it goes first (the rest keeps its order). */
static void prefer_engaged(struct msg *m)
{
	char rest[256] = "", name[64];
	size_t n;

	if (!m->engaged[0] || !resolve_in_list(m->plan, m->engaged))
		return;
	if (plan_channel(m->plan, 0, name, sizeof(name)) && !strcmp(name, m->engaged))
		return;
	for (int i = 0; plan_channel(m->plan, i, name, sizeof(name)); i++) {
		if (!strcmp(name, m->engaged))
			continue;
		n = strlen(rest);
		snprintf(rest + n, sizeof(rest) - n, ",%s", name);
	}
	/* the plan only gets shorter or stays: it fits, checked anyway */
	if (strlen(m->engaged) + strlen(rest) < sizeof(m->plan)) {
		memcpy(m->plan, m->engaged, strlen(m->engaged));
		memcpy(m->plan + strlen(m->engaged), rest, strlen(rest) + 1);
	}
}

/* Quiet hours: the citizen's `quiet_hours` (local time in `tz`) hold
 * channels that would wake someone (by default sms and fax; any channel's
 * `quiet_hours = yes|no` decides) until the window ends. Priority urgent
 * overrides, and says so in the log. Returns 1 when the message was held. */
static int hold_for_quiet_hours(struct router *r, struct msg *m)
{
	const char *qh = sget(m->citizen_rec, "quiet_hours");
	const char *zone = sget(m->citizen_rec, "tz");
	const char *opt = config_get(r->cfg, m->chan->section, "quiet_hours");
	int applies, inside, left = 0;
	int32_t off = 0;
	int64_t now = now_ms(), local;
	char reason[300], when[40];
	struct step s;

	if (!qh || !*qh)
		return 0;
	applies = opt ? !strcmp(opt, "yes") || !strcmp(opt, "true")
		      : !strcmp(m->chan->name, "sms") || !strcmp(m->chan->name, "fax");
	if (!applies)
		return 0;
	if (!zone || !*zone)
		zone = "Europe/London";
	if (tz_offset(zone, now / 1000, &off) != 0) {
		log_warnx("%s: citizen %s: unknown time zone '%s'; quiet hours read as UTC",
			  m->event_id, m->citizen, zone);
		off = 0;
	}
	local = ((now / 1000 + off) % 86400 + 86400) % 86400;
	inside = quiet_hours_check(qh, (int)(local / 60), &left);
	if (inside < 0) {
		log_warnx("%s: citizen %s: quiet_hours '%s' is not HH:MM-HH:MM; ignored",
			  m->event_id, m->citizen, qh);
		return 0;
	}
	if (!inside)
		return 0;
	if (m->ev.priority == PRIO_URGENT) {
		log_info("%s: priority urgent overrides quiet hours %s (%s) on %s", m->event_id, qh,
			 zone, m->chan->name);
		snprintf(m->note, sizeof(m->note), "priority urgent overrides quiet hours %s %s",
			 qh, zone);
		return 0;
	}
	/* until the end of the window, to the start of that minute */
	int64_t due = (now / 1000 - local % 60) * 1000 + (int64_t)left * 60000;
	rfc3339_format(due, when, sizeof(when));
	snprintf(reason, sizeof(reason), "quiet hours %s %s: held until %s", qh, zone, when);
	s = step_of("scheduled", reason);
	s.sched_ms = due;
	s.ack = 1;
	state_step(r, m, &s);
	return 1;
}

static void prepare(struct router *r, struct msg *m)
{
	const json_t *st = m->state;
	const char *status, *ev_json;
	char err[512], why[512], name[64];
	int64_t now = now_ms();
	struct step s;

	if (m->fresh) {
		/* as herald_accept queued it */
		status = "accepted";
		snprintf(m->service, sizeof(m->service), "-");
		tx_reference(m->tx, m->reference, sizeof(m->reference));
		ev_json = NULL; /* parsed: from the event cache */
	} else {
		if (!st) /* Redis failed mid-read: the entry stays pending, retried later */
			goto drop;
		if (json_object_size(st) == 0) {
			log_warnx(
			    "%s: queued, but its record is gone (expired or purged); dropping",
			    m->event_id);
			ack_only(r, m);
			goto drop;
		}
		status = load_state(r, m);
		if (!strcmp(status, "accepted") && sget(st, "reason") &&
		    !strcmp(sget(st, "reason"), REASON_REPLAYED)) {
			/* heraldctl dead replay wrote the journey; the delivery
			 * logs hear of it here, before the message goes on */
			s = step_of("accepted",
				    "replayed from the dead-letter list by an operator");
			s.no_channel = 1;
			s.log_only = 1;
			state_step(r, m, &s);
		}
		ev_json = sget(st, "event") ? sget(st, "event") : m->entry_ev;
		if (!ev_json) {
			s = step_of("permanent-failure", "stored event is unreadable");
			s.ack = 1;
			state_step(r, m, &s);
			goto drop;
		}
	}
	if (ev_json && event_parse(ev_json, strlen(ev_json), &m->ev, err, sizeof(err)) != 0) {
		s = step_of("permanent-failure", "stored event is unreadable");
		s.ack = 1;
		state_step(r, m, &s);
		goto drop;
	}
	if (!strcmp(m->service, "-"))
		snprintf(m->service, sizeof(m->service), "%s", m->ev.service);
	if (terminal(status) || (!strcmp(status, "sent") && !m->ev.deliver_within) ||
	    (!strcmp(status, "sent") && sget(st, "final"))) {
		ack_only(r, m); /* finished already: a duplicate entry */
		goto drop;
	}
	if (!strcmp(status, "sent")) {
		/* A receipt deadline came due. */
		int64_t due = iget(st, "sent_ms", 0) + m->ev.deliver_within * 1000;
		if (now + 50 < due) {
			s = step_of("sent", "receipt deadline not reached");
			s.sched_ms = due;
			s.ack = 1;
			state_step(r, m, &s);
		} else {
			snprintf(why, sizeof(why), "no delivery receipt within %llds",
				 (long long)m->ev.deliver_within);
			hop(r, m, why);
		}
		goto drop;
	}
	if (!strcmp(status, "accepted") && m->ev.send_after_ms > now) {
		char when[40];
		rfc3339_format(m->ev.send_after_ms, when, sizeof(when));
		snprintf(why, sizeof(why), "held until send_after %s", when);
		s = step_of("scheduled", why);
		s.sched_ms = m->ev.send_after_ms;
		s.ack = 1;
		s.no_channel = 1;
		state_step(r, m, &s);
		goto drop;
	}
	if (!m->plan[0]) {
		if (!m->citizen_rec || json_object_size(m->citizen_rec) == 0) {
			snprintf(why, sizeof(why), "unknown citizen %s", m->citizen);
			s = step_of("permanent-failure", why);
			s.ack = 1;
			s.no_channel = 1;
			state_step(r, m, &s);
			goto drop;
		}
		if (resolve_plan(m->citizen_rec, m->ev.channels, &r->chans, m->plan,
				 sizeof(m->plan), why, sizeof(why)) == 0) {
			char reason[600];
			snprintf(reason, sizeof(reason), "no usable channel: %s", why);
			s = step_of("permanent-failure", reason);
			s.ack = 1;
			s.no_channel = 1;
			state_step(r, m, &s);
			goto drop;
		}
		m->plan_idx = 0;
		m->attempt = 0;
		prefer_engaged(m);
	}
	if (!plan_channel(m->plan, m->plan_idx, name, sizeof(name))) {
		hop(r, m, "plan position past its end");
		goto drop;
	}
	m->chan = chans_find(&r->chans, name);
	if (!m->chan) {
		snprintf(why, sizeof(why), "channel %s is not running on this heraldd", name);
		s = step_of("permanent-failure", why);
		s.no_channel = 1;
		state_step(r, m, &s);
		hop(r, m, why);
		goto drop;
	}
	{
		const char *addr = m->chan->desc->address_field
				       ? sget(m->citizen_rec, m->chan->desc->address_field)
				       : NULL;
		if (addr)
			mask_contact(addr, m->to_masked, sizeof(m->to_masked));
		else
			snprintf(m->to_masked, sizeof(m->to_masked), "-");
	}
	if (hold_for_quiet_hours(r, m))
		goto drop;
	m->attempt++;
	if (render(r, m, err, sizeof(err)) != 0) {
		char reason[600];
		snprintf(reason, sizeof(reason), "cannot render: %s", err);
		s = step_of("permanent-failure", reason);
		state_step(r, m, &s);
		hop(r, m, reason);
		goto drop;
	}
	m->prepared_ms = now_ms();
	if (submit(r, m) != 0)
		backlog_push(r, m);
	return;
drop:
	msg_free(m);
}

/* ---- reading the streams -------------------------------------------- */

/* The entries of one read, waiting for their citizen records. */
struct rbatch {
	struct router *r;
	struct msg **ms;
	size_t n;
	int left; /* replies still to come */
	struct rbatch *next;
};

static void batch_tick(struct msg *m)
{
	struct rbatch *b = m->batch;

	if (--b->left > 0)
		return;
	/* complete: run it after the pipeline is sent (worker_run_ready), so
	 * Redis works on the next batch while this one is prepared */
	b->next = NULL;
	if (b->r->ready_tail)
		b->r->ready_tail->next = b;
	else
		b->r->ready = b;
	b->r->ready_tail = b;
}

static void on_state(redisReply *rep, void *arg)
{
	struct msg *m = arg;

	json_decref(m->state);
	m->state = rep && !reply_is_error(rep) ? reply_to_object(rep) : NULL;
	batch_tick(m);
}

/* One HGETALL serves every entry of the read for that citizen (a chain
 * through cit_next). */
static void on_citizen(redisReply *rep, void *arg)
{
	struct msg *m = arg, *next;
	json_t *rec = rep && !reply_is_error(rep) ? reply_to_object(rep) : NULL;

	for (; m; m = next) {
		next = m->cit_next;
		m->cit_next = NULL;
		json_decref(m->citizen_rec);
		m->citizen_rec = json_incref(rec);
		batch_tick(m);
	}
	json_decref(rec);
}

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void on_engaged_tick(redisReply *rep, void *arg)
{
	on_engaged(rep, arg);
	batch_tick(arg);
}

/* A fresh entry (written by herald_accept: it has "a", the accepted time,
 * and "e", the event; read with ">", so no consumer had it before): its
 * state is as herald_accept left it, so the message hash need not be read.
 * The event comes parsed from the cache when this instance accepted it,
 * else from the entry. Returns 0 if taken fresh. */
static int take_fresh(struct router *r, struct msg *m, const char *accepted, const char *ev,
		      size_t evlen)
{
	int64_t accepted_ms = atoll(accepted);
	char err[320];

	if (!evcache_take(r->evcache, m->event_id, accepted_ms, &m->ev) &&
	    (!ev || event_parse(ev, evlen, &m->ev, err, sizeof(err)) != 0))
		return -1; /* read the hash; an unreadable event fails there */
	m->fresh = 1;
	m->first_touch = 1;
	m->accepted_ms = accepted_ms;
	/* the entry names them only when written before "id a e" */
	if (!m->citizen[0])
		snprintf(m->citizen, sizeof(m->citizen), "%s", m->ev.citizen_id);
	if (!m->tx[0])
		snprintf(m->tx, sizeof(m->tx), "%s",
			 m->ev.transaction_id ? m->ev.transaction_id : m->event_id);
	m->hw_at[0] = '\0'; /* the hash holds the status only */
	return 0;
}

/* The citizen and transaction of an entry that names them only in its
 * event (herald_accept's "id a e"), taken again after a restart or a
 * claim: the citizen's record is read before the message hash arrives. An
 * unreadable event leaves them to the hash (load_state), and fails there. */
static void entry_names(struct msg *m, const char *ev, size_t evlen)
{
	struct event e;
	char err[320];

	memset(&e, 0, sizeof(e));
	if (event_parse(ev, evlen, &e, err, sizeof(err)) == 0) {
		snprintf(m->citizen, sizeof(m->citizen), "%s", e.citizen_id);
		if (!m->tx[0])
			snprintf(m->tx, sizeof(m->tx), "%s",
				 e.transaction_id ? e.transaction_id : m->event_id);
	}
	event_clear(&e);
}

/* Take a list of stream entries ([id, [k, v, ...]] ...) for processing:
 * queue the reads of citizen (and, unless the entry is fresh, message)
 * records; the batch is prepared once every reply is in. may_trust_fresh
 * is 0 for entries that may have been worked on before (recovered,
 * claimed): those always read the message hash. */
static int take_entries(struct router *r, const char *stream, const redisReply *entries,
			int may_trust_fresh)
{
	struct rbatch *b;
	int64_t now = now_ms();

	if (!entries || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
		return 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return 0;
	b->r = r;
	b->ms = calloc(entries->elements, sizeof(*b->ms));
	if (!b->ms) {
		free(b);
		return 0;
	}
	b->left = 1; /* held until every command is queued */
	/* citizens of this read: open addressing, the first entry of each */
	size_t cap = 16;
	while (cap < 2 * entries->elements)
		cap *= 2;
	struct msg **cits = calloc(cap, sizeof(*cits));
	if (!cits) {
		free(b->ms);
		free(b);
		return 0;
	}
	for (size_t i = 0; i < entries->elements; i++) {
		const redisReply *e = entries->element[i], *kv;
		const char *accepted = NULL, *ev = NULL;
		size_t evlen = 0;
		struct msg *m;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		kv = e->element[1];
		m = calloc(1, sizeof(*m));
		if (!m)
			break;
		snprintf(m->stream, sizeof(m->stream), "%s", stream);
		snprintf(m->stream_id, sizeof(m->stream_id), "%s", e->element[0]->str);
		m->picked_ms = now;
		m->batch = b;
		if (kv->type == REDIS_REPLY_ARRAY)
			for (size_t j = 0; j + 1 < kv->elements; j += 2) {
				const char *k = kv->element[j]->str, *v = kv->element[j + 1]->str;
				if (!k || !v)
					continue;
				if (!strcmp(k, "id"))
					snprintf(m->event_id, sizeof(m->event_id), "%s", v);
				else if (!strcmp(k, "c"))
					snprintf(m->citizen, sizeof(m->citizen), "%s", v);
				else if (!strcmp(k, "t"))
					snprintf(m->tx, sizeof(m->tx), "%s", v);
				else if (!strcmp(k, "a"))
					accepted = v;
				else if (!strcmp(k, "e"))
					ev = v, evlen = kv->element[j + 1]->len;
			}
		if (!m->event_id[0]) {
			/* deleted entry still pending, or foreign data: ack it away */
			ack_only(r, m);
			msg_free(m);
			continue;
		}
		b->ms[b->n++] = m;
		if (may_trust_fresh && accepted && take_fresh(r, m, accepted, ev, evlen) == 0) {
			/* state known */
		} else {
			m->fresh = 0;
			if (accepted)
				m->accepted_ms = atoll(accepted);
			if (ev && !(m->entry_ev = strndup(ev, evlen))) {
				msg_free(m); /* out of memory: stays pending, retried */
				b->n--;
				continue;
			}
			if (ev && !m->citizen[0])
				entry_names(m, ev, evlen);
			b->left++;
			rdb_cmdf(r->rdb, on_state, m, "HGETALL " KEY_MSG "%s", m->event_id);
		}
		b->left++;
		size_t h = str_hash(m->citizen) & (cap - 1);
		while (cits[h] && strcmp(cits[h]->citizen, m->citizen) != 0)
			h = (h + 1) & (cap - 1);
		if (cits[h]) {
			m->cit_next = cits[h]->cit_next;
			cits[h]->cit_next = m;
		} else {
			cits[h] = m;
		}
		/* a transaction of its own (tx is the event id): nobody can have
		 * engaged in it yet */
		if (m->tx[0] && strcmp(m->tx, m->event_id) != 0) {
			b->left++;
			rdb_cmdf(r->rdb, on_engaged_tick, m, "GET " KEY_ENGAGED "%s", m->tx);
		}
	}
	/* the chains are complete: one read per citizen (a failing command
	 * calls back at once, so not before) */
	for (size_t h = 0; h < cap; h++)
		if (cits[h])
			rdb_cmdf(r->rdb, on_citizen, cits[h], "HGETALL " KEY_CITIZEN "%s",
				 cits[h]->citizen);
	free(cits);
	/* release the hold: the batch is ready once its replies are in */
	size_t taken = b->n;
	if (taken) {
		struct msg hold = {.batch = b};
		batch_tick(&hold);
	} else {
		free(b->ms);
		free(b);
	}
	return (int)taken;
}

/* Prepare every batch whose records have all arrived. */
int worker_run_ready(struct router *r)
{
	int n = 0;

	while (r->ready) {
		struct rbatch *b = r->ready;
		r->ready = b->next;
		if (!r->ready)
			r->ready_tail = NULL;
		for (size_t i = 0; i < b->n; i++) {
			b->ms[i]->batch = NULL;
			prepare(r, b->ms[i]);
		}
		n += (int)b->n;
		free(b->ms);
		free(b);
	}
	return n;
}

static void on_read(redisReply *rep, void *arg)
{
	struct router *r = arg;

	r->read_inflight = 0;
	r->last_read_n = 0;
	if (!rep)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		if (strstr(rep->str, "NOGROUP"))
			r->need_groups = 1;
		else
			log_warnx("redis: XREADGROUP: %s", rep->str);
		return;
	}
	if (rep->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < rep->elements; i++) {
			const redisReply *s = rep->element[i];
			if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 &&
			    s->element[0]->type == REDIS_REPLY_STRING)
				r->last_read_n +=
				    take_entries(r, s->element[0]->str, s->element[1], 1);
		}
	if (r->last_read_n >= r->cfg->batch)
		r->want_read = 1; /* more waiting */
}

static void ensure_groups(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		redisReply *rep =
		    rdb_call(r->rdb, "XGROUP CREATE %s " GROUP " 0 MKSTREAM", streams[p]);
		if (rep && rep->type == REDIS_REPLY_ERROR && !strstr(rep->str, "BUSYGROUP"))
			log_warnx("redis: XGROUP CREATE %s: %s", streams[p], rep->str);
		freeReplyObject(rep);
	}
	r->need_groups = 0;
}

/* Queue a read of new entries (one at a time). */
void worker_read(struct router *r)
{
	if (r->need_groups)
		ensure_groups(r);
	if (r->read_inflight)
		return;
	r->read_inflight = 1;
	rdb_cmdf(r->rdb, on_read, r,
		 "XREADGROUP GROUP " GROUP " %s COUNT %d STREAMS %s %s %s > > >", r->consumer,
		 r->cfg->batch, streams[0], streams[1], streams[2]);
}

/* Trim acknowledged entries off the streams: everything older than the
 * oldest entry still pending, or than the last one delivered. On the
 * pipeline, a reply leading to the next command, so the loop never waits
 * for Redis to get through a busy turn first. */
struct trim {
	struct router *r;
	int p;
};

static void trim_to(struct router *r, int p, const char *minid)
{
	rdb_cmdf(r->rdb, NULL, NULL, "XTRIM %s MINID %s", streams[p], minid);
}

static void on_trim_groups(redisReply *rep, void *arg)
{
	struct trim *t = arg;
	char minid[64] = "";

	if (rep && rep->type == REDIS_REPLY_ARRAY)
		for (size_t g = 0; g < rep->elements; g++) {
			const redisReply *kv = rep->element[g];
			if (kv->type != REDIS_REPLY_ARRAY)
				continue;
			for (size_t j = 0; j + 1 < kv->elements; j += 2)
				if (kv->element[j]->str &&
				    !strcmp(kv->element[j]->str, "last-delivered-id") &&
				    kv->element[j + 1]->str) {
					unsigned long long ms = 0, seq = 0;
					sscanf(kv->element[j + 1]->str, "%llu-%llu", &ms, &seq);
					snprintf(minid, sizeof(minid), "%llu-%llu", ms, seq + 1);
				}
		}
	if (minid[0])
		trim_to(t->r, t->p, minid);
	free(t);
}

static void on_trim_pending(redisReply *rep, void *arg)
{
	struct trim *t = arg;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[0]->integer > 0 &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		trim_to(t->r, t->p, rep->element[1]->str);
		free(t);
	} else if (rep && rep->type != REDIS_REPLY_ERROR) {
		/* nothing pending: up to the last entry delivered to a consumer */
		rdb_cmdf(t->r->rdb, on_trim_groups, t, "XINFO GROUPS %s", streams[t->p]);
	} else {
		free(t);
	}
}

void worker_trim(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		struct trim *t = malloc(sizeof(*t));
		if (!t)
			return;
		t->r = r;
		t->p = p;
		rdb_cmdf(r->rdb, on_trim_pending, t, "XPENDING %s " GROUP, streams[p]);
	}
}

/* At start: entries this consumer read but never finished (a crash, a
 * restart) are taken again, oldest first. */
void worker_recover(struct router *r)
{
	ensure_groups(r);
	for (int p = 0; p < PRIO_N; p++) {
		char last[64] = "0";
		for (;;) {
			redisReply *rep =
			    rdb_call(r->rdb, "XREADGROUP GROUP " GROUP " %s COUNT %d STREAMS %s %s",
				     r->consumer, r->cfg->batch, streams[p], last);
			const redisReply *entries;
			int n;
			if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
				freeReplyObject(rep);
				break;
			}
			entries = rep->element[0]->element[1];
			if (entries->elements == 0) {
				freeReplyObject(rep);
				break;
			}
			snprintf(last, sizeof(last), "%s",
				 entries->element[entries->elements - 1]->element[0]->str);
			n = take_entries(r, streams[p], entries, 0);
			log_info("recovered %d pending entries from %s", n, streams[p]);
			freeReplyObject(rep);
			rdb_flush(r->rdb);
			worker_run_ready(r);
			rdb_flush(r->rdb);
		}
	}
}

/* Take over entries another (dead) consumer left pending too long. */
void worker_claim(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		redisReply *rep =
		    rdb_call(r->rdb, "XAUTOCLAIM %s " GROUP " %s %d 0-0 COUNT %d", streams[p],
			     r->consumer, r->cfg->claim_idle_ms, r->cfg->batch);
		if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
			int n = take_entries(r, streams[p], rep->element[1], 0);
			if (n > 0)
				log_msg(LOG_L_NOTICE, "claimed %d entries idle > %d ms from %s", n,
					r->cfg->claim_idle_ms, streams[p]);
		}
		freeReplyObject(rep);
	}
}

static void on_due(redisReply *rep, void *arg)
{
	struct router *r = arg;

	r->due_inflight = 0;
	if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
		r->want_read = 1;
	else if (rep && rep->type == REDIS_REPLY_ERROR)
		log_warnx("redis: herald_due: %s", rep->str);
}

/* Move due scheduled messages back onto their streams: on the pipeline, so
 * the loop never waits for Redis to get through a busy turn first. */
void worker_due(struct router *r)
{
	if (r->due_inflight)
		return;
	r->due_inflight = 1;
	rdb_cmdf(r->rdb, on_due, r, "FCALL herald_due 1 " KEY_SCHED " %lld %d", (long long)now_ms(),
		 r->cfg->batch);
}

/* ---- results ------------------------------------------------------- */

static void apply_receipt(struct router *r, struct chan *c, const struct herald_result *res);

/* A permanent failure that proves the address wrong (SMTP 5.1.1, invalid
 * number) marks the channel invalid on the citizen record, so the next
 * event skips it without another failed send. Updating the address clears
 * nothing by itself: operators (or the service) remove the channel from
 * `invalid` when the citizen gives a new one. */
static void learn_invalid(struct router *r, struct msg *m, const struct herald_result *res)
{
	const char *old;
	char list[256], when[40], note[512];

	if (!(res->flags & HERALD_RF_BAD_ADDRESS) || !m->chan || !m->citizen_rec)
		return;
	old = sget(m->citizen_rec, "invalid");
	if (old && *old)
		snprintf(list, sizeof(list), "%s,%s", old, m->chan->name);
	else
		snprintf(list, sizeof(list), "%s", m->chan->name);
	if (old && resolve_in_list(old, m->chan->name))
		snprintf(list, sizeof(list), "%s", old);
	rfc3339_format(now_ms(), when, sizeof(when));
	snprintf(note, sizeof(note), "%s %s (event %s)", when, res->reason, m->event_id);
	rdb_cmdf(r->rdb, NULL, NULL, "HSET " KEY_CITIZEN "%s invalid %s invalid_%s %s", m->citizen,
		 list, m->chan->name, note);
	log_info("%s: citizen %s: %s address marked invalid: %s", m->event_id, m->citizen,
		 m->chan->name, res->reason);
}

static void on_result(struct router *r, struct chan *c, const struct herald_result *res)
{
	struct msg *m = idmap_del(r->inflight, res->msg_id);
	int64_t now = now_ms();
	struct step s;
	char buf[32];

	if (!m) {
		/* A later outcome of a message already "sent" (CUPS job completed,
		 * gateway polled): the plugin repeats the reference, so it is
		 * matched like an HTTP receipt. */
		if (res->ref[0])
			apply_receipt(r, c, res);
		else
			log_debug("channel %s: result for unknown message %llu", c->name,
				  (unsigned long long)res->msg_id);
		return;
	}
	c->finished++;
	switch (res->status) {
	case HERALD_DELIVERED:
	case HERALD_SENT:
		if (res->status == HERALD_SENT && !(res->flags & HERALD_RF_FINAL)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)now);
			const char *kv[] = {"sent_ms", buf};
			s = step_of("sent", res->reason);
			s.ref = res->ref;
			s.dsn = res->dsn;
			s.kv = kv;
			s.nkv = 1;
			s.ack = 1;
			if (m->ev.deliver_within)
				s.sched_ms = now + m->ev.deliver_within * 1000;
			state_step(r, m, &s);
			if (res->ref[0])
				rdb_cmdf(r->rdb, NULL, NULL, "SET " KEY_REF "%s:%s %s EX %lld",
					 c->name, res->ref, m->event_id, (long long)r->ttl_s);
			break;
		}
		/* "final" tells a sent message that waits for nothing more
		 * from one awaiting a receipt; delivered says it alone */
		static const char *const final_kv[] = {"final", "1"};
		s = step_of(res->status == HERALD_DELIVERED ? "delivered" : "sent", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		s.kv = final_kv;
		s.nkv = res->status == HERALD_SENT;
		s.ack = 1;
		s.finished_ok = 1;
		if (!sget(m->state, "fulfilled_ms"))
			s.fulfilled_ms = now - m->accepted_ms;
		state_step(r, m, &s);
		break;
	case HERALD_TEMPORARY: retry_or_hop(r, m, res); break;
	case HERALD_PERMANENT:
	default:
		s = step_of("permanent-failure", res->reason);
		s.dsn = res->dsn;
		s.ref = res->ref;
		state_step(r, m, &s);
		learn_invalid(r, m, res);
		hop(r, m, res->reason[0] ? res->reason : "permanent failure");
		break;
	}
	msg_free(m);
}

void worker_results(struct router *r)
{
	struct herald_result res[64];

	for (int i = 0; i < r->chans.n; i++) {
		struct chan *c = &r->chans.ch[i];
		int n;
		do {
			n = c->desc->poll(c->state, res, 64);
			for (int k = 0; k < n; k++)
				on_result(r, c, &res[k]);
		} while (n == 64);
	}
}

/* ---- receipts ------------------------------------------------------ */

static const char *const status_names[] = {"?", "sent", "delivered", "temporary-failure",
					   "permanent-failure"};

static void apply_receipt(struct router *r, struct chan *c, const struct herald_result *res)
{
	redisReply *rep = rdb_call(r->rdb, "GET " KEY_REF "%s:%s", c->name, res->ref);
	struct msg *m = NULL;
	const char *status, *cur_ch, *cur_ref, *sname;
	struct step s;
	char reason[512];

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		log_msg(LOG_L_NOTICE,
			"channel %s: receipt for unknown reference '%s' (%s): ignored", c->name,
			res->ref, status_names[res->status <= 4 ? res->status : 0]);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out;
	snprintf(m->event_id, sizeof(m->event_id), "%s", rep->str);
	freeReplyObject(rep);
	rep = rdb_call(r->rdb, "HGETALL " KEY_MSG "%s", m->event_id);
	m->state = rep ? reply_to_object(rep) : NULL;
	if (!m->state || json_object_size(m->state) == 0) {
		log_msg(LOG_L_NOTICE, "%s: receipt from %s, but the message record is gone",
			m->event_id, c->name);
		goto out;
	}
	status = load_state(r, m);
	struct msgrec_at at;
	msgrec_read_at(st_get, m->state, &at);
	cur_ch = at.channel[0] ? at.channel : NULL;
	cur_ref = sget(m->state, "ref");
	sname = status_names[res->status <= 4 ? res->status : 0];
	if (strcmp(status, "sent") != 0 || !cur_ch || strcmp(cur_ch, c->name) != 0 || !cur_ref ||
	    strcmp(cur_ref, res->ref) != 0) {
		/* Too late (hopped, finished) or for an earlier attempt: record it,
		 * never resurrect or undo anything. */
		struct chan *now_ch = m->chan;
		snprintf(reason, sizeof(reason),
			 "late receipt from %s: %s%s%s; not applied (message is %s on %s)", c->name,
			 sname, res->reason[0] ? ", " : "", res->reason, status,
			 cur_ch ? cur_ch : "-");
		m->chan = c;
		s = step_of(sname, reason);
		s.ref = res->ref;
		s.journal_only = 1;
		state_step(r, m, &s);
		m->chan = now_ch;
		goto out;
	}
	rdb_cmdf(r->rdb, NULL, NULL, "ZREM " KEY_SCHED " %s", m->event_id);
	/* "sent" keeps the event in the hash (state_step) */
	if (!sget(m->state, "event") ||
	    event_parse(sget(m->state, "event"), strlen(sget(m->state, "event")), &m->ev, reason,
			sizeof(reason)) != 0) {
		log_warnx("%s: receipt from %s, but the stored event is unreadable", m->event_id,
			  c->name);
		goto out;
	}
	switch (res->status) {
	case HERALD_DELIVERED:
		s = step_of("delivered", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		if (!sget(m->state, "fulfilled_ms"))
			s.fulfilled_ms = now_ms() - m->accepted_ms;
		state_step(r, m, &s);
		break;
	case HERALD_PERMANENT:
		s = step_of("permanent-failure", res->reason);
		s.ref = res->ref;
		s.dsn = res->dsn;
		state_step(r, m, &s);
		freeReplyObject(rep); /* the message record, read above */
		rep = NULL;
		{
			redisReply *cr = rdb_call(r->rdb, "HGETALL " KEY_CITIZEN "%s", m->citizen);
			m->citizen_rec = cr ? reply_to_object(cr) : NULL;
			freeReplyObject(cr);
		}
		learn_invalid(r, m, res);
		hop(r, m, res->reason[0] ? res->reason : "failed, says the receipt");
		break;
	case HERALD_TEMPORARY: retry_or_hop(r, m, res); break;
	default: break;
	}
out:
	freeReplyObject(rep);
	msg_free(m);
}

void worker_receipts(struct router *r)
{
	struct herald_result res[32];
	struct chan *ch[32];
	int n;

	if (!r->http)
		return;
	do {
		n = http_pop(r->http, res, ch, 32);
		for (int i = 0; i < n; i++)
			if (ch[i])
				apply_receipt(r, ch[i], &res[i]);
	} while (n == 32);
}
