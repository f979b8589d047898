/* test_chanjob.c - the plugins' shared job packing and shutdown
 * (channels/common/chanjob.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chanjob.h"

struct job {
	uint64_t id;
	const char *a, *b, *c;
	char fixed[16];
};

static void test_pack(void **state)
{
	static const size_t off[] = {offsetof(struct job, a), offsetof(struct job, b),
				     offsetof(struct job, c)};
	const char *src[] = {"first", NULL, ""};
	struct job *j = chan_job_pack(sizeof(*j), 3, src, off);

	(void)state;
	assert_non_null(j);
	assert_int_equal(j->id, 0); /* the head is zeroed */
	assert_int_equal(j->fixed[0], 0);
	assert_string_equal(j->a, "first");
	assert_null(j->b);
	assert_string_equal(j->c, "");
	assert_ptr_not_equal(j->a, src[0]);			   /* copies ... */
	assert_true(j->a >= (const char *)(j + 1) && j->c > j->a); /* ... after the head */
	free(j);
	j = chan_job_pack(sizeof(*j), 0, NULL, NULL);
	assert_non_null(j);
	free(j);
}

static int freed;
static void count_free(void *j)
{
	freed++;
	free(j);
}

struct worker {
	struct jobq *q;
	atomic_int stop, woken, popped;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&w->stop)) {
		void *j = jobq_pop(w->q, -1); /* blocks until a job or close */
		if (j) {
			atomic_fetch_add(&w->popped, 1);
			free(j);
		}
	}
	return NULL;
}

static void wake(void *arg)
{
	struct worker *w = arg;
	atomic_store(&w->woken, 1);
}

static void test_shutdown(void **state)
{
	struct worker w = {.q = jobq_new(8)};
	pthread_t t[2];

	(void)state;
	assert_non_null(w.q);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w), 0);
	atomic_store(&w.stop, 1);
	/* returns only once both workers, blocked in jobq_pop, were woken */
	chan_workers_join(w.q, t, 2, wake, &w);
	assert_int_equal(atomic_load(&w.woken), 1);
	{
		void *late = malloc(1);
		assert_int_equal(jobq_push(w.q, late), -1); /* closed */
		free(late);
	}
	jobq_free(&w.q);

	/* what is left is freed with the queue */
	freed = 0;
	w.q = jobq_new(8);
	for (int i = 0; i < 3; i++)
		assert_int_equal(jobq_push(w.q, malloc(4)), 0);
	jobq_drain_free(&w.q, count_free);
	assert_null(w.q);
	assert_int_equal(freed, 3);
	jobq_drain_free(&w.q, count_free); /* NULL: nothing */
	jobq_drain_free(NULL, count_free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pack),
	    cmocka_unit_test(test_shutdown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
