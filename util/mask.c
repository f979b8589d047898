/* mask.c - contact masking shared by the router, channels and tools. */
#include "mask.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void put(char **p, char *end, char c)
{
	if (*p < end)
		*(*p)++ = c;
}

static void mask_email(const char *addr, const char *at, char *out, size_t outlen)
{
	char *p = out, *end = out + outlen - 1;

	put(&p, end, addr[0] == '@' ? '*' : addr[0]);
	for (int i = 0; i < 3; i++)
		put(&p, end, '*');
	for (const char *s = at; *s; s++)
		put(&p, end, *s);
	*p = '\0';
}

static void mask_phone(const char *addr, char *out, size_t outlen)
{
	size_t n = strlen(addr), keep_head, keep_tail = 3;
	char *p = out, *end = out + outlen - 1;

	keep_head = addr[0] == '+' ? 3 : 2;
	if (n <= keep_head + keep_tail)
		keep_head = 1, keep_tail = 0;
	for (size_t i = 0; i < n; i++)
		put(&p, end, (i < keep_head || i >= n - keep_tail) ? addr[i] : '*');
	*p = '\0';
}

static void mask_postal(const char *addr, char *out, size_t outlen)
{
	const char *last = strrchr(addr, '\n');
	char *p = out, *end = out + outlen - 1;
	const char *tail;

	/* First character of the first line, and the outward part of the last
	 * line (a postcode district), enough to tell letters apart. */
	put(&p, end, addr[0]);
	for (int i = 0; i < 3; i++)
		put(&p, end, '*');
	tail = last ? last + 1 : NULL;
	if (tail && *tail) {
		const char *sp = strchr(tail, ' ');
		size_t n = sp ? (size_t)(sp - tail) : strlen(tail);
		if (n > 4)
			n = 4;
		put(&p, end, ' ');
		put(&p, end, '.');
		put(&p, end, '.');
		put(&p, end, '.');
		put(&p, end, ' ');
		for (size_t i = 0; i < n; i++)
			put(&p, end, tail[i]);
	}
	*p = '\0';
}

void mask_contact(const char *addr, char *out, size_t outlen)
{
	const char *at;
	size_t n;
	int phone = 1;

	if (outlen == 0)
		return;
	if (!addr || !*addr) {
		snprintf(out, outlen, "-");
		return;
	}
	if (strchr(addr, '\n')) {
		mask_postal(addr, out, outlen);
		return;
	}
	at = strrchr(addr, '@');
	if (at) {
		mask_email(addr, at, out, outlen);
		return;
	}
	n = strlen(addr);
	for (size_t i = 0; i < n; i++)
		if (!(isdigit((unsigned char)addr[i]) || (i == 0 && addr[i] == '+')))
			phone = 0;
	if (phone && n >= 4) {
		mask_phone(addr, out, outlen);
		return;
	}
	if (n <= 2)
		snprintf(out, outlen, "**");
	else
		snprintf(out, outlen, "%c***%c", addr[0], addr[n - 1]);
}
