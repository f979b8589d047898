/*
 * resolve.c - from a citizen record to an ordered plan of channels.
 *
 * The plan is the citizen's preference order (`channels`, comma separated),
 * narrowed to the event's `channels` when given, minus channels the citizen
 * opted out of (`optout`), channels marked invalid (`invalid`, learnt from
 * failures), channels this heraldd does not run, and channels for which the
 * citizen has no address. Every skip is explained in `why`.
 */
#include <stdio.h>
#include <string.h>

#include "router.h"

/* Is name in the comma-separated list (spaces around items ignored)? */
int resolve_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

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

int plan_len(const char *plan)
{
	int n = 0;

	if (!plan || !*plan)
		return 0;
	for (const char *p = plan; *p; p++)
		n += *p == ',';
	return n + 1;
}

const char *plan_channel(const char *plan, int idx, char *out, size_t outlen)
{
	const char *p = plan;

	for (int i = 0; i < idx && p; i++) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p || !*p)
		return NULL;
	const char *e = strchr(p, ',');
	size_t len = e ? (size_t)(e - p) : strlen(p);
	if (len >= outlen)
		return NULL;
	memcpy(out, p, len);
	out[len] = '\0';
	return out;
}

int resolve_plan(const json_t *citizen, const json_t *event_channels, struct chanset *cs,
		 char *plan, size_t planlen, char *why, size_t whylen)
{
	const char *pref = json_string_value(json_object_get(citizen, "channels"));
	const char *optout = json_string_value(json_object_get(citizen, "optout"));
	const char *invalid = json_string_value(json_object_get(citizen, "invalid"));
	char name[64], note[128];

	plan[0] = '\0';
	why[0] = '\0';
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
		if (!*nm || resolve_in_list(plan, nm))
			continue;
		if (event_channels && !in_array(event_channels, nm))
			continue; /* narrowed by the event: not a failure, no note */
		struct chan *c = chans_find(cs, nm);
		if (optout && resolve_in_list(optout, nm)) {
			snprintf(note, sizeof(note), "%s: opted out", nm);
		} else if (invalid && resolve_in_list(invalid, nm)) {
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
