/*
 * zap.h - who a publisher is: libzmq's CURVE on the ingest socket and the
 * ZAP handler (ZeroMQ RFC 27) that maps a client's public key to a service
 * of services.d/ ("Ironhouse" in the ZeroMQ guide).
 *
 * With [ingest] auth = curve (the default) a small thread answers ZAP
 * requests on inproc://zeromq.zap.01 in heraldd's ZMQ context: a key of a
 * services.d file gets "200" and the service's name as the User-Id, which
 * libzmq attaches to every message of that connection (zmq_msg_gets
 * "User-Id"); any other key gets "400" and the connection is closed at the
 * handshake. With auth = none nothing of this runs: a publisher's
 * "service" field is taken at its word (development only).
 *
 * The service table is owned by the router thread, which alone replaces it
 * (SIGHUP); the ZAP thread reads it under the mutex, only to map a key to a
 * name, once per connection. The router thread reads it without the lock.
 */
#ifndef HERALD_ZAP_H
#define HERALD_ZAP_H

#include <stddef.h>

#include "config.h"
#include "service.h"

struct zap;

/* Read the server key, load services.d and (auth = curve) start the ZAP
 * handler. Call before the ingest socket binds. NULL with a reason in err. */
struct zap *zap_open(const struct config *cfg, void *zctx, char *err, size_t errlen);
/* heraldd -t: what zap_open reads (the server key, services.d), checked
 * without starting anything. 0 with the number of services in *n, or -1.
 * keep (may be NULL) gets the table (auth = curve; else NULL): free it with
 * services_free. */
int zap_check(const struct config *cfg, size_t *n, struct services **keep, char *err,
	      size_t errlen);
/* Stop the handler (after the ingest socket is closed: without a handler
 * libzmq would let any CURVE client in) and free everything. */
void zap_close(struct zap **z);
/* 1 when publishers authenticate (auth = curve). */
int zap_curve(const struct zap *z);
/* Make sock a CURVE server with heraldd's key (auth = curve). 0 or -1. */
int zap_secure(struct zap *z, void *sock);
/* Log connections refused before ZAP is asked (no CURVE key, or not ZMTP):
 * a libzmq monitor of sock, read by the ZAP thread. After sock is bound. */
void zap_watch(struct zap *z, void *sock);
/* SIGHUP: read services.d again; on an error keep the old table. */
void zap_reload(struct zap *z);
/* The whole table (router thread), NULL under auth = none. */
const struct services *zap_services(const struct zap *z);
/* The policy of a service, for the router thread; NULL if unknown. */
const struct service *zap_service(const struct zap *z, const char *name);

#endif
