/* reference.c - the short transaction reference a citizen can read out on
 * the phone or type on a web form: "HX-7K3M-9QPD". Derived from the
 * transaction id (so every instance computes the same one), in an alphabet
 * without look-alikes (no 0/O, 1/I/L, U/V). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fnv.h"
#include "reference.h"

static const char ref_alphabet[] = "23456789ABCDEFGHJKMNPQRSTWXYZ"; /* 29 symbols */

void tx_reference(const char *tx_id, char *out, size_t outlen)
{
	uint64_t h = fnv1a64_add(FNV1A64_HERALD_V1, tx_id, strlen(tx_id));
	char s[8];
	size_t base = sizeof(ref_alphabet) - 1;

	/* final avalanche so similar ids give unrelated references */
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	for (int i = 0; i < 8; i++) {
		s[i] = ref_alphabet[h % base];
		h /= base;
	}
	snprintf(out, outlen, "HX-%.4s-%.4s", s, s + 4);
}
