/*
 * submit.c - hand a rendered message to its channel plugin ("sending"); a
 * plugin that is busy leaves it in the backlog, submitted again each loop
 * turn in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e164.h"
#include "bounce.h"
#include "metrics.h"
#include "msgstate.h"
#include "policy.h"
#include "submit.h"
#include "testmode.h"
#include "text.h"

void submit_dup_tag(const struct msg *m, const char *kind, char *out, size_t len)
{
	snprintf(out, len, "%s:%d:%u", kind, m->plan_idx, m->attempt);
}

int submit_ref_early(const struct chan *c)
{
	return c->desc->receipt != NULL || !strcmp(c->name, BOUNCE_CHANNEL);
}

int submit_dup_is(const struct msg *m, const char *kind)
{
	const char *dup = m->state ? field_str(m->state, "dup") : NULL;
	char tag[64];

	submit_dup_tag(m, kind, tag, sizeof(tag));
	return dup && !strcmp(dup, tag);
}

void submit_attempt(struct msg *m, const char *status)
{
	int resume = m->retaken && !strcmp(status, "sending") && m->attempt > 0;

	/* "abandoned": the plugin said it never started it (outcome.c) */
	m->possible_dup = m->retaken && !(resume && submit_dup_is(m, "abandoned"));
	if (!resume)
		m->attempt++;
}

void submit_stop(struct router *r)
{
	for (int i = 0; i < r->chans.n; i++) {
		const struct herald_channel *d = r->chans.ch[i].desc;
		if (d->version >= 2 && d->drain)
			d->drain(r->chans.ch[i].state);
	}
}

/* A channel citizens can answer on (an inbound() plugin: SMS): the number
 * leads a reply to this message (herald:mo:, router/inbound_sms.c). One
 * command on the pipeline. */
static void mo_index(struct router *r, const struct msg *m, const char *to)
{
	const struct herald_channel *d = m->chan->desc;
	char member[4 * 130];

	if (d->version < 4 || !d->inbound || !to || !e164_valid(to))
		return;
	snprintf(member, sizeof(member), "%s %s %s %s", m->service, m->tx, m->event_id, m->citizen);
	rdb_cmdf(r->rdb, NULL, NULL, "FCALL herald_mo 0 %s %lld %s %lld", to, (long long)now_ms(),
		 member, (long long)r->ttl_s);
}

/* Hand a rendered message to its plugin: 0 taken, -1 plugin busy. */
static int submit(struct router *r, struct msg *m)
{
	struct herald_msg hm;
	const struct herald_channel *d = m->chan->desc;
	struct step s;

	if (r->draining) /* stopping: the plugins start nothing more */
		return -1;
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
	hm.to = d->address_field ? field_str(m->citizen_rec, d->address_field) : NULL;
	hm.subject = m->subject;
	hm.body = m->body;
	hm.html = m->html;
	hm.meta = m->meta;
	hm.attempt = m->attempt;
	hm.urgent = m->ev.priority == PRIO_URGENT;
	provider_ref(r->ref_key, m->event_id, m->chan->name, m->plan_idx, m->pref);
	hm.provider_ref = m->pref;
	hm.possible_duplicate = m->possible_dup;
	/* test / trial mode: heraldd answers, the plugin is not called */
	if (!testmode_intercept(r, m, hm.to) && d->submit(m->chan->state, &hm) != 0) {
		m->id = 0;
		return -1;
	}
	/* the reference leads a receipt to the message from now on, even one
	 * that overtakes the "sent" (receipt.c holds it until then); on the
	 * pipeline, no round trip. A channel nothing can look it up on before
	 * the result gets it with a "sent" that waits for more (outcome.c). */
	if (submit_ref_early(m->chan))
		rdb_cmdf(r->rdb, NULL, NULL, "SET " KEY_REF "%s:%s %s EX %lld", m->chan->name,
			 m->pref, m->event_id, (long long)policy_ttl_s(r, m->service));
	mo_index(r, m, hm.to);
	m->chan->submitted++;
	if (m->possible_dup)
		metrics_count("possible_duplicates", m->chan->name, 1);
	m->submitted_us = now_us();
	m->submitted_ms = m->submitted_us / 1000;
	idmap_put(r->inflight, m->id, m);
	/* What was sent, without what it said: the rendered subject carries
	 * the citizen's personalisation, which stays out of the logs. (Plan
	 * and position go to the hash's "at" with every step.) */
	char what[EVENT_MAX_ID + 64];
	snprintf(what, sizeof(what), "template %s, locale %s", m->ev.template_name,
		 m->locale ? m->locale : "-");
	s = step_of("sending", m->note[0] ? m->note : what);
	/* the mark stays with the attempt (receipts read it back); a
	 * message never marked has no such field */
	char tag[64];
	const char *dup_kv[] = {"dup", tag};
	if (m->possible_dup) {
		submit_dup_tag(m, "possible", tag, sizeof(tag));
		s.kv = dup_kv;
		s.nkv = 1;
	}
	state_step(r, m, &s);
	msg_release_rendered(m);
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

void submit_or_backlog(struct router *r, struct msg *m)
{
	if (submit(r, m) != 0)
		backlog_push(r, m);
}

void submit_backlog(struct router *r)
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
