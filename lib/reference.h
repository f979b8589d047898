/* reference.h - the short transaction reference ("HX-7K3M-9QPD") a citizen
 * can read out or type; the same everywhere for one transaction id. */
#ifndef HERALD_REFERENCE_H
#define HERALD_REFERENCE_H
#include <stddef.h>

void tx_reference(const char *tx_id, char *out, size_t outlen);

#endif
