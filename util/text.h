/* text.h - small text helpers with no Herald knowledge: UTF-8 validation,
 * RFC 3339 times, clocks. */
#ifndef HERALD_TEXT_H
#define HERALD_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Byte offset of the first invalid UTF-8 sequence, or -1 if s[0..len) is
 * valid (overlongs, surrogates and > U+10FFFF are invalid). */
long utf8_invalid_at(const char *s, size_t len);
/* Decode the UTF-8 sequence at s[0..len): its length (1..4) and the code
 * point in *cp, or 0 when the bytes are invalid or cut short by len. A NUL
 * byte is U+0000, length 1. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Parse "2026-11-22T09:00:00Z" / "...+01:00" / fractional seconds into
 * milliseconds since the epoch. 0 on success, -1 if malformed. */
int rfc3339_parse(const char *s, int64_t *ms);
/* Format ms since the epoch as "2026-11-22T09:00:00.123Z". */
void rfc3339_format(int64_t ms, char *out, size_t outlen);
/* printf("%.3f", v) without printf for the usual case; returns the length. */
size_t fmt_fixed3(double v, char *out, size_t outlen);
/* printf("%.6f", v): microsecond resolution for seconds; returns the length. */
size_t fmt_fixed6(double v, char *out, size_t outlen);
/* Decimal of v into out (24 bytes are always enough); returns the length. */
size_t fmt_int(long long v, char *out);

/* An outside value (event field, provider reason, receipt field) for a
 * one-line "key=value, key=value" text log, so that no line or field can
 * be forged: control bytes (and DEL) become \xNN and a backslash \\; a
 * value holding a double quote or something that reads as ", key=" is
 * written in double quotes with its inner quotes as \". Bytes >= 0x80 are
 * kept (names are UTF-8). Writes at most outlen - 1 bytes and a NUL, never
 * half an escape; returns the length written. NULL is "". */
size_t text_log_escape(const char *s, char *out, size_t outlen);
/* The same for a whole operator-log message: controls only, no quoting. */
size_t text_ctl_escape(const char *s, char *out, size_t outlen);

/* printf into an error buffer (err may be NULL or errlen 0: nothing). */
void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int64_t now_ms(void);	/* wall clock */
int64_t now_us(void);	/* wall clock, microseconds */
int64_t mono_ms(void);	/* monotonic */
uint64_t mono_us(void); /* monotonic, microseconds */

#endif
