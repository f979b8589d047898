/* test_sms_inbound.c - SMS replies: the sms channel's inbound() parsers
 * (channels/sms/inbound.c) for the Kannel, Twilio and JSON forms, the
 * sender's number, the text's cleaning and cut, Twilio's signature; and
 * the STOP words (lib/smsstop.c) with [channel.sms] stop_keywords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sms_fakereq.h"
#include "smsstop.h"

/* Parse one request; returns inbound()'s answer. */
static int parse(const char *path, const char *query, const char *ctype, const char *body,
		 const char *sig, struct herald_inbound *out, char *resp, size_t rlen)
{
	struct fake f = {.sig = sig};
	struct herald_http_req req = {.version = HERALD_HTTP_REQ_VERSION,
				      .method = body[0] ? "POST" : "GET",
				      .path = path,
				      .content_type = ctype,
				      .body = body,
				      .body_len = strlen(body),
				      .arg = fake_arg,
				      .header = fake_header,
				      .priv = &f};
	int rc;

	assert_int_equal(form_parse(&f.query, query), 0);
	assert_int_equal(form_parse(&f.body, ctype && !strcmp(ctype, FORM) ? body : ""), 0);
	rc = sms_inbound(&req, out, resp, rlen);
	form_free(&f.query);
	form_free(&f.body);
	return rc;
}

static void test_kannel(void **state)
{
	struct herald_inbound in;
	char resp[128];

	(void)state;
	assert_int_equal(parse("",
			       "from=%2B447700900777&to=HERALD&text=Yes+please&id=f773ff59-05e3",
			       NULL, "", NULL, &in, resp, sizeof(resp)),
			 1);
	assert_int_equal(in.version, HERALD_INBOUND_VERSION);
	assert_string_equal(in.from, "+447700900777");
	assert_string_equal(in.to, "HERALD");
	assert_string_equal(in.text, "Yes please");
	assert_string_equal(in.id, "f773ff59-05e3");
	assert_string_equal(resp, ""); /* Kannel would text a non-empty answer back */
	/* the number without '+', or with 00; /kannel is the same form */
	assert_int_equal(
	    parse("/kannel", "from=447700900777&text=x", NULL, "", NULL, &in, resp, sizeof(resp)),
	    1);
	assert_string_equal(in.from, "+447700900777");
	assert_string_equal(in.id, "");
	assert_int_equal(
	    parse("", "from=00447700900777&text=", NULL, "", NULL, &in, resp, sizeof(resp)), 1);
	assert_string_equal(in.from, "+447700900777");
	assert_string_equal(in.text, "");
	/* no number, a short code, letters, an unsubstituted %p: malformed */
	assert_int_equal(parse("", "text=stop", NULL, "", NULL, &in, resp, sizeof(resp)), -1);
	assert_non_null(strstr(resp, "from"));
	assert_int_equal(parse("", "from=12345&text=stop", NULL, "", NULL, &in, resp, sizeof(resp)),
			 -1);
	assert_int_equal(parse("", "from=%25p&text=stop", NULL, "", NULL, &in, resp, sizeof(resp)),
			 -1);
	assert_int_equal(
	    parse("", "from=+44abc&text=stop", NULL, "", NULL, &in, resp, sizeof(resp)), -1);
	/* an id that is not one safe word is dropped, not refused */
	assert_int_equal(
	    parse("", "from=447700900777&text=x&id=a%20b", NULL, "", NULL, &in, resp, sizeof(resp)),
	    1);
	assert_string_equal(in.id, "");
	assert_int_equal(
	    parse("/other", "from=447700900777", NULL, "", NULL, &in, resp, sizeof(resp)), -1);
}

/* Controls become spaces (newline and tab stay), invalid UTF-8 '?', a long
 * text is cut at a character and flagged. */
static void test_text(void **state)
{
	struct herald_inbound in;
	char resp[128], q[8192];
	size_t o;

	(void)state;
	assert_int_equal(
	    parse("", "from=447700900777&text=a%00b", NULL, "", NULL, &in, resp, sizeof(resp)), 1);
	assert_string_equal(in.text, "a"); /* the decoder stops at NUL */
	assert_int_equal(parse("", "from=447700900777&text=a%01b%0Ac%09d%7F%C3%A9%FF%E2%82", NULL,
			       "", NULL, &in, resp, sizeof(resp)),
			 1);
	assert_string_equal(in.text, "a b\nc\td \xC3\xA9???"); /* FF, E2, 82 */
	assert_int_equal(in.truncated, 0);
	o = (size_t)snprintf(q, sizeof(q), "from=447700900777&text=");
	for (int i = 0; i < 1000; i++) /* 1000 x "é" = 2000 bytes */
		o += (size_t)snprintf(q + o, sizeof(q) - o, "%%C3%%A9");
	assert_int_equal(parse("", q, NULL, "", NULL, &in, resp, sizeof(resp)), 1);
	assert_int_equal(in.truncated, 1);
	assert_int_equal(strlen(in.text), 1600); /* 800 whole characters */
}

static void test_json(void **state)
{
	struct herald_inbound in;
	char resp[128];

	(void)state;
	assert_int_equal(
	    parse("/json", "", JSON,
		  "{\"from\":\"+447700900555\",\"to\":\"+447700900001\",\"text\":\"Diolch "
		  "\\u00e2\",\"id\":\"j-1\"}",
		  NULL, &in, resp, sizeof(resp)),
	    1);
	assert_string_equal(in.from, "+447700900555");
	assert_string_equal(in.text, "Diolch \xC3\xA2");
	assert_string_equal(in.id, "j-1");
	assert_int_equal(
	    parse("/json", "", JSON, "{\"text\":\"stop\"}", NULL, &in, resp, sizeof(resp)), -1);
	assert_int_equal(parse("/json", "", JSON, "[1]", NULL, &in, resp, sizeof(resp)), -1);
	assert_int_equal(parse("/json", "", JSON, "", NULL, &in, resp, sizeof(resp)), -1);
	assert_int_equal(parse("/json", "", JSON, "{\"from\":7}", NULL, &in, resp, sizeof(resp)),
			 -1);
	/* duplicate keys are refused (which one would count?) */
	assert_int_equal(parse("/json", "", JSON, "{\"from\":\"+447700900555\",\"from\":\"+1\"}",
			       NULL, &in, resp, sizeof(resp)),
			 -1);
}

/* With profile twilio, a token and public_url, a reply must be signed over
 * public_url + /inbound/sms/twilio and the sorted POST parameters. */
static void test_twilio(void **state)
{
	static const char body[] =
	    "MessageSid=SMin1&From=%2B447700900555&To=%2B447700900001&Body=Can+I+pay%3F";
	struct sms_conf c;
	struct herald_inbound in;
	char resp[128], sig[64];

	(void)state;
	fake_twilio_auth(&c);
	assert_int_equal(parse("/twilio", "", FORM, body, NULL, &in, resp, sizeof(resp)), -1);
	assert_non_null(strstr(resp, "X-Twilio-Signature"));
	assert_int_equal(sms_twilio_sign("wrong",
					 "https://herald.example/hook/k7/inbound/sms/twilio", body,
					 sig, sizeof(sig)),
			 0);
	assert_int_equal(parse("/twilio", "", FORM, body, sig, &in, resp, sizeof(resp)), -1);
	/* signed for the receipt URL: not this one */
	assert_int_equal(sms_twilio_sign("tok-secret",
					 "https://herald.example/hook/k7/receipts/sms/twilio", body,
					 sig, sizeof(sig)),
			 0);
	assert_int_equal(parse("/twilio", "", FORM, body, sig, &in, resp, sizeof(resp)), -1);
	assert_int_equal(sms_twilio_sign("tok-secret",
					 "https://herald.example/hook/k7/inbound/sms/twilio", body,
					 sig, sizeof(sig)),
			 0);
	assert_int_equal(parse("/twilio", "", FORM, body, sig, &in, resp, sizeof(resp)), 1);
	assert_string_equal(in.from, "+447700900555");
	assert_string_equal(in.to, "+447700900001");
	assert_string_equal(in.text, "Can I pay?");
	assert_string_equal(in.id, "SMin1");
	assert_non_null(strstr(resp, "<Response/>"));
	c.profile = SMS_PROFILE_KANNEL; /* no Twilio account: not checked, as receipts */
	sms_receipt_auth(&c);
	assert_int_equal(parse("/twilio", "", FORM, body, NULL, &in, resp, sizeof(resp)), 1);
}

static void test_degenerate(void **state)
{
	struct herald_inbound in;
	char resp[16];
	struct herald_http_req req = {.version = 1, .path = NULL, .body = "", .arg = NULL};

	(void)state;
	assert_int_equal(sms_inbound(NULL, &in, resp, sizeof(resp)), -1);
	assert_int_equal(sms_inbound(&req, NULL, resp, sizeof(resp)), -1);
	assert_int_equal(sms_inbound(&req, &in, NULL, 0), -1); /* no arg(): no from */
	assert_int_equal(sms_inbound(&req, &in, resp, sizeof(resp)), -1);
}

static void test_stop_words(void **state)
{
	static const char *const yes[] = {"STOP",	  "stop",	 " Stop. ", "STOP!",
					  "stop all",	  "STOP  ALL\n", "StopIO",  "UNSUBSCRIBE",
					  "unsubscribe!", "\tstop?",	 NULL};
	static const char *const no[] = {
	    "",		"   ",	   "stop by the office", "stopped", "non-stop", "STOP ALL NOW",
	    "stop-all", "stopall", "please stop",	 "STOPIOS", "Yes",	"ALL",
	    "stop\x01", NULL};
	char err[200];

	(void)state;
	for (int i = 0; yes[i]; i++)
		if (!smsstop_match(yes[i], NULL))
			fail_msg("'%s' should stop", yes[i]);
	for (int i = 0; no[i]; i++)
		if (smsstop_match(no[i], NULL))
			fail_msg("'%s' should not stop", no[i]);
	assert_int_equal(smsstop_match(NULL, NULL), 0);
	/* configured words add to the defaults, never replace them */
	assert_int_equal(smsstop_match("Digon", "NAGE, DIGON"), 1);
	assert_int_equal(smsstop_match("nage all", "NAGE,DIGON"), 1);
	assert_int_equal(smsstop_match("STOP", "NAGE"), 1);
	assert_int_equal(smsstop_match("DIG", "NAGE, DIGON"), 0);
	assert_int_equal(smsstop_match("digonol", "DIGON"), 0);
	assert_int_equal(smsstop_check("NAGE, DIGON,END", err, sizeof(err)), 0);
	assert_int_equal(smsstop_check("", err, sizeof(err)), 0);
	assert_int_equal(smsstop_check(NULL, err, sizeof(err)), 0);
	assert_int_equal(smsstop_check("STOP ME", err, sizeof(err)), 0); /* two words */
	assert_int_equal(smsstop_check("na-ge", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "na-ge"));
	assert_int_equal(smsstop_check("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJ", err, sizeof(err)),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kannel),     cmocka_unit_test(test_text),
	    cmocka_unit_test(test_json),       cmocka_unit_test(test_twilio),
	    cmocka_unit_test(test_degenerate), cmocka_unit_test(test_stop_words),
	};
	return cmocka_run_group_tests_name("sms_inbound", tests, NULL, NULL);
}
