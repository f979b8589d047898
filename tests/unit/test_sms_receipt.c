/* test_sms_receipt.c - delivery receipt parsing of the sms channel
 * (channels/sms/receipt.c) for the Kannel, Twilio and JSON forms, with a
 * herald_http_req whose arg() reads the query string and, for form posts,
 * the urlencoded body with heraldd's own decoder (util/form.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "sms_fakereq.h"

struct rcase {
	const char *name;
	const char *method, *path, *query, *ctype, *body;
	int rc;
	enum herald_status status;
	const char *ref;
	const char *reason; /* substring of out->reason (rc 1) or of resp */
};

static const struct rcase rcases[] = {
    /* Kannel dlr-url: ?ref=..&status=%d */
    {"kannel delivered", "GET", "", "ref=ev-1.1&status=1", NULL, "", 1, HERALD_DELIVERED, "ev-1.1",
     "delivered"},
    {"kannel path /kannel", "GET", "/kannel", "ref=ev-1.1&status=1", NULL, "", 1, HERALD_DELIVERED,
     "ev-1.1", "delivered"},
    {"kannel not delivered", "GET", "", "ref=ev-1.1&status=2", NULL, "", 1, HERALD_PERMANENT,
     "ev-1.1", "dlr 2"},
    {"kannel smsc rejected", "GET", "", "status=16&ref=ev-1.2", NULL, "", 1, HERALD_PERMANENT,
     "ev-1.2", "rejected by SMSC"},
    {"kannel buffered", "GET", "", "ref=ev-1.1&status=4", NULL, "", 0, 0, NULL, "buffered"},
    {"kannel smsc accepted", "GET", "", "ref=ev-1.1&status=8", NULL, "", 0, 0, NULL,
     "accepted by SMSC"},
    {"kannel unknown type 3", "GET", "", "ref=ev-1.1&status=3", NULL, "", -1, 0, NULL, "status"},
    {"kannel status not a number", "GET", "", "ref=ev-1.1&status=1x", NULL, "", -1, 0, NULL, ""},
    {"kannel status unsubstituted", "GET", "", "ref=ev-1.1&status=%25d", NULL, "", -1, 0, NULL, ""},
    {"kannel status huge", "GET", "", "ref=ev-1.1&status=99999999999999999999", NULL, "", -1, 0,
     NULL, ""},
    {"kannel status empty", "GET", "", "ref=ev-1.1&status=", NULL, "", -1, 0, NULL, ""},
    {"kannel no ref", "GET", "", "status=1", NULL, "", -1, 0, NULL, "ref"},
    {"kannel ref with space", "GET", "", "ref=ev%201&status=1", NULL, "", -1, 0, NULL, "ref"},
    {"kannel ref with markup", "GET", "", "ref=%3Cscript%3E&status=1", NULL, "", -1, 0, NULL,
     "ref"},
    {"kannel ref too long", "GET", "",
     "ref="
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx&status=1",
     NULL, "", -1, 0, NULL, "ref"},
    {"kannel nothing at all", "GET", "", "", NULL, "", -1, 0, NULL, ""},
    /* Twilio StatusCallback: form POST, ref in the query */
    {"twilio delivered", "POST", "/twilio", "ref=ev-2.1", FORM,
     "MessageSid=SM1&MessageStatus=delivered", 1, HERALD_DELIVERED, "ev-2.1", "twilio delivered"},
    {"twilio read", "POST", "/twilio", "ref=ev-2.1", FORM, "MessageStatus=read", 1,
     HERALD_DELIVERED, "ev-2.1", "read"},
    {"twilio undelivered with code", "POST", "/twilio", "ref=ev-2.1", FORM,
     "MessageStatus=undelivered&ErrorCode=30003", 1, HERALD_PERMANENT, "ev-2.1",
     "undelivered (error 30003)"},
    {"twilio failed", "POST", "/twilio", "ref=ev-2.1", FORM, "MessageStatus=failed", 1,
     HERALD_PERMANENT, "ev-2.1", "twilio failed"},
    {"twilio sent is intermediate", "POST", "/twilio", "ref=ev-2.1", FORM, "MessageStatus=sent", 0,
     0, NULL, "sent"},
    {"twilio queued is intermediate", "POST", "/twilio", "ref=ev-2.1", FORM, "MessageStatus=queued",
     0, 0, NULL, "queued"},
    {"twilio unknown status", "POST", "/twilio", "ref=ev-2.1", FORM, "MessageStatus=exploded", -1,
     0, NULL, "MessageStatus"},
    {"twilio no status", "POST", "/twilio", "ref=ev-2.1", FORM, "MessageSid=SM1", -1, 0, NULL,
     "MessageStatus"},
    {"twilio no ref", "POST", "/twilio", "", FORM, "MessageStatus=delivered", -1, 0, NULL, "ref"},
    {"twilio error code garbage cleaned", "POST", "/twilio", "ref=ev-2.1", FORM,
     "MessageStatus=failed&ErrorCode=%0A%1B%5B31m", 1, HERALD_PERMANENT, "ev-2.1", "(error "},
    /* JSON callback */
    {"json delivered", "POST", "/json", "", JSON,
     "{\"reference\":\"ev-3.1\",\"status\":\"delivered\"}", 1, HERALD_DELIVERED, "ev-3.1",
     "delivered"},
    {"json failed with reason", "POST", "/json", "", JSON,
     "{\"reference\":\"ev-3.1\",\"status\":\"failed\",\"reason\":\"absent\\nsubscriber\"}", 1,
     HERALD_PERMANENT, "ev-3.1", "failed: absent subscriber"},
    {"json sent is intermediate", "POST", "/json", "", JSON,
     "{\"reference\":\"ev-3.1\",\"status\":\"sent\"}", 0, 0, NULL, "sent"},
    {"json unknown status", "POST", "/json", "", JSON,
     "{\"reference\":\"ev-3.1\",\"status\":\"meh\"}", -1, 0, NULL, "status"},
    {"json status not a string", "POST", "/json", "", JSON,
     "{\"reference\":\"ev-3.1\",\"status\":1}", -1, 0, NULL, "status"},
    {"json reference not a string", "POST", "/json", "", JSON,
     "{\"reference\":42,\"status\":\"delivered\"}", -1, 0, NULL, "reference"},
    {"json bad reference", "POST", "/json", "", JSON,
     "{\"reference\":\"a/../b\",\"status\":\"delivered\"}", -1, 0, NULL, "reference"},
    {"json duplicate keys", "POST", "/json", "", JSON,
     "{\"reference\":\"ev-3.1\",\"status\":\"failed\",\"status\":\"delivered\"}", -1, 0, NULL, ""},
    {"json array", "POST", "/json", "", JSON, "[1,2]", -1, 0, NULL, "JSON object"},
    {"json truncated", "POST", "/json", "", JSON, "{\"reference\":\"ev-3.1\",\"sta", -1, 0, NULL,
     "JSON object"},
    {"json empty body", "POST", "/json", "", JSON, "", -1, 0, NULL, "JSON object"},
    /* elsewhere */
    {"unknown path", "POST", "/smpp", "ref=ev-1.1&status=1", NULL, "", -1, 0, NULL, "path"},
    {"path traversal", "GET", "/../twilio", "ref=ev-1.1&status=1", NULL, "", -1, 0, NULL, "path"},
};

static int run_case(const struct rcase *c, struct herald_result *out, char *resp, size_t resp_len)
{
	struct fake f;
	int rc;
	struct herald_http_req req = {
	    .version = 1,
	    .method = c->method,
	    .path = c->path,
	    .content_type = c->ctype,
	    .body = c->body,
	    .body_len = strlen(c->body),
	    .arg = fake_arg,
	    .priv = &f,
	};

	assert_int_equal(form_parse(&f.query, c->query), 0);
	assert_int_equal(
	    form_parse(&f.body, c->ctype && !strncmp(c->ctype, FORM, strlen(FORM)) ? c->body : ""),
	    0);
	rc = sms_receipt(&req, out, resp, resp_len);
	form_free(&f.query);
	form_free(&f.body);
	return rc;
}

static void test_receipt_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];
		struct herald_result out;
		char resp[128];
		int rc;

		memset(&out, 0xAA, sizeof(out));
		rc = run_case(c, &out, resp, sizeof(resp));
		if (rc != c->rc) {
			print_error("%s: rc %d, want %d (resp '%s')\n", c->name, rc, c->rc, resp);
			bad++;
			continue;
		}
		if (rc == 1 && (out.status != c->status || strcmp(out.ref, c->ref) != 0 ||
				!strstr(out.reason, c->reason) || out.msg_id != 0 ||
				out.version != HERALD_RESULT_VERSION)) {
			print_error("%s: status %d ref '%.20s' reason '%.60s'\n", c->name,
				    out.status, out.ref, out.reason);
			bad++;
		}
		if (rc != 1 && !strstr(resp, c->reason)) {
			print_error("%s: resp '%s' lacks '%s'\n", c->name, resp, c->reason);
			bad++;
		}
		if (rc == 1) {
			for (const char *p = out.reason; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F) {
					print_error("%s: control byte in reason\n", c->name);
					bad++;
					break;
				}
		}
	}
	assert_int_equal(bad, 0);
}

/* Twilio's published example: token 12345, the URL with its query, five
 * POST parameters given out of order. */
static void test_twilio_sign_vector(void **state)
{
	char sig[64];

	(void)state;
	assert_int_equal(sms_twilio_sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
					 "To=%2B18005551212&CallSid=CA1234567890ABCDE&Digits=1234&"
					 "From=%2B12349013030&Caller=%2B12349013030",
					 sig, sizeof(sig)),
			 0);
	assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
	assert_true(sms_twilio_verify("12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
				      "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&"
				      "From=%2B12349013030&To=%2B18005551212",
				      "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(sms_twilio_verify("12346", "https://mycompany.com/myapp.php?foo=1&bar=2",
				       "CallSid=CA1234567890ABCDE",
				       "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(sms_twilio_verify("12345", "https://x/", "", NULL));
}

/* With profile twilio, a token and public_url: a forged receipt (no, or
 * a wrong, signature; a version 1 request) is refused, a signed one taken. */
static void test_twilio_signed_receipt(void **state)
{
	static const char body[] = "MessageSid=SM1&MessageStatus=delivered";
	struct sms_conf c;
	struct fake f;
	struct herald_result out;
	char resp[128], sig[64];
	struct herald_http_req req = {.version = HERALD_HTTP_REQ_VERSION,
				      .method = "POST",
				      .path = "/twilio",
				      .content_type = FORM,
				      .body = body,
				      .body_len = sizeof(body) - 1,
				      .arg = fake_arg,
				      .header = fake_header,
				      .priv = &f};

	(void)state;
	fake_twilio_auth(&c);
	assert_int_equal(form_parse(&f.query, "ref=hr0123456789abcdef01234567"), 0);
	assert_int_equal(form_parse(&f.body, body), 0);
	f.sig = NULL;
	assert_int_equal(sms_receipt(&req, &out, resp, sizeof(resp)), -1);
	assert_non_null(strstr(resp, "X-Twilio-Signature"));
	f.sig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
	assert_int_equal(sms_receipt(&req, &out, resp, sizeof(resp)), -1);
	assert_int_equal(sms_twilio_sign("tok-secret",
					 "https://herald.example/hook/k7/receipts/sms/twilio"
					 "?ref=hr0123456789abcdef01234567",
					 body, sig, sizeof(sig)),
			 0);
	f.sig = sig;
	assert_int_equal(sms_receipt(&req, &out, resp, sizeof(resp)), 1);
	assert_int_equal(out.status, HERALD_DELIVERED);
	req.version = 1; /* a host that cannot show the header: refused */
	assert_int_equal(sms_receipt(&req, &out, resp, sizeof(resp)), -1);
	c.profile = SMS_PROFILE_JSON; /* no Twilio account: not checked, as before */
	sms_receipt_auth(&c);
	f.sig = NULL;
	assert_int_equal(sms_receipt(&req, &out, resp, sizeof(resp)), 1);
	form_free(&f.query);
	form_free(&f.body);
}

/* No arg() at all, NULL request fields, tiny or absent response buffers. */
static void test_receipt_degenerate(void **state)
{
	struct herald_result out;
	char resp[4];
	struct herald_http_req req = {.version = 1, .method = "GET", .path = NULL, .body = ""};
	(void)state;

	assert_int_equal(sms_receipt(&req, &out, resp, sizeof(resp)), -1);
	assert_true(strlen(resp) < sizeof(resp));
	assert_int_equal(sms_receipt(NULL, &out, resp, sizeof(resp)), -1);
	assert_int_equal(sms_receipt(&req, NULL, NULL, 0), -1);
	req.path = "/json";
	req.body = NULL;
	assert_int_equal(sms_receipt(&req, &out, NULL, 0), -1);
}

/* Pseudo-random garbage in every form: parse, never crash. */
static void test_receipt_garbage(void **state)
{
	static const char *paths[] = {"", "/twilio", "/json"};
	uint32_t seed = 12345;
	char body[300], query[300];
	(void)state;

	for (int round = 0; round < 3000; round++) {
		struct rcase c = {
		    "garbage", "POST", paths[round % 3], query, round % 2 ? FORM : JSON, body, 0, 0,
		    NULL,      ""};
		struct herald_result out;
		char resp[64];
		size_t bl = 0, ql = 0;
		size_t nb = (seed >> 3) % (sizeof(body) - 1),
		       nq = (seed >> 7) % (sizeof(query) - 1);
		static const char alphabet[] =
		    "ref=status=MessageStatus&%{}\"reference:delivered1.";

		for (; bl < nb; bl++) {
			seed = seed * 1103515245u + 12345u;
			body[bl] = (seed >> 16) % 3 ? alphabet[(seed >> 8) % (sizeof(alphabet) - 1)]
						    : (char)(1 + (seed >> 20) % 255);
		}
		body[bl] = '\0';
		for (; ql < nq; ql++) {
			seed = seed * 1103515245u + 12345u;
			query[ql] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		query[ql] = '\0';
		int rc = run_case(&c, &out, resp, sizeof(resp));
		assert_true(rc >= -1 && rc <= 1);
		if (rc == 1)
			assert_true(sms_ref_valid(out.ref));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_receipt_table),      cmocka_unit_test(test_receipt_degenerate),
	    cmocka_unit_test(test_twilio_sign_vector), cmocka_unit_test(test_twilio_signed_receipt),
	    cmocka_unit_test(test_receipt_garbage),
	};
	return cmocka_run_group_tests_name("sms_receipt", tests, NULL, NULL);
}
