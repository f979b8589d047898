/*
 * optout.c - adding a channel to a citizen's opt-outs, for every service
 * (a complaint) or for one (an unsubscribe, an SMS STOP). The field names
 * are in optout.h; the plan reads them in resolve.c.
 */
#include <stdio.h>
#include <string.h>

#include "optout.h"
#include "plan.h"
#include "redis.h"
#include "router.h"
#include "schema.h"
#include "msgstate.h"
#include "text.h"

int optout_add(struct router *r, struct msg *m, const char *service, const char *channel,
	       const char *why)
{
	char field[OPTOUT_FIELD_MAX], list[256], when[40], note[512];
	const char *old;

	if (optout_field(service, field, sizeof(field)) < 0)
		return -1;
	old = m->citizen_rec ? field_str(m->citizen_rec, field) : NULL;
	if (old && list_has(old, channel))
		return 0;
	if (list_add(old, channel, list, sizeof(list)) < 0)
		return -1;
	rfc3339_format(now_ms(), when, sizeof(when));
	snprintf(note, sizeof(note), "%s %s: %s (event %s)", when, channel, why, m->event_id);
	rdb_cmdf(r->rdb, NULL, NULL, "HSET " KEY_CITIZEN "%s %s %s %s" OPTOUT_AT_SUFFIX " %s",
		 m->citizen, field, list, field, note);
	if (m->citizen_rec)
		json_object_set_new(m->citizen_rec, field, json_string(list));
	return 1;
}
