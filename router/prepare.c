/*
 * prepare.c - a message read from a stream, its records in, taken to its
 * next state:
 *
 *   deleted by an operator (heraldctl delete)  -> a "deleted" record, once
 *   finished already (a duplicate entry)       -> acknowledged, dropped
 *   "sent", its receipt deadline due            -> hop to the next channel
 *   send_after in the future                   -> "scheduled"
 *   else: resolve the plan (resolve.c), prefer the channel the citizen
 *   engaged on, hold for quiet hours, render the template, submit (submit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "failover.h"
#include "log.h"
#include "metrics.h"
#include "mask.h"
#include "msgstate.h"
#include "policy.h"
#include "prepare.h"
#include "service.h"
#include "submit.h"
#include "text.h"
#include "tz.h"
#include "unsubscribe.h"
#include "unsubtok.h"
#include "zap.h"

/* The data a template sees: the personalisation, and citizen, transaction
 * and event. */
static json_t *render_data(struct msg *m)
{
	json_t *data = m->ev.personalisation ? json_copy(m->ev.personalisation) : json_object();
	json_t *cit = json_object(), *txn = json_object(), *evt = json_object();
	const char *name = field_str(m->citizen_rec, "name");

	if (!data || !cit || !txn || !evt) {
		json_decref(data), json_decref(cit), json_decref(txn), json_decref(evt);
		return NULL;
	}
	json_object_set_new_nocheck(cit, "id", json_string(m->citizen));
	json_object_set_new_nocheck(cit, "name", json_string(name ? name : ""));
	json_object_set_new_nocheck(cit, "locale", json_string(m->locale ? m->locale : "en"));
	json_object_set_new_nocheck(txn, "id", json_string(m->tx));
	json_object_set_new_nocheck(txn, "reference", json_string(m->reference));
	json_object_set_new_nocheck(evt, "id", json_string(m->event_id));
	json_object_set_new_nocheck(evt, "service", json_string(m->service));
	json_object_set_new_nocheck(evt, "template", json_string(m->ev.template_name));
	json_object_set_new_nocheck(data, "citizen", cit);
	json_object_set_new_nocheck(data, "transaction", txn);
	json_object_set_new_nocheck(data, "event", evt);
	return data;
}

/* The service's sender identity from its services.d policy, into
 * front_meta as service.from, service.reply_to, service.sender (copied:
 * a reload may free the policy while the message waits). */
static void service_meta(struct router *r, const struct msg *m, json_t *front_meta)
{
	const struct service *sv = zap_curve(r->zap) ? zap_service(r->zap, m->service) : NULL;
	const char *reply_to;

	if (!sv)
		return;
	if (sv->from)
		json_object_set_new(front_meta, "service.from", json_string(sv->from));
	/* the event's reply_to_id (checked at ingest; gone since by a reload:
	 * the default) */
	reply_to = service_reply_to(sv, m->ev.reply_to_id);
	if (!reply_to)
		reply_to = sv->reply_to;
	if (reply_to)
		json_object_set_new(front_meta, "service.reply_to", json_string(reply_to));
	if (sv->sender)
		json_object_set_new(front_meta, "service.sender", json_string(sv->sender));
}

/* An email's one-click unsubscribe link (unsubscribe.h) as meta
 * unsubscribe.url, when [channel.email] unsubscribe_url is set. */
static void unsub_meta(struct router *r, const struct msg *m, json_t *front_meta)
{
	char url[UNSUB_URL_MAX + UNSUB_TOKEN_MAX + 2];

	if (!r->unsub || strcmp(m->chan->name, "email") != 0)
		return;
	if (unsub_link(r, m, url, sizeof(url)) == 0)
		json_object_set_new(front_meta, "unsubscribe.url", json_string(url));
	else
		log_warnx("%s: no unsubscribe link (identifiers, or the secret not loaded)",
			  m->event_id);
}

/* What the plugin gets besides the text: the front matter keyed
 * fm.<key>, the service's sender identity (service.from, service.reply_to,
 * service.sender), then the citizen's fields (citizen.<field>). -1 when
 * out of memory. */
static int set_meta(struct router *r, struct msg *m)
{
	static const char *const cfields[] = {"name", "accessibility", "address", "locale"};
	static const char *const keys[] = {"citizen.name", "citizen.accessibility",
					   "citizen.address", "citizen.locale"};
	size_t nmeta = json_object_size(m->front_matter) + 4 + 3 + 1, i = 0;
	const char *k;
	json_t *v;

	m->meta = calloc(2 * nmeta + 1, sizeof(*m->meta));
	if (!m->meta)
		return -1;
	/* the front matter again, keyed fm.<key>: meta points into m->front_meta */
	m->front_meta = json_object();
	if (!m->front_meta)
		return -1;
	service_meta(r, m, m->front_meta);
	unsub_meta(r, m, m->front_meta);
	json_object_foreach(m->front_matter, k, v)
	{
		char key[96];
		snprintf(key, sizeof(key), "fm.%s", k);
		json_object_set(m->front_meta, key, v);
	}
	json_object_foreach(m->front_meta, k, v)
	{
		m->meta[i++] = k;
		m->meta[i++] = json_string_value(v);
	}
	for (size_t c = 0; c < sizeof(cfields) / sizeof(cfields[0]); c++) {
		const char *val = field_str(m->citizen_rec, cfields[c]);
		if (val) {
			m->meta[i++] = keys[c];
			m->meta[i++] = val;
		}
	}
	return 0;
}

/* Render the channel's variant of the template (the first it has, in the
 * citizen's locale), and the HTML variant when the channel takes one. */
static int render(struct router *r, struct msg *m, char *err, size_t errlen)
{
	const struct herald_channel *desc = m->chan->desc;
	const struct tentry *tmpl = NULL;
	const char *loc = field_str(m->citizen_rec, "locale");
	json_t *data, *html_front = NULL;
	int rc = -1;

	for (const char *const *var = desc->variants; *var && !tmpl; var++)
		tmpl = tstore_find(r->templates, m->ev.template_name, *var, loc);
	if (!tmpl) {
		snprintf(err, errlen, "template %s has no %s variant", m->ev.template_name,
			 desc->variants[0]);
		return -1;
	}
	m->locale = strdup(tentry_locale(tmpl));
	data = render_data(m);
	if (!data || !m->locale) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (tentry_render(r->templates, tmpl, data, 0, &m->body, &m->front_matter, err, errlen) !=
	    0)
		goto out;
	if (desc->html_variant) {
		const struct tentry *h =
		    tstore_find(r->templates, m->ev.template_name, desc->html_variant, loc);
		if (h &&
		    tentry_render(r->templates, h, data, 1, &m->html, &html_front, err, errlen))
			goto out;
	}
	if (field_str(m->front_matter, "subject"))
		m->subject = strdup(field_str(m->front_matter, "subject"));
	if (set_meta(r, m) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	json_decref(html_front);
	json_decref(data);
	return rc;
}

/* The citizen engaged on a channel in this transaction: if it is in the
 * plan, it goes first (the rest keeps its order). */
static void prefer_engaged(struct msg *m)
{
	char rest[256] = "", name[64];
	size_t n;

	if (!m->engaged[0] || !list_has(m->plan, m->engaged))
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
	const char *qh = field_str(m->citizen_rec, "quiet_hours");
	const char *zone = field_str(m->citizen_rec, "tz");
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

/* A message an operator deleted, met on its stream (heraldctl delete puts
 * an entry there for this; or a duplicate entry, met later): the delivery
 * logs, the PUB socket and the service's callback hear of it once, and the
 * hash's MSG_F_DELETED_REPORTED says they did. It is set after them on the
 * pipeline, before the XACK: a crash between the two tells it again (as
 * every record is at least once), never not at all. */
static void deleted_met(struct router *r, struct msg *m)
{
	const char *reason = field_str(m->state, MSG_F_REASON);
	struct step s;

	if (!field_str(m->state, MSG_F_DELETED_REPORTED)) {
		s = step_of(STATUS_DELETED, reason && *reason ? reason : "deleted by an operator");
		s.log_only = 1; /* heraldctl wrote the hash and the journey */
		state_step(r, m, &s);
		rdb_cmdf(r->rdb, NULL, NULL, "HSET " KEY_MSG "%s " MSG_F_DELETED_REPORTED " %lld",
			 m->event_id, (long long)now_ms());
		/* no hash without a TTL, should it have expired since it was read */
		rdb_cmdf(r->rdb, NULL, NULL, "EXPIRE " KEY_MSG "%s %lld NX", m->event_id,
			 (long long)policy_ttl_s(r, m->service));
	}
	msg_ack_only(r, m);
}

/* The status of a message read with its hash, and its event's JSON (the
 * hash's, else the stream entry's). NULL when m is done with: recorded, or
 * left pending. */
static const char *status_from_hash(struct router *r, struct msg *m, const char **ev_json)
{
	const json_t *st = m->state;
	const char *status;
	struct step s;

	if (!st) /* Redis failed mid-read: the entry stays pending, retried later */
		return NULL;
	if (json_object_size(st) == 0) {
		metrics_missing_record();
		log_warnx("%s: queued, but its record is gone (expired or purged); dropping",
			  m->event_id);
		msg_ack_only(r, m);
		return NULL;
	}
	status = msg_load_state(r, m);
	if (!strcmp(status, STATUS_DELETED)) {
		deleted_met(r, m);
		return NULL;
	}
	if (!strcmp(status, "accepted") && field_str(st, "reason") &&
	    !strcmp(field_str(st, "reason"), REASON_REPLAYED)) {
		/* heraldctl dead replay wrote the journey; the delivery
		 * logs hear of it here, before the message goes on */
		s = step_of("accepted", "replayed from the dead-letter list by an operator");
		s.no_channel = 1;
		s.log_only = 1;
		state_step(r, m, &s);
	}
	*ev_json = field_str(st, "event") ? field_str(st, "event") : m->entry_ev;
	if (!*ev_json) {
		s = step_of("permanent-failure", "stored event is unreadable");
		s.ack = 1;
		state_step(r, m, &s);
		return NULL;
	}
	return status;
}

/* The message's status, its event parsed into m->ev. NULL when m is done
 * with (recorded, or left pending). */
static const char *status_and_event(struct router *r, struct msg *m)
{
	const char *status, *ev_json;
	char err[512];
	struct step s;

	if (m->fresh) {
		/* as herald_accept queued it */
		status = "accepted";
		snprintf(m->service, sizeof(m->service), "-");
		tx_reference(m->tx, m->reference, sizeof(m->reference));
		ev_json = NULL; /* parsed: from the event cache */
	} else if (!(status = status_from_hash(r, m, &ev_json))) {
		return NULL;
	}
	if (ev_json && event_parse(ev_json, strlen(ev_json), &m->ev, err, sizeof(err)) != 0) {
		s = step_of("permanent-failure", "stored event is unreadable");
		s.ack = 1;
		state_step(r, m, &s);
		return NULL;
	}
	if (!strcmp(m->service, "-"))
		snprintf(m->service, sizeof(m->service), "%s", m->ev.service);
	return status;
}

/* A message not to send now: finished already (a duplicate entry), "sent"
 * with its receipt deadline come due (or not yet), or held until
 * send_after. Returns 1 when so (recorded). */
static int not_to_send(struct router *r, struct msg *m, const char *status, int64_t now)
{
	const json_t *st = m->state;
	char why[512];
	struct step s;

	if (status_is_terminal(status) || (!strcmp(status, "sent") && !m->ev.deliver_within) ||
	    (!strcmp(status, "sent") && field_str(st, "final"))) {
		msg_ack_only(r, m); /* finished already: a duplicate entry */
		return 1;
	}
	if (!strcmp(status, "sent")) {
		/* A receipt deadline came due. */
		int64_t due = field_int(st, "sent_ms", 0) + m->ev.deliver_within * 1000;
		if (now + 50 < due) {
			s = step_of("sent", "receipt deadline not reached");
			s.sched_ms = due;
			s.ack = 1;
			state_step(r, m, &s);
		} else {
			snprintf(why, sizeof(why), "no delivery receipt within %llds",
				 (long long)m->ev.deliver_within);
			failover_hop(r, m, why);
		}
		return 1;
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
		return 1;
	}
	return 0;
}

/* No plan can be made (unknown citizen, no usable channel): a permanent
 * failure, and a dead letter with its reason, so that heraldctl dead
 * replay, once the citizen record is fixed, re-plans it (a replay clears
 * the plan: this step resolves it again). */
static void plan_failed(struct router *r, struct msg *m, const char *why)
{
	struct step s = step_of("permanent-failure", why);

	s.ack = 1;
	s.no_channel = 1;
	s.dead = 1;
	state_step(r, m, &s);
	log_warnx("%s: dead-lettered: %s", m->event_id, why);
}

/* The plan of channels, resolved at the first attempt (resolve.c), the
 * channel the citizen engaged on first. Returns 1 when there is none
 * (recorded as a permanent failure and dead-lettered). */
static int make_plan(struct router *r, struct msg *m)
{
	char why[512];

	if (m->plan[0])
		return 0;
	if (!m->citizen_rec || json_object_size(m->citizen_rec) == 0) {
		snprintf(why, sizeof(why), "unknown citizen %s", m->citizen);
		plan_failed(r, m, why);
		return 1;
	}
	if (resolve_plan(m->citizen_rec, m->service, m->ev.channels, &r->chans, m->plan,
			 sizeof(m->plan), why, sizeof(why)) == 0) {
		char reason[600];
		snprintf(reason, sizeof(reason), "no usable channel: %s", why);
		plan_failed(r, m, reason);
		return 1;
	}
	m->plan_idx = 0;
	m->attempt = 0;
	prefer_engaged(m);
	return 0;
}

/* The channel at the plan's position, and the citizen's address on it,
 * masked for the logs. Returns 1 when there is none here (m hopped on). */
static int pick_channel(struct router *r, struct msg *m)
{
	char why[512], name[64];
	const char *addr;
	struct step s;

	if (!plan_channel(m->plan, m->plan_idx, name, sizeof(name))) {
		failover_hop(r, m, "plan position past its end");
		return 1;
	}
	m->chan = chans_find(&r->chans, name);
	if (!m->chan) {
		snprintf(why, sizeof(why), "channel %s is not running on this heraldd", name);
		s = step_of("permanent-failure", why);
		s.no_channel = 1;
		state_step(r, m, &s);
		failover_hop(r, m, why);
		return 1;
	}
	addr = m->chan->desc->address_field
		   ? field_str(m->citizen_rec, m->chan->desc->address_field)
		   : NULL;
	if (addr)
		mask_contact(addr, m->to_masked, sizeof(m->to_masked));
	else
		snprintf(m->to_masked, sizeof(m->to_masked), "-");
	return 0;
}

void prepare_msg(struct router *r, struct msg *m)
{
	int64_t now = now_ms();
	const char *status;
	char err[512];
	struct step s;

	if (m->read_failed) {
		/* a record's read got no answer (Redis lost) or an error: no
		 * "unknown citizen" from a missing reply. Nothing recorded, no
		 * XACK: the entry stays pending, taken again after the reconnect
		 * (stream_on_reconnect) or by a claim once its lease runs out */
		log_info("%s: a Redis read failed; left pending, to be taken again", m->event_id);
		metrics_count("stream_reads_failed", NULL, 1);
		goto drop;
	}
	status = status_and_event(r, m);
	if (!status || not_to_send(r, m, status, now) || make_plan(r, m) || pick_channel(r, m) ||
	    control_held(r, m) || control_suspended(r, m) || hold_for_quiet_hours(r, m))
		goto drop;
	submit_attempt(m, status);
	if (render(r, m, err, sizeof(err)) != 0) {
		char reason[600];
		snprintf(reason, sizeof(reason), "cannot render: %s", err);
		s = step_of("permanent-failure", reason);
		state_step(r, m, &s);
		failover_hop(r, m, reason);
		goto drop;
	}
	m->prepared_us = now_us();
	m->prepared_ms = m->prepared_us / 1000;
	submit_or_backlog(r, m);
	return;
drop:
	msg_free(m);
}
