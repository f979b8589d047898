/* test_util.c - generic helpers: masking, UTF-8, RFC 3339, idmap, INI. */
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
#include "text.h"
#include "tz.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mask),	cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_rfc3339),	cmocka_unit_test(test_idmap),
	    cmocka_unit_test(test_conf),	cmocka_unit_test(test_tz),
	    cmocka_unit_test(test_quiet_hours),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
