/*
 * twsig.c - Twilio's request signature (X-Twilio-Signature): base64 of
 * HMAC-SHA1, keyed with the account's auth token, over the full URL the
 * request was made to followed by every POST parameter, sorted by name,
 * as name and value with no separators (Twilio's "Validating Requests").
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "smsreq.h"

struct kv {
	const char *k, *v;
};

static int kv_cmp(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

int sms_twilio_sign(const char *token, const char *url, const char *form_body, char *out,
		    size_t outlen)
{
	struct kv kv[FORM_MAX_FIELDS];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct buf b = {0};
	struct form f;
	int rc = -1;

	if (outlen < 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1 || form_parse(&f, form_body) != 0)
		return -1;
	for (int i = 0; i < f.n; i++)
		kv[i] = (struct kv){f.keys[i], f.vals[i]};
	qsort(kv, (size_t)f.n, sizeof(kv[0]), kv_cmp);
	buf_str(&b, url);
	for (int i = 0; i < f.n; i++) {
		buf_str(&b, kv[i].k);
		buf_str(&b, kv[i].v);
	}
	if (!b.oom && HMAC(EVP_sha1(), token, (int)strlen(token), (const unsigned char *)b.data,
			   b.len, mac, &maclen)) {
		EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
		rc = 0;
	}
	buf_free(&b);
	form_free(&f);
	return rc;
}

int sms_twilio_verify(const char *token, const char *url, const char *form_body,
		      const char *signature)
{
	char want[128];
	size_t n;

	if (!signature ||
	    sms_twilio_sign(token, url, form_body ? form_body : "", want, sizeof(want)) != 0)
		return 0;
	n = strlen(want);
	return strlen(signature) == n && CRYPTO_memcmp(want, signature, n) == 0;
}
