/*
 * event.h - the wire format: parse and validate one publisher frame.
 *
 * Notification (default kind):
 *   {"event_id", "service", "citizen_id", "template",            required
 *    "transaction_id", "personalisation", "channels", "priority",
 *    "send_after", "deliver_within", "reply_to_id",
 *    "kind":"notification"}                                       optional
 * Engagement (the citizen answered on a channel):
 *   {"kind":"engagement", "event_id", "service", "transaction_id",
 *    "citizen_id", "channel"}
 * Unknown fields are rejected, not ignored.
 */
#ifndef HERALD_EVENT_H
#define HERALD_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_MAX_FRAME 65536
#define EVENT_MAX_ID 128

enum prio { PRIO_URGENT = 0, PRIO_NORMAL = 1, PRIO_BULK = 2, PRIO_N = 3 };
enum event_kind { EVENT_NOTIFICATION = 0, EVENT_ENGAGEMENT = 1 };

struct event {
	json_t *root; /* owns every string below */
	enum event_kind kind;
	const char *event_id, *service, *citizen_id, *template_name, *transaction_id;
	const char *channel;	 /* engagement: the channel the citizen used */
	const char *reply_to_id; /* which of its service's reply_to addresses */
	json_t *personalisation; /* object or NULL */
	json_t *channels;	 /* array of strings or NULL */
	enum prio priority;
	int64_t send_after_ms;	/* 0 when absent */
	int64_t deliver_within; /* seconds, 0 when absent */
	char *accepted_json;	/* its "accepted" record, when ingest made one */
};

/* Parse and validate a frame. 0 on success (free with event_clear), -1 with
 * a reason meant for the publisher in err. */
int event_parse(const char *buf, size_t len, struct event *ev, char *err, size_t errlen);
/* Parse a frame that was validated before (from Redis); same rules. */
void event_clear(struct event *ev);
/* An identifier (event, transaction, service, citizen): n bytes of s,
 * 1..EVENT_MAX_ID printable ASCII, no spaces (it heads log lines). 1 if so.
 * Inline: unsubtok.c (and its fuzzer) use it without the event parser. */
static inline int event_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > EVENT_MAX_ID)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* Events this instance has just accepted, parsed, so the worker that reads
 * them back from the stream does not parse them again. Keyed by event id
 * and acceptance time (one acceptance of one id); bounded: the oldest go
 * first, and a miss only means parsing the stored copy. */
struct evcache;
struct evcache *evcache_new(size_t capacity);
void evcache_free(struct evcache **c);
/* Take ownership of *ev (cleared). */
void evcache_put(struct evcache *c, struct event *ev, int64_t accepted_ms, int64_t accepted_us);
/* 1 and *ev filled (the caller owns it) when present, else 0. */
int evcache_take(struct evcache *c, const char *event_id, int64_t accepted_ms, struct event *ev,
		 int64_t *accepted_us);

const char *prio_name(enum prio p);
int prio_parse(const char *s); /* -1 if unknown */

#endif
