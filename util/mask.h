/* mask.h - mask contact details before they reach any log. */
#ifndef HERALD_MASK_H
#define HERALD_MASK_H
#include <stddef.h>

/*
 * Mask an address for logs: email "ada@example.org" -> "a***@example.org",
 * phone "+447700900123" -> "+44*******123", postal address -> first letters of
 * the first line and the postcode-ish last token ("1*** ... SA1"), anything
 * else keeps its first and last character. Always NUL-terminates out.
 */
void mask_contact(const char *addr, char *out, size_t outlen);

#endif
