/*
 * plan.c - comma-separated lists of names: a message's plan of channels
 * ("sms,email,print"), and the lists in citizen records and the
 * configuration (optout, invalid, [channels] enable). No knowledge of
 * channels, citizens or configuration: resolve.c, dispatch.c and the
 * worker steps all use it, and it uses none of them.
 */
#include <stdio.h>
#include <string.h>

#include "plan.h"

/* Is name in the comma-separated list (spaces around items ignored)? */
int list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

int list_add(const char *old, const char *name, char *out, size_t outlen)
{
	int n;

	if (!old)
		old = "";
	if (list_has(old, name) || !*name)
		n = snprintf(out, outlen, "%s", old);
	else
		n = snprintf(out, outlen, "%s%s%s", old, *old ? "," : "", name);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(out, outlen, "%s", old);
		return -1;
	}
	return 0;
}

int plan_len(const char *plan)
{
	int n = 0;

	if (!plan || !*plan)
		return 0;
	for (const char *p = plan; *p; p++)
		n += *p == ',';
	return n + 1;
}

const char *plan_channel(const char *plan, int idx, char *out, size_t outlen)
{
	const char *p = plan;

	for (int i = 0; i < idx && p; i++) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p || !*p)
		return NULL;
	const char *e = strchr(p, ',');
	size_t len = e ? (size_t)(e - p) : strlen(p);
	if (len >= outlen)
		return NULL;
	memcpy(out, p, len);
	out[len] = '\0';
	return out;
}
