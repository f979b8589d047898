/* test_resolve.c - plans from citizen records, transaction references, and
 * the delivery log's text line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "deliverylog.h"
#include "router.h"

static const char *const v_email[] = {"email", NULL};
static const struct herald_channel d_email = {
    .abi = 1, .name = "email", .address_field = "email", .variants = v_email};
static const struct herald_channel d_sms = {
    .abi = 1, .name = "sms", .address_field = "phone", .variants = v_email};
static const struct herald_channel d_print = {
    .abi = 1, .name = "print", .address_field = "address", .variants = v_email};
static const struct herald_channel d_file = {.abi = 1, .name = "file", .variants = v_email};

static struct chanset cs;

static int setup(void **state)
{
	const struct herald_channel *d[] = {&d_email, &d_sms, &d_print, &d_file};

	memset(&cs, 0, sizeof(cs));
	for (int i = 0; i < 4; i++) {
		snprintf(cs.ch[i].name, sizeof(cs.ch[i].name), "%s", d[i]->name);
		cs.ch[i].desc = d[i];
	}
	cs.n = 4;
	return 0;
}

static const struct {
	const char *name, *citizen, *event_channels, *plan, *why;
} cases[] = {
    {"preference order kept",
     "{\"channels\":\"sms,email,print\",\"phone\":\"+447700900123\",\"email\":\"a@b.c\","
     "\"address\":\"1 St\\nX\"}",
     NULL, "sms,email,print", ""},
    {"no address skipped with reason", "{\"channels\":\"sms,email\",\"email\":\"a@b.c\"}", NULL,
     "email", "sms: no phone on record"},
    {"opt-out",
     "{\"channels\":\"sms,email\",\"email\":\"a@b.c\",\"phone\":\"+447700900123\","
     "\"optout\":\"sms\"}",
     NULL, "email", "sms: opted out"},
    {"invalid address learnt",
     "{\"channels\":\"email,sms\",\"email\":\"a@b.c\",\"phone\":\"+447700900123\","
     "\"invalid\":\"email\"}",
     NULL, "sms", "email: address marked invalid"},
    {"event narrows", "{\"channels\":\"sms,email,file\",\"email\":\"a@b.c\",\"phone\":\"+1\"}",
     "[\"file\",\"email\"]", "email,file", ""},
    {"unknown channel", "{\"channels\":\"fax,file\"}", NULL, "file", "fax: channel not enabled"},
    {"spaces and duplicates", "{\"channels\":\" file , file,email\",\"email\":\"a@b.c\"}", NULL,
     "file,email", ""},
    {"no preference", "{\"email\":\"a@b.c\"}", NULL, "", "citizen has no channel preference"},
    {"nothing left", "{\"channels\":\"sms\"}", NULL, "", "sms: no phone on record"},
    {"event asks for none of them", "{\"channels\":\"sms\",\"phone\":\"+1\"}", "[\"email\"]", "",
     "none of the event's channels"},
    {"empty address counts as none", "{\"channels\":\"email,file\",\"email\":\"\"}", NULL, "file",
     "email: no email on record"},
};

static void test_plans(void **state)
{
	int failures = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *cit = json_loads(cases[i].citizen, 0, NULL);
		json_t *evc =
		    cases[i].event_channels ? json_loads(cases[i].event_channels, 0, NULL) : NULL;
		char plan[256], why[512];
		int n;

		assert_non_null(cit);
		n = resolve_plan(cit, NULL, evc, &cs, plan, sizeof(plan), why, sizeof(why));
		if (strcmp(plan, cases[i].plan) != 0 || !strstr(why, cases[i].why) ||
		    n != plan_len(cases[i].plan)) {
			print_error("case '%s': plan '%s' (n=%d) why '%s'; expected '%s' / '%s'\n",
				    cases[i].name, plan, n, why, cases[i].plan, cases[i].why);
			failures++;
		}
		json_decref(cit);
		json_decref(evc);
	}
	assert_int_equal(failures, 0);
}

/* optout@SERVICE: one service's refusals, not another's */
static const struct {
	const char *name, *citizen, *event_channels, *plan, *why, *service;
} svc_cases[] = {
    {"opted out of this service only",
     "{\"channels\":\"email,sms\",\"email\":\"a@b.c\",\"phone\":\"+447700900123\","
     "\"optout@news\":\"email\"}",
     NULL, "sms", "email: opted out of this service", "news"},
    {"another service's opt-out does not apply",
     "{\"channels\":\"email,sms\",\"email\":\"a@b.c\",\"phone\":\"+447700900123\","
     "\"optout@news\":\"email\"}",
     NULL, "email,sms", "", "courts"},
};

static void test_service_optout(void **state)
{
	for (size_t i = 0; i < sizeof(svc_cases) / sizeof(svc_cases[0]); i++) {
		json_t *cit = json_loads(svc_cases[i].citizen, 0, NULL);
		char plan[256], why[512];

		assert_non_null(cit);
		resolve_plan(cit, svc_cases[i].service, NULL, &cs, plan, sizeof(plan), why,
			     sizeof(why));
		assert_string_equal(plan, svc_cases[i].plan);
		assert_non_null(strstr(why, svc_cases[i].why));
		json_decref(cit);
	}
}

static void test_plan_channel(void **state)
{
	char out[16];

	assert_string_equal(plan_channel("sms,email,print", 0, out, sizeof(out)), "sms");
	assert_string_equal(plan_channel("sms,email,print", 2, out, sizeof(out)), "print");
	assert_null(plan_channel("sms,email,print", 3, out, sizeof(out)));
	assert_null(plan_channel("", 0, out, sizeof(out)));
	assert_int_equal(plan_len("a,b,c"), 3);
	assert_int_equal(plan_len(""), 0);
	assert_true(list_has("a, b ,c", "b"));
	assert_false(list_has("ab,c", "a"));
}

static void test_reference(void **state)
{
	char a[24], b[24], c[24];

	tx_reference("tx-55", a, sizeof(a));
	tx_reference("tx-55", b, sizeof(b));
	tx_reference("tx-56", c, sizeof(c));
	assert_string_equal(a, b); /* stable: every instance computes the same */
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 12);
	assert_memory_equal(a, "HX-", 3);
	assert_int_equal(a[7], '-');
	/* no look-alike characters */
	for (int i = 0; i < 1000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "tx-%d", i);
		tx_reference(id, a, sizeof(a));
		assert_null(strpbrk(a + 3, "01OILUV"));
	}
}

static void test_log_line(void **state)
{
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:f,s:s,s:s,s:s,s:s}", "ts",
				"2026-11-22T09:00:00.000Z", "event_id", "dvla-1", "tx", "tx-55",
				"citizen", "c-8812", "channel", "sms", "to", "+44*******123",
				"attempt", 1, "delay", 0.84, "delays", "0.010/0.020/0.810", "dsn",
				"-", "status", "sent", "reason", "202 Accepted\r\nX-Injected: yes");
	char line[512];

	dlog_format_text(rec, line, sizeof(line));
	assert_string_equal(
	    line, "2026-11-22T09:00:00.000Z dvla-1: tx=tx-55, citizen=c-8812, channel=sms, "
		  "to=+44*******123, attempt=1, delay=0.840, delays=0.010/0.020/0.810, "
		  "dsn=-, status=sent (202 Accepted\\x0d\\x0aX-Injected: yes)");
	json_object_set_new(rec, "fulfilled_in", json_real(12.5));
	dlog_format_text(rec, line, sizeof(line));
	assert_non_null(strstr(line, "fulfilled_in=12.500, status=sent"));
	json_decref(rec);
}

/* The JSON record escapes control characters as \u00XX (OpenSSL's hex
 * digits) and reads back as the same text. */
static void test_log_json_controls(void **state)
{
	struct dlog_rec r = {.ts = "2026-11-22T09:00:00.000Z",
			     .event_id = "dvla-1",
			     .status = "sent",
			     .reason = "a\x01"
				       "b\x1f\"\\\r\nz"};
	char buf[1024];
	json_error_t je;
	json_t *j;
	size_t n = dlog_rec_json(&r, buf, sizeof(buf));

	assert_true(n > 0 && n < sizeof(buf));
	assert_non_null(strstr(buf, "a\\u0001b\\u001F\\\"\\\\\\u000D\\u000Az"));
	j = json_loadb(buf, n, 0, &je);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), r.reason);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plans),	 cmocka_unit_test(test_service_optout),
	    cmocka_unit_test(test_plan_channel), cmocka_unit_test(test_reference),
	    cmocka_unit_test(test_log_line),	 cmocka_unit_test(test_log_json_controls),
	};
	return cmocka_run_group_tests_name("resolve", tests, setup, NULL);
}
