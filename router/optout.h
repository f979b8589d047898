/*
 * optout.h - a citizen's refusals (optout.c).
 *
 * `optout` in the citizen's hash lists the channels refused for every
 * service (written by the services, and by heraldd on a complaint);
 * `optout@SERVICE` lists those refused for one service (written by heraldd
 * on a one-click unsubscribe or an SMS STOP), with `optout@SERVICE_at` =
 * when and why. resolve.c reads both. The names are in lib/citizen.h
 * (heraldctl optout edits them too).
 */
#ifndef HERALD_OPTOUT_H
#define HERALD_OPTOUT_H

#include "citizen.h"

struct router;
struct msg;

/* Add channel to the citizen's opt-outs for service (NULL: every service),
 * with why kept beside it, in one Redis function call (a synchronous one:
 * these are rare paths); m->citizen_rec, when loaded, is updated with the
 * list Redis now holds. 1 when added, 0 when it was already there, -1 on
 * a bad name or a list too long, -2 when Redis did not answer (nothing
 * known to be written: the caller may try again). */
int optout_add(struct router *r, struct msg *m, const char *service, const char *channel,
	       const char *why);

#endif
