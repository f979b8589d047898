/* test_scripts.c - router/scripts.c against a real redis-server (started
 * here on a free loopback port, stopped by pid): the version a library's
 * code carries; herald_list_add with its record (the journey entry written
 * with the refusal, or with it always, the stream entry acknowledged in
 * the same call) and without (answered as before version 1);
 * herald_engage with its record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "redis.h"
#include "scripts.h"
#include "text.h"
#include "redis_srv.h"

static void test_code_version(void **state)
{
	static const struct {
		const char *code;
		long version;
	} cases[] = {
	    {"", 0},
	    {"#!lua name=herald\nlocal function x() end\n", 0},
	    {"#!lua name=herald\n" HERALD_LIB_VERSION_MARK "7\n", 7},
	    {"#!lua name=herald\n" HERALD_LIB_VERSION_MARK "12\nlocal y = 3\n", 12},
	    {"#!lua name=herald\n" HERALD_LIB_VERSION_MARK "x\n", 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(scripts_code_version(cases[i].code, strlen(cases[i].code)),
				 cases[i].version);
	assert_int_equal(scripts_code_version(herald_lua_library, strlen(herald_lua_library)),
			 HERALD_LIB_VERSION);
}

/* A reply's integer, or the integer element i of an array reply. */
static long long int_of(redisReply *rep, size_t i)
{
	assert_non_null(rep);
	if (rep->type == REDIS_REPLY_ERROR)
		fail_msg("error reply: %s", rep->str);
	if (rep->type == REDIS_REPLY_INTEGER)
		return rep->integer;
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	assert_true(i < rep->elements);
	assert_int_equal(rep->element[i]->type, REDIS_REPLY_INTEGER);
	return rep->element[i]->integer;
}

/* The integer answer of a command (a literal: hiredis splits it). */
#define call_int(db, cmd) reply_int(rdb_call(db, cmd))
static long long reply_int(redisReply *rep)
{
	long long n = int_of(rep, 0);

	freeReplyObject(rep);
	return n;
}

/* FCALL herald_list_add 0 with argv (6 or 12 arguments): the answer's
 * code; *n its number of elements. */
static long long list_add(struct rdb *db, const char *const *a, int argc, size_t *n)
{
	redisReply *rep;
	long long rc;

	if (argc == 6)
		rep = rdb_call(db, "FCALL herald_list_add 0 %s %s %s %s %s %s", a[0], a[1], a[2],
			       a[3], a[4], a[5]);
	else
		rep = rdb_call(db, "FCALL herald_list_add 0 %s %s %s %s %s %s %s %s %s %s %s %s",
			       a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10],
			       a[11]);
	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	*n = rep->elements;
	rc = int_of(rep, 0);
	if (rep->elements == 3)
		assert_int_equal(int_of(rep, 2), 1);
	freeReplyObject(rep);
	return rc;
}

static void test_list_add_record(void **state)
{
	struct redis_srv s = {0};
	redisReply *rep;
	size_t n;
	char id[64];

	(void)state;
	redis_srv_up(&s, NULL);
	rep = rdb_call(s.db, "XADD herald:inbound * k complaint");
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	snprintf(id, sizeof(id), "%s", rep->str);
	freeReplyObject(rep);
	freeReplyObject(rdb_call(s.db, "XGROUP CREATE herald:inbound herald 0"));
	freeReplyObject(
	    rdb_call(s.db, "XREADGROUP GROUP herald c COUNT 9 STREAMS herald:inbound >"));
	assert_int_equal(call_int(s.db, "XLEN herald:inbound"), 1);

	/* added: the record goes with it, the entry is acknowledged */
	const char *add1[] = {"c-1",	"optout", "optout_at",	    "email",
			      "note 1", "20",	  "herald:tx:t-1",  "{\"status\":\"complaint\"}",
			      "3600",	"1",	  "herald:inbound", id};
	assert_int_equal(list_add(s.db, add1, 12, &n), 1);
	assert_int_equal(n, 3);
	assert_int_equal(call_int(s.db, "LLEN herald:tx:t-1"), 1);
	assert_true(call_int(s.db, "TTL herald:tx:t-1") > 3000);
	assert_int_equal(call_int(s.db, "XLEN herald:inbound"), 0);
	rep = rdb_call(s.db, "XPENDING herald:inbound herald");
	assert_int_equal(int_of(rep, 0), 0);
	freeReplyObject(rep);

	/* already there: no record unless always */
	const char *add2[] = {"c-1",
			      "optout",
			      "optout_at",
			      "email",
			      "note 2",
			      "20",
			      "herald:tx:t-1",
			      "{\"status\":\"unsubscribed\"}",
			      "3600",
			      "0",
			      "",
			      ""};
	assert_int_equal(list_add(s.db, add2, 12, &n), 0);
	assert_int_equal(call_int(s.db, "LLEN herald:tx:t-1"), 1);
	add2[9] = "1";
	assert_int_equal(list_add(s.db, add2, 12, &n), 0);
	assert_int_equal(call_int(s.db, "LLEN herald:tx:t-1"), 2);

	/* the list full: nothing of the refusal, the record when always */
	const char *full[] = {"c-1",
			      "optout",
			      "optout_at",
			      "smsxxxxxxxxxxxxxxxxxxxx",
			      "n",
			      "20",
			      "herald:tx:t-1",
			      "{}",
			      "3600",
			      "1",
			      "",
			      ""};
	assert_int_equal(list_add(s.db, full, 12, &n), -1);
	assert_int_equal(call_int(s.db, "LLEN herald:tx:t-1"), 3);

	/* no journey key: the refusal alone */
	const char *nokey[] = {"c-2", "optout", "optout_at", "sms", "n", "20",
			       "",    "{}",	"3600",	     "1",   "",	 ""};
	assert_int_equal(list_add(s.db, nokey, 12, &n), 1);
	assert_int_equal(call_int(s.db, "EXISTS herald:tx:"), 0);

	/* the six arguments of before: answered as before (two elements) */
	const char *old[] = {"c-3", "optout", "optout_at", "sms", "n", "20"};
	assert_int_equal(list_add(s.db, old, 6, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(list_add(s.db, old, 6, &n), 0);
	assert_int_equal(n, 2);
	redis_srv_down(&s);
}

static void test_engage_record(void **state)
{
	struct redis_srv s = {0};
	redisReply *rep;

	(void)state;
	redis_srv_up(&s, NULL);
	rep = rdb_call(s.db, "FCALL herald_engage 0 600 mo-1 dvla tx-1 sms - herald:tx:tx-1 "
			     "{\"status\":\"inbound\"} 3600");
	assert_int_equal(rep->type, REDIS_REPLY_ARRAY);
	assert_int_equal(int_of(rep, 0), 1);
	assert_int_equal(int_of(rep, 1), 1);
	freeReplyObject(rep);
	assert_int_equal(call_int(s.db, "LLEN herald:tx:tx-1"), 1);
	/* heard before: no second record */
	rep = rdb_call(s.db, "FCALL herald_engage 0 600 mo-1 dvla tx-1 sms - herald:tx:tx-1 "
			     "{\"status\":\"inbound\"} 3600");
	assert_int_equal(int_of(rep, 0), 0);
	freeReplyObject(rep);
	assert_int_equal(call_int(s.db, "LLEN herald:tx:tx-1"), 1);
	/* the arguments of before: an integer, as before */
	rep = rdb_call(s.db, "FCALL herald_engage 0 600 mo-2 dvla tx-2 sms -");
	assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
	assert_int_equal(rep->integer, 1);
	freeReplyObject(rep);
	assert_int_equal(call_int(s.db, "EXISTS herald:tx:tx-2"), 0);
	assert_int_equal(call_int(s.db, "FCALL_RO herald_version 0"), HERALD_LIB_VERSION);
	redis_srv_down(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_code_version),
	    cmocka_unit_test(test_list_add_record),
	    cmocka_unit_test(test_engage_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
