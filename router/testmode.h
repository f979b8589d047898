/*
 * testmode.h - a service in mode = test or trial (services.d): heraldd
 * answers for the provider (testmode.c).
 *
 * test: no provider is contacted; the outcome is chosen by the recipient
 * (the table below, like GOV.UK Notify's test keys), and flows through the
 * normal outcome path, so journeys, the delivery log and callbacks happen
 * as for a real send. Any other recipient (and a channel without one:
 * file) is delivered.
 *
 *   email                          SMS             outcome
 *   delivered@simulator.notify     +447700900000   delivered
 *   temp-fail@simulator.notify     +447700900001   temporary failure
 *                                                  (retried, then hops)
 *   no-receipt@simulator.notify    +447700900002   sent, no receipt ever
 *   perm-fail@simulator.notify     +447700900003   permanent failure
 *                                                  (hops to the next channel)
 *
 * trial: delivered for real, but only to the policy's guests; anyone else
 * is a permanent failure "trial mode: not on the service's guest list",
 * without contacting the provider.
 */
#ifndef HERALD_TESTMODE_H
#define HERALD_TESTMODE_H

#include "router.h"

/* m is about to be handed to its plugin for recipient to (NULL: the
 * channel has none). 1 when heraldd answers instead: the result is
 * queued for outcome_poll (testmode_drain) and the plugin is not called;
 * 0 to submit it as ever. */
int testmode_intercept(struct router *r, struct msg *m, const char *to);
/* Apply the queued simulated results (outcome.c calls it first each poll),
 * through fn, as the plugin's would be. */
void testmode_drain(struct router *r,
		    void (*fn)(struct router *r, struct chan *c, const struct herald_result *res));

#endif
