/* test_helpers.c - the one-of-each helpers in util/: strict numbers, ports
 * and durations, UTF-8 decoding, FNV-1a, E.164, back-off with jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "e164.h"
#include "fnv.h"
#include "form.h"
#include "num.h"
#include "text.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_num_int(void **state)
{
	static const struct {
		const char *s;
		long lo, hi;
		int ok;
		long want;
	} t[] = {
	    {"0", 0, 10, 1, 0},
	    {"10", 0, 10, 1, 10},
	    {"11", 0, 10, 0, 0},
	    {"-1", 0, 10, 0, 0},
	    {"-5", -10, 10, 1, -5},
	    {"+7", 0, 10, 1, 7},  /* strtol took a sign; still accepted */
	    {"abc", 0, 10, 0, 0}, /* was read as 0 by a bare strtol */
	    {"", 0, 10, 0, 0},
	    {"5x", 0, 10, 0, 0},
	    {"5 ", 0, 10, 0, 0},
	    {" 5", 0, 10, 0, 0},
	    {"0x10", 0, 100, 0, 0},
	    {"1e3", 0, 10000, 0, 0},
	    {"-", -10, 10, 0, 0},
	    {"99999999999999999999", 0, 2147483647, 0, 0}, /* overflow */
	    {"2147483647", 0, 2147483647, 1, 2147483647},
	    {"2147483648", 0, 2147483647, 0, 0},
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		long v = -42;
		int rc = num_parse_long(t[i].s, t[i].lo, t[i].hi, &v, err, sizeof(err));
		if (rc != (t[i].ok ? 0 : -1) || (t[i].ok && v != t[i].want))
			fail_msg("'%s' in %ld..%ld: rc %d v %ld", t[i].s, t[i].lo, t[i].hi, rc, v);
		if (!t[i].ok && v != -42)
			fail_msg("'%s': out written on error", t[i].s);
	}
	assert_int_equal(num_parse_long(NULL, 0, 1, &(long){0}, err, sizeof(err)), -1);
	assert_int_equal(num_parse_int("70000", 1, 65535, &(int){0}, err, sizeof(err)), -1);
	assert_string_equal(err, "expected an integer 1..65535");
	{
		unsigned u;
		assert_int_equal(num_parse_uint("255", 1, 255, &u, err, sizeof(err)), 0);
		assert_int_equal(u, 255);
		assert_int_equal(num_parse_uint("-1", 0, 255, &u, err, sizeof(err)), -1);
	}
}

static void test_num_port(void **state)
{
	static const struct {
		const char *s;
		int want; /* 0: error */
	} t[] = {{"1", 1}, {"6379", 6379}, {"65535", 65535}, {"65536", 0}, {"99999", 0},
		 {"0", 0}, {"-1", 0},	   {"http", 0},	     {"", 0},	   {"80 ", 0}};
	char err[128];

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		int p = 0, rc = num_parse_port(t[i].s, &p, err, sizeof(err));
		if (t[i].want ? (rc || p != t[i].want) : rc != -1)
			fail_msg("port '%s': rc %d p %d", t[i].s, rc, p);
	}
	num_parse_port("99999", &(int){0}, err, sizeof(err));
	assert_string_equal(err, "expected a port 1..65535");
}

static void test_num_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t unit, lo, hi;
		int ok;
		int64_t want;
	} t[] = {
	    {"30", 1000, 1000, 3600000, 1, 30000}, /* bare: the unit (seconds) */
	    {"30s", 1000, 1000, 3600000, 1, 30000},
	    {"5m", 1000, 1000, 3600000, 1, 300000},
	    {"1h", 1000, 1000, 3600000, 1, 3600000},
	    {"2h", 1000, 1000, 3600000, 0, 0}, /* above max */
	    {"1d", 1000, 1000, 86400000, 1, 86400000},
	    {"1500ms", 1000, 1000, 3600000, 1, 1500},
	    {"500ms", 1000, 1000, 3600000, 0, 0}, /* below min */
	    {"0", 1000, 1000, 3600000, 0, 0},
	    {"-5s", 1000, 0, 3600000, 0, 0},
	    {"+5s", 1000, 0, 3600000, 0, 0},
	    {"5 s", 1000, 0, 3600000, 0, 0},
	    {"5sec", 1000, 0, 3600000, 0, 0},
	    {"5S", 1000, 0, 3600000, 0, 0},
	    {"s", 1000, 0, 3600000, 0, 0},
	    {"", 1000, 0, 3600000, 0, 0},
	    {"abc", 1000, 0, 3600000, 0, 0},
	    {"250", 1, 1, 1000, 1, 250},			/* bare in milliseconds */
	    {"9223372036854775807d", 1000, 0, INT64_MAX, 0, 0}, /* overflow */
	};
	char err[160], buf[24];

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		int64_t v = -42;
		int rc =
		    num_parse_duration(t[i].s, t[i].unit, t[i].lo, t[i].hi, &v, err, sizeof(err));
		if (rc != (t[i].ok ? 0 : -1) || (t[i].ok && v != t[i].want) ||
		    (!t[i].ok && v != -42))
			fail_msg("duration '%s': rc %d v %lld", t[i].s, rc, (long long)v);
	}
	num_parse_duration("2h", 1000, 1000, 3600000, &(int64_t){0}, err, sizeof(err));
	assert_string_equal(err, "expected a duration 1s..1h (a number of seconds, or with ms, s, "
				 "m, h or d)");
	num_format_duration(90000, buf, sizeof(buf));
	assert_string_equal(buf, "90s");
	num_format_duration(86400000, buf, sizeof(buf));
	assert_string_equal(buf, "1d");
	num_format_duration(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	num_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

/* num_parse_value: a whole number (unit 0) or a duration in ms. */
static void test_num_value(void **state)
{
	static const struct {
		const char *s;
		int64_t unit;
		long lo, hi, want; /* want -1: refused */
	} t[] = {
	    {"42", 0, 1, 100, 42},	{"0", 0, 1, 100, -1},		{"abc", 0, 1, 100, -1},
	    {"30", 1000, 1, 60, 30000}, {"2m", 1000, 1, 600, 120000},	{"2m", 1000, 1, 60, -1},
	    {"250ms", 1, 1, 4000, 250}, {"1h", 1000, 1, 3600, 3600000},
	};
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long v = -7;
		int rc = num_parse_value(t[i].s, t[i].unit, t[i].lo, t[i].hi, &v, err, sizeof(err));
		if (t[i].want < 0) {
			assert_int_equal(rc, -1);
			assert_true(err[0] != '\0');
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(v, t[i].want);
		}
	}
}

static void test_utf8_decode(void **state)
{
	static const struct {
		const char *s;
		size_t len, want;
		uint32_t cp;
	} t[] = {
	    {"A", 1, 1, 'A'},
	    {"", 1, 1, 0}, /* NUL is U+0000 */
	    {"\xc5\xb5", 2, 2, 0x175},
	    {"\xe2\x82\xac", 3, 3, 0x20ac},
	    {"\xf0\x9f\x98\x80", 4, 4, 0x1f600},
	    {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff},
	    {"\xf4\x90\x80\x80", 4, 0, 0}, /* > U+10FFFF */
	    {"\xc0\xaf", 2, 0, 0},	   /* overlong */
	    {"\xe0\x80\xaf", 3, 0, 0},	   /* overlong */
	    {"\xed\xa0\x80", 3, 0, 0},	   /* surrogate */
	    {"\x80", 1, 0, 0},		   /* lone continuation */
	    {"\xe2\x82\xac", 2, 0, 0},	   /* cut short by len */
	    {"\xc3\x28", 2, 0, 0},	   /* bad continuation */
	    {"\xff", 1, 0, 0},
	    {"A", 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		uint32_t cp = 0xdead;
		size_t n = utf8_decode(t[i].s, t[i].len, &cp);
		if (n != t[i].want || (n && cp != t[i].cp))
			fail_msg("case %zu: n %zu cp %x", i, n, cp);
	}
}

static void test_fnv(void **state)
{
	/* Published FNV-1a test vectors. */
	(void)state;
	assert_int_equal(fnv1a32("", 0), 0x811c9dc5u);
	assert_int_equal(fnv1a32("a", 1), 0xe40c292cu);
	assert_int_equal(fnv1a32("foobar", 6), 0xbf9cf968u);
	assert_true(fnv1a64("", 0) == 0xcbf29ce484222325ULL);
	assert_true(fnv1a64("a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(fnv1a64("foobar", 6) == 0x85944171f73967e8ULL);
	assert_true(fnv1a64_add(fnv1a64("foo", 3), "bar", 3) == fnv1a64("foobar", 6));
	/* the legacy basis stays what references were made with */
	assert_true(fnv1a64_add(FNV1A64_HERALD_V1, "", 0) == 1469598103934665603ULL);
	assert_true(fnv1a64_add(FNV1A64_HERALD_V1, "a", 1) ==
		    ((1469598103934665603ULL ^ 'a') * 1099511628211ULL));
}

static void test_e164(void **state)
{
	/* One rule for SMS and fax: '+', 8..15 digits, the first not 0, nothing
	 * else. The separators the fax channel used to strip are refused. */
	static const struct {
		const char *s;
		int ok;
	} t[] = {
	    {"+447700900123", 1},
	    {"+12025550123", 1},
	    {"+441632960100", 1},
	    {"+12345678", 1},	      /* 8 digits: shortest */
	    {"+44163296", 1},	      /* 8 */
	    {"+123456789012345", 1},  /* 15 digits: longest */
	    {"+1234567", 0},	      /* 7 */
	    {"+4416329", 0},	      /* 7 */
	    {"+1234567890123456", 0}, /* 16 */
	    {"447700900123", 0},      /* no + */
	    {"01632960100", 0},	      /* national form */
	    {"+0447700900123", 0},    /* country code cannot start with 0 */
	    {"+01632960100", 0},
	    {"+44 7700 900123", 0},   /* E.123 spaces */
	    {"+44 1632 960 100", 0},  /* was accepted by the fax channel */
	    {"+44-7700-900123", 0},   /* dashes */
	    {"+44-1632-960-100", 0},  /* was accepted by the fax channel */
	    {"+1 (555) 010.0199", 0}, /* was accepted by the fax channel */
	    {"+44 (0)1632", 0},
	    {"++447700900123", 0},
	    {"+44770090012a", 0},
	    {"+44 1632 96O 100", 0},
	    {"+", 0},
	    {"+44", 0},
	    {"", 0},
	    {" +447700900123", 0},
	    {"+447700900123 ", 0},
	    {"+\xd9\xa4\xd9\xa4\xd9\xa4\xd9\xa4\xd9\xa4\xd9\xa4\xd9\xa4\xd9\xa4", 0}, /* arabic */
	};

	(void)state;
	assert_false(e164_valid(NULL));
	for (size_t i = 0; i < N(t); i++)
		if (e164_valid(t[i].s) != t[i].ok)
			fail_msg("'%s': want %d", t[i].s, t[i].ok);
}

static void test_backoff(void **state)
{
	static const struct {
		int64_t first, max;
		unsigned attempt, jitter;
		uint64_t rnd;
		int64_t want;
	} t[] = {
	    /* no jitter: the steps */
	    {1000, 600000, 0, 0, 12345, 1000},
	    {1000, 600000, 1, 0, 12345, 1000},
	    {1000, 600000, 2, 0, 12345, 2000},
	    {1000, 600000, 3, 0, 12345, 4000},
	    {1000, 600000, 10, 0, 12345, 512000},
	    {1000, 600000, 11, 0, 12345, 600000}, /* capped */
	    {1000, 600000, 4000, 0, 12345, 600000},
	    {30000, 3600000, 1, 0, 0, 30000},
	    /* jitter: rnd 0 is the full step; the most is step - step*pct/100 */
	    {1000, 600000, 1, 20, 0, 1000},
	    {1000, 600000, 1, 20, 200, 800},	   /* 200 % 201 */
	    {1000, 600000, 1, 20, 201, 1000},	   /* 201 % 201 = 0 */
	    {30000, 3600000, 2, 25, 15000, 45000}, /* 75 % of 60 s */
	    {30000, 3600000, 2, 25, 15001, 60000},
	    {5000, 3000, 1, 0, 0, 3000}, /* first above max: max */
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		int64_t d =
		    backoff_delay_ms(t[i].first, t[i].max, t[i].attempt, t[i].jitter, t[i].rnd);
		if (d != t[i].want)
			fail_msg("case %zu: got %lld want %lld", i, (long long)d,
				 (long long)t[i].want);
	}
	/* any rnd stays inside [step - 20 %, step] */
	{
		uint64_t rng = 1;
		for (int i = 0; i < 10000; i++) {
			int64_t d = backoff_delay_ms(1000, 600000, 3, 20, backoff_rand(&rng));
			assert_true(d >= 3200 && d <= 4000);
		}
		assert_true(rng != 0);
	}
}

static void test_form(void **state)
{
	static const struct {
		const char *in, *out;
	} dec[] = {
	    {"plain", "plain"}, {"a+b", "a b"}, {"%41%42c", "ABc"}, {"%e2%82%ac", "\xe2\x82\xac"},
	    {"100%", "100%"}, /* lone % stays */
	    {"%4", "%4"},     /* cut short */
	    {"%zz", "%zz"},   /* not hex */
	    {"%2B+%2b", "+ +"}, {"", ""},
	};
	struct form f;
	char buf[64], many[1024];
	size_t o = 0;

	(void)state;
	for (size_t i = 0; i < N(dec); i++) {
		snprintf(buf, sizeof(buf), "%s", dec[i].in);
		form_url_decode(buf);
		assert_string_equal(buf, dec[i].out);
	}
	assert_int_equal(form_parse(&f, "ref=ev-1.1&status=1&MessageStatus=delivered&flag&"
					"to=%2B447700900123&ref=second&=empty&sp=a+b"),
			 0);
	assert_string_equal(form_get(&f, "ref"), "ev-1.1"); /* the first wins */
	assert_string_equal(form_get(&f, "status"), "1");
	assert_string_equal(form_get(&f, "flag"), ""); /* no '=' */
	assert_string_equal(form_get(&f, "to"), "+447700900123");
	assert_string_equal(form_get(&f, ""), "empty");
	assert_string_equal(form_get(&f, "sp"), "a b");
	assert_null(form_get(&f, "missing"));
	assert_null(form_get(&f, "Status")); /* names are case-sensitive */
	form_free(&f);
	assert_int_equal(form_parse(&f, NULL), 0);
	assert_int_equal(f.n, 0);
	form_free(&f);
	assert_int_equal(form_parse(&f, "&&&"), 0);
	assert_int_equal(f.n, 0);
	form_free(&f);
	/* more fields than FORM_MAX_FIELDS: the rest are ignored */
	for (int i = 0; i < FORM_MAX_FIELDS + 2; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%c=%d&", 'A' + i % 58, i);
	assert_int_equal(form_parse(&f, many), 0);
	assert_int_equal(f.n, FORM_MAX_FIELDS);
	form_free(&f);
}

static void test_buf(void **state)
{
	struct buf b = BUF_INIT;
	char *s, big[1000];

	(void)state;
	s = buf_take(&b); /* empty: "" */
	assert_string_equal(s, "");
	free(s);
	buf_str(&b, "to=");
	buf_add(&b, "+44xyz", 3);
	buf_ch(&b, '&');
	buf_printf(&b, "n=%d%s", 42, "!");
	assert_string_equal(b.data, "to=+44&n=42!");
	assert_int_equal(b.len, strlen("to=+44&n=42!"));
	buf_add(&b, "", 0);
	assert_int_equal(b.len, 12);
	/* growth past the first block keeps the contents */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_str(&b, big);
	assert_int_equal(b.len, 12 + 999);
	assert_true(b.cap >= b.len + 1);
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "to=+44&n=42!xx", 14);
	/* reset keeps the storage */
	{
		char *before = b.data;
		buf_reset(&b);
		assert_int_equal(b.len, 0);
		assert_string_equal(b.data, "");
		assert_ptr_equal(b.data, before);
	}
	/* sticky error: adds are no-ops, take gives NULL and frees */
	buf_str(&b, "kept");
	b.oom = 1;
	buf_str(&b, "lost");
	buf_printf(&b, "%s", "lost");
	assert_string_equal(b.data, "kept");
	assert_null(buf_take(&b));
	assert_null(b.data);
	/* a huge add fails cleanly instead of wrapping */
	buf_str(&b, "a");
	buf_add(&b, "b", (size_t)-1 / 2);
	assert_true(b.oom);
	buf_free(&b);
	assert_null(b.data);
	assert_false(b.oom);
	buf_printf(&b, "%05.1f", 3.14159);
	s = buf_take(&b);
	assert_string_equal(s, "003.1");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_num_int),	 cmocka_unit_test(test_num_port),
	    cmocka_unit_test(test_num_duration), cmocka_unit_test(test_num_value),
	    cmocka_unit_test(test_utf8_decode),	 cmocka_unit_test(test_fnv),
	    cmocka_unit_test(test_e164),	 cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_form),	 cmocka_unit_test(test_buf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
