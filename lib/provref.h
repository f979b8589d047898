/* provref.h - the reference Herald gives a provider for one channel
 * attempt of one message (SMS client reference, email Message-ID, fax
 * reference, CUPS job name, spool file name): a keyed hash of the event id,
 * the channel and the plan position under the install's secret. The same
 * for every retry on that channel and across restarts and instances (so a
 * gateway that de-duplicates can), and not predictable from the event id
 * without the secret. */
#ifndef HERALD_PROVREF_H
#define HERALD_PROVREF_H
#include <stddef.h>

#define PROVREF_KEY_LEN 32 /* bytes of secret */
#define PROVREF_LEN 27	   /* "hr" + 24 hex digits + NUL */

/* out gets "hr" and 24 lowercase hex digits (96 bits of HMAC-SHA256). */
void provider_ref(const unsigned char key[PROVREF_KEY_LEN], const char *event_id,
		  const char *channel, int plan_idx, char out[PROVREF_LEN]);

/* The secret from the file at path (64 hex digits); a new random one is
 * written there (mode 0600) when the file does not exist. 0, or -1 with a
 * reason in err. */
int provref_secret_file(const char *path, unsigned char key[PROVREF_KEY_LEN], char *err,
			size_t errlen);
/* Parse 64 hex digits (surrounding white space allowed): 0 or -1. */
int provref_secret_parse(const char *hex, unsigned char key[PROVREF_KEY_LEN]);
/* A new random secret as 64 hex digits: 0 or -1. */
int provref_secret_new(char hex[2 * PROVREF_KEY_LEN + 1]);

#endif
