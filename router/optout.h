/*
 * optout.h - a citizen's refusals (optout.c).
 *
 * `optout` in the citizen's hash lists the channels refused for every
 * service (written by the services, and by heraldd on a complaint);
 * `optout@SERVICE` lists those refused for one service (written by heraldd
 * on a one-click unsubscribe or an SMS STOP), with `optout@SERVICE_at` =
 * when and why. resolve.c reads both.
 */
#ifndef HERALD_OPTOUT_H
#define HERALD_OPTOUT_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define OPTOUT_FIELD "optout"
#define OPTOUT_FIELD_MAX 160

struct router;
struct msg;

/* The hash field for service (NULL or "": every service) into buf;
 * -1 when the name does not fit or holds a character the field may not. */
static inline int optout_field(const char *service, char *buf, size_t len)
{
	int n;

	if (!service || !*service)
		n = snprintf(buf, len, "%s", OPTOUT_FIELD);
	else if (strpbrk(service, " ,@\r\n\t"))
		return -1;
	else
		n = snprintf(buf, len, "%s@%s", OPTOUT_FIELD, service);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
/* Add channel to the citizen's opt-outs for service (NULL: every service),
 * with why kept beside it; m->citizen_rec must be loaded. 1 when added, 0
 * when it was already there, -1 on a bad name or a list too long. */
int optout_add(struct router *r, struct msg *m, const char *service, const char *channel,
	       const char *why);

#endif
