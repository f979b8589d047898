/* test_curlmulti.c - the libcurl multi driver (util/curlmulti.c) on file://
 * transfers: no network, no server. Completions call back once each, the
 * in-flight count and room follow, a removed transfer never calls back, a
 * wakeup ends a wait early, a handle can be added again from its callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curlmulti.h"
#include "text.h"

struct slot {
	struct cmulti_xfer x; /* first */
	int calls;
	CURLcode cc;
	int readd; /* add again from the callback this many times */
	struct cmulti *m;
	size_t got;
};

static size_t sink(char *d, size_t sz, size_t n, void *arg)
{
	struct slot *s = arg;
	(void)d;
	s->got += sz * n;
	return sz * n;
}

static void on_done(struct cmulti_xfer *x, CURLcode cc)
{
	struct slot *s = x->arg;

	assert_ptr_equal(x, &s->x);
	assert_false(x->in_flight);
	s->calls++;
	s->cc = cc;
	if (s->readd > 0) {
		s->readd--;
		assert_int_equal(cmulti_add(s->m, x), 0);
	}
}

static void slot_init(struct slot *s, struct cmulti *m, const char *url)
{
	memset(s, 0, sizeof(*s));
	s->m = m;
	s->x.easy = curl_easy_init();
	assert_non_null(s->x.easy);
	s->x.done = on_done;
	s->x.arg = s;
	curl_easy_setopt(s->x.easy, CURLOPT_URL, url);
	curl_easy_setopt(s->x.easy, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(s->x.easy, CURLOPT_WRITEDATA, s);
}

static void run_until_idle(struct cmulti *m)
{
	int64_t until = mono_ms() + 5000;

	while (cmulti_in_flight(m) && mono_ms() < until) {
		cmulti_step(m);
		if (cmulti_in_flight(m))
			cmulti_wait(m, 10);
	}
	assert_int_equal(cmulti_in_flight(m), 0);
}

static void test_completions(void **state)
{
	struct cmulti_opts o = {.max_in_flight = 2};
	struct cmulti *m = cmulti_new(&o);
	struct slot ok, bad, again;
	char url[64];

	(void)state;
	assert_non_null(m);
	snprintf(url, sizeof(url), "file://%s", "/etc/hostname");
	if (access("/etc/hostname", R_OK) != 0)
		snprintf(url, sizeof(url), "file:///dev/null");
	slot_init(&ok, m, url);
	slot_init(&bad, m, "file:///nonexistent/herald-test");
	slot_init(&again, m, url);
	again.readd = 2;

	assert_true(cmulti_room(m));
	assert_int_equal(cmulti_add(m, &ok.x), 0);
	assert_int_equal(cmulti_add(m, &bad.x), 0);
	assert_int_equal(cmulti_in_flight(m), 2);
	assert_false(cmulti_room(m)); /* max_in_flight 2 */
	run_until_idle(m);
	assert_int_equal(ok.calls, 1);
	assert_int_equal(ok.cc, CURLE_OK);
	assert_int_equal(bad.calls, 1);
	assert_int_not_equal(bad.cc, CURLE_OK);
	assert_true(cmulti_room(m));

	/* a handle added again from its own callback runs again */
	assert_int_equal(cmulti_add(m, &again.x), 0);
	run_until_idle(m);
	assert_int_equal(again.calls, 3);

	/* removed: no callback; take: hands back what is in flight */
	assert_int_equal(cmulti_add(m, &ok.x), 0);
	cmulti_remove(m, &ok.x);
	cmulti_remove(m, &ok.x); /* twice is harmless */
	assert_int_equal(cmulti_in_flight(m), 0);
	assert_int_equal(cmulti_add(m, &bad.x), 0);
	assert_ptr_equal(cmulti_take(m), &bad.x);
	assert_null(cmulti_take(m));
	cmulti_step(m);
	assert_int_equal(ok.calls, 1);
	assert_int_equal(bad.calls, 1);

	/* freed with one in flight: detached, no callback */
	assert_int_equal(cmulti_add(m, &ok.x), 0);
	cmulti_free(&m);
	assert_null(m);
	assert_false(ok.x.in_flight);
	assert_int_equal(ok.calls, 1);
	curl_easy_cleanup(ok.x.easy);
	curl_easy_cleanup(bad.x.easy);
	curl_easy_cleanup(again.x.easy);
}

static void test_wakeup(void **state)
{
	struct cmulti *m = cmulti_new(NULL);
	int64_t t0;

	(void)state;
	assert_non_null(m);
	assert_true(cmulti_room(m)); /* no limit */
	cmulti_wakeup(m);
	t0 = mono_ms();
	cmulti_wait(m, 3000);
	assert_true(mono_ms() - t0 < 2000);
	t0 = mono_ms();
	cmulti_wait(m, 50); /* nothing pending: the timeout */
	assert_true(mono_ms() - t0 >= 40);
	cmulti_free(&m);
	cmulti_free(&m); /* NULL: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_completions),
	    cmocka_unit_test(test_wakeup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
