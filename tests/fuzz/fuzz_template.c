/*
 * fuzz_template.c - libFuzzer target for the Mustache engine: the input is
 * a template, rendered (escaped and raw) against fixed data in which every
 * partial name resolves to the input itself, so recursion, indentation and
 * every limit of util/mustache.c are reached.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mustache.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

static const char *self_lookup(void *arg, const char *name)
{
	(void)name;
	return arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	static json_t *data;
	char err[256], *src, *out;
	struct tmpl *t;
	struct tmpl_partials parts = {.lookup = self_lookup};

	if (!data)
		data = json_pack("{s:s, s:i, s:f, s:b, s:[s,i,{s:s}], s:{s:{s:s}}, s:n}", "a",
				 "<&>", "n", 0, "r", 1.5, "t", 1, "list", "x", 2, "a", "y", "o",
				 "p", "q", "deep", "z");
	src = malloc(len + 1);
	if (!src)
		return 0;
	memcpy(src, buf, len);
	src[len] = '\0';
	parts.arg = src;
	t = tmpl_compile(src, len, err, sizeof(err));
	for (int html = 0; t && html < 2; html++) {
		out = tmpl_render(t, data, &parts, html, NULL, err, sizeof(err));
		free(out);
	}
	tmpl_free(&t);
	free(src);
	return 0;
}
