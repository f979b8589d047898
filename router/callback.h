/*
 * callback.h - status callbacks to publishing services.
 *
 *   [service.<name>]
 *   callback_url = https://dvla.example/herald/status
 *   callback_secret = ...          ; HMAC-SHA256 key, never logged
 *
 * Every status change of a message of that service is POSTed as JSON (the
 * delivery-log record) with "X-Herald-Signature: sha256=<hex HMAC of the
 * body>". Sending happens on a thread of its own; a service that is down is
 * retried with back-off; delivery never waits for a callback.
 */
#ifndef HERALD_CALLBACK_H
#define HERALD_CALLBACK_H

#include <stddef.h>

#include "config.h"

struct callbacks;

/* Start the sender thread for every [service.*] with a callback_url (also
 * fine when there is none). NULL with err on a bad configuration. */
struct callbacks *callbacks_start(const struct config *cfg, char *err, size_t errlen);
/* Stop: tries to send what is queued for up to a second, then drops it. */
void callbacks_stop(struct callbacks **cb);
/* Queue one status record (JSON text, copied) for service. Never blocks;
 * a no-op when the service has no callback_url. */
void callbacks_push(struct callbacks *cb, const char *service, const char *json);

#endif
