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
#define CITIZEN_LIST_MAX 255 /* heraldd's bound on a list it writes */

/* The list rule in Lua, one definition for every script that edits those
 * lists (the herald_list_add function, router/scripts.c; heraldctl
 * optout's edit, tools/cmd_optout.c), so a refusal written by one is read
 * the same way by the other: list_split(old, ch) splits old (a string, or
 * false/nil when the field is missing) on commas, items trimmed of spaces
 * and empty ones dropped (as list_has in router/plan.c reads them), and
 * returns the items other than ch and whether ch was there. A list is
 * written back as those items joined with "," and no spaces. */
#define CITIZEN_LUA_LIST_SPLIT                                                                     \
	"local function list_split(old, ch)\n"                                                     \
	"  local list, found = {}, false\n"                                                        \
	"  for e in string.gmatch(old or '', '[^,]+') do\n"                                        \
	"    e = e:match('^%s*(.-)%s*$')\n"                                                        \
	"    if e == ch then found = true elseif e ~= '' then list[#list + 1] = e end\n"           \
	"  end\n"                                                                                  \
	"  return list, found\n"                                                                   \
	"end\n"

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
