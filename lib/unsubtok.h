/* unsubtok.h - the token of a one-click unsubscribe link (RFC 8058; issue
 * #16): List-Unsubscribe: <[channel.email] unsubscribe_url/TOKEN>.
 *
 * The token carries what the opt-out needs (event id, transaction,
 * service, citizen), so that it still works after the message record has
 * expired, and nothing a reader of the URL learns: the fields are
 * encrypted and authenticated under the install's secret (the provider
 * references' key, provref.h; the same for every instance and across
 * restarts). Construction, deterministic (SIV-like), from HMAC-SHA256 only:
 *
 *   km = HMAC(secret, "herald unsubscribe mac"), ke = HMAC(secret, "... enc")
 *   P  = "1" NUL event NUL tx NUL service NUL citizen
 *   T  = first 16 bytes of HMAC(km, P)
 *   C  = P XOR (HMAC(ke, T || be32(0)) || HMAC(ke, T || be32(1)) || ...)
 *   token = base64url, unpadded, of T || C
 *
 * A token is accepted only when the T recomputed over the decrypted text
 * equals the one carried (compared in constant time), so a forged or
 * altered token is refused without telling why. The same message always
 * gets the same token. */
#ifndef HERALD_UNSUBTOK_H
#define HERALD_UNSUBTOK_H

#include <stddef.h>

#include "event.h"
#include "provref.h"

#define UNSUB_TAG_LEN 16
/* the longest plaintext: four identifiers, the version and separators */
#define UNSUB_PLAIN_MAX (4 * EVENT_MAX_ID + 5)
/* base64url of tag + the longest plaintext, and the NUL */
#define UNSUB_TOKEN_MAX (((UNSUB_TAG_LEN + UNSUB_PLAIN_MAX) * 4 + 2) / 3 + 1)

struct unsub_tok {
	char event_id[EVENT_MAX_ID + 1], tx[EVENT_MAX_ID + 1];
	char service[EVENT_MAX_ID + 1], citizen[EVENT_MAX_ID + 1];
};

/* The token for t into out (UNSUB_TOKEN_MAX fits any): 0, or -1 when a
 * field is empty, too long or holds a byte outside printable ASCII. */
int unsub_token_make(const unsigned char key[PROVREF_KEY_LEN], const struct unsub_tok *t, char *out,
		     size_t outlen);

/* Read a token of len bytes (not NUL-terminated): 0 and t filled when it is
 * one this key made, -1 otherwise (malformed, altered, another key). */
int unsub_token_read(const unsigned char key[PROVREF_KEY_LEN], const char *tok, size_t len,
		     struct unsub_tok *t);

/* The plaintext's fields into t (after the tag was checked; exposed for the
 * fuzz target): 0, or -1 unless exactly the four valid fields. */
int unsub_plain_parse(const unsigned char *p, size_t len, struct unsub_tok *t);

/* [channel.email] unsubscribe_url: an https URL with a path (the links are
 * <url>/TOKEN), or http to a loopback host (tests; a proxy on the same
 * host); printable ASCII without space, '<', '>', '"', ',', '?', '#', at
 * most UNSUB_URL_MAX. 0, or -1 with the reason in why. */
#define UNSUB_URL_MAX 200
int unsub_url_check(const char *url, char *why, size_t whylen);

/* base64url without padding; decode refuses any other character, a
 * length of 1 mod 4 and non-zero spare bits. Return the length written
 * (encode: without the NUL it adds), or -1 when out is too small. */
int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

#endif
