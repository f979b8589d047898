/* smsstop.c - the STOP words of an SMS reply (smsstop.h). */
#include "smsstop.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Is word (len bytes) in the comma/space separated list? */
static int in_list(const char *list, const char *word, size_t len)
{
	const char *p = list;

	while (p && *p) {
		size_t n;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n && n == len && !strncasecmp(p, word, len))
			return 1;
		p += n;
	}
	return 0;
}

int smsstop_match(const char *text, const char *extra)
{
	const char *s = text, *e, *w2;
	size_t n, n2;

	if (!s)
		return 0;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && (isspace((unsigned char)e[-1]) || strchr(".!?", e[-1])))
		e--;
	for (n = 0; s + n < e && isalnum((unsigned char)s[n]); n++)
		;
	if (n == 0 || n > SMSSTOP_WORD_MAX)
		return 0;
	if (s + n < e) { /* a second word: only ALL */
		w2 = s + n;
		if (!isspace((unsigned char)*w2))
			return 0;
		while (w2 < e && isspace((unsigned char)*w2))
			w2++;
		n2 = (size_t)(e - w2);
		if (n2 != 3 || strncasecmp(w2, "all", 3) != 0)
			return 0;
	}
	return in_list(SMSSTOP_WORDS, s, n) || (extra && in_list(extra, s, n));
}

int smsstop_check(const char *list, char *err, size_t errlen)
{
	const char *p = list ? list : "";

	while (*p) {
		size_t n;
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (!n)
			break;
		if (n > SMSSTOP_WORD_MAX) {
			snprintf(err, errlen, "a keyword longer than %d characters",
				 SMSSTOP_WORD_MAX);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)p[i])) {
				snprintf(err, errlen,
					 "'%.*s' is not one word of letters and digits (separate "
					 "keywords with commas)",
					 (int)n, p);
				return -1;
			}
		p += n;
	}
	return 0;
}
