/*
 * optout.c - adding a channel to a citizen's opt-outs, for every service
 * (a complaint) or for one (an unsubscribe, an SMS STOP). The field names
 * are in optout.h; the plan reads them in resolve.c.
 *
 * The list is changed in Redis by one function call (herald_list_add,
 * scripts.c), never computed from the copy of the citizen's hash this
 * message loaded: another heraldd or heraldctl optout may have added a
 * refusal since, and writing the copy back would drop it. The copy is
 * updated from the function's answer (the list as Redis has it now).
 *
 * What the refusal is recorded with (its journey record; the inbound entry
 * a complaint came in) goes in that same call (struct optout_rec), so that
 * Redis failing between two writes cannot keep one and lose the other.
 */
#include <stdio.h>
#include <string.h>

#include "heldwrite.h"
#include "log.h"
#include "optout.h"
#include "policy.h"
#include "redis.h"
#include "router.h"
#include "schema.h"
#include "msgstate.h"
#include "text.h"

/* The FCALL, with rec's journey record and acknowledgement when given. */
static redisReply *list_add_call(struct router *r, const struct msg *m, const char *field,
				 const char *at, const char *channel, const char *note,
				 const struct optout_rec *rec, const char *json)
{
	char txkey[160] = "";

	if (!rec)
		return rdb_call(r->rdb, "FCALL herald_list_add 0 %s %s %s %s %s %d", m->citizen,
				field, at, channel, note, CITIZEN_LIST_MAX);
	if (rec->journey)
		key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx);
	return rdb_call(r->rdb, "FCALL herald_list_add 0 %s %s %s %s %s %d %s %s %lld %s %s %s",
			m->citizen, field, at, channel, note, CITIZEN_LIST_MAX, txkey, json,
			(long long)policy_ttl_s(r, m->service), rec->always ? "1" : "0",
			rec->ack_stream ? rec->ack_stream : "", rec->ack_id ? rec->ack_id : "");
}

int optout_add(struct router *r, struct msg *m, const char *service, const char *channel,
	       const char *why, struct optout_rec *rec)
{
	char field[OPTOUT_FIELD_MAX], at[OPTOUT_FIELD_MAX + 8], when[40], note[512];
	char json[MSG_JOURNEY_JSON_MAX] = "";
	redisReply *rep;
	long long rc = -2;
	int together = 0; /* the record went with the refusal (library >= 1) */

	if (rec)
		rec->written = rec->acked = 0;
	if (optout_field(service, field, sizeof(field)) < 0 || !citizen_channel_valid(channel))
		return -1;
	snprintf(at, sizeof(at), "%s" OPTOUT_AT_SUFFIX, field);
	rfc3339_format(now_ms(), when, sizeof(when));
	snprintf(note, sizeof(note), "%s %s: %s (event %s)", when, channel, why, m->event_id);
	if (rec)
		msg_journey_json(m, rec->chan, rec->to_masked, rec->step, json, sizeof(json));
	rep = list_add_call(r, m, field, at, channel, note, rec, json);
	if (rep && rep->type == REDIS_REPLY_ARRAY && (rep->elements == 2 || rep->elements == 3) &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		rc = rep->element[0]->integer;
		together = rep->elements == 3;
		if (m->citizen_rec && rep->element[1]->len)
			json_object_set_new(
			    m->citizen_rec, field,
			    json_stringn(rep->element[1]->str, rep->element[1]->len));
		if (m->citizen_rec && rc == 1)
			json_object_set_new(m->citizen_rec, at, json_string(note));
	} else {
		log_warnx("%s: herald_list_add on citizen %s: %s", m->event_id, m->citizen,
			  !rep				   ? rdb_err(r->rdb)
			  : rep->type == REDIS_REPLY_ERROR ? rep->str
							   : "unexpected reply");
	}
	freeReplyObject(rep);
	if (rec && (rc == 1 || (rec->always && (rc == 0 || rc == -1)))) {
		/* in Redis with the refusal: now the logs and the callback
		 * (an older library ignored the record: written as before) */
		rec->written = 1;
		rec->step->log_only = together || !rec->journey;
		msg_journal(r, m, rec->chan, rec->to_masked, rec->step);
	}
	if (rec && together)
		rec->acked = rec->ack_stream != NULL;
	return rc == 1 || rc == 0 ? (int)rc : rc == -1 ? -1 : -2;
}
