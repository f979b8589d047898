/* e164.c - E.164 number validation (see e164.h for the rule and why). */
#include "e164.h"

#include <stddef.h>

int e164_valid(const char *s)
{
	size_t n = 0;

	if (!s || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return 0;
	for (const char *p = s + 1; *p; p++, n++)
		if (*p < '0' || *p > '9' || n == 15)
			return 0;
	return n >= 8;
}
