/* test_util.c - generic helpers: masking, UTF-8, RFC 3339, idmap, INI,
 * time zones, quiet hours, the packed fields of a message hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "idmap.h"
#include "mask.h"
#include "msgrec.h"
#include "text.h"
#include "tz.h"
#include "workq.h"

static void test_mask(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	    {"ada@example.org", "a***@example.org"},
	    {"+447700900123", "+44*******123"},
	    {"07700900123", "07******123"},
	    {"1 High Street\nSwansea\nSA1 1AA", "1*** ... SA1"},
	    {"", "-"},
	    {NULL, "-"},
	    {"x", "**"},
	    {"someone", "s***e"},
	    {"@example.org", "****@example.org"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mask_contact(t[i].in, out, sizeof(out));
		assert_string_equal(out, t[i].out);
	}
	/* a short buffer still terminates and leaks nothing past it */
	mask_contact("ada@example.org", out, 5);
	assert_string_equal(out, "a***");
}

static void test_utf8(void **state)
{
	static const struct {
		const char *s;
		long bad;
	} t[] = {
	    {"plain", -1},
	    {"Cymraeg \xc5\xb5 \xc5\xb7", -1}, /* ŵ ŷ */
	    {"\xf0\x9f\x98\x80", -1},	       /* emoji */
	    {"ab\xc3\x28", 2},		       /* bad continuation */
	    {"\xc0\xaf", 0},		       /* overlong '/' */
	    {"\xed\xa0\x80", 0},	       /* surrogate */
	    {"\xf4\x90\x80\x80", 0},	       /* > U+10FFFF */
	    {"abc\xe2\x82", 3},		       /* truncated */
	    {"\xff", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(utf8_invalid_at(t[i].s, strlen(t[i].s)), t[i].bad);
}

static void test_rfc3339(void **state)
{
	int64_t ms;
	char buf[40];

	assert_int_equal(rfc3339_parse("2026-11-22T09:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795338000000LL);
	assert_int_equal(rfc3339_parse("2026-11-22T10:00:00.250+01:00", &ms), 0);
	assert_int_equal(ms, 1795338000250LL);
	assert_int_equal(rfc3339_parse("2026-11-22 09:00:00Z", &ms), -1);
	assert_int_equal(rfc3339_parse("2026-13-22T09:00:00Z", &ms), -1);
	assert_int_equal(rfc3339_parse("2026-11-22T09:00:00Zjunk", &ms), -1);
	assert_int_equal(rfc3339_parse("", &ms), -1);
	rfc3339_format(1795338000250LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-22T09:00:00.250Z");
}

/* fmt_fixed3/fmt_fixed6 give what printf gives, on the integer ms / us a
 * record holds, on ties and near-ties, on random doubles, out of range. */
static void check_fixed(double v)
{
	char want[64], got[64];

	snprintf(want, sizeof(want), "%.3f", v);
	assert_int_equal(fmt_fixed3(v, got, sizeof(got)), strlen(want));
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "%.6f", v);
	assert_int_equal(fmt_fixed6(v, got, sizeof(got)), strlen(want));
	assert_string_equal(got, want);
}

static void test_fmt_fixed(void **state)
{
	static const double t[] = {0.0,	 0.0005,    0.0015,   0.0000005,   0.0000015, 0.1234565,
				   1e-7, 0.9999995, 0.999999, 999.9999995, 999.9995,  1e3,
				   1e4,	 123456.5,  -0.5,     -1.0,	   1e300,     2.5e-6};
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check_fixed(t[i]);
	for (int64_t us = 0; us < 3000000; us += 7)
		check_fixed((double)us / 1e6);
	for (int64_t ms = 0; ms < 2000000; ms += 3)
		check_fixed((double)ms / 1000.0);
	for (int i = 0; i < 200000; i++) { /* xorshift: doubles up to ~1e4 */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		check_fixed((double)(x >> 11) / (double)(1ull << 53) * (double)(1u << (i % 14)));
		check_fixed((double)(x % 100000000000ull) / 1e7 + 0.5e-6);
	}
}

static void test_idmap(void **state)
{
	struct idmap *m = idmap_new();
	static int vals[5000];

	assert_non_null(m);
	for (uint64_t i = 1; i <= 5000; i++)
		assert_int_equal(idmap_put(m, i * 7919, &vals[i - 1]), 0);
	assert_int_equal(idmap_len(m), 5000);
	for (uint64_t i = 1; i <= 5000; i++)
		assert_ptr_equal(idmap_get(m, i * 7919), &vals[i - 1]);
	/* delete every other one; the rest must stay reachable */
	for (uint64_t i = 1; i <= 5000; i += 2)
		assert_ptr_equal(idmap_del(m, i * 7919), &vals[i - 1]);
	assert_int_equal(idmap_len(m), 2500);
	for (uint64_t i = 1; i <= 5000; i++)
		assert_ptr_equal(idmap_get(m, i * 7919), i % 2 ? NULL : &vals[i - 1]);
	assert_null(idmap_del(m, 12345));
	assert_int_equal(idmap_put(m, 0, vals), -1);
	idmap_free(&m);
	assert_null(m);
}

static void test_conf(void **state)
{
	char path[] = "/tmp/herald-conf-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");
	struct conf *c;

	fputs("[redis]\nport = 6380\n; comment\n[channel.sms]\nurl = http://x\nport = 1\n", fp);
	fclose(fp);
	c = conf_load(path, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(conf_get(c, "redis", "port"), "6380");
	assert_string_equal(conf_get(c, "channel.sms", "url"), "http://x");
	assert_null(conf_get(c, "redis", "host"));
	assert_string_equal(conf_get_def(c, "redis", "host", "127.0.0.1"), "127.0.0.1");
	conf_free(&c);

	fp = fopen(path, "w");
	fputs("[redis\nport = 1\n", fp);
	fclose(fp);
	assert_null(conf_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: syntax error"));
	unlink(path);
	assert_null(conf_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
}

static void test_tz(void **state)
{
	int32_t off;

	/* 2026-07-01T12:00Z: British Summer Time; 2026-12-01T12:00Z: GMT */
	assert_int_equal(tz_offset("Europe/London", 1782907200, &off), 0);
	assert_int_equal(off, 3600);
	assert_int_equal(tz_offset("Europe/London", 1796126400, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(tz_offset("Asia/Kolkata", 1796126400, &off), 0);
	assert_int_equal(off, 19800);
	assert_int_equal(tz_offset("America/New_York", 1796126400, &off), 0);
	assert_int_equal(off, -18000);
	assert_int_equal(tz_offset("UTC", 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(tz_offset("Mars/Olympus_Mons", 0, &off), -1);
	assert_int_equal(tz_offset("../../etc/passwd", 0, &off), -1);
	assert_int_equal(tz_offset("/etc/passwd", 0, &off), -1);
	/* an unknown zone stays unknown when asked again (kept as such) */
	assert_int_equal(tz_offset("Mars/Olympus_Mons", 0, &off), -1);
	/* a POSIX TZ string is no zone name */
	assert_int_equal(tz_offset("EST5EDT4", 0, &off), -1);
}

/* Past the zone file's last transition (Debian's files stop in 2037, or
 * earlier for "slim" ones) the footer rule applies: summer time goes on.
 * Read against the system's tzdata. */
static void test_tz_footer_rule(void **state)
{
	int32_t off;

	/* 2040-07-01T12:00Z: BST; 2040-12-01T12:00Z: GMT */
	assert_int_equal(tz_offset("Europe/London", 2224756800, &off), 0);
	assert_int_equal(off, 3600);
	assert_int_equal(tz_offset("Europe/London", 2237976000, &off), 0);
	assert_int_equal(off, 0);
	/* 2045-07-01T12:00Z: EDT */
	assert_int_equal(tz_offset("America/New_York", 2382523200, &off), 0);
	assert_int_equal(off, -14400);
	/* 2037-10-25, the change back at 01:00Z: BST just before, GMT after */
	assert_int_equal(tz_offset("Europe/London", 2140043400, &off), 0);
	assert_int_equal(off, 3600);
	assert_int_equal(tz_offset("Europe/London", 2140047000, &off), 0);
	assert_int_equal(off, 0);
	/* the same zone again: the kept one answers alike */
	assert_int_equal(tz_offset("Europe/London", 2224756800, &off), 0);
	assert_int_equal(off, 3600);
}

static void test_quiet_hours(void **state)
{
	int left = -1;

	assert_int_equal(quiet_hours_check("21:00-08:00", 22 * 60, &left), 1);
	assert_int_equal(left, 10 * 60);
	assert_int_equal(quiet_hours_check("21:00-08:00", 7 * 60 + 30, &left), 1);
	assert_int_equal(left, 30);
	assert_int_equal(quiet_hours_check("21:00-08:00", 8 * 60, &left), 0);
	assert_int_equal(quiet_hours_check("21:00-08:00", 20 * 60 + 59, &left), 0);
	assert_int_equal(quiet_hours_check("12:00-13:30", 12 * 60 + 10, &left), 1);
	assert_int_equal(left, 80);
	assert_int_equal(quiet_hours_check("12:00-13:30", 13 * 60 + 30, &left), 0);
	assert_int_equal(quiet_hours_check("09:00-09:00", 9 * 60, &left), 0);
	assert_int_equal(quiet_hours_check("9:00-10:00", 0, &left), -1);
	assert_int_equal(quiet_hours_check("21:00-25:00", 0, &left), -1);
	assert_int_equal(quiet_hours_check("21:00 08:00", 0, &left), -1);
	assert_int_equal(quiet_hours_check("21:00-08:00x", 0, &left), -1);
}

/* A hash as a NULL-terminated list of name, value pairs. */
static const char *pairs_get(const char *name, void *arg)
{
	const char *const *kv = arg;

	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

static void test_msgrec(void **state)
{
	struct msgrec_meta meta = {.accepted_ms = 1795335907724}, m2;
	struct msgrec_at at = {.attempt = 2, .plan_idx = 1}, a2;
	char buf[512];

	(void)state;
	strcpy(meta.service, "dvla");
	strcpy(meta.citizen, "c-8812");
	assert_int_equal(msgrec_meta_format(buf, sizeof(buf), &meta), 0);
	assert_string_equal(buf, "1795335907724 dvla c-8812");
	assert_int_equal(msgrec_meta_parse(buf, &m2), 0);
	assert_true(m2.accepted_ms == meta.accepted_ms);
	assert_string_equal(m2.service, "dvla");
	assert_string_equal(m2.citizen, "c-8812");

	/* the address goes last: a masked postal address holds spaces */
	strcpy(at.channel, "print");
	strcpy(at.plan, "email,sms,print");
	strcpy(at.to, "1*** ... SA1");
	assert_int_equal(msgrec_at_format(buf, sizeof(buf), &at), 0);
	assert_string_equal(buf, "print 2 1 email,sms,print 1*** ... SA1");
	assert_int_equal(msgrec_at_parse(buf, &a2), 0);
	assert_string_equal(a2.channel, "print");
	assert_int_equal(a2.attempt, 2);
	assert_int_equal(a2.plan_idx, 1);
	assert_string_equal(a2.plan, "email,sms,print");
	assert_string_equal(a2.to, "1*** ... SA1");

	/* none: "-", and back to "" (the address keeps its "-") */
	memset(&at, 0, sizeof(at));
	assert_int_equal(msgrec_at_format(buf, sizeof(buf), &at), 0);
	assert_string_equal(buf, "- 0 0 - -");
	assert_int_equal(msgrec_at_parse(buf, &a2), 0);
	assert_string_equal(a2.channel, "");
	assert_string_equal(a2.plan, "");
	assert_string_equal(a2.to, "-");

	/* what cannot be one word is refused, so the caller writes fields */
	strcpy(meta.citizen, "c 1");
	assert_int_equal(msgrec_meta_format(buf, sizeof(buf), &meta), -1);
	strcpy(at.plan, "sms, email");
	assert_int_equal(msgrec_at_format(buf, sizeof(buf), &at), -1);
	assert_int_equal(msgrec_meta_format(buf, 10, &m2), -1); /* too small */

	/* not a packed field: refused, out zeroed */
	static const char *const bad_meta[] = {
	    "", "x dvla c-1", "17 dvla", "17 dvla c-1 extra", "-5 dvla c-1", "17  dvla c-1", NULL};
	for (int i = 0; bad_meta[i]; i++) {
		assert_int_equal(msgrec_meta_parse(bad_meta[i], &m2), -1);
		assert_true(m2.accepted_ms == 0 && !m2.citizen[0]);
	}
	assert_int_equal(msgrec_meta_parse(NULL, &m2), -1);
	static const char *const bad_at[] = {
	    "", "sms", "sms 1 0 sms", "sms x 0 sms -", "sms 1 -1 sms -", "sms 1 0 sms ", NULL};
	for (int i = 0; bad_at[i]; i++) {
		assert_int_equal(msgrec_at_parse(bad_at[i], &a2), -1);
		assert_true(!a2.channel[0] && a2.attempt == 0);
	}

	/* reading: the packed field, else an older hash's single fields */
	const char *packed[] = {"meta",	   "5 svc cit", "at", "sms 3 1 email,sms +44*******123",
				"citizen", "old",	NULL};
	assert_int_equal(msgrec_read_meta(pairs_get, packed, &m2), 1);
	assert_string_equal(m2.citizen, "cit");
	assert_int_equal(msgrec_read_at(pairs_get, packed, &a2), 1);
	assert_int_equal(a2.attempt, 3);
	assert_string_equal(a2.to, "+44*******123");
	const char *old[] = {"accepted_ms", "7",       "service", "dvla",	"citizen",
			     "c-9",	    "channel", "email",	  "attempt",	"4",
			     "plan",	    "email",   "to",	  "a***@x.org", NULL};
	assert_int_equal(msgrec_read_meta(pairs_get, old, &m2), 1);
	assert_true(m2.accepted_ms == 7);
	assert_string_equal(m2.service, "dvla");
	assert_int_equal(msgrec_read_at(pairs_get, old, &a2), 1);
	assert_string_equal(a2.channel, "email");
	assert_int_equal(a2.attempt, 4);
	assert_int_equal(a2.plan_idx, 0);
	assert_string_equal(a2.to, "a***@x.org");
	const char *status_only[] = {"status", "accepted", NULL};
	assert_int_equal(msgrec_read_meta(pairs_get, status_only, &m2), 0);
	assert_int_equal(msgrec_read_at(pairs_get, status_only, &a2), 0);
}

/* util/workq.c itemq: unbounded by default; with a limit a push past it
 * is ITEMQ_FULL and queues nothing, and room comes back as items leave. */
static void test_itemq_limit(void **state)
{
	struct itemq *q = itemq_new(sizeof(int));
	int v = 7, out[8];

	(void)state;
	assert_non_null(q);
	for (int i = 0; i < 100; i++)
		assert_int_equal(itemq_push(q, &i), 0);
	assert_int_equal(itemq_pop(q, out, 8), 8);
	itemq_set_limit(q, 93);
	assert_int_equal(itemq_push(q, &v), 0); /* 93 waiting */
	assert_int_equal(itemq_push(q, &v), ITEMQ_FULL);
	assert_int_equal(itemq_push_many(q, out, 2), ITEMQ_FULL);
	assert_int_equal(itemq_pop(q, out, 1), 1);
	assert_int_equal(out[0], 8);
	assert_int_equal(itemq_push(q, &v), 0);
	assert_int_equal(itemq_push(q, &v), ITEMQ_FULL);
	itemq_set_limit(q, 0);
	assert_int_equal(itemq_push(q, &v), 0);
	itemq_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mask),	   cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_rfc3339),	   cmocka_unit_test(test_idmap),
	    cmocka_unit_test(test_conf),	   cmocka_unit_test(test_tz),
	    cmocka_unit_test(test_tz_footer_rule), cmocka_unit_test(test_quiet_hours),
	    cmocka_unit_test(test_msgrec),	   cmocka_unit_test(test_itemq_limit),
	    cmocka_unit_test(test_fmt_fixed),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
