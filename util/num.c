/* num.c - strict integer, port and duration parsing (see num.h). */
#include "num.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/* Digits with an optional sign, nothing else; -1 on junk or overflow. */
static int scan_ll(const char *s, const char **end, long long *out)
{
	unsigned long long v = 0, lim = (unsigned long long)LLONG_MAX;
	int neg = 0, any = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (neg)
		lim++; /* |LLONG_MIN| */
	for (; *s >= '0' && *s <= '9'; s++, any = 1) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (!any)
		return -1;
	*end = s;
	*out = neg ? (v == lim ? LLONG_MIN : -(long long)v) : (long long)v;
	return 0;
}

int num_parse_ll(const char *s, long long min, long long max, long long *out, char *err,
		 size_t errlen)
{
	const char *end;
	long long v;

	if (!s || scan_ll(s, &end, &v) || *end || v < min || v > max) {
		errf(err, errlen, "expected an integer %lld..%lld", min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int num_parse_long(const char *s, long min, long max, long *out, char *err, size_t errlen)
{
	long long v;

	if (num_parse_ll(s, min, max, &v, err, errlen))
		return -1;
	*out = (long)v;
	return 0;
}

int num_parse_int(const char *s, int min, int max, int *out, char *err, size_t errlen)
{
	long long v;

	if (num_parse_ll(s, min, max, &v, err, errlen))
		return -1;
	*out = (int)v;
	return 0;
}

int num_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out, char *err,
		   size_t errlen)
{
	long long v;

	if (num_parse_ll(s, min, max, &v, err, errlen))
		return -1;
	*out = (unsigned)v;
	return 0;
}

int num_parse_port(const char *s, int *out, char *err, size_t errlen)
{
	if (num_parse_int(s, 1, 65535, out, err, errlen)) {
		errf(err, errlen, "expected a port 1..65535");
		return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	int64_t ms;
} units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};

void num_format_duration(int64_t ms, char *out, size_t outlen)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms % units[i].ms == 0 || units[i].ms == 1) {
			snprintf(out, outlen, "%lld%s", (long long)(ms / units[i].ms),
				 ms ? units[i].name : "s");
			return;
		}
}

int num_parse_duration(const char *s, int64_t unit_ms, int64_t min_ms, int64_t max_ms,
		       int64_t *out_ms, char *err, size_t errlen)
{
	const char *end;
	long long v;
	int64_t mul = unit_ms;
	char lo[24], hi[24];

	if (!s || *s == '-' || *s == '+' || scan_ll(s, &end, &v))
		goto bad;
	if (*end) {
		mul = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(end, units[i].name))
				mul = units[i].ms;
		if (!mul)
			goto bad;
	}
	if (v > INT64_MAX / mul || v * mul < min_ms || v * mul > max_ms)
		goto bad;
	*out_ms = v * mul;
	return 0;
bad:
	num_format_duration(min_ms, lo, sizeof(lo));
	num_format_duration(max_ms, hi, sizeof(hi));
	errf(err, errlen, "expected a duration %s..%s (a number of %s, or with ms, s, m, h or d)",
	     lo, hi,
	     unit_ms == 1000 ? "seconds"
	     : unit_ms == 1  ? "milliseconds"
			     : "units");
	return -1;
}

int num_parse_value(const char *s, int64_t unit_ms, long min, long max, long *out, char *err,
		    size_t errlen)
{
	int64_t ms;

	if (!unit_ms)
		return num_parse_long(s, min, max, out, err, errlen);
	if (num_parse_duration(s, unit_ms, min * unit_ms, max * unit_ms, &ms, err, errlen) != 0)
		return -1;
	*out = (long)ms;
	return 0;
}
