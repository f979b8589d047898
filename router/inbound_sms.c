/*
 * inbound_sms.c - messages citizens send back by SMS (issue #16), parsed
 * by the sms plugin's inbound() on the HTTP thread (http_inbound.c) and
 * applied here, on the router thread:
 *
 *   the sender's number leads to the SMS heraldd sent it lately
 *   (herald:mo:<number>, written by herald_mo at every hand-over,
 *   submit.c): the newest whose message record is still there (not
 *   expired or purged, not deleted by an operator). None: logged (number
 *   masked), counted in herald_inbound_unmatched_total{channel="sms"}, and
 *   the gateway gets its 200 all the same.
 *
 *   STOP, UNSUBSCRIBE, STOPIO or a [channel.sms] stop_keywords word
 *   (lib/smsstop.h): the citizen is opted out of SMS for that message's
 *   service (optout@SERVICE, optout.c); an `unsubscribed` record goes to
 *   its journey, the delivery log and the service's callback;
 *   herald_sms_unsubscribes_total{service}.
 *
 *   Anything else: an engagement on that message's transaction on sms
 *   (herald_engage, deduplicated by the gateway's message id, so a resent
 *   request counts once), recorded as an `inbound` record in the journey
 *   and the delivery log (its length, never its text), and passed to the
 *   service's callback with the text; herald_sms_replies_total{service}.
 *
 * Inbound messages are rare (like bounces, bounce.c), so the look-ups are
 * synchronous calls on the router thread. The gateway is answered after
 * (http_inbound_done): 200 once the opt-out or the engagement is in Redis
 * (or there was nothing to do: no message for the number, a STOP already
 * recorded, a reply heard before); 503 when Redis is down or did not
 * answer one of these calls, so the gateway sends it again and nothing is
 * acknowledged that was not recorded. A STOP's opt-out and its
 * `unsubscribed` journey record are one function call (optout_add): both
 * land or neither; the delivery log and the callback get the record once
 * Redis has answered (a call whose answer is lost leaves them without it,
 * the journey with it). A reply's engagement and its `inbound` record
 * are one call too (herald_engage).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heldwrite.h"
#include "http.h"
#include "inbound_sms.h"
#include "log.h"
#include "mask.h"
#include "metrics.h"
#include "msgrec.h"
#include "msgstate.h"
#include "optout.h"
#include "policy.h"
#include "smsstop.h"
#include "text.h"

/* The message member names ("<service> <tx> <event_id> <citizen>"), its
 * record read; NULL when it is gone or ended by an operator, or (*err set)
 * when Redis did not answer. */
static struct msg *member_msg(struct router *r, const char *member, int *err)
{
	char svc[EVENT_MAX_ID + 1], tx[EVENT_MAX_ID + 1], ev[EVENT_MAX_ID + 1],
	    cit[EVENT_MAX_ID + 1];
	redisReply *rep;
	struct msg *m;
	const char *st;

	if (sscanf(member, "%128s %128s %128s %128s", svc, tx, ev, cit) != 4)
		return NULL;
	rep = rdb_call(r->rdb, "HGETALL " KEY_MSG "%s", ev);
	if (!rep || rep->type != REDIS_REPLY_ARRAY) {
		*err = 1;
		freeReplyObject(rep);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		*err = 1;
		freeReplyObject(rep);
		return NULL;
	}
	m->state = rep ? reply_to_object(rep) : NULL;
	freeReplyObject(rep);
	st = m->state ? field_str(m->state, MSG_F_STATUS) : NULL;
	if (!m->state || json_object_size(m->state) == 0 || (st && !strcmp(st, STATUS_DELETED))) {
		msg_free(m);
		return NULL;
	}
	snprintf(m->event_id, sizeof(m->event_id), "%s", ev);
	snprintf(m->tx, sizeof(m->tx), "%s", tx);
	snprintf(m->citizen, sizeof(m->citizen), "%s", cit);
	msg_load_state(r, m);
	return m;
}

/* The newest SMS sent to number whose record is still there, or NULL
 * (*err set when Redis did not answer). */
static struct msg *number_msg(struct router *r, const char *number, int *err)
{
	redisReply *rep = rdb_call(r->rdb, "ZREVRANGE " KEY_MO "%s 0 -1", number);
	struct msg *m = NULL;

	if (!rep || rep->type != REDIS_REPLY_ARRAY)
		*err = 1;
	for (size_t i = 0; !*err && i < rep->elements && !m; i++)
		if (rep->element[i]->type == REDIS_REPLY_STRING)
			m = member_msg(r, rep->element[i]->str, err);
	freeReplyObject(rep);
	return m;
}

/* 0 done (or never possible: a bad service name), -1 not recorded. */
static int apply_stop(struct router *r, struct msg *m, struct chan *sms, const char *masked)
{
	char reason[200];
	struct step s;
	struct optout_rec rec = {.chan = sms, .to_masked = masked, .step = &s, .journey = 1};
	int rc;

	msg_load_citizen(r, m);
	snprintf(reason, sizeof(reason), "citizen texted STOP: opted out of sms for %s",
		 m->service);
	s = step_of("unsubscribed", reason);
	/* the opt-out and its record in one call: both or neither */
	rc = optout_add(r, m, m->service, "sms", "STOP by SMS reply", &rec);
	if (rc == -2) {
		log_warnx("%s: STOP from %s not recorded (Redis did not answer): the gateway is "
			  "answered 503 and sends it again",
			  m->event_id, masked);
		return -1;
	}
	if (rc < 0) {
		log_warnx("%s: STOP from %s, but the opt-out of service %s cannot be recorded",
			  m->event_id, masked, m->service);
		return 0;
	}
	if (rc == 0) {
		log_info("%s: STOP from %s: already opted out of sms for %s", m->event_id, masked,
			 m->service);
		return 0;
	}
	metrics_count_service("sms_unsubscribes", m->service, 1);
	log_info("%s: citizen %s texted STOP from %s: opted out of sms for service %s", m->event_id,
		 m->citizen, masked, m->service);
	return 0;
}

/* The dedup id of the reply: "mo-" + the gateway's id, or one made up
 * (a gateway that gives none cannot be heard once only). */
static void reply_id(const struct herald_inbound *in, char *out, size_t len)
{
	static unsigned seq;

	if (in->id[0])
		snprintf(out, len, MO_ID_PREFIX "%s", in->id);
	else
		snprintf(out, len, MO_ID_PREFIX "t%lld-%u", (long long)now_us(), ++seq);
}

/* herald_engage with the `inbound` journey record (json) written in the
 * same call when the engagement is new; its answer, -1 when Redis did not
 * give one. *together is set when the record went with it (an older
 * library, before 1, ignores it and answers an integer). */
static long long engage_call(struct router *r, const struct msg *m, const char *id,
			     const char *chan, const char *mbuf, const char *json, int *together)
{
	char txkey[160];
	redisReply *rep;
	long long rc = -1;

	key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx);
	rep = rdb_call(r->rdb, "FCALL herald_engage 0 %lld %s %s %s %s %s %s %s %lld",
		       (long long)r->ttl_s, id, m->service, m->tx, chan, mbuf, txkey, json,
		       (long long)policy_ttl_s(r, m->service));
	*together = 0;
	if (rep && rep->type == REDIS_REPLY_INTEGER) {
		rc = rep->integer;
	} else if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		   rep->element[0]->type == REDIS_REPLY_INTEGER) {
		rc = rep->element[0]->integer;
		*together = 1;
	} else if (rep && rep->type == REDIS_REPLY_ERROR) {
		log_warnx("inbound sms: herald_engage failed: %s", rep->str);
	}
	freeReplyObject(rep);
	return rc;
}

/* 0 done (or heard before), -1 not recorded. The engagement and its
 * `inbound` journey record are one call: both or neither. */
static int apply_reply(struct router *r, struct msg *m, struct chan *sms,
		       const struct herald_inbound *in, const char *masked)
{
	struct msgrec_meta meta = {.accepted_ms = now_ms()};
	char id[EVENT_MAX_ID + 1], mbuf[2 * MSGREC_ID_MAX + 48], reason[200];
	char json[MSG_JOURNEY_JSON_MAX];
	struct step s;
	long long rc;
	int together;

	reply_id(in, id, sizeof(id));
	snprintf(meta.service, sizeof(meta.service), "%s", m->service);
	snprintf(meta.citizen, sizeof(meta.citizen), "%s", m->citizen);
	if (msgrec_meta_format(mbuf, sizeof(mbuf), &meta) != 0)
		snprintf(mbuf, sizeof(mbuf), "-");
	snprintf(reason, sizeof(reason),
		 "citizen replied by SMS (%zu bytes%s); later messages of the transaction prefer "
		 "sms",
		 strlen(in->text), in->truncated ? ", cut" : "");
	s = step_of("inbound", reason);
	s.cb_text = in->text;
	msg_journey_json(m, sms, masked, &s, json, sizeof(json));
	rc = engage_call(r, m, id, sms->name, mbuf, json, &together);
	if (rc < 0) {
		log_warnx("%s: SMS reply from %s not recorded (Redis did not answer): the gateway "
			  "is answered 503 and sends it again",
			  m->event_id, masked);
		return -1;
	}
	if (rc != 1 && rc != 2) {
		log_info("%s: SMS reply %s from %s heard before: ignored", m->event_id, id, masked);
		return 0;
	}
	metrics_count_service("sms_replies", m->service, 1);
	s.log_only = together; /* else written as before */
	msg_journal(r, m, sms, masked, &s);
	log_info("%s: citizen %s replied by SMS from %s (%zu bytes): tx %s prefers sms",
		 m->event_id, m->citizen, masked, strlen(in->text), m->tx);
	return 0;
}

/* 0 applied (or nothing to apply), -1 not recorded: the gateway is to
 * send it again. */
static int apply(struct router *r, struct chan *c, const struct herald_inbound *in)
{
	char masked[64];
	struct msg *m;
	int err = 0, rc;

	mask_contact(in->from, masked, sizeof(masked));
	m = number_msg(r, in->from, &err);
	if (err) {
		log_warnx("inbound %s from %s: not applied (Redis did not answer): the gateway is "
			  "answered 503 and sends it again",
			  c->name, masked);
		return -1;
	}
	if (!m) {
		metrics_count("inbound_unmatched", c->name, 1);
		log_msg(LOG_L_NOTICE,
			"inbound %s from %s: no message sent to that number lately: ignored",
			c->name, masked);
		return 0;
	}
	if (smsstop_match(in->text, r->cfg->sms_stop_keywords))
		rc = apply_stop(r, m, c, masked);
	else
		rc = apply_reply(r, m, c, in, masked);
	msg_free(m);
	return rc;
}

void inbound_sms_poll(struct router *r)
{
	struct herald_inbound in[8];
	struct chan *ch[8];
	void *tok[8];
	int n;

	if (!r->http)
		return;
	do {
		n = http_inbound_pop(r->http, in, ch, tok, 8);
		for (int i = 0; i < n; i++) {
			const char *name = ch[i] ? ch[i]->name : "?";
			int ok;
			if (!rdb_ok(r->rdb)) { /* nothing tried: 503, sent again later */
				char masked[64];
				mask_contact(in[i].from, masked, sizeof(masked));
				log_warnx(
				    "inbound %s from %s: not applied (Redis is down): answered "
				    "503, the gateway sends it again",
				    name, masked);
				ok = 0;
			} else {
				ok = !ch[i] || apply(r, ch[i], &in[i]) == 0;
			}
			if (!ok)
				metrics_count("inbound_retry_later", name, 1);
			http_inbound_done(r->http, tok[i], ok);
		}
	} while (n == 8);
}
