/*
 * bounce.h - what email says back after the relay's 250: delivery status
 * notifications and complaint reports that heraldctl bounce recorded in
 * herald:inbound (bounce.c).
 */
#ifndef HERALD_BOUNCE_H
#define HERALD_BOUNCE_H

#include "router.h"

/* The channel whose provider references (its VERP tokens) bounces and
 * complaints are matched by (herald:ref:email:<token>). */
#define BOUNCE_CHANNEL "email"

/* How often herald:inbound is read. */
#define BOUNCE_POLL_MS 500

/* Read and apply what heraldctl bounce recorded (at most every
 * BOUNCE_POLL_MS; only with [channel.email] bounce_domain set). */
void bounce_poll(struct router *r, int64_t now);

#endif
