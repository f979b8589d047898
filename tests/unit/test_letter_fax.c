/* test_letter_fax.c - the fax channel's pure helpers (channels/fax/faxrcpt.c):
 * the gateway callback parser fed with fake herald_http_req requests (JSON,
 * form, query; good and malformed), E.164 normalisation, references, the
 * upload outcome mapping and log sanitising. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../channels/fax/fax.h"

/* A fake request: form/query arguments as a NULL-terminated name, value list. */
struct fake {
	struct herald_http_req req;
	const char *const *args;
};

static const char *fake_arg(const struct herald_http_req *req, const char *name)
{
	const struct fake *f = (const struct fake *)req;
	for (size_t i = 0; f->args && f->args[i]; i += 2)
		if (!strcmp(f->args[i], name))
			return f->args[i + 1];
	return NULL;
}

static int run(const char *ctype, const char *body, const char *const *args,
	       struct herald_result *out, char *resp, size_t resp_len)
{
	struct fake f;

	memset(&f, 0, sizeof(f));
	f.req.version = 1;
	f.req.method = "POST";
	f.req.path = "";
	f.req.content_type = ctype;
	f.req.body = body ? body : "";
	f.req.body_len = body ? strlen(body) : 0;
	f.req.arg = fake_arg;
	f.args = args;
	memset(out, 0, sizeof(*out));
	return fax_receipt(&f.req, out, resp, resp_len);
}

static void test_receipt_json(void **st)
{
	static const struct {
		const char *body;
		int rc;
		enum herald_status status;
		unsigned flags;
		const char *reason_has;
	} cases[] = {
	    {"{\"ref\":\"ev-1.1\",\"status\":\"delivered\"}", 1, HERALD_DELIVERED, 0, "delivered"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"DELIVERED\",\"reason\":\"3 pages\"}", 1,
	     HERALD_DELIVERED, 0, "3 pages"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"success\"}", 1, HERALD_DELIVERED, 0, "delivered"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"busy\"}", 1, HERALD_TEMPORARY, 0, "busy"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"no-answer\"}", 1, HERALD_TEMPORARY, 0, "no answer"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"no_answer\"}", 1, HERALD_TEMPORARY, 0, "no answer"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"failed\",\"reason\":\"line noise\"}", 1,
	     HERALD_TEMPORARY, 0, "line noise"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"failed\",\"reason\":\"Not a fax line\"}", 1,
	     HERALD_PERMANENT, HERALD_RF_BAD_ADDRESS, "Not a fax line"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"invalid-number\"}", 1, HERALD_PERMANENT,
	     HERALD_RF_BAD_ADDRESS, "invalid-number"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"not-fax\",\"reason\":\"voice answered\"}", 1,
	     HERALD_PERMANENT, HERALD_RF_BAD_ADDRESS, "voice answered"},
	    {"{\"ref\":\"ev-1.1\",\"status\":\"wrong_number\"}", 1, HERALD_PERMANENT,
	     HERALD_RF_BAD_ADDRESS, "unusable"},
	    /* malformed: answered 400, nothing updated */
	    {"{\"ref\":\"ev-1.1\",\"status\":\"exploded\"}", -1, 0, 0, NULL},
	    {"{\"status\":\"delivered\"}", -1, 0, 0, NULL},
	    {"{\"ref\":\"\",\"status\":\"delivered\"}", -1, 0, 0, NULL},
	    {"{\"ref\":\"ev-1.1\"}", -1, 0, 0, NULL},
	    {"{\"ref\":42,\"status\":\"delivered\"}", -1, 0, 0, NULL},
	    {"{\"ref\":\"ev-1.1\",\"status\":[]}", -1, 0, 0, NULL},
	    {"[\"ref\",\"status\"]", -1, 0, 0, NULL},
	    {"{\"ref\":", -1, 0, 0, NULL},
	    {"", -1, 0, 0, NULL},
	};
	struct herald_result r;
	char resp[128];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run("application/json; charset=utf-8", cases[i].body, NULL, &r, resp,
			     sizeof(resp));
		assert_int_equal(rc, cases[i].rc);
		assert_true(resp[0] != '\0'); /* always a word for the gateway */
		if (rc != 1)
			continue;
		assert_string_equal(r.ref, "ev-1.1");
		assert_int_equal(r.status, cases[i].status);
		assert_int_equal(r.flags, cases[i].flags);
		assert_non_null(strstr(r.reason, cases[i].reason_has));
		assert_int_equal(r.msg_id, 0);
	}
}

static void test_receipt_form(void **st)
{
	const char *const ok[] = {"ref", "abc.2", "status", "busy", "reason", "engaged", NULL};
	const char *const bad[] = {
	    "ref", "x.1", "status", "not-fax", "reason", "dialled +441632960300\x01", NULL};
	const char *const noref[] = {"status", "delivered", NULL};
	const char *const none[] = {NULL};
	struct herald_result r;
	char resp[128];

	(void)st;
	assert_int_equal(run("application/x-www-form-urlencoded", "ref=abc.2&status=busy", ok, &r,
			     resp, sizeof(resp)),
			 1);
	assert_string_equal(resp, "ok\n");
	assert_string_equal(r.ref, "abc.2");
	assert_int_equal(r.status, HERALD_TEMPORARY);
	assert_non_null(strstr(r.reason, "engaged"));
	/* no content type: query string arguments (GET callbacks) */
	assert_int_equal(run(NULL, "", bad, &r, resp, sizeof(resp)), 1);
	assert_int_equal(r.status, HERALD_PERMANENT);
	assert_int_equal(r.flags, HERALD_RF_BAD_ADDRESS);
	/* the number in the gateway's reason is masked, the control char gone */
	assert_null(strstr(r.reason, "441632960300"));
	assert_non_null(strstr(r.reason, "***300"));
	assert_null(strchr(r.reason, '\x01'));
	assert_int_equal(run(NULL, "", noref, &r, resp, sizeof(resp)), -1);
	assert_int_equal(run("text/plain", "hello", none, &r, resp, sizeof(resp)), -1);
}

static void test_receipt_limits(void **st)
{
	char longref[300], body[400];
	struct herald_result r;
	char resp[8];

	(void)st;
	memset(longref, 'r', sizeof(longref) - 1);
	longref[sizeof(longref) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"ref\":\"%s\",\"status\":\"delivered\"}", longref);
	/* a ref that could not be one of ours is refused, not truncated */
	assert_int_equal(run("application/json", body, NULL, &r, resp, sizeof(resp)), -1);
	/* a tiny response buffer is never overrun */
	assert_int_equal(run("application/json", "{\"ref\":\"a.1\",\"status\":\"delivered\"}", NULL,
			     &r, resp, sizeof(resp)),
			 1);
	assert_true(strlen(resp) < sizeof(resp));
	/* NUL inside the body: parsing stops at the length given, no crash */
	{
		static const char nul[] = "{\"ref\":\"a\0.1\",\"status\":\"delivered\"}";
		struct fake f;
		memset(&f, 0, sizeof(f));
		f.req.content_type = "application/json";
		f.req.body = nul;
		f.req.body_len = sizeof(nul) - 1;
		f.req.arg = fake_arg;
		assert_int_equal(fax_receipt(&f.req, &r, resp, sizeof(resp)), -1);
	}
	assert_int_equal(fax_receipt(NULL, &r, resp, sizeof(resp)), -1);
}

static void test_ref(void **st)
{
	char ref[128], ref2[128], big[200];
	struct herald_result r;

	(void)st;
	fax_make_ref("dvla-2026-000123", 2, ref, sizeof(ref));
	assert_string_equal(ref, "dvla-2026-000123.2");
	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fax_make_ref(big, 1, ref, sizeof(ref));
	assert_true(strlen(ref) < sizeof(r.ref));
	assert_int_equal(ref[0], 'h');
	fax_make_ref(big, 1, ref2, sizeof(ref2));
	assert_string_equal(ref, ref2); /* stable */
	big[0] = 'f';
	fax_make_ref(big, 1, ref2, sizeof(ref2));
	assert_string_not_equal(ref, ref2);
}

static void test_outcome(void **st)
{
	static const struct {
		int curl_ok;
		long http;
		enum herald_status want;
	} cases[] = {
	    {1, 200, HERALD_SENT},	{1, 202, HERALD_SENT},	    {1, 204, HERALD_SENT},
	    {1, 400, HERALD_PERMANENT}, {1, 401, HERALD_PERMANENT}, {1, 404, HERALD_PERMANENT},
	    {1, 422, HERALD_PERMANENT}, {1, 408, HERALD_TEMPORARY}, {1, 429, HERALD_TEMPORARY},
	    {1, 500, HERALD_TEMPORARY}, {1, 503, HERALD_TEMPORARY}, {1, 302, HERALD_TEMPORARY},
	    {0, 0, HERALD_TEMPORARY},
	};
	struct herald_result r;

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		fax_upload_outcome(cases[i].curl_ok, "Connection refused", cases[i].http,
				   "{\"error\":\"number +441632960400 rejected\"}", &r);
		assert_int_equal(r.status, cases[i].want);
		assert_int_equal(r.flags, 0);
		assert_null(strstr(r.reason, "441632960400"));
	}
	fax_upload_outcome(0, "Operation timed out after 2000 ms", 0, NULL, &r);
	assert_non_null(strstr(r.reason, "timed out"));
}

static void test_sanitize(void **st)
{
	char out[64];

	(void)st;
	fax_sanitize("call +441632960100 now\n", 23, out, sizeof(out));
	assert_string_equal(out, "call +***100 now ");
	fax_sanitize("12345 ok", 8, out, sizeof(out));
	assert_string_equal(out, "12345 ok");
	fax_sanitize("abcdef", 6, out, 4);
	assert_string_equal(out, "abc");
	fax_sanitize("1234567890", 10, out, 5); /* no room for a masked run */
	assert_true(strlen(out) < 5);
	fax_sanitize(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_receipt_json),
	    cmocka_unit_test(test_receipt_form),
	    cmocka_unit_test(test_receipt_limits),

	    cmocka_unit_test(test_ref),
	    cmocka_unit_test(test_outcome),
	    cmocka_unit_test(test_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
