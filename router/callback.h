/*
 * callback.h - status callbacks to publishing services.
 *
 *   [service.<name>]
 *   callback_url = https://dvla.example/herald/status
 *   callback_secret = ...          ; HMAC-SHA256 key, never logged
 *
 * Every status change of a message of that service is POSTed as JSON (the
 * delivery-log record) with "X-Herald-Signature: sha256=<hex HMAC of the
 * body>". The records wait in a Redis stream per service (lib/schema.h
 * KEY_CB), so they survive a restart; a sender thread with its own Redis
 * connection posts them, retries with back-off, and after callback_max_age
 * moves a record to the service's dead stream (heraldctl callbacks dead).
 * Delivery never waits for a callback.
 */
#ifndef HERALD_CALLBACK_H
#define HERALD_CALLBACK_H

#include <stddef.h>

#include "config.h"
#include "redis.h"
#include "service.h"

struct callbacks;

/* Start the sender thread for every [service.*] with a callback_url (also
 * fine when there is none). NULL with err on a bad configuration; Redis
 * being down is not an error (the sender retries). */
struct callbacks *callbacks_start(const struct config *cfg, char *err, size_t errlen);
/* The same with services.d (svcs, NULL for none): a service whose policy
 * file has callback_url gets its callbacks from there, and a [service.NAME]
 * of herald.conf for it is ignored with a warning; the other
 * [service.NAME] sections still work, each with a deprecation warning. */
struct callbacks *callbacks_start_svc(const struct config *cfg, const struct services *svcs,
				      char *err, size_t errlen);
/* heraldd -t: the same checks and warnings, nothing started; the number of
 * services with callbacks in *n. 0 or -1 with err. */
int callbacks_check(const struct config *cfg, const struct services *svcs, size_t *n, char *err,
		    size_t errlen);
/* SIGHUP: services.d was read again (svcs); when that changes a service's
 * callbacks, stop the sender and start it with the new table (unsent
 * records wait in Redis; db's pipeline is flushed first, as its XADD
 * replies point into the old table). On an error keep the old one
 * (logged). */
void callbacks_reload(struct callbacks **cb, struct rdb *db, const struct config *cfg,
		      const struct services *svcs);
/* Stop: what is in flight gets up to a second; everything unsent stays in
 * Redis for the next start (nothing is dropped). */
void callbacks_stop(struct callbacks **cb);
/* Queue one status record (JSON) for service: an XADD on db's pipeline
 * (sent with the loop turn's other writes). Never blocks; a no-op when the
 * service has no callback_url. */
void callbacks_push(struct callbacks *cb, struct rdb *db, const char *service, const char *json);

#endif
