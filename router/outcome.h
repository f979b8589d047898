/*
 * outcome.h - the results channel plugins report for the messages they were
 * given: sent, delivered, temporary or permanent failure (outcome.c).
 */
#ifndef HERALD_OUTCOME_H
#define HERALD_OUTCOME_H

#include "router.h"

/* Poll every plugin for results and apply them. */
void outcome_poll(struct router *r);

#endif
