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
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "optout.h"
#include "redis.h"
#include "router.h"
#include "schema.h"
#include "msgstate.h"
#include "text.h"

int optout_add(struct router *r, struct msg *m, const char *service, const char *channel,
	       const char *why)
{
	char field[OPTOUT_FIELD_MAX], at[OPTOUT_FIELD_MAX + 8], when[40], note[512];
	redisReply *rep;
	long long rc = -2;

	if (optout_field(service, field, sizeof(field)) < 0 || !citizen_channel_valid(channel))
		return -1;
	snprintf(at, sizeof(at), "%s" OPTOUT_AT_SUFFIX, field);
	rfc3339_format(now_ms(), when, sizeof(when));
	snprintf(note, sizeof(note), "%s %s: %s (event %s)", when, channel, why, m->event_id);
	rep = rdb_call(r->rdb, "FCALL herald_list_add 0 %s %s %s %s %s %d", m->citizen, field, at,
		       channel, note, CITIZEN_LIST_MAX);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[0]->type == REDIS_REPLY_INTEGER &&
	    rep->element[1]->type == REDIS_REPLY_STRING) {
		rc = rep->element[0]->integer;
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
	return rc == 1 || rc == 0 ? (int)rc : rc == -1 ? -1 : -2;
}
