/*
 * plan.h - comma-separated lists of names (plan.c).
 */
#ifndef HERALD_PLAN_H
#define HERALD_PLAN_H

#include <stddef.h>

/* Is name in the comma-separated list (spaces around items ignored)? */
int list_has(const char *list, const char *name);
/* old with name added (unless already there) into out; 0, or -1 when it
 * does not fit (out then holds old unchanged). */
int list_add(const char *old, const char *name, char *out, size_t outlen);
/* The number of channels in a plan. */
int plan_len(const char *plan);
/* The idx-th channel of a plan into out (no trimming); NULL past the end
 * or when it does not fit. */
const char *plan_channel(const char *plan, int idx, char *out, size_t outlen);

#endif
