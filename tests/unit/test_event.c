/* test_event.c - the wire-format validator: every rule, table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define GOOD "\"event_id\":\"e-1\",\"service\":\"dvla\",\"citizen_id\":\"c-1\",\"template\":\"t\""

static const struct {
	const char *name;
	const char *frame;
	const char *error; /* NULL: valid; else a substring of the error */
} cases[] = {
    {"minimal valid", "{" GOOD "}", NULL},
    {"all fields",
     "{" GOOD ",\"transaction_id\":\"tx-1\",\"personalisation\":{\"name\":\"Ada\",\"n\":3},"
     "\"channels\":[\"sms\",\"email\"],\"priority\":\"urgent\",\"send_after\":"
     "\"2026-11-22T09:00:00Z\",\"deliver_within\":172800,\"kind\":\"notification\"}",
     NULL},
    {"engagement",
     "{\"kind\":\"engagement\",\"event_id\":\"g1\",\"service\":\"s\","
     "\"transaction_id\":\"tx\",\"citizen_id\":\"c\",\"channel\":\"sms\"}",
     NULL},
    {"malformed", "{\"event_id\":", "malformed JSON"},
    {"not an object", "[1,2]", "top level must be a JSON object"},
    {"empty", "", "empty frame"},
    {"missing event_id", "{\"service\":\"s\",\"citizen_id\":\"c\",\"template\":\"t\"}",
     "missing required field 'event_id'"},
    /* the connection's key says it (router/policy.c; required there under
     * auth = none: t_core) */
    {"no service", "{\"event_id\":\"e\",\"citizen_id\":\"c\",\"template\":\"t\"}", NULL},
    {"service not a string",
     "{\"event_id\":\"e\",\"service\":1,\"citizen_id\":\"c\",\"template\":\"t\"}",
     "field 'service' must be a string"},
    {"missing citizen", "{\"event_id\":\"e\",\"service\":\"s\",\"template\":\"t\"}",
     "missing required field 'citizen_id'"},
    {"missing template", "{\"event_id\":\"e\",\"service\":\"s\",\"citizen_id\":\"c\"}",
     "missing required field 'template'"},
    {"unknown field", "{" GOOD ",\"colour\":\"red\"}", "unknown field 'colour'"},
    {"event_id not a string",
     "{\"event_id\":5,\"service\":\"s\",\"citizen_id\":\"c\","
     "\"template\":\"t\"}",
     "field 'event_id' must be a string"},
    {"event_id with a space",
     "{\"event_id\":\"a b\",\"service\":\"s\",\"citizen_id\":\"c\","
     "\"template\":\"t\"}",
     "printable ASCII"},
    {"event_id non-ASCII",
     "{\"event_id\":\"\xc5\xb5\",\"service\":\"s\",\"citizen_id\":\"c\","
     "\"template\":\"t\"}",
     "printable ASCII"},
    {"duplicate key", "{" GOOD ",\"service\":\"x\"}", "malformed JSON"},
    {"invalid UTF-8", "{" GOOD ",\"personalisation\":{\"n\":\"\xc3\x28\"}}",
     "invalid UTF-8 at byte"},
    {"overlong UTF-8", "{" GOOD ",\"personalisation\":{\"n\":\"\xc0\xaf\"}}", "invalid UTF-8"},
    {"UTF-16 surrogate in UTF-8", "{" GOOD ",\"personalisation\":{\"n\":\"\xed\xa0\x80\"}}",
     "invalid UTF-8"},
    {"personalisation not object", "{" GOOD ",\"personalisation\":[1]}",
     "'personalisation' must be an object"},
    {"reserved personalisation key", "{" GOOD ",\"personalisation\":{\"citizen\":\"x\"}}",
     "reserved"},
    {"channels empty", "{" GOOD ",\"channels\":[]}", "non-empty array"},
    {"channels bad name", "{" GOOD ",\"channels\":[\"SMS!\"]}", "'channels'[0]"},
    {"priority unknown", "{" GOOD ",\"priority\":\"now\"}", "urgent, normal, bulk"},
    {"send_after bad", "{" GOOD ",\"send_after\":\"tomorrow\"}", "RFC 3339"},
    {"send_after no zone", "{" GOOD ",\"send_after\":\"2026-11-22T09:00:00\"}", "RFC 3339"},
    {"reply_to_id not a string", "{" GOOD ",\"reply_to_id\":1}",
     "field 'reply_to_id' must be a string"},
    {"reply_to_id with a space", "{" GOOD ",\"reply_to_id\":\"a b\"}",
     "field 'reply_to_id' must be 1-"},
    {"reply_to_id in an engagement",
     "{\"kind\":\"engagement\",\"event_id\":\"g1\",\"service\":\"s\","
     "\"transaction_id\":\"tx\",\"citizen_id\":\"c\",\"channel\":\"sms\",\"reply_to_id\":\"m\"}",
     "unknown field 'reply_to_id'"},
    {"deliver_within negative", "{" GOOD ",\"deliver_within\":-1}", "positive number"},
    {"deliver_within string", "{" GOOD ",\"deliver_within\":\"1\"}", "positive number"},
    {"kind unknown", "{" GOOD ",\"kind\":\"other\"}", "unknown kind"},
    {"engagement without channel",
     "{\"kind\":\"engagement\",\"event_id\":\"g\",\"service\":"
     "\"s\",\"transaction_id\":\"t\",\"citizen_id\":\"c\"}",
     "missing required field 'channel'"},
    {"engagement without tx",
     "{\"kind\":\"engagement\",\"event_id\":\"g\",\"service\":\"s\","
     "\"citizen_id\":\"c\",\"channel\":\"sms\"}",
     "missing required field 'transaction_id'"},
    {"engagement with template",
     "{\"kind\":\"engagement\",\"event_id\":\"g\",\"service\":\"s\","
     "\"transaction_id\":\"t\",\"citizen_id\":\"c\",\"channel\":"
     "\"sms\",\"template\":\"x\"}",
     "unknown field 'template'"},
};

static void test_table(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct event ev;
		char err[320] = "";
		int rc = event_parse(cases[i].frame, strlen(cases[i].frame), &ev, err, sizeof(err));

		if (cases[i].error == NULL && rc != 0) {
			print_error("case '%s': expected valid, got error: %s\n", cases[i].name,
				    err);
			failures++;
		} else if (cases[i].error && (rc == 0 || !strstr(err, cases[i].error))) {
			print_error("case '%s': expected error containing '%s', got rc=%d '%s'\n",
				    cases[i].name, cases[i].error, rc, err);
			failures++;
		}
		if (rc == 0)
			event_clear(&ev);
	}
	assert_int_equal(failures, 0);
}

static void test_fields(void **state)
{
	const char *f = "{" GOOD ",\"transaction_id\":\"tx-9\",\"priority\":\"bulk\","
			"\"send_after\":\"2026-11-22T09:00:00+01:00\",\"deliver_within\":60,"
			"\"reply_to_id\":\"appeals\"}";
	struct event ev;
	char err[256];

	assert_int_equal(event_parse(f, strlen(f), &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.event_id, "e-1");
	assert_string_equal(ev.transaction_id, "tx-9");
	assert_int_equal(ev.priority, PRIO_BULK);
	/* 09:00+01:00 is 08:00Z */
	assert_int_equal(ev.send_after_ms, 1795334400000LL);
	assert_int_equal(ev.deliver_within, 60);
	assert_string_equal(ev.reply_to_id, "appeals");
	event_clear(&ev);
}

static void test_limits(void **state)
{
	char *big = malloc(EVENT_MAX_FRAME + 100), id[EVENT_MAX_ID + 2], frame[512];
	struct event ev;
	char err[256];

	memset(big, ' ', EVENT_MAX_FRAME + 99);
	big[0] = '{';
	big[EVENT_MAX_FRAME + 98] = '}';
	big[EVENT_MAX_FRAME + 99] = '\0';
	assert_int_equal(event_parse(big, strlen(big), &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "frame too large"));
	free(big);

	memset(id, 'x', EVENT_MAX_ID);
	id[EVENT_MAX_ID] = '\0';
	snprintf(frame, sizeof(frame),
		 "{\"event_id\":\"%s\",\"service\":\"s\",\"citizen_id\":\"c\",\"template\":\"t\"}",
		 id);
	assert_int_equal(event_parse(frame, strlen(frame), &ev, err, sizeof(err)), 0);
	event_clear(&ev);
	id[EVENT_MAX_ID] = 'x';
	id[EVENT_MAX_ID + 1] = '\0';
	snprintf(frame, sizeof(frame),
		 "{\"event_id\":\"%s\",\"service\":\"s\",\"citizen_id\":\"c\",\"template\":\"t\"}",
		 id);
	assert_int_equal(event_parse(frame, strlen(frame), &ev, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1-128 printable ASCII"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
