/*
 * callback_internal.h - what callback.c shows its tests and tools beyond
 * callback.h: the signature, and how much a service still has to send.
 */
#ifndef HERALD_CALLBACK_INTERNAL_H
#define HERALD_CALLBACK_INTERNAL_H

#include <stddef.h>

#include "callback.h"

/* Lowercase hex of HMAC-SHA256(secret, body[0..len)) into out (65 bytes with
 * the NUL). 0 on success, -1 if OpenSSL fails. */
int callback_sign(const char *secret, const char *body, size_t len, char out[65]);

/* Records of service not yet acknowledged with a 2xx (queued, in flight or
 * waiting for a retry); 0 for an unknown service or cb == NULL. */
size_t callbacks_pending(struct callbacks *cb, const char *service);

#endif
