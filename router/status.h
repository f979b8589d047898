/*
 * status.h - this instance's heartbeat (herald:instance:<consumer>, with
 * its per-channel counts of the last minute and hour) and the status page
 * of every instance sharing the Redis, served by GET /status
 * (lib/statuspage.h).
 */
#ifndef HERALD_STATUS_H
#define HERALD_STATUS_H

#include <stdint.h>

#include "router.h"

/* A transition of a message on a channel (state.c): sent/delivered and
 * failures counted for the last minute and hour. Router thread. */
void status_count(const char *channel, const char *status, int64_t now_ms);
/* A service's callbacks as the callback sender last read them (any
 * thread). */
void status_callback(const char *service, long long backlog, double oldest_age_s);
/* From the loop: every STATUS_INTERVAL_MS, the heartbeat written and the
 * page read again, on the pipeline. */
void status_tick(struct router *r, int64_t now);
/* The last page (malloc'd): JSON, or text; "starting" before the first. */
char *status_render(int json);

#endif
