/*
 * fuzz_jsonfast.c - libFuzzer target for lib/jsonfast.c: on any input
 * event_parse would hand it (valid UTF-8, no NUL byte), whatever the quick
 * parser takes, json_loadb (JSON_REJECT_DUPLICATES) takes too, to the same
 * value with the same key order. Any disagreement aborts. Built and run by
 * `make fuzz` (clang's libFuzzer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonfast.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	const char *s = (const char *)buf;
	json_t *f, *l;
	char *a, *b;

	if (utf8_invalid_at(s, len) >= 0 || memchr(s, '\0', len))
		return 0; /* event_parse refuses these before parsing */
	f = jsonfast_object(s, len);
	if (!f)
		return 0;
	l = json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	if (!l || !json_equal(f, l))
		abort();
	a = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
	b = json_dumps(l, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!a || !b || strcmp(a, b) != 0)
		abort();
	free(a);
	free(b);
	json_decref(f);
	json_decref(l);
	return 0;
}
