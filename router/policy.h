/* policy.h - what a publisher may publish: the event's service bound to the
 * connection's key (ZAP User-Id) and checked against its services.d policy
 * (templates, channels, urgent). See zap.h for who the publisher is. */
#ifndef HERALD_POLICY_H
#define HERALD_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct router;

/* Check a parsed event from a connection whose ZAP User-Id is user_id (NULL
 * under auth = none). Fills an omitted "service" and narrows an event
 * without "channels" to the service's; when it changed the event, *body is
 * the event to store (malloc'd, the caller frees), else NULL. 0, or -1
 * with the publisher's reason in err. */
int policy_check(struct router *r, const char *user_id, struct event *ev, char **body, char *err,
		 size_t errlen);

/* herald_accept's limits argument for ev's service (scripts.c): "0" when
 * it has none (or under auth = none), else "rate burst daily_limit". */
void policy_limits(struct router *r, const struct event *ev, char *buf, size_t buflen);

/* How long a message of service lives past its last step, in seconds: its
 * policy's retention_days, else [queue] retention_days (r->ttl_s). */
int64_t policy_ttl_s(const struct router *r, const char *service);

#endif
