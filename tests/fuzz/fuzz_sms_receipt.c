/*
 * fuzz_sms_receipt.c - libFuzzer target for the sms channel's receipt
 * parsers (channels/sms/receipt.c: Kannel, Twilio, JSON), fed a request
 * built from the input by fuzz_req.h. The answer must be -1, 0 or 1, and a
 * 1 must name a reference and a status.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_req.h"
#include "smsreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static const char *const paths[] = {"", "/kannel", "/twilio", "/json", "/other"};
	struct fuzz_req f;
	struct herald_result out;
	char resp[256];

	if (fuzz_req_make(&f, buf, len, paths, 5) == 0) {
		memset(&out, 0, sizeof(out));
		int rc = sms_receipt(&f.req, &out, resp, sizeof(resp));
		if (rc < -1 || rc > 1 || (rc == 1 && (!out.ref[0] || !out.status)))
			abort();
	}
	fuzz_req_free(&f);
	return 0;
}
