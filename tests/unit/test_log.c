/* test_log.c - the operator log's rate limit (util/log.c): a flood of one
 * kind of line is cut to the burst, the rest counted in a "suppressed"
 * line once the kind may write again; other kinds are not held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* stderr into a temporary file for the test's lines; the file's text. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/herald-test-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *text;
	FILE *fp;
	long n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fp = fdopen(fd, "r");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	unlink(path);
	return text;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
		n++;
	return n;
}

static void flood(void)
{
	for (int i = 0; i < 500; i++) {
		log_msg(LOG_L_NOTICE, "rejected f-%d: unknown template", i);
		if (i % 100 == 0)
			log_info("another kind %d", i);
	}
}

static void after_a_pause(void)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = 300 * 1000000L};

	nanosleep(&ts, NULL);
	log_msg(LOG_L_NOTICE, "rejected f-%d: unknown template", 500);
}

static void test_flood(void **state)
{
	char *a, *b, *line;
	unsigned long suppressed = 0;

	log_init("test", LOG_L_DEBUG);
	a = capture(flood);
	/* the burst (20) and what refilled while the loop ran: few */
	assert_in_range(count(a, "notice: rejected f-"), 20, 40);
	assert_int_equal(count(a, "info: another kind"), 5);
	assert_int_equal(count(a, "similar lines suppressed"), 0);
	b = capture(after_a_pause);
	line = strstr(b, "similar lines suppressed: rejected f-%d: unknown template");
	assert_non_null(line);
	line--; /* the space before "similar": the count ends there */
	while (line > b && line[-1] >= '0' && line[-1] <= '9')
		line--;
	suppressed = strtoul(line, NULL, 10);
	assert_int_equal(count(a, "notice: rejected f-") + (int)suppressed, 500);
	assert_int_equal(count(b, "notice: rejected f-500: unknown template"), 1);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
