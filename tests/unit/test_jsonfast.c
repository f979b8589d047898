/* test_jsonfast.c - the quick event parser answers as jansson would, or
 * not at all: on a table of inputs, and on thousands of mutations of real
 * events (fixed seed). It must also take the usual events, or it would be
 * dead weight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfast.h"
#include "text.h"

/* What json_loadb makes of it, as event_parse calls it. */
static json_t *jansson(const char *s, size_t n)
{
	return json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
}

/* If the quick parser answers, jansson agrees, value and key order. */
static int agrees(const char *s, size_t n)
{
	json_t *f = jsonfast_object(s, n), *l;
	int ok = 1;

	if (!f)
		return 1;
	l = jansson(s, n);
	if (!l || !json_equal(f, l)) {
		ok = 0;
	} else {
		char *a = json_dumps(f, JSON_COMPACT), *b = json_dumps(l, JSON_COMPACT);
		ok = a && b && !strcmp(a, b);
		free(a);
		free(b);
	}
	json_decref(f);
	json_decref(l);
	return ok;
}

static const char *const events[] = {
    "{\"event_id\":\"dvla-2026-000123\",\"service\":\"dvla\",\"citizen_id\":\"c-8812\","
    "\"template\":\"mot-reminder\",\"transaction_id\":\"tx-55\",\"personalisation\":"
    "{\"name\":\"Ada\",\"due_date\":\"1 December 2026\"},\"channels\":[\"sms\",\"email\","
    "\"print\"],\"priority\":\"normal\",\"send_after\":\"2026-11-22T09:00:00Z\","
    "\"deliver_within\":172800}",
    "{ \"event_id\" : \"e-2\" ,\n\t\"service\":\"hmrc\", \"citizen_id\":\"c-1\",\r\n"
    "\"template\":\"payment-due\",\"personalisation\":{\"name\":\"Siân \\\"Ffion\\\" "
    "Jones\\n\",\"amount\":\"\\u00a310\",\"cy\":\"Diolch \\u2014 \\/ \\\\ \\b\\f\\r\\t\","
    "\"n\":-42,\"z\":0,\"ok\":true,\"no\":false,\"none\":null,\"list\":[1,[2,[]],{}],"
    "\"deep\":{\"a\":{\"b\":{\"c\":\"ŵ€😀\"}}}}}",
    "{}",
};

static void test_takes_usual_events(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		json_t *f = jsonfast_object(events[i], strlen(events[i]));
		assert_non_null(f);
		assert_true(agrees(events[i], strlen(events[i])));
		json_decref(f);
	}
	json_t *f = jsonfast_object(events[1], strlen(events[1]));
	json_t *p = json_object_get(f, "personalisation");
	assert_string_equal(json_string_value(json_object_get(p, "name")),
			    "Siân \"Ffion\" Jones\n");
	assert_string_equal(json_string_value(json_object_get(p, "amount")), "£10");
	assert_int_equal(json_integer_value(json_object_get(p, "n")), -42);
	json_decref(f);
}

static void test_leaves_the_rest_to_jansson(void **state)
{
	static const char *const not_taken[] = {
	    "",
	    "   ",
	    "[1,2]",
	    "\"s\"",
	    "{\"a\":1}x",
	    "{\"a\":1,}",
	    "{\"a\" 1}",
	    "{\"a\":1,\"a\":2}",
	    "{\"a\":1.5}",
	    "{\"a\":1e3}",
	    "{\"a\":01}",
	    "{\"a\":-}",
	    "{\"a\":1234567890123456789}",
	    "{\"a\":\"\\u0000\"}",
	    "{\"a\":\"\\ud83d\\ude00\"}",
	    "{\"a\":\"\\ud800\"}",
	    "{\"a\":\"\\x\"}",
	    "{\"a\":\"\\u12g4\"}",
	    "{\"a\":\"tab\there\"}",
	    "{\"a\":tru}",
	    "{\"a\":nul}",
	    "{\"a\":[1,2}",
	    "{\"a\":\"unterminated}",
	    "{\"a\":{\"b\":1}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(not_taken) / sizeof(not_taken[0]); i++) {
		json_t *f = jsonfast_object(not_taken[i], strlen(not_taken[i]));
		if (f)
			fail_msg("took: %s", not_taken[i]);
	}
	/* 65 levels deep: past its limit, still valid JSON for jansson */
	char deep[400];
	size_t n = 0;
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
	for (int i = 0; i < 64; i++)
		deep[n++] = '[';
	for (int i = 0; i < 64; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	assert_null(jsonfast_object(deep, n));
	json_t *l = jansson(deep, n);
	assert_non_null(l);
	json_decref(l);
	/* a long key (past the stack copy) still parses */
	char longkey[400];
	memset(longkey, 'k', sizeof(longkey));
	memcpy(longkey, "{\"", 2);
	memcpy(longkey + sizeof(longkey) - 6, "\":\"v\"}", 6);
	assert_true(agrees(longkey, sizeof(longkey)));
	json_t *f = jsonfast_object(longkey, sizeof(longkey));
	assert_non_null(f);
	json_decref(f);
}

/* Random byte changes to real events: whatever the quick parser takes,
 * jansson takes the same. Inputs are kept to what event_parse lets through
 * (valid UTF-8, no NUL). */
static void test_mutations_agree(void **state)
{
	static const char alphabet[] = "{}[]\":,\\ntrufalsel0123456789-.eE \t\r\nu\xc3\xa9";
	unsigned seed = 12345;
	size_t taken = 0, tried = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		const char *src = events[round % 2];
		size_t n = strlen(src);
		char buf[1024];
		memcpy(buf, src, n);
		int edits = 1 + (int)(rand_r(&seed) % 3);
		for (int e = 0; e < edits; e++) {
			size_t at = (size_t)rand_r(&seed) % n;
			int kind = rand_r(&seed) % 3;
			char c = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
			if (kind == 0) { /* replace */
				buf[at] = c;
			} else if (kind == 1 && n + 1 < sizeof(buf)) { /* insert */
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = c;
				n++;
			} else if (n > 1) { /* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
			}
		}
		if (utf8_invalid_at(buf, n) >= 0 || memchr(buf, '\0', n))
			continue;
		tried++;
		json_t *f = jsonfast_object(buf, n);
		if (f) {
			taken++;
			json_decref(f);
		}
		if (!agrees(buf, n))
			fail_msg("disagrees with jansson on: %.*s", (int)n, buf);
	}
	/* the mutations include many that stay valid: some were taken */
	assert_true(tried > 10000);
	assert_true(taken > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_takes_usual_events),
	    cmocka_unit_test(test_leaves_the_rest_to_jansson),
	    cmocka_unit_test(test_mutations_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
