/*
 * fuzz_sms_inbound.c - libFuzzer target for the sms channel's inbound form
 * parsers (channels/sms/inbound.c: Kannel get-url, Twilio webhook, JSON),
 * fed a request built from the input by fuzz_req.h. The answer must be -1
 * or 1; a 1 must give an E.164 sender, NUL-terminated fields within their
 * arrays and a text that is valid UTF-8 (jansson takes it for the
 * callback record). The text then goes through the STOP-word rule
 * (lib/smsstop.c) as heraldd applies it.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "e164.h"
#include "fuzz_req.h"
#include "smsreq.h"
#include "smsstop.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static const char *const paths[] = {"", "/kannel", "/twilio", "/json", "/other"};
	struct fuzz_req f;
	struct herald_inbound out;
	char resp[256];

	if (fuzz_req_make(&f, buf, len, paths, 5) == 0) {
		memset(&out, 0x55, sizeof(out));
		int rc = sms_inbound(&f.req, &out, resp, sizeof(resp));
		if (rc != -1 && rc != 1)
			abort();
		if (rc == 1) {
			json_t *s;
			if (!e164_valid(out.from) || !memchr(out.to, 0, sizeof(out.to)) ||
			    !memchr(out.id, 0, sizeof(out.id)) ||
			    !memchr(out.text, 0, sizeof(out.text)))
				abort();
			s = json_string(out.text);
			if (!s)
				abort();
			json_decref(s);
			if (smsstop_match(out.text, "NAGE, DIGON") < 0)
				abort();
		}
	}
	fuzz_req_free(&f);
	return 0;
}
