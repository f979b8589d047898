/*
 * failover.h - what a failed attempt leads to: a retry later on the same
 * channel, a hop to the next channel of the plan, or, when every channel
 * failed, the dead-letter list; and an address proved wrong marked invalid
 * on the citizen (failover.c).
 */
#ifndef HERALD_FAILOVER_H
#define HERALD_FAILOVER_H

#include "router.h"

/* The current channel is done with m: next channel of the plan, or exhausted. */
void failover_hop(struct router *r, struct msg *m, const char *why);
/* A temporary failure: retry after a back-off, or hop when retries are spent. */
void failover_retry_or_hop(struct router *r, struct msg *m, const struct herald_result *res);
/* A permanent failure that proves the address wrong marks the channel invalid. */
void failover_learn_invalid(struct router *r, struct msg *m, const struct herald_result *res);

#endif
