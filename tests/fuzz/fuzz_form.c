/*
 * fuzz_form.c - libFuzzer target for util/form.c (the urlencoded decoding
 * of every receipt's query and body): form_parse, form_get of each field
 * found, and form_url_decode in place, which may only shrink a string.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	char *s = strndup((const char *)buf, len);
	struct form f;
	size_t before;

	if (!s)
		return 0;
	if (form_parse(&f, s) == 0) {
		if (f.n < 0 || f.n > FORM_MAX_FIELDS)
			abort();
		for (int i = 0; i < f.n; i++)
			if (!form_get(&f, f.keys[i]))
				abort();
		form_free(&f);
	}
	before = strlen(s);
	form_url_decode(s);
	if (strlen(s) > before)
		abort();
	free(s);
	return 0;
}
