/* test_transition.c - the records of a transition (lib/transition.c), the
 * one code heraldd's state.c and heraldctl dead replay both call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "transition.h"

#define NOW 1795338001234LL /* 2026-11-22T09:00:01.234Z */

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	assert_non_null(j);
	return j;
}

static const char *str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(none)";
}

static void accepted_record(void **state)
{
	struct event ev = {.event_id = "e-1",
			   .service = "dvla",
			   .citizen_id = "c-1",
			   .template_name = "renewal",
			   .priority = PRIO_URGENT};
	char text[2048], js[4096];

	transition_accepted(&ev, "tx-9", NOW, text, sizeof(text), js, sizeof(js));
	assert_string_equal(text, "2026-11-22T09:00:01.234Z e-1: tx=tx-9, citizen=c-1, "
				  "channel=-, to=-, attempt=0, delay=0.000, "
				  "delays=-/-/-, dsn=-, status=accepted (template renewal, "
				  "priority urgent)");
	json_t *j = parse(js);
	assert_string_equal(str(j, "status"), "accepted");
	assert_string_equal(str(j, "reason"), "template renewal, priority urgent");
	assert_string_equal(str(j, "tx"), "tx-9");
	assert_true(json_is_null(json_object_get(j, "channel")));
	assert_string_equal(str(j, "delays"), "-/-/-");
	json_decref(j);
}

static void step_record(void **state)
{
	struct transition_msg m = {.event_id = "e-1",
				   .tx = "tx-9",
				   .citizen = "c-1",
				   .service = "dvla",
				   .channel = "sms",
				   .to = "+44*******123",
				   .attempt = 2,
				   .accepted_ms = NOW - 2000,
				   .picked_ms = NOW - 1500,
				   .prepared_ms = NOW - 1000,
				   .submitted_ms = NOW - 250};
	struct transition_step s = {.status = "sent", .reason = "202", .fulfilled_ms = -1};
	struct transition_buf b;
	struct dlog_rec rec;

	transition_record(&rec, &m, &s, NOW, &b);
	assert_string_equal(rec.delays, "0.500/0.500/0.250");
	assert_string_equal(rec.ts, "2026-11-22T09:00:01.234Z");
	assert_string_equal(rec.channel, "sms");
	assert_string_equal(rec.to, "+44*******123");
	assert_int_equal(rec.attempt, 2);
	assert_true(rec.delay > 1.999 && rec.delay < 2.001);
	assert_true(rec.fulfilled_in < 0);
	m.to = "";
	m.submitted_ms = 0;
	transition_record(&rec, &m, &s, NOW, &b);
	assert_string_equal(rec.to, "-");
	assert_string_equal(rec.delays, "0.500/0.500/-");
}

/* The JSON form gives delay and delays in microseconds when the times are
 * known to the microsecond; the text form keeps milliseconds, and heraldctl
 * tail's text from the JSON is the text line. */
static void microseconds(void **state)
{
	struct transition_msg m = {.event_id = "e-1",
				   .tx = "tx-9",
				   .citizen = "c-1",
				   .service = "dvla",
				   .channel = "file",
				   .to = "-",
				   .attempt = 1,
				   .accepted_ms = NOW - 2,
				   .picked_ms = NOW - 2,
				   .prepared_ms = NOW - 1,
				   .submitted_ms = NOW - 1,
				   .accepted_us = NOW * 1000 - 1234,
				   .picked_us = NOW * 1000 - 1114,
				   .prepared_us = NOW * 1000 - 864,
				   .submitted_us = NOW * 1000 - 800,
				   .now_us = NOW * 1000 + 5};
	struct transition_step s = {.status = "delivered", .reason = "", .fulfilled_ms = -1};
	struct transition_buf b;
	struct dlog_rec rec;
	char text[2048], again[2048], js[4096];

	transition_record(&rec, &m, &s, NOW, &b);
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, js, sizeof(js));
	assert_non_null(strstr(js, "\"delay\":0.001239,"));
	assert_non_null(strstr(js, "\"delays\":\"0.000120/0.000250/0.000805\""));
	assert_non_null(strstr(text, "delay=0.001, delays=0.000/0.000/0.001,"));
	json_t *j = parse(js);
	dlog_format_text(j, again, sizeof(again));
	json_decref(j);
	assert_string_equal(again, text);
	/* only milliseconds known: the same figures as before, six decimals */
	m.accepted_us = m.picked_us = m.prepared_us = m.submitted_us = m.now_us = 0;
	transition_record(&rec, &m, &s, NOW, &b);
	dlog_rec_json(&rec, js, sizeof(js));
	assert_non_null(strstr(js, "\"delay\":0.002000,"));
	assert_non_null(strstr(js, "\"delays\":\"0.000000/0.001000/0.001000\""));
}

/* A possible duplicate says so in both forms, and heraldctl tail's text
 * from the JSON is the same line; an unmarked record says nothing. */
static void possible_duplicate(void **state)
{
	struct transition_msg m = {.event_id = "e-1",
				   .tx = "tx-9",
				   .citizen = "c-1",
				   .service = "dvla",
				   .channel = "sms",
				   .to = "+44*******123",
				   .attempt = 1,
				   .possible_dup = 1,
				   .accepted_ms = NOW - 2000};
	struct transition_step s = {.status = "sending", .reason = "x", .fulfilled_ms = -1};
	struct transition_buf b;
	struct dlog_rec rec;
	char text[2048], again[2048], js[4096];

	transition_record(&rec, &m, &s, NOW, &b);
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, js, sizeof(js));
	assert_non_null(strstr(text, ", attempt=1, dup=possible, delay="));
	json_t *j = parse(js);
	assert_true(json_is_true(json_object_get(j, "possible_duplicate")));
	dlog_format_text(j, again, sizeof(again));
	assert_string_equal(again, text);
	json_decref(j);
	m.possible_dup = 0;
	transition_record(&rec, &m, &s, NOW, &b);
	dlog_rec_text(&rec, text, sizeof(text));
	dlog_rec_json(&rec, js, sizeof(js));
	assert_null(strstr(text, "dup="));
	assert_null(strstr(js, "possible_duplicate"));
}

static void replay(void **state)
{
	struct transition_msg m = {.event_id = "bob-2",
				   .tx = "bob-2",
				   .citizen = "c-bob",
				   .service = "dvla",
				   .channel = "sms",
				   .to = "+44*******456",
				   .attempt = 3,
				   .accepted_ms = NOW - 60000,
				   .picked_ms = NOW - 59000};
	char js[4096], at[512];

	transition_replay_record(&m, NOW, js, sizeof(js));
	json_t *j = parse(js);
	assert_string_equal(str(j, "status"), "accepted");
	assert_string_equal(str(j, "reason"), TRANSITION_REPLAY_REASON);
	assert_string_equal(str(j, "citizen"), "c-bob");
	assert_string_equal(str(j, "to"), "-");
	assert_string_equal(str(j, "delays"), "-/-/-");
	assert_true(json_is_null(json_object_get(j, "channel")));
	assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 0);
	assert_true(json_number_value(json_object_get(j, "delay")) > 59.9);
	json_decref(j);

	transition_replay_at("sms", "+44*******456", at, sizeof(at));
	assert_string_equal(at, "sms 0 0 - +44*******456");
	transition_replay_at("", "", at, sizeof(at));
	assert_string_equal(at, "- 0 0 - -");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(accepted_record), cmocka_unit_test(step_record),
	    cmocka_unit_test(microseconds),    cmocka_unit_test(possible_duplicate),
	    cmocka_unit_test(replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
