/* test_lease.c - router/lease.c: the set of stream entries an instance
 * holds (take, held, release, growth past the first table), and the
 * heartbeat's interval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"

#define N 5000 /* past the first table (1024) several times */

static struct msg *entry(const char *stream, int i)
{
	struct msg *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	snprintf(m->stream, sizeof(m->stream), "%s", stream);
	snprintf(m->stream_id, sizeof(m->stream_id), "1700000000000-%d", i);
	return m;
}

static void test_take_release(void **state)
{
	struct leases *ls = leases_new();
	static struct msg *ms[N];
	struct msg *again;

	(void)state;
	assert_non_null(ls);
	for (int i = 0; i < N; i++) {
		ms[i] = entry(i % 2 ? KEY_Q_NORMAL : KEY_Q_BULK, i);
		assert_int_equal(lease_take(ls, ms[i]), 0);
	}
	assert_int_equal(leases_count(ls), N);
	/* the same entry again (a claim or a recover bringing it back): held */
	again = entry(KEY_Q_NORMAL, 1);
	assert_int_equal(lease_take(ls, again), 1);
	assert_null(again->lease);
	/* the same id on another stream is another entry */
	assert_true(lease_held(ls, KEY_Q_NORMAL, "1700000000000-1"));
	assert_false(lease_held(ls, KEY_Q_URGENT, "1700000000000-1"));
	assert_false(lease_held(ls, KEY_Q_BULK, "1700000000000-1"));
	for (int i = 0; i < N; i += 2)
		lease_release(ms[i]);
	lease_release(ms[0]); /* twice: nothing */
	assert_int_equal(leases_count(ls), N / 2);
	for (int i = 0; i < N; i++)
		assert_int_equal(lease_held(ls, ms[i]->stream, ms[i]->stream_id), i % 2);
	/* an acked entry (stream_id cleared) is released by its id at free */
	ms[1]->stream_id[0] = '\0';
	lease_release(ms[1]);
	assert_false(lease_held(ls, KEY_Q_NORMAL, "1700000000000-1"));
	assert_int_equal(lease_take(ls, again), 0);
	lease_release(again);
	free(again);
	leases_free(&ls); /* releases the rest */
	assert_null(ls);
	for (int i = 0; i < N; i++) {
		assert_null(ms[i]->lease);
		free(ms[i]);
	}
}

static void test_not_an_entry(void **state)
{
	struct leases *ls = leases_new();
	struct msg *m = entry("herald:q:nosuch", 1);

	(void)state;
	assert_int_equal(lease_take(ls, m), 0); /* nothing to hold */
	assert_null(m->lease);
	snprintf(m->stream, sizeof(m->stream), "%s", KEY_Q_URGENT);
	m->stream_id[0] = '\0';
	assert_int_equal(lease_take(ls, m), 0);
	assert_null(m->lease);
	assert_int_equal(leases_count(ls), 0);
	free(m);
	leases_free(&ls);
}

static void test_interval(void **state)
{
	(void)state;
	assert_int_equal(lease_interval_ms(60000), 20000);
	assert_int_equal(lease_interval_ms(2000), 666);
	assert_int_equal(lease_interval_ms(1000), 333);
	assert_int_equal(lease_interval_ms(100), 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_take_release),
	    cmocka_unit_test(test_not_an_entry),
	    cmocka_unit_test(test_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
