/* suggest.h - "did you mean": the closest known name to a misspelt one
 * (Levenshtein distance at most 2). Knows nothing of Herald. */
#ifndef HERALD_SUGGEST_H
#define HERALD_SUGGEST_H

/* Edit distance of two short strings (99 when either is 64 bytes or more). */
int suggest_distance(const char *a, const char *b);
/* The name of a or b (NULL-terminated lists; either may be NULL) closest to
 * name within distance 2, or NULL. */
const char *suggest_pick(const char *name, const char *const *a, const char *const *b);

#endif
