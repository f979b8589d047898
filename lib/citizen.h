/*
 * citizen.h - the refusals and the wrong addresses kept in a citizen's
 * hash (herald:citizen:<id>, schema.h), named once for heraldd
 * (router/optout.c writes, router/resolve.c reads, router/failover.c marks
 * invalid) and heraldctl optout (tools/cmd_optout.c, the operator's hand):
 *
 *   optout               channels refused for every service ("sms,email")
 *   optout_at            when and why the last one was added
 *   optout@SERVICE       channels refused for one service only
 *   optout@SERVICE_at    "TIME CHANNEL: WHY (event ID)"
 *   invalid              channels whose address proved wrong
 *   invalid_CHANNEL      "TIME REASON (event ID)"
 */
#ifndef HERALD_CITIZEN_H
#define HERALD_CITIZEN_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define CIT_F_CHANNELS "channels"
#define OPTOUT_FIELD "optout"
#define OPTOUT_SVC_SEP "@"
#define OPTOUT_AT_SUFFIX "_at"
#define OPTOUT_FIELD_MAX 160
#define CIT_F_INVALID "invalid"
#define CIT_F_INVALID_PREFIX "invalid_" /* + channel: when and why */
#define CITIZEN_CHANNEL_MAX 32

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
		n = snprintf(buf, len, "%s" OPTOUT_SVC_SEP "%s", OPTOUT_FIELD, service);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* 1 if name can be a channel in those lists: 1-32 of a-z 0-9 - _. */
static inline int citizen_channel_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CITIZEN_CHANNEL_MAX)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

#endif
