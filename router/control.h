/*
 * control.h - what operators change while heraldd runs, read from Redis by
 * every instance (heraldctl channel suspend/resume): the suspended
 * channels (herald:suspended), refreshed every CONTROL_REFRESH_MS on the
 * pipeline; and the held messages (herald:held, re-read when
 * herald:held:ver moves), for those still on a stream (herald_due skips
 * the held ones in the schedule).
 */
#ifndef HERALD_CONTROL_H
#define HERALD_CONTROL_H

#include "router.h"

/* From the loop's timed work: one HGETALL on the pipeline when due. */
void control_tick(struct router *r, int64_t now);
/* In prepare, once the channel is picked: 1 when m is held (in this
 * instance's copy of herald:held; rescheduled HOLD_RECHECK_MS later with
 * REASON_HELD, recorded), else 0. */
int control_held(struct router *r, struct msg *m);
/* In prepare, once the channel is picked: 1 when m's channel is suspended
 * (m rescheduled or hopped, recorded), else 0. */
int control_suspended(struct router *r, struct msg *m);

#endif
