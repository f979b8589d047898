/*
 * num.h - strict numbers for configuration readers: the whole string must be
 * the number (no trailing junk, no empty string, no silent 0 for "abc"), and
 * it must lie in [min, max]. On error each function writes the reason alone
 * ("expected an integer 1..65535") to err; the caller says where it came
 * from ("herald.conf: [redis] port = '99999': ").
 *
 * Knows nothing of Herald.
 */
#ifndef HERALD_NUM_H
#define HERALD_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Decimal integer with an optional sign, in [min, max]. 0 or -1 with err. */
int num_parse_ll(const char *s, long long min, long long max, long long *out, char *err,
		 size_t errlen);
int num_parse_long(const char *s, long min, long max, long *out, char *err, size_t errlen);
int num_parse_int(const char *s, int min, int max, int *out, char *err, size_t errlen);
int num_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out, char *err,
		   size_t errlen);

/* A TCP/UDP port, 1..65535. */
int num_parse_port(const char *s, int *out, char *err, size_t errlen);

/* A duration in milliseconds: a number with a unit ("250ms", "30s", "5m",
 * "2h", "1d"), or a bare number in unit_ms (1000: seconds, as every
 * timeout key of Herald's config has always been read). In [min_ms, max_ms]. */
int num_parse_duration(const char *s, int64_t unit_ms, int64_t min_ms, int64_t max_ms,
		       int64_t *out_ms, char *err, size_t errlen);

/* ms as the largest unit that divides it: "90s", "5m", "1d", "250ms". */
void num_format_duration(int64_t ms, char *out, size_t outlen);

/* A whole number (unit_ms 0: in min..max) or a duration (unit_ms > 0: a
 * bare number in that unit, or 30s / 5m ...; min and max in that unit; *out
 * in ms): the two kinds a config key can be, in one call. */
int num_parse_value(const char *s, int64_t unit_ms, long min, long max, long *out, char *err,
		    size_t errlen);

#endif
