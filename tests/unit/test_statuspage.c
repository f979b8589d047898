/* test_statuspage.c - the status page put together (lib/statuspage.c):
 * each channel's oldest wait is the longest of the instances' (the
 * earliest oldest_ms of their heartbeats) as oldest_age_s at the page's
 * time, 0 when nothing waits anywhere; the text page's WAITING column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "statuspage.h"

/* One heartbeat hash as the readers have it: JSON strings. */
static json_t *instance(const char *name, const char *channels)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "name", name, INST_F_VERSION,
			 "0.1.0", INST_F_PID, "1", INST_F_STARTED, "1000", INST_F_HEARTBEAT,
			 "99000", INST_F_INFLIGHT, "1", INST_F_CHANNELS, channels);
}

static json_t *page_of(const char *a, const char *b, int64_t now)
{
	struct statuspage_counts n = {{0, 0, 0}, 0, 0, 0};
	json_t *insts = json_array(), *susp = json_object(), *page;

	json_array_append_new(insts, instance("inst-a", a));
	json_array_append_new(insts, instance("inst-b", b));
	page = statuspage_build(insts, susp, &n, now);
	json_decref(insts);
	json_decref(susp);
	return page;
}

static double oldest(const json_t *page, const char *chan)
{
	const json_t *c = json_object_get(json_object_get(page, "channels"), chan);

	assert_non_null(c);
	assert_null(json_object_get(c, "oldest_ms")); /* the heartbeats' field, not the page's */
	return json_number_value(json_object_get(c, "oldest_age_s"));
}

static void oldest_wait_over_instances(void **state)
{
	json_t *page = page_of("{\"sms\":{\"inflight\":1,\"oldest_ms\":97500},"
			       "\"file\":{\"inflight\":0,\"oldest_ms\":0}}",
			       "{\"sms\":{\"inflight\":2,\"oldest_ms\":96000},"
			       "\"file\":{\"inflight\":0,\"oldest_ms\":0},"
			       "\"email\":{\"inflight\":1,\"oldest_ms\":99750}}",
			       100000);

	(void)state;
	assert_true(oldest(page, "sms") > 3.999 && oldest(page, "sms") < 4.001);
	assert_true(oldest(page, "email") > 0.249 && oldest(page, "email") < 0.251);
	assert_true(oldest(page, "file") == 0.0);
	json_decref(page);
}

/* An instance whose heartbeat has no oldest_ms (an older heraldd): 0. */
static void older_heartbeat(void **state)
{
	json_t *page = page_of("{\"sms\":{\"inflight\":1}}", "{}", 100000);

	(void)state;
	assert_true(oldest(page, "sms") == 0.0);
	json_decref(page);
}

static void text_column(void **state)
{
	json_t *page = page_of("{\"sms\":{\"inflight\":1,\"oldest_ms\":87500}}",
			       "{\"file\":{\"inflight\":0,\"oldest_ms\":0}}", 100000);
	char *text = statuspage_text(page);

	(void)state;
	assert_non_null(text);
	assert_non_null(strstr(text, " FAIL/1h  WAITING     OLDEST\n"));
	assert_non_null(strstr(text, " 12.5s          -\n"));
	assert_non_null(strstr(text, "  file       up "));
	assert_non_null(strstr(text, "        -          -\n"));
	free(text);
	json_decref(page);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(oldest_wait_over_instances),
	    cmocka_unit_test(older_heartbeat),
	    cmocka_unit_test(text_column),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
