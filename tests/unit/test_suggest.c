/* test_suggest.c - util/suggest.c ("did you mean": edit distance, the
 * closest name within 2) and util/conf.c's line numbers, which every
 * strict-configuration message quotes. */
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
#include "suggest.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_distance(void **state)
{
	static const struct {
		const char *a, *b;
		int want;
	} t[] = {
	    {"batch", "batch", 0},
	    {"batchh", "batch", 1},
	    {"chanel", "channel", 1},
	    {"qeue", "queue", 1},
	    {"", "abc", 3},
	    {"abc", "", 3},
	    {"kitten", "sitting", 3},
	    {"retry_mx", "retry_max", 1},
	    {"max_inflight", "max_in_flight", 1},
	};
	char longer[80];

	for (size_t i = 0; i < N(t); i++)
		assert_int_equal(suggest_distance(t[i].a, t[i].b), t[i].want);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(suggest_distance(longer, "a"), 99); /* too long: no suggestion */
}

static void test_pick(void **state)
{
	static const char *const a[] = {"batch", "claim_idle", "max_inflight", NULL};
	static const char *const b[] = {"queue", "path", NULL};

	assert_string_equal(suggest_pick("batchh", a, b), "batch");
	assert_string_equal(suggest_pick("qeue", a, b), "queue"); /* from the second list */
	assert_string_equal(suggest_pick("max_inflght", a, NULL), "max_inflight");
	assert_null(suggest_pick("entirely_else", a, b)); /* nothing within 2 */
	assert_null(suggest_pick("x", NULL, NULL));
}

static void test_conf_lines(void **state)
{
	char path[] = "/tmp/test_suggest.XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct conf *c;

	assert_non_null(f);
	fputs("; comment\n[queue]\nbatch = 10\n\n[log]\nlevel = info\n[queue]\nbatch = 20\n", f);
	fclose(f);
	c = conf_load(path, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(conf_get(c, "queue", "batch"), "20"); /* the last wins */
	assert_int_equal(conf_line(c, "queue", "batch"), 8);	  /* ... and its line */
	assert_int_equal(conf_line(c, "log", "level"), 6);
	assert_int_equal(conf_line(c, "log", "file"), 0);
	conf_free(&c);
	unlink(path);
	assert_null(conf_load("/nonexistent/herald.conf", err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_distance),
	    cmocka_unit_test(test_pick),
	    cmocka_unit_test(test_conf_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
