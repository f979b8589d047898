/*
 * confcheck.h - strict configuration: unknown sections and keys are errors
 * (logged with file:line and a "did you mean" within edit distance 2).
 */
#ifndef HERALD_CONFCHECK_H
#define HERALD_CONFCHECK_H

#include <herald/channel.h>

#include "config.h"

/* Every section but [channel.*]: errors logged, their number returned. */
int confcheck_sections(const struct config *c);
/* [channel.<name>] against the host's keys and desc's (desc->version >= 3
 * with keys: unknown keys are errors; otherwise warnings). Error count. */
int confcheck_channel(const struct config *c, const char *name, const struct herald_channel *desc);
/* yes, true or 1. */
int confcheck_yes(const char *v);

#endif
