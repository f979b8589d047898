/* test_sms_req.c - the pure parts of the sms channel (channels/sms/smsreq.c):
 * configuration checks, E.164, references, URL/form/JSON request building
 * for the three gateway profiles, and the mapping of gateway answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../channels/sms/smsreq.h"

/* ---- a fake configuration ------------------------------------------------- */

struct kv {
	const char *section, *key, *value;
};

static const char *fake_get(void *ctx, const char *section, const char *key)
{
	const struct kv *kv = ctx;
	const char *want = section ? section : "channel.sms";

	for (; kv->key; kv++)
		if (!strcmp(kv->section, want) && !strcmp(kv->key, key))
			return kv->value;
	return NULL;
}

#define S "channel.sms"

static void load_ok(const struct kv *kv, struct sms_conf *c)
{
	char err[256] = "";
	int rc = sms_conf_load(c, fake_get, (void *)kv, err, sizeof(err));
	if (rc != 0)
		fail_msg("conf rejected: %s", err);
}

static const struct kv conf_kannel[] = {
    {S, "profile", "kannel"},  {S, "url", "http://127.0.0.1:13013/cgi-bin/sendsms"},
    {S, "username", "herald"}, {S, "password", "p&ss w0rd"},
    {S, "from", "HERALD"},     {"http", "public_url", "http://127.0.0.1:7402/"},
    {NULL, NULL, NULL},
};

static const struct kv conf_twilio[] = {
    {S, "profile", "twilio"},
    {S, "url", "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json"},
    {S, "account", "AC123"},
    {S, "token", "tok3n"},
    {S, "from", "+447700900001"},
    {S, "max_segments", "3"},
    {S, "max_in_flight", "8"},
    {S, "timeout", "2"},
    {"http", "public_url", "https://herald.example.org"},
    {NULL, NULL, NULL},
};

static const struct kv conf_json[] = {
    {S, "profile", "json"},
    {S, "url", "http://127.0.0.1:9/send"},
    {"http", "public_url", "http://127.0.0.1:7402"},
    {NULL, NULL, NULL},
};

static const struct kv conf_json_bearer_noreceipts[] = {
    {S, "profile", "json"},
    {S, "url", "http://127.0.0.1:9/send"},
    {S, "token", "bearer-xyz"},
    {NULL, NULL, NULL},
};

static void test_conf_defaults(void **state)
{
	struct sms_conf c;
	(void)state;

	load_ok(conf_kannel, &c);
	assert_int_equal(c.profile, SMS_PROFILE_KANNEL);
	assert_int_equal(c.max_segments, 6);
	assert_int_equal(c.max_in_flight, 32);
	assert_int_equal(c.timeout_ms, 10000);
	assert_string_equal(c.public_url, "http://127.0.0.1:7402"); /* '/' trimmed */
	assert_string_equal(c.user, "herald");

	load_ok(conf_twilio, &c);
	assert_int_equal(c.profile, SMS_PROFILE_TWILIO);
	assert_string_equal(c.user, "AC123");
	assert_string_equal(c.pass, "tok3n");
	assert_int_equal(c.max_segments, 3);
	assert_int_equal(c.max_in_flight, 8);
	assert_int_equal(c.timeout_ms, 2000);

	{
		static const struct kv conf_units[] = {
		    {S, "profile", "json"}, {S, "url", "http://x/"}, {S, "timeout", "90s"}, {0}};
		load_ok(conf_units, &c);
		assert_int_equal(c.timeout_ms, 90000); /* a duration with a unit */
	}

	load_ok(conf_json_bearer_noreceipts, &c);
	assert_string_equal(c.bearer, "bearer-xyz");
	assert_string_equal(c.user, "");
	assert_string_equal(c.public_url, "");
}

/* Each bad configuration, and a word its error message must contain. */
static void test_conf_errors(void **state)
{
	static const struct {
		const char *name;
		struct kv kv[8];
		const char *want;
	} cases[] = {
	    {"no profile", {{S, "url", "http://x/"}, {0}}, "profile is required"},
	    {"unknown profile", {{S, "profile", "smpp"}, {S, "url", "http://x/"}, {0}}, "smpp"},
	    {"no url", {{S, "profile", "json"}, {0}}, "url"},
	    {"ftp url", {{S, "profile", "json"}, {S, "url", "ftp://x/"}, {0}}, "http://"},
	    {"url with space", {{S, "profile", "json"}, {S, "url", "http://x/a b"}, {0}}, "spaces"},
	    {"kannel without password",
	     {{S, "profile", "kannel"}, {S, "url", "http://x/"}, {S, "username", "u"}, {0}},
	     "needs username and password"},
	    {"twilio without token",
	     {{S, "profile", "twilio"},
	      {S, "url", "http://x/"},
	      {S, "account", "AC"},
	      {S, "from", "+4477"},
	      {0}},
	     "needs account and token"},
	    {"twilio without from",
	     {{S, "profile", "twilio"},
	      {S, "url", "http://x/"},
	      {S, "account", "AC"},
	      {S, "token", "t"},
	      {0}},
	     "from"},
	    {"json with half the credentials",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "username", "u"}, {0}},
	     "go together"},
	    {"max_segments 0",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "max_segments", "0"}, {0}},
	     "max_segments"},
	    {"max_segments words",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "max_segments", "six"}, {0}},
	     "max_segments"},
	    {"max_in_flight huge",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "max_in_flight", "100000"}, {0}},
	     "max_in_flight"},
	    {"timeout negative",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "timeout", "-1"}, {0}},
	     "timeout"},
	    {"timeout over 600 s",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "timeout", "11m"}, {0}},
	     "timeout = '11m': expected a duration 1s..10m"},
	    {"max_in_flight with junk",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "max_in_flight", "8x"}, {0}},
	     "max_in_flight = '8x': expected an integer 1..1024"},
	    {"public_url not a URL",
	     {{S, "profile", "json"},
	      {S, "url", "http://x/"},
	      {"http", "public_url", "localhost:7402"},
	      {0}},
	     "public_url"},
	    {"control char in from",
	     {{S, "profile", "json"}, {S, "url", "http://x/"}, {S, "from", "A\nB"}, {0}},
	     "control"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sms_conf c;
		char err[256] = "";
		if (sms_conf_load(&c, fake_get, (void *)cases[i].kv, err, sizeof(err)) != -1)
			fail_msg("%s: accepted", cases[i].name);
		if (!strstr(err, cases[i].want))
			fail_msg("%s: error '%s' lacks '%s'", cases[i].name, err, cases[i].want);
	}
}

/* ---- numbers and references ------------------------------------------------ */

static void test_ref(void **state)
{
	char a[SMS_REF_MAX], b[SMS_REF_MAX], longid[200];
	(void)state;

	sms_make_ref("dvla-2026-000123", 1, a, sizeof(a));
	assert_string_equal(a, "dvla-2026-000123.1");
	sms_make_ref("ev_1", 12, a, sizeof(a));
	assert_string_equal(a, "ev_1.12");
	/* Sanitised ids carry a hash of the original: no collisions. */
	sms_make_ref("a.b", 1, a, sizeof(a));
	sms_make_ref("a_b", 1, b, sizeof(b));
	assert_string_not_equal(a, b);
	assert_true(sms_ref_valid(a));
	assert_non_null(strstr(a, "a_b-"));
	sms_make_ref("a b&c=%d<x>", 2, a, sizeof(a));
	assert_true(sms_ref_valid(a));
	assert_null(strchr(a, '%'));
	/* 128-character ids that differ only at the end. */
	memset(longid, 'x', 128);
	longid[128] = '\0';
	sms_make_ref(longid, 1, a, sizeof(a));
	longid[127] = 'y';
	sms_make_ref(longid, 1, b, sizeof(b));
	assert_string_not_equal(a, b);
	assert_true(sms_ref_valid(a) && sms_ref_valid(b));
	assert_true(strlen(a) < SMS_REF_MAX);
	sms_make_ref("", 1, a, sizeof(a));
	assert_true(sms_ref_valid(a));
	sms_make_ref(NULL, 1, a, sizeof(a));
	assert_true(sms_ref_valid(a));

	assert_false(sms_ref_valid(NULL));
	assert_false(sms_ref_valid(""));
	assert_false(sms_ref_valid("a b"));
	assert_false(sms_ref_valid("a&status=1"));
	memset(longid, 'x', 150);
	longid[150] = '\0';
	assert_false(sms_ref_valid(longid));
}

static void test_url_encode(void **state)
{
	char *s = sms_url_encode("a b&c=d/\xC3\xA9\xE2\x82\xAC~+%");
	(void)state;
	assert_string_equal(s, "a%20b%26c%3Dd%2F%C3%A9%E2%82%AC~%2B%25");
	free(s);
	s = sms_url_encode("");
	assert_string_equal(s, "");
	free(s);
}

/* ---- request building --------------------------------------------------------- */

static void test_request_kannel(void **state)
{
	struct sms_conf c;
	struct sms_request r = {0};
	(void)state;

	load_ok(conf_kannel, &c);
	assert_int_equal(
	    sms_request_build(&c, "+447700900123", "Hi & bye", GSM_ENC_GSM7, "ev-1.1", &r), 0);
	assert_string_equal(
	    r.url,
	    "http://127.0.0.1:13013/cgi-bin/sendsms?username=herald&password=p%26ss%20w0rd"
	    "&from=HERALD&to=%2B447700900123&text=Hi%20%26%20bye&charset=UTF-8&coding=0"
	    "&dlr-mask=31&dlr-url=http%3A%2F%2F127.0.0.1%3A7402%2Freceipts%2Fsms%3Fref%3Dev-1.1"
	    "%26status%3D%25d");
	assert_null(r.body);
	assert_null(r.user); /* credentials travel as parameters */
	sms_request_free(&r);

	/* UCS-2 asks for coding=2; a url with a query gets '&'. */
	strcpy(c.url, "http://gw/cgi-bin/sendsms?smsc=a");
	c.public_url[0] = '\0';
	assert_int_equal(
	    sms_request_build(&c, "+447700900123", "d\xC5\xB5r", GSM_ENC_UCS2, "r.1", &r), 0);
	assert_non_null(strstr(r.url, "sendsms?smsc=a&username="));
	assert_non_null(strstr(r.url, "&text=d%C5%B5r&"));
	assert_non_null(strstr(r.url, "&coding=2"));
	assert_null(strstr(r.url, "dlr-")); /* no public_url: no receipts asked */
	sms_request_free(&r);
}

static void test_request_twilio(void **state)
{
	struct sms_conf c;
	struct sms_request r = {0};
	(void)state;

	load_ok(conf_twilio, &c);
	assert_int_equal(sms_request_build(&c, "+447700900123", "Line 1\nLine 2 = 100%",
					   GSM_ENC_GSM7, "ev-9.2", &r),
			 0);
	assert_string_equal(r.url, "http://127.0.0.1:9/2010-04-01/Accounts/AC123/Messages.json");
	assert_string_equal(r.content_type, "application/x-www-form-urlencoded");
	assert_string_equal(r.body,
			    "To=%2B447700900123&From=%2B447700900001"
			    "&Body=Line%201%0ALine%202%20%3D%20100%25"
			    "&StatusCallback=https%3A%2F%2Fherald.example.org%2Freceipts%2Fsms"
			    "%2Ftwilio%3Fref%3Dev-9.2");
	assert_string_equal(r.user, "AC123");
	assert_string_equal(r.pass, "tok3n");
	assert_null(r.bearer);
	sms_request_free(&r);

	/* a service's own sender (meta service.sender) instead of from */
	assert_int_equal(sms_request_build_from(&c, "DVLA Notice", "+447700900123", "x",
						GSM_ENC_GSM7, "ev-9.3", &r),
			 0);
	assert_non_null(strstr(r.body, "&From=DVLA%20Notice&"));
	sms_request_free(&r);
	/* "" or NULL: the configured one */
	assert_int_equal(
	    sms_request_build_from(&c, "", "+447700900123", "x", GSM_ENC_GSM7, "ev-9.4", &r), 0);
	assert_non_null(strstr(r.body, "&From=%2B447700900001&"));
	sms_request_free(&r);
}

static void test_request_json(void **state)
{
	struct sms_conf c;
	struct sms_request r = {0};
	json_t *o;
	const char *text =
	    "Quote \" backslash \\ tab\t nl\n ctl\x01\x1f del\x7f emoji \xF0\x9F\x98\x80 </script>";
	(void)state;

	load_ok(conf_json, &c);
	assert_int_equal(sms_request_build(&c, "+12025550123", text, GSM_ENC_UCS2, "ev-3.1", &r),
			 0);
	assert_string_equal(r.content_type, "application/json");
	assert_null(r.user);
	assert_null(r.bearer);
	o = json_loads(r.body, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "to")), "+12025550123");
	assert_string_equal(json_string_value(json_object_get(o, "text")), text);
	assert_string_equal(json_string_value(json_object_get(o, "reference")), "ev-3.1");
	assert_string_equal(json_string_value(json_object_get(o, "callback_url")),
			    "http://127.0.0.1:7402/receipts/sms/json");
	assert_null(json_object_get(o, "from")); /* not configured: left out */
	json_decref(o);
	sms_request_free(&r);

	load_ok(conf_json_bearer_noreceipts, &c);
	strcpy(c.from, "HERALD");
	assert_int_equal(sms_request_build(&c, "+12025550123", "x", GSM_ENC_GSM7, "e.1", &r), 0);
	assert_string_equal(r.bearer, "bearer-xyz");
	o = json_loads(r.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(o, "from")), "HERALD");
	assert_null(json_object_get(o, "callback_url"));
	json_decref(o);
	sms_request_free(&r);
}

/* The worker builds request after request into one buffer. */
static void test_request_reuse(void **state)
{
	struct sms_conf c;
	struct sms_request r = {0};
	char longtext[3000];
	json_t *o;
	(void)state;

	load_ok(conf_json, &c);
	memset(longtext, 'y', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	assert_int_equal(sms_request_build(&c, "+12025550123", longtext, GSM_ENC_GSM7, "a.1", &r),
			 0);
	assert_true(r.cap > sizeof(longtext));
	assert_int_equal(r.body_len, strlen(r.body));
	assert_int_equal(sms_request_build(&c, "+12025550124", "short", GSM_ENC_GSM7, "b.1", &r),
			 0);
	o = json_loads(r.body, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "text")), "short");
	assert_string_equal(json_string_value(json_object_get(o, "to")), "+12025550124");
	assert_string_equal(json_string_value(json_object_get(o, "reference")), "b.1");
	assert_int_equal(r.body_len, strlen(r.body));
	json_decref(o);
	sms_request_free(&r);
	assert_null(r.buf);
}

/* ---- outcomes ------------------------------------------------------------ */

static void test_outcome(void **state)
{
	static const struct {
		long code;
		const char *body;
		enum herald_status want;
		const char *reason;
	} cases[] = {
	    {202, "0: Accepted for delivery", HERALD_SENT, "202 0: Accepted for delivery"},
	    {202, "3: Queued for later delivery", HERALD_SENT, "202 3: Queued for later delivery"},
	    {201, "{\"sid\":\"SM123\",\"status\":\"queued\"}", HERALD_SENT,
	     "201 accepted, id=SM123"},
	    {200, "{\"id\":\"x\"}", HERALD_SENT, "200 accepted, id=x"},
	    {200, "", HERALD_SENT, "200 accepted"},
	    {200, "{\"account_sid\": \"AC1\", \"sid\" : \"SM9\"}", HERALD_SENT,
	     "200 accepted, id=SM9"},
	    {200, "{\"message_id\":\"a<b\"}", HERALD_SENT, "200 {\"message_id\":\"a<b\"}"},
	    {200, "{\"id\":", HERALD_SENT, "200 {\"id\":"},
	    {200, "{\"id\":\"unterminated", HERALD_SENT, "200 {\"id\":\"unterminated"},
	    {400, "{\"message\":\"bad\"}", HERALD_PERMANENT, "HTTP 400: {\"message\":\"bad\"}"},
	    {401, "Unauthorized", HERALD_PERMANENT, "HTTP 401: Unauthorized"},
	    {403, "Authorization failed for sendsms", HERALD_PERMANENT, "HTTP 403: Authorization"},
	    {404, "", HERALD_PERMANENT, "HTTP 404"},
	    {408, "", HERALD_TEMPORARY, "HTTP 408"},
	    {429, "slow down", HERALD_TEMPORARY, "HTTP 429: slow down"},
	    {500, "oops", HERALD_TEMPORARY, "HTTP 500: oops"},
	    {503, "Sending failed.", HERALD_TEMPORARY, "HTTP 503: Sending failed."},
	    {302, "", HERALD_PERMANENT, "HTTP 302"},
	};
	struct sms_conf c;
	struct herald_result r;
	(void)state;

	load_ok(conf_twilio, &c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sms_outcome(&c, cases[i].code, NULL, cases[i].body, strlen(cases[i].body), "ev-1.1",
			    &r);
		if (r.status != cases[i].want ||
		    strncmp(r.reason, cases[i].reason, strlen(cases[i].reason)) != 0)
			fail_msg("%ld: status %d reason '%s'", cases[i].code, r.status, r.reason);
		assert_string_equal(r.ref, "ev-1.1");
		assert_int_equal(r.flags, 0); /* receipts asked for: SENT is not final */
	}
	sms_outcome(&c, 0, "Failed to connect to 127.0.0.1 port 9: Connection refused", NULL, 0,
		    "ev-1.1", &r);
	assert_int_equal(r.status, HERALD_TEMPORARY);
	assert_non_null(strstr(r.reason, "Connection refused"));
	sms_outcome(&c, 0, NULL, NULL, 0, "ev-1.1", &r);
	assert_int_equal(r.status, HERALD_TEMPORARY);

	/* Without public_url no receipt will come: SENT is final. */
	c.public_url[0] = '\0';
	sms_outcome(&c, 200, NULL, "{}", 2, "ev-1.1", &r);
	assert_int_equal(r.status, HERALD_SENT);
	assert_int_equal(r.flags, HERALD_RF_FINAL);
}

static void test_excerpt(void **state)
{
	struct sms_conf c;
	char out[128], tiny[8], big[2000];
	const char *body = "{\"message\":\"The 'To' number +447700900123 is not valid\",\n"
			   "\"auth\":\"tok3n\", \"code\":21211}";
	(void)state;

	load_ok(conf_twilio, &c);
	sms_excerpt(&c, body, strlen(body), out, sizeof(out));
	assert_null(strstr(out, "447700900123")); /* no full number */
	assert_non_null(strstr(out, "+44*******123"));
	assert_null(strstr(out, "tok3n")); /* no secret */
	assert_null(strchr(out, '\n'));
	assert_non_null(strstr(out, "21211")); /* short numbers stay */

	sms_excerpt(&c, "\x01\xff  a \t\r\n b", 12, out, sizeof(out));
	assert_string_equal(out, "a b");

	memset(big, 'z', sizeof(big));
	sms_excerpt(&c, big, sizeof(big), out, sizeof(out));
	assert_true(strlen(out) <= 103);
	assert_non_null(strstr(out, "..."));
	sms_excerpt(&c, body, strlen(body), tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
	sms_excerpt(NULL, "abc", 3, out, sizeof(out));
	assert_string_equal(out, "abc");
}

/* The path below /receipts/sms or /inbound/sms picks the form. */
static void test_path_profile(void **state)
{
	static const struct {
		const char *path;
		int want;
	} cases[] = {
	    {NULL, SMS_PROFILE_KANNEL},
	    {"", SMS_PROFILE_KANNEL},
	    {"/", SMS_PROFILE_KANNEL},
	    {"/kannel", SMS_PROFILE_KANNEL},
	    {"/twilio", SMS_PROFILE_TWILIO},
	    {"/json", SMS_PROFILE_JSON},
	    {"/json/", -1},
	    {"/Twilio", -1},
	    {"/other", -1},
	    {"kannel", -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(sms_path_profile(cases[i].path), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_conf_defaults),
	    cmocka_unit_test(test_conf_errors),
	    cmocka_unit_test(test_ref),
	    cmocka_unit_test(test_url_encode),
	    cmocka_unit_test(test_request_kannel),
	    cmocka_unit_test(test_request_twilio),
	    cmocka_unit_test(test_request_json),
	    cmocka_unit_test(test_request_reuse),
	    cmocka_unit_test(test_outcome),
	    cmocka_unit_test(test_excerpt),
	    cmocka_unit_test(test_path_profile),
	};
	return cmocka_run_group_tests_name("sms_req", tests, NULL, NULL);
}
