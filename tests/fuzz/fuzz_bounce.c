/* fuzz_bounce.c - heraldctl bounce's report reader (tools/bounce_read.c):
 * any bytes, as Postfix may pipe them, with and without an envelope
 * recipient. */
#include <stddef.h>
#include <stdint.h>

#include "../../tools/bounce_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounce_report r;

	bounce_read((const char *)data, size, NULL, &r);
	bounce_read((const char *)data, size, "bounce+hr0123456789abcdef01234567@b.example", &r);
	return 0;
}
