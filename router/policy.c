/* policy.c - an event against its publisher's services.d policy (policy.h). */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "service.h"
#include "zap.h"

/* An event without "channels" from a service limited to some: the enabled
 * channels it may use, as the event's (resolve.c narrows the citizen's
 * preferences to them). 0 unchanged (it may use every enabled channel), 1
 * narrowed, -1 none left. */
static int narrow_channels(struct router *r, const struct service *sv, struct event *ev)
{
	json_t *list;
	int all = 1;

	/* the common case, a service that may use every enabled channel,
	 * costs no allocation (issue #13: this runs for every event) */
	for (int i = 0; i < r->chans.n && all; i++)
		all = service_may_channel(sv, r->chans.ch[i].name);
	if (all)
		return 0;
	if (!(list = json_array()))
		return -1;
	for (int i = 0; i < r->chans.n; i++) {
		const char *name = r->chans.ch[i].name;
		if (service_may_channel(sv, name))
			json_array_append_new(list, json_string(name));
	}
	if (json_array_size(list) == 0) {
		json_decref(list);
		return -1;
	}
	json_object_set_new(ev->root, "channels", list);
	ev->channels = list;
	return 1;
}

static int check_notification(struct router *r, const struct service *sv, struct event *ev,
			      int *changed, char *err, size_t errlen)
{
	char list[512];
	size_t i;
	json_t *c;

	if (!service_may_template(sv, ev->template_name)) {
		snprintf(err, errlen, "service '%s' may not use template '%s' (templates = %s)",
			 sv->name, ev->template_name,
			 service_list(sv->templates, sv->ntemplates, list, sizeof(list)));
		return -1;
	}
	if (ev->priority == PRIO_URGENT && !sv->urgent) {
		snprintf(err, errlen,
			 "service '%s' may not send priority 'urgent' (it overrides quiet hours; "
			 "urgent = no)",
			 sv->name);
		return -1;
	}
	json_array_foreach(ev->channels, i, c)
	{
		if (!service_may_channel(sv, json_string_value(c))) {
			snprintf(err, errlen,
				 "service '%s' may not use channel '%s' (channels = %s)", sv->name,
				 json_string_value(c),
				 service_list(sv->channels, sv->nchannels, list, sizeof(list)));
			return -1;
		}
	}
	if (ev->reply_to_id && !service_reply_to(sv, ev->reply_to_id)) {
		char ids[512];
		size_t off = 0;
		ids[0] = '\0';
		for (int k = 0; k < sv->nreply && off < sizeof(ids); k++)
			if (sv->reply_ids[k][0])
				off += (size_t)snprintf(ids + off, sizeof(ids) - off, "%s%s",
							off ? ", " : "", sv->reply_ids[k]);
		snprintf(err, errlen,
			 "service '%s' has no reply_to with id '%s' (its reply_to ids: %s)",
			 sv->name, ev->reply_to_id, ids[0] ? ids : "none");
		return -1;
	}
	if (!ev->channels) {
		int n = narrow_channels(r, sv, ev);
		if (n < 0) {
			snprintf(
			    err, errlen,
			    "service '%s' may use none of the enabled channels (channels = %s)",
			    sv->name,
			    service_list(sv->channels, sv->nchannels, list, sizeof(list)));
			return -1;
		}
		*changed |= n;
	}
	return 0;
}

int policy_check(struct router *r, const char *user_id, struct event *ev, char **body, char *err,
		 size_t errlen)
{
	const struct service *sv;
	int changed = 0;

	*body = NULL;
	if (!zap_curve(r->zap)) {
		if (ev->service)
			return 0;
		snprintf(err, errlen, "missing required field 'service'");
		return -1;
	}
	if (!user_id || !*user_id) {
		snprintf(err, errlen, "not authenticated"); /* libzmq always sets it */
		return -1;
	}
	if (ev->service && strcmp(ev->service, user_id) != 0) {
		snprintf(err, errlen, "service '%s' does not match this key (service '%s')",
			 ev->service, user_id);
		return -1;
	}
	sv = zap_service(r->zap, user_id);
	if (!sv) {
		snprintf(
		    err, errlen,
		    "service '%s' is no longer in services.d (removed by a reload); its key is "
		    "refused from the next connection",
		    user_id);
		return -1;
	}
	if (ev->kind == EVENT_NOTIFICATION &&
	    check_notification(r, sv, ev, &changed, err, errlen) != 0)
		return -1;
	if (!ev->service) {
		json_object_set_new(ev->root, "service", json_string(sv->name));
		ev->service = json_string_value(json_object_get(ev->root, "service"));
		changed = 1;
	}
	if (changed && !(*body = json_dumps(ev->root, JSON_COMPACT))) {
		snprintf(err, errlen, "out of memory, retry later");
		return -1;
	}
	return 0;
}

/* 1 if ev may use channel ch: its "channels" (policy_check narrowed an
 * event without them to the service's), else any enabled channel. */
static int event_may_use(struct router *r, const struct event *ev, const char *ch)
{
	size_t i;
	json_t *c;

	if (!ev->channels)
		return chans_find(&r->chans, ch) != NULL;
	json_array_foreach(ev->channels, i, c)
	{
		if (!strcmp(json_string_value(c), ch))
			return 1;
	}
	return 0;
}

void policy_limits(struct router *r, const struct event *ev, char *buf, size_t buflen)
{
	const struct service *sv = NULL;
	size_t off;
	int nch = 0;

	if (zap_curve(r->zap) && ev->service)
		sv = zap_service(r->zap, ev->service);
	/* "0": herald_accept skips the rate and daily-limit work (no
	 * formatting either: this runs for every event) */
	if (!sv || (sv->rate <= 0 && sv->daily_limit <= 0 && sv->nlimits == 0)) {
		snprintf(buf, buflen, "0");
		return;
	}
	off = (size_t)snprintf(buf, buflen, "%ld %ld %ld", sv->rate, sv->burst, sv->daily_limit);
	/* daily_limit.CHANNEL: counted against every limited channel the
	 * event may use (the plan picks one later, per citizen) */
	for (int i = 0; i < sv->nlimits && off < buflen; i++) {
		int w;
		if (!event_may_use(r, ev, sv->limit_ch[i]))
			continue;
		w = snprintf(buf + off, buflen - off, " %s=%ld", sv->limit_ch[i], sv->limit_n[i]);
		if (w < 0 || (size_t)w >= buflen - off) {
			buf[off] = '\0'; /* no room: the rest unchecked (see ingest_int.h) */
			break;
		}
		off += (size_t)w;
		nch++;
	}
	if (!nch && sv->rate <= 0 && sv->daily_limit <= 0)
		snprintf(buf, buflen, "0");
}

int64_t policy_ttl_s(const struct router *r, const char *service)
{
	const struct service *sv = NULL;

	if (service && zap_curve(r->zap))
		sv = zap_service(r->zap, service);
	return sv && sv->retention_days > 0 ? (int64_t)sv->retention_days * 86400 : r->ttl_s;
}
