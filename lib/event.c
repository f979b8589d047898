/* event.c - validation of publisher frames; every rejection says why. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "idmap.h"
#include "text.h"

static const char *const prio_names[PRIO_N] = {"urgent", "normal", "bulk"};

const char *prio_name(enum prio p)
{
	return (unsigned)p < PRIO_N ? prio_names[p] : "normal";
}

int prio_parse(const char *s)
{
	for (int i = 0; i < PRIO_N; i++)
		if (!strcmp(s, prio_names[i]))
			return i;
	return -1;
}

void event_clear(struct event *ev)
{
	json_decref(ev->root);
	free(ev->accepted_json);
	memset(ev, 0, sizeof(*ev));
}

static int valid_channel_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return 0;
	return 1;
}

static const char *const notif_fields[] = {
    "event_id", "service",  "citizen_id", "template",	    "transaction_id", "personalisation",
    "channels", "priority", "send_after", "deliver_within", "kind",	      "reply_to_id",
    NULL};
static const char *const engage_fields[] = {
    "event_id", "service", "transaction_id", "citizen_id", "channel", "kind", NULL};

static int known(const char *const *list, const char *k)
{
	for (; *list; list++)
		if (!strcmp(*list, k))
			return 1;
	return 0;
}

/* A required or optional identifier field. */
static int id_field(json_t *root, const char *name, int required, const char **out, char *err,
		    size_t errlen)
{
	json_t *v = json_object_get(root, name);

	*out = NULL;
	if (!v) {
		if (required)
			snprintf(err, errlen, "missing required field '%s'", name);
		return required ? -1 : 0;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "field '%s' must be a string", name);
		return -1;
	}
	if (!event_id_valid(json_string_value(v), strlen(json_string_value(v)))) {
		snprintf(
		    err, errlen,
		    "field '%s' must be 1-%d printable ASCII characters without spaces (got %zu "
		    "bytes)",
		    name, EVENT_MAX_ID, strlen(json_string_value(v)));
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* In the steps of event_parse: say why in err and fail. */
#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -1;                                                                         \
	} while (0)

/* The frame as a JSON object in ev->root: size, UTF-8, JSON. */
static int parse_frame(const char *buf, size_t len, struct event *ev, char *err, size_t errlen)
{
	json_error_t je;
	long bad;

	if (len > EVENT_MAX_FRAME)
		BAD("frame too large: %zu bytes > %d", len, EVENT_MAX_FRAME);
	if (len == 0)
		BAD("empty frame");
	bad = utf8_invalid_at(buf, len);
	if (bad >= 0)
		BAD("invalid UTF-8 at byte %ld", bad);
	if (memchr(buf, '\0', len))
		BAD("malformed JSON: NUL byte in frame");
	ev->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!ev->root)
		BAD("malformed JSON: %s at line %d column %d", je.text, je.line, je.column);
	if (!json_is_object(ev->root))
		BAD("malformed event: top level must be a JSON object");
	return 0;
}

/* Its kind, and no field the kind does not have. */
static int parse_kind(struct event *ev, char *err, size_t errlen)
{
	const char *k, *kind;
	json_t *v = json_object_get(ev->root, "kind");

	if (v) {
		if (!json_is_string(v))
			BAD("field 'kind' must be a string");
		kind = json_string_value(v);
		if (!strcmp(kind, "engagement"))
			ev->kind = EVENT_ENGAGEMENT;
		else if (strcmp(kind, "notification") != 0)
			BAD("unknown kind '%.32s' (expected notification or engagement)", kind);
	}
	json_object_foreach(ev->root, k, v)
	{
		if (!known(ev->kind == EVENT_ENGAGEMENT ? engage_fields : notif_fields, k))
			BAD("unknown field '%.64s'", k);
	}
	return 0;
}

/* An engagement's channel. */
static int parse_engaged_channel(struct event *ev, char *err, size_t errlen)
{
	json_t *v = json_object_get(ev->root, "channel");

	if (!json_is_string(v))
		BAD(v ? "field 'channel' must be a string" : "missing required field 'channel'");
	if (!valid_channel_name(json_string_value(v)))
		BAD("field 'channel' is not a channel name");
	ev->channel = json_string_value(v);
	return 0;
}

/* A notification's personalisation and channels, both optional. */
static int parse_content(struct event *ev, char *err, size_t errlen)
{
	const char *k;
	json_t *v = json_object_get(ev->root, "personalisation"), *pv;
	size_t i;

	if (v) {
		if (!json_is_object(v))
			BAD("field 'personalisation' must be an object");
		json_object_foreach(v, k, pv)
		{
			if (!strcmp(k, "citizen") || !strcmp(k, "transaction") ||
			    !strcmp(k, "event"))
				BAD("personalisation key '%s' is reserved", k);
		}
		ev->personalisation = v;
	}
	v = json_object_get(ev->root, "channels");
	if (v) {
		if (!json_is_array(v) || json_array_size(v) == 0)
			BAD("field 'channels' must be a non-empty array of channel names");
		json_array_foreach(v, i, pv)
		{
			if (!json_is_string(pv) || !valid_channel_name(json_string_value(pv)))
				BAD("field 'channels'[%zu] is not a channel name", i);
		}
		ev->channels = v;
	}
	return 0;
}

/* A notification's priority, send_after and deliver_within, all optional. */
static int parse_timing(struct event *ev, char *err, size_t errlen)
{
	json_t *v = json_object_get(ev->root, "priority");

	if (v) {
		int p = json_is_string(v) ? prio_parse(json_string_value(v)) : -1;
		if (p < 0)
			BAD("field 'priority' must be one of urgent, normal, bulk");
		ev->priority = (enum prio)p;
	}
	v = json_object_get(ev->root, "send_after");
	if (v) {
		if (!json_is_string(v) || rfc3339_parse(json_string_value(v), &ev->send_after_ms))
			BAD("field 'send_after' must be an RFC 3339 time such as "
			    "2026-11-22T09:00:00Z");
	}
	v = json_object_get(ev->root, "deliver_within");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
		    json_integer_value(v) > 365 * 86400)
			BAD("field 'deliver_within' must be a positive number of seconds (at most "
			    "one year)");
		ev->deliver_within = json_integer_value(v);
	}
	return 0;
}

int event_parse(const char *buf, size_t len, struct event *ev, char *err, size_t errlen)
{
	int engagement;

	memset(ev, 0, sizeof(*ev));
	ev->priority = PRIO_NORMAL;
	if (parse_frame(buf, len, ev, err, errlen) || parse_kind(ev, err, errlen))
		goto fail;
	engagement = ev->kind == EVENT_ENGAGEMENT;
	if (id_field(ev->root, "event_id", 1, &ev->event_id, err, errlen) ||
	    /* required under auth = none; else the connection's key says it */
	    id_field(ev->root, "service", 0, &ev->service, err, errlen) ||
	    id_field(ev->root, "citizen_id", 1, &ev->citizen_id, err, errlen) ||
	    id_field(ev->root, "transaction_id", engagement, &ev->transaction_id, err, errlen))
		goto fail;
	if (engagement) {
		if (parse_engaged_channel(ev, err, errlen))
			goto fail;
		return 0;
	}
	if (id_field(ev->root, "template", 1, &ev->template_name, err, errlen) ||
	    id_field(ev->root, "reply_to_id", 0, &ev->reply_to_id, err, errlen) ||
	    parse_content(ev, err, errlen) || parse_timing(ev, err, errlen))
		goto fail;
	return 0;
fail:
	event_clear(ev);
	return -1;
}

/* ---- parsed events, by id and acceptance time ----------------------- */

struct evc_entry {
	struct event ev;
	int64_t accepted_ms, accepted_us;
	size_t slot; /* position in the ring */
};

struct evcache {
	struct idmap *map; /* key -> entry */
	uint64_t *ring;	   /* keys in arrival order, for eviction */
	size_t cap, next;
};

static uint64_t evc_key(const char *id, int64_t accepted_ms)
{
	uint64_t h = fnv1a64_add(FNV1A64_HERALD_V1 ^ (uint64_t)accepted_ms, id, strlen(id));

	return h ? h : 1;
}

struct evcache *evcache_new(size_t capacity)
{
	struct evcache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cap = capacity ? capacity : 1;
	c->map = idmap_new();
	c->ring = calloc(c->cap, sizeof(*c->ring));
	if (!c->map || !c->ring) {
		evcache_free(&c);
		return NULL;
	}
	return c;
}

static void evc_entry_free(uint64_t key, void *val, void *arg)
{
	struct evc_entry *e = val;

	event_clear(&e->ev);
	free(e);
}

void evcache_free(struct evcache **cp)
{
	struct evcache *c = *cp;

	if (!c)
		return;
	if (c->map) {
		idmap_each(c->map, evc_entry_free, NULL);
		idmap_free(&c->map);
	}
	free(c->ring);
	free(c);
	*cp = NULL;
}

void evcache_put(struct evcache *c, struct event *ev, int64_t accepted_ms, int64_t accepted_us)
{
	struct evc_entry *e, *old;
	uint64_t key;

	if (!c || !ev->event_id || !(e = malloc(sizeof(*e)))) {
		event_clear(ev);
		return;
	}
	key = evc_key(ev->event_id, accepted_ms);
	/* the oldest leaves, unless it was taken already */
	if (c->ring[c->next]) {
		old = idmap_get(c->map, c->ring[c->next]);
		if (old && old->slot == c->next) {
			idmap_del(c->map, c->ring[c->next]);
			evc_entry_free(0, old, NULL);
		}
	}
	old = idmap_del(c->map, key); /* the same key again: keep the newer */
	if (old)
		evc_entry_free(0, old, NULL);
	e->ev = *ev;
	e->accepted_ms = accepted_ms;
	e->accepted_us = accepted_us;
	e->slot = c->next;
	memset(ev, 0, sizeof(*ev));
	if (idmap_put(c->map, key, e) != 0) {
		evc_entry_free(0, e, NULL);
		return;
	}
	c->ring[c->next] = key;
	c->next = (c->next + 1) % c->cap;
}

int evcache_take(struct evcache *c, const char *event_id, int64_t accepted_ms, struct event *ev,
		 int64_t *accepted_us)
{
	uint64_t key;
	struct evc_entry *e;

	if (!c)
		return 0;
	key = evc_key(event_id, accepted_ms);
	e = idmap_get(c->map, key);
	if (!e || e->accepted_ms != accepted_ms || strcmp(e->ev.event_id, event_id) != 0)
		return 0;
	idmap_del(c->map, key);
	*ev = e->ev;
	if (accepted_us)
		*accepted_us = e->accepted_us;
	free(e);
	return 1;
}
