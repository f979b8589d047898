/* test_redispipe.c - "a pipeline in a script" (router/redispipe.c, issue
 * #15) against a real redis-server (started here on a free loopback port
 * with appendfsync always, stopped by pid): a grouped send's runs of
 * writes go out as FCALL herald_pipe, and each command's callback gets its
 * own reply, an error in the middle of a batch included, in the order
 * queued, plain commands before and after the batch too; binary arguments
 * and every msgpack length form (str8/16/32, array16/32) arrive intact; a
 * call rejected whole (the library gone) gives every callback the error
 * and drops the connection, whose reconnect loads the library again;
 * under everysec, or with script_batch 0, nothing is scripted. Whether a
 * script ran is read from Redis's own INFO commandstats, not a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis.h"
#include "text.h"
#include "redis_srv.h"

/* redis-server with the AOF under fsync (always or everysec) in a fresh
 * directory, and a heraldd-style connection with grouping checked. */
static void up(struct redis_srv *s, const char *fsync)
{
	redis_srv_up(s, fsync);
	rdb_set_pipe(s->db, 1); /* every grouped send */
	rdb_check_group(s->db);
	assert_true(rdb_flush(s->db) >= 1);
}

static void down(struct redis_srv *s)
{
	redis_srv_down(s);
}

/* FCALL calls Redis has run (INFO commandstats). */
static long fcalls(struct redis_srv *s)
{
	redisReply *rep = rdb_call(s->db, "INFO commandstats");
	const char *p;
	long n = 0;

	assert_non_null(rep);
	assert_int_equal(rep->type, REDIS_REPLY_STRING);
	p = strstr(rep->str, "cmdstat_fcall:calls=");
	if (p)
		n = strtol(p + strlen("cmdstat_fcall:calls="), NULL, 10);
	freeReplyObject(rep);
	return n;
}

/* What one callback saw: "i:<n>", "s:<str>", "e:<error>", "nil", "null"
 * (no reply) or "a:<elements>", in the order called. */
#define MAXGOT 256
static char got[MAXGOT][128];
static int ngot;

static void on_reply(redisReply *rep, void *arg)
{
	char *g = got[ngot < MAXGOT ? ngot : MAXGOT - 1];

	(void)arg;
	ngot++;
	if (!rep)
		snprintf(g, 128, "null");
	else if (rep->type == REDIS_REPLY_INTEGER)
		snprintf(g, 128, "i:%lld", rep->integer);
	else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
		snprintf(g, 128, "s:%.100s", rep->str);
	else if (rep->type == REDIS_REPLY_ERROR)
		snprintf(g, 128, "e:%.100s", rep->str);
	else if (rep->type == REDIS_REPLY_NIL)
		snprintf(g, 128, "nil");
	else
		snprintf(g, 128, "a:%zu", rep->elements);
}

static void expect(const char *const *want, int n)
{
	assert_int_equal(ngot, n);
	for (int i = 0; i < n; i++)
		if (strncmp(got[i], want[i], strlen(want[i])) != 0)
			fail_msg("reply %d: got \"%s\", expected \"%s...\"", i, got[i], want[i]);
}

/* The mixed sequence: a plain read, a batch with a WRONGTYPE in the middle
 * and a nil-less status, a plain read, a second batch. */
static void queue_mixed(struct rdb *db)
{
	ngot = 0;
	rdb_cmdf(db, on_reply, NULL, "DEL h l s");
	rdb_cmdf(db, on_reply, NULL, "GET s");
	rdb_cmdf(db, on_reply, NULL, "HSET h f v g w");
	rdb_cmdf(db, on_reply, NULL, "RPUSH h x"); /* a hash: WRONGTYPE */
	rdb_cmdf(db, on_reply, NULL, "SET s %b", "a\0b\r\n", (size_t)5);
	rdb_cmdf(db, NULL, NULL, "EXPIRE s 100");
	rdb_cmdf(db, on_reply, NULL, "EXPIRE nokey 100 GT");
	rdb_cmdf(db, on_reply, NULL, "STRLEN s");
	rdb_cmdf(db, on_reply, NULL, "RPUSH l a b c");
	rdb_cmdf(db, on_reply, NULL, "ZADD z 1 m");
}

static const char *const mixed_want[] = {"i:",	"nil", "i:2", "e:WRONGTYPE", "s:OK",
					 "i:0", "i:5", "i:3", "i:"};

/* The mixed commands in one grouped send, and each its own reply. */
static void send_mixed(struct rdb *db)
{
	queue_mixed(db);
	assert_int_equal(rdb_send_grouped(db), 1);
	assert_true(rdb_recv(db) >= 0);
	expect(mixed_want, 9);
}

static void test_fanout(void **state)
{
	struct redis_srv s = {0};
	long f0;

	(void)state;
	up(&s, "always");
	f0 = fcalls(&s);
	send_mixed(s.db);
	/* two runs: DEL alone (one command, left plain), HSET..EXPIRE, then
	 * RPUSH l + ZADD after the plain STRLEN */
	assert_int_equal(fcalls(&s) - f0, 2);
	assert_true(rdb_ok(s.db));
	down(&s);
}

/* Every msgpack length form: a 70,000-byte value (str32), 300 bytes (str8),
 * 1,000 bytes (str16), 20 arguments (array16), and a run of 70,000
 * commands (array32); each reply in order. */
static void test_sizes(void **state)
{
	struct redis_srv s = {0};
	static char big[70001], mid[1001], small[301];
	const char *argv[21];
	long f0;
	int i;
	redisReply *rep;

	(void)state;
	up(&s, "always");
	memset(big, 'b', 70000);
	memset(mid, 'm', 1000);
	memset(small, 's', 300);
	f0 = fcalls(&s);
	ngot = 0;
	rdb_cmdf(s.db, on_reply, NULL, "SET big %s", big);
	rdb_cmdf(s.db, on_reply, NULL, "SET mid %s", mid);
	rdb_cmdf(s.db, on_reply, NULL, "SET small %s", small);
	argv[0] = "RPUSH";
	argv[1] = "twenty";
	for (i = 2; i < 21; i++)
		argv[i] = "x";
	rdb_cmd(s.db, on_reply, NULL, 21, argv, NULL);
	assert_int_equal(rdb_send_grouped(s.db), 1);
	assert_true(rdb_recv(s.db) >= 0);
	expect((const char *const[]){"s:OK", "s:OK", "s:OK", "i:19"}, 4);
	rep = rdb_call(s.db, "STRLEN big");
	assert_int_equal(rep->integer, 70000);
	freeReplyObject(rep);
	for (i = 0; i < 70000; i++)
		rdb_cmdf(s.db, NULL, NULL, "SADD many %d", i);
	rdb_cmdf(s.db, on_reply, NULL, "SCARD many");
	assert_int_equal(rdb_send_grouped(s.db), 1);
	assert_true(rdb_recv(s.db) >= 0);
	assert_string_equal(got[4], "i:70000");
	assert_int_equal(fcalls(&s) - f0, 2);
	down(&s);
}

/* The library gone: the call is rejected whole, every command of the batch
 * gets the error, the connection is dropped; the reconnect loads the
 * library, and the next batch runs. */
static void test_lost_library(void **state)
{
	struct redis_srv s = {0};
	redisReply *rep;

	(void)state;
	up(&s, "always");
	rep = rdb_call(s.db, "FUNCTION FLUSH");
	assert_non_null(rep);
	freeReplyObject(rep);
	ngot = 0;
	rdb_cmdf(s.db, on_reply, NULL, "HSET h f v");
	rdb_cmdf(s.db, on_reply, NULL, "SET s v");
	assert_int_equal(rdb_send_grouped(s.db), 1);
	rdb_recv(s.db);
	expect((const char *const[]){"e:ERR Function not found", "e:ERR Function not found"}, 2);
	assert_false(rdb_ok(s.db));
	assert_int_equal(rdb_connect(s.db), 0);
	rdb_check_group(s.db);
	assert_true(rdb_flush(s.db) >= 1);
	send_mixed(s.db);
	down(&s);
}

/* Under everysec (no grouping), or with script_batch 0, the same commands
 * go out plain, with the same replies. */
static void test_not_scripted(void **state)
{
	struct redis_srv s = {0};
	long f0;

	(void)state;
	up(&s, "everysec");
	f0 = fcalls(&s);
	send_mixed(s.db);
	assert_int_equal(fcalls(&s), f0);
	down(&s);

	up(&s, "always");
	rdb_set_pipe(s.db, 0);
	f0 = fcalls(&s);
	send_mixed(s.db);
	assert_int_equal(fcalls(&s), f0);
	down(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fanout),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_lost_library),
	    cmocka_unit_test(test_not_scripted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
