/* unsubtok.c - one-click unsubscribe tokens (unsubtok.h): HMAC-SHA256
 * (OpenSSL) as MAC and as the keystream, base64url. */
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "unsubtok.h"

static const char b64d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0, need = (len * 4 + 2) / 3;

	if (need + 1 > outlen)
		return -1;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t k = len - i < 3 ? len - i : 3;
		if (k > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (k > 2)
			v |= in[i + 2];
		for (size_t j = 0; j <= k; j++)
			out[o++] = b64d[(v >> (18 - 6 * j)) & 63];
	}
	out[o] = '\0';
	return (int)o;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > outlen)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	if (acc & ((1u << bits) - 1)) /* spare bits: one spelling per token */
		return -1;
	return (int)o;
}

/* HMAC-SHA256 of a (and b, if any) under key; md gets 32 bytes. */
static void hmac2(const unsigned char *key, size_t klen, const void *a, size_t alen, const void *b,
		  size_t blen, unsigned char md[32])
{
	unsigned char buf[UNSUB_PLAIN_MAX + 64];
	unsigned mdlen = 0;

	if (alen + blen > sizeof(buf))
		alen = blen = 0; /* cannot happen: callers' sizes are bounded */
	memcpy(buf, a, alen);
	if (blen)
		memcpy(buf + alen, b, blen);
	if (!HMAC(EVP_sha256(), key, (int)klen, buf, alen + blen, md, &mdlen) || mdlen != 32)
		memset(md, 0, 32); /* cannot happen with OpenSSL's SHA-256 */
}

struct unsub_keys {
	unsigned char mac[32], enc[32];
};

static void derive(const unsigned char key[PROVREF_KEY_LEN], struct unsub_keys *k)
{
	static const char mac[] = "herald unsubscribe mac", enc[] = "herald unsubscribe enc";

	hmac2(key, PROVREF_KEY_LEN, mac, sizeof(mac) - 1, NULL, 0, k->mac);
	hmac2(key, PROVREF_KEY_LEN, enc, sizeof(enc) - 1, NULL, 0, k->enc);
}

/* buf ^= the keystream of tag, over len bytes. */
static void crypt_xor(const struct unsub_keys *k, const unsigned char *tag, unsigned char *buf,
		      size_t len)
{
	unsigned char md[32], ctr[4];

	for (size_t off = 0, blk = 0; off < len; off += 32, blk++) {
		ctr[0] = (unsigned char)(blk >> 24);
		ctr[1] = (unsigned char)(blk >> 16);
		ctr[2] = (unsigned char)(blk >> 8);
		ctr[3] = (unsigned char)blk;
		hmac2(k->enc, sizeof(k->enc), tag, UNSUB_TAG_LEN, ctr, sizeof(ctr), md);
		for (size_t i = 0; i < 32 && off + i < len; i++)
			buf[off + i] ^= md[i];
	}
	OPENSSL_cleanse(md, sizeof(md));
}

int unsub_plain_parse(const unsigned char *p, size_t len, struct unsub_tok *t)
{
	char *dst[4] = {t->event_id, t->tx, t->service, t->citizen};
	size_t at = 2;

	memset(t, 0, sizeof(*t));
	if (len < 2 || p[0] != '1' || p[1] != '\0')
		return -1;
	for (int f = 0; f < 4; f++) {
		const unsigned char *end = memchr(p + at, '\0', len - at);
		size_t n = end ? (size_t)(end - (p + at)) : len - at;
		if ((f < 3) != (end != NULL) || !event_id_valid((const char *)p + at, n))
			return -1;
		memcpy(dst[f], p + at, n);
		dst[f][n] = '\0';
		at += n + 1;
	}
	return 0;
}

int unsub_token_make(const unsigned char key[PROVREF_KEY_LEN], const struct unsub_tok *t, char *out,
		     size_t outlen)
{
	const char *src[4] = {t->event_id, t->tx, t->service, t->citizen};
	unsigned char buf[UNSUB_TAG_LEN + UNSUB_PLAIN_MAX], md[32];
	unsigned char *p = buf + UNSUB_TAG_LEN;
	struct unsub_keys k;
	size_t len = 2;
	int rc;

	p[0] = '1';
	p[1] = '\0';
	for (int f = 0; f < 4; f++) {
		size_t n = strnlen(src[f], EVENT_MAX_ID + 1);
		if (!event_id_valid(src[f], n))
			return -1;
		memcpy(p + len, src[f], n);
		len += n;
		if (f < 3)
			p[len++] = '\0';
	}
	derive(key, &k);
	hmac2(k.mac, sizeof(k.mac), p, len, NULL, 0, md);
	memcpy(buf, md, UNSUB_TAG_LEN);
	crypt_xor(&k, buf, p, len);
	rc = b64url_encode(buf, UNSUB_TAG_LEN + len, out, outlen);
	OPENSSL_cleanse(&k, sizeof(k));
	return rc < 0 ? -1 : 0;
}

int unsub_token_read(const unsigned char key[PROVREF_KEY_LEN], const char *tok, size_t len,
		     struct unsub_tok *t)
{
	unsigned char buf[UNSUB_TAG_LEN + UNSUB_PLAIN_MAX], md[32];
	struct unsub_keys k;
	int n, bad;

	memset(t, 0, sizeof(*t));
	if (len >= UNSUB_TOKEN_MAX)
		return -1;
	n = b64url_decode(tok, len, buf, sizeof(buf));
	if (n < UNSUB_TAG_LEN + 2)
		return -1;
	derive(key, &k);
	crypt_xor(&k, buf, buf + UNSUB_TAG_LEN, (size_t)n - UNSUB_TAG_LEN);
	hmac2(k.mac, sizeof(k.mac), buf + UNSUB_TAG_LEN, (size_t)n - UNSUB_TAG_LEN, NULL, 0, md);
	bad = CRYPTO_memcmp(md, buf, UNSUB_TAG_LEN) != 0;
	OPENSSL_cleanse(&k, sizeof(k));
	if (bad)
		return -1;
	return unsub_plain_parse(buf + UNSUB_TAG_LEN, (size_t)n - UNSUB_TAG_LEN, t);
}

int unsub_url_check(const char *url, char *why, size_t whylen)
{
	const char *host, *path;
	size_t hlen;

	if (strlen(url) > UNSUB_URL_MAX) {
		snprintf(why, whylen, "longer than %d characters", UNSUB_URL_MAX);
		return -1;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("<>\",?#", *p)) {
			snprintf(why, whylen, "holds a character a header link may not ('%c')",
				 (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f ? *p : '?');
			return -1;
		}
	if (!strncmp(url, "https://", 8)) {
		host = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		host = url + 7;
	} else {
		snprintf(why, whylen, "expected https://host/path");
		return -1;
	}
	path = strchr(host, '/');
	hlen = path ? (size_t)(path - host) : strlen(host);
	if (hlen == 0 || !path || strspn(path, "/") == strlen(path)) {
		snprintf(why, whylen, "expected https://host/path (a path: the links go below it)");
		return -1;
	}
	if (host == url + 7) { /* http: loopback only (no host name to trust) */
		static const char *const lo[] = {"127.0.0.1", "[::1]", "localhost"};
		int ok = 0;
		for (size_t i = 0; i < sizeof(lo) / sizeof(lo[0]); i++) {
			size_t n = strlen(lo[i]);
			if (hlen >= n && !strncmp(host, lo[i], n) && (hlen == n || host[n] == ':'))
				ok = 1;
		}
		if (!ok) {
			snprintf(why, whylen, "http:// only to a loopback host; use https://");
			return -1;
		}
	}
	return 0;
}
