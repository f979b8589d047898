/* text.c - UTF-8 validation, RFC 3339, clocks. */
#include "text.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

size_t utf8_decode(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t c, min;
	size_t n;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0; /* continuation byte, overlong lead C0/C1, or F5..FF */
	}
	if (len < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

long utf8_invalid_at(const char *str, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n;

		if ((unsigned char)str[i] < 0x80) { /* the common case, inline */
			i++;
			continue;
		}
		n = utf8_decode(str + i, len - i, &cp);
		if (!n)
			return (long)i;
		i += n;
	}
	return -1;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int rfc3339_parse(const char *s, int64_t *ms)
{
	int Y, M, D, h, m, sec, frac_ms = 0, off = 0;
	struct tm tm;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
	    s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		int scale = 100;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			frac_ms += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return -1;
		off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ms = ((int64_t)t - off) * 1000 + frac_ms;
	return 0;
}

void rfc3339_format(int64_t ms, char *out, size_t outlen)
{
	/* the seconds part changes once a second: formatted once per thread */
	static __thread int64_t cached_sec = -1;
	static __thread char cached[32];
	static __thread size_t cached_len;
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[32];

	if (ms >= 0 && outlen >= 32) {
		int frac = (int)(ms % 1000);
		if (ms / 1000 != cached_sec) {
			gmtime_r(&t, &tm);
			cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
			cached_sec = ms / 1000;
		}
		memcpy(out, cached, cached_len);
		out[cached_len] = '.';
		out[cached_len + 1] = (char)('0' + frac / 100);
		out[cached_len + 2] = (char)('0' + frac / 10 % 10);
		out[cached_len + 3] = (char)('0' + frac % 10);
		out[cached_len + 4] = 'Z';
		out[cached_len + 5] = '\0';
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", buf, (int)(ms % 1000));
}

/* printf("%.<digits>f", v) (digits 3 or 6) without printf for the usual
 * case: v >= 0 and v * 10^digits below 1e9, where the product's error
 * (under 1e-7) cannot cross a rounding boundary unless the fraction lies
 * within 1e-6 of a tie; those, and anything out of range, go through
 * printf. Exact for what a record holds (integer ms or us over 10^digits). */
static size_t fmt_fixed(double v, int digits, char *out, size_t outlen)
{
	int64_t scale = digits == 3 ? 1000 : 1000000, units, ip;
	double x = v * (double)scale, f;
	char tmp[32];
	size_t n = 0;

	f = x - floor(x);
	if (!(v >= 0 && x < 1e9) || fabs(f - 0.5) < 1e-6 || outlen < 24) {
		int k = snprintf(out, outlen, "%.*f", digits, v);
		return k < 0 ? 0 : (size_t)k >= outlen ? outlen - 1 : (size_t)k;
	}
	units = (int64_t)llround(x);
	ip = units / scale;
	do {
		tmp[n++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n++] = '.';
	for (int64_t d = scale / 10; d > 0; d /= 10)
		out[n++] = (char)('0' + units / d % 10);
	out[n] = '\0';
	return n;
}

size_t fmt_fixed3(double v, char *out, size_t outlen)
{
	return fmt_fixed(v, 3, out, outlen);
}

size_t fmt_fixed6(double v, char *out, size_t outlen)
{
	if (outlen == 0)
		return 0;
	return fmt_fixed(v, 6, out, outlen);
}

size_t fmt_int(long long v, char *out)
{
	char tmp[24];
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	size_t n = 0, k = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[k++] = '-';
	while (n)
		out[k++] = tmp[--n];
	out[k] = '\0';
	return k;
}

void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* s holds ", <key>=" (key: letters, digits, '_', '-', '.'). */
static int reads_as_field(const char *s)
{
	for (const char *p = strstr(s, ", "); p; p = strstr(p + 1, ", ")) {
		const char *k = p + 2;
		while (isalnum((unsigned char)*k) || *k == '_' || *k == '-' || *k == '.')
			k++;
		if (k > p + 2 && *k == '=')
			return 1;
	}
	return 0;
}

/* Append s to out[*n..cap) (cap excludes the NUL): escaped, never cut in
 * the middle of an escape. Returns 0 when out was full. */
static int esc_put(char *out, size_t cap, size_t *n, const char *s, size_t k)
{
	if (*n + k > cap)
		return 0;
	memcpy(out + *n, s, k);
	*n += k;
	return 1;
}

static size_t escape_into(const char *s, char *out, size_t outlen, int quote)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0, cap = outlen - 1;
	int ok = !quote || esc_put(out, cap - 1, &n, "\"", 1); /* room for the closing one */

	for (; ok && *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
		if (c < 0x20 || c == 0x7f)
			ok = esc_put(out, cap - (size_t)quote, &n, e, 4);
		else if (c == '\\' || (quote && c == '"'))
			ok = esc_put(out, cap - (size_t)quote, &n, (char[]){'\\', (char)c}, 2);
		else
			ok = esc_put(out, cap - (size_t)quote, &n, (const char *)&c, 1);
	}
	if (quote && n > 0)
		out[n++] = '"';
	out[n] = '\0';
	return n;
}

size_t text_log_escape(const char *s, char *out, size_t outlen)
{
	if (!outlen)
		return 0;
	if (!s)
		s = "";
	return escape_into(s, out, outlen, outlen > 2 && (strchr(s, '"') || reads_as_field(s)));
}

size_t text_ctl_escape(const char *s, char *out, size_t outlen)
{
	if (!outlen)
		return 0;
	if (!s)
		s = "";
	/* backslashes stay: the operator's own messages hold paths and regexes */
	size_t n = 0, cap = outlen - 1;
	static const char hex[] = "0123456789abcdef";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
		if (!((c < 0x20 || c == 0x7f) ? esc_put(out, cap, &n, e, 4)
					      : esc_put(out, cap, &n, (const char *)&c, 1)))
			break;
	}
	out[n] = '\0';
	return n;
}
