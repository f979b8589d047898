/*
 * fuzz_unsubtok.c - libFuzzer target for lib/unsubtok.c (the one-click
 * unsubscribe link's token, read from any URL path on the HTTP listener):
 * unsub_token_read never accepts what it did not make, unsub_plain_parse
 * of raw bytes fills only valid fields, and base64url decoding writes
 * within its buffer and re-encodes to the same text.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unsubtok.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static const unsigned char key[PROVREF_KEY_LEN] = {1, 2, 3};
	unsigned char raw[2 * UNSUB_TOKEN_MAX];
	char again[2 * UNSUB_TOKEN_MAX + 1];
	struct unsub_tok t;
	int n;

	if (unsub_token_read(key, (const char *)buf, len, &t) == 0) {
		/* only a token made under key passes: it must re-make identically */
		if (unsub_token_make(key, &t, again, sizeof(again)) != 0 || strlen(again) != len ||
		    memcmp(again, buf, len) != 0)
			abort();
	}
	if (unsub_plain_parse(buf, len, &t) == 0 &&
	    (!t.event_id[0] || !t.tx[0] || !t.service[0] || !t.citizen[0]))
		abort();
	n = len < UNSUB_TOKEN_MAX * 2 ? b64url_decode((const char *)buf, len, raw, sizeof(raw))
				      : -1;
	if (n >= 0) {
		if (b64url_encode(raw, (size_t)n, again, sizeof(again)) != (int)len ||
		    memcmp(again, buf, len) != 0)
			abort();
	}
	return 0;
}
