/*
 * resolve.c - from a citizen record to an ordered plan of channels.
 *
 * The plan is the citizen's preference order (`channels`, comma separated),
 * narrowed to the event's `channels` when given, minus channels the citizen
 * opted out of (`optout`, and `optout@SERVICE` for the event's service,
 * see optout.h), channels marked invalid (`invalid`, learnt from
 * failures), channels this heraldd does not run, and channels for which the
 * citizen has no address. Every skip is explained in `why`.
 */
#include <stdio.h>
#include <string.h>

#include "optout.h"
#include "plan.h"
#include "router.h"

static int in_array(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) if (json_is_string(v) &&
					  !strcmp(json_string_value(v), name)) return 1;
	return 0;
}

static void append(char *buf, size_t len, const char *sep, const char *text)
{
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "%s%s", n ? sep : "", text);
}

int resolve_plan(const json_t *citizen, const char *service, const json_t *event_channels,
		 struct chanset *cs, char *plan, size_t planlen, char *why, size_t whylen)
{
	const char *pref = json_string_value(json_object_get(citizen, "channels"));
	const char *optout = json_string_value(json_object_get(citizen, OPTOUT_FIELD));
	const char *svc_optout = NULL;
	char field[OPTOUT_FIELD_MAX];
	const char *invalid = json_string_value(json_object_get(citizen, CIT_F_INVALID));
	char name[64], note[128];

	plan[0] = '\0';
	why[0] = '\0';
	if (service && *service && optout_field(service, field, sizeof(field)) == 0)
		svc_optout = json_string_value(json_object_get(citizen, field));
	if (!pref || !*pref) {
		snprintf(why, whylen, "citizen has no channel preference");
		return 0;
	}
	for (int i = 0; plan_channel(pref, i, name, sizeof(name)); i++) {
		/* plan_channel does not trim: tolerate "sms, email" */
		char *nm = name;
		while (*nm == ' ')
			nm++;
		for (size_t l = strlen(nm); l && nm[l - 1] == ' ';)
			nm[--l] = '\0';
		if (!*nm || list_has(plan, nm))
			continue;
		if (event_channels && !in_array(event_channels, nm))
			continue; /* narrowed by the event: not a failure, no note */
		struct chan *c = chans_find(cs, nm);
		if (optout && list_has(optout, nm)) {
			snprintf(note, sizeof(note), "%s: opted out", nm);
		} else if (svc_optout && list_has(svc_optout, nm)) {
			snprintf(note, sizeof(note), "%s: opted out of this service", nm);
		} else if (invalid && list_has(invalid, nm)) {
			snprintf(note, sizeof(note), "%s: address marked invalid", nm);
		} else if (!c) {
			snprintf(note, sizeof(note), "%s: channel not enabled", nm);
		} else if (c->desc->address_field &&
			   !(json_string_value(json_object_get(citizen, c->desc->address_field)) &&
			     *json_string_value(
				 json_object_get(citizen, c->desc->address_field)))) {
			snprintf(note, sizeof(note), "%s: no %s on record", nm,
				 c->desc->address_field);
		} else {
			if (strlen(plan) + strlen(nm) + 2 > planlen)
				break;
			append(plan, planlen, ",", nm);
			continue;
		}
		append(why, whylen, "; ", note);
	}
	if (!plan[0] && !why[0])
		snprintf(why, whylen,
			 "none of the event's channels is in the citizen's preferences");
	return plan_len(plan);
}
