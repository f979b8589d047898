/* suggest.c - "did you mean" (see suggest.h). */
#include "suggest.h"

#include <string.h>

/* Levenshtein distance, capped: names are short (< 64 bytes). */
int suggest_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[64], prev, tmp;

	if (la >= 64 || lb >= 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* The closest of two lists (either may be NULL) within distance 2, or NULL. */
const char *suggest_pick(const char *name, const char *const *a, const char *const *b)
{
	const char *best = NULL;
	int bestd = 3;

	for (int l = 0; l < 2; l++)
		for (const char *const *k = l ? b : a; k && *k; k++) {
			int d = suggest_distance(name, *k);
			if (d < bestd) {
				bestd = d;
				best = *k;
			}
		}
	return best;
}
