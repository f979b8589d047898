/* provref.c - provider references: HMAC-SHA256 (OpenSSL) of
 * "<length>:<event id>\n<channel>\n<plan position>" under the install's secret. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "provref.h"

/* One keyed HMAC-SHA256 context per thread, for the last key used: HMAC()
 * fetches the algorithm and sets the key up again at every call, most of
 * the cost of a reference; here a call with the same key re-initialises
 * the context (EVP_MAC_init with no key: the previous key, its pads kept).
 * Same MAC as HMAC(EVP_sha256(), key, ...): the test compares the two. */
static _Thread_local struct {
	EVP_MAC_CTX *ctx;
	unsigned char key[PROVREF_KEY_LEN];
} mac_cache;

static int mac_sha256(const unsigned char key[PROVREF_KEY_LEN], const char *data, size_t n,
		      unsigned char md[EVP_MAX_MD_SIZE])
{
	size_t mdlen = 0;
	int rekey = !mac_cache.ctx || CRYPTO_memcmp(mac_cache.key, key, PROVREF_KEY_LEN) != 0;

	if (!mac_cache.ctx) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		mac_cache.ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
		EVP_MAC_free(mac); /* the context holds its own reference */
		if (!mac_cache.ctx)
			return -1;
	}
	if (rekey) {
		char digest[] = "SHA256";
		OSSL_PARAM p[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				  OSSL_PARAM_END};
		memcpy(mac_cache.key, key, PROVREF_KEY_LEN);
		if (!EVP_MAC_init(mac_cache.ctx, key, PROVREF_KEY_LEN, p))
			goto bad;
	} else if (!EVP_MAC_init(mac_cache.ctx, NULL, 0, NULL)) {
		goto bad;
	}
	if (EVP_MAC_update(mac_cache.ctx, (const unsigned char *)data, n) &&
	    EVP_MAC_final(mac_cache.ctx, md, &mdlen, EVP_MAX_MD_SIZE) && mdlen == 32)
		return 0;
bad: /* set up afresh at the next call */
	EVP_MAC_CTX_free(mac_cache.ctx);
	mac_cache.ctx = NULL;
	return -1;
}

void provider_ref(const unsigned char key[PROVREF_KEY_LEN], const char *event_id,
		  const char *channel, int plan_idx, char out[PROVREF_LEN])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char data[512];
	const char *e = event_id ? event_id : "";
	/* the event id length-prefixed: no two inputs give one string */
	int n = snprintf(data, sizeof(data), "%zu:%s\n%s\n%d", strlen(e), e, channel ? channel : "",
			 plan_idx);

	if (n < 0 || (size_t)n >= sizeof(data))
		n = (int)sizeof(data) - 1; /* ids are far shorter (event.c) */
	if (mac_sha256(key, data, (size_t)n, md) != 0)
		memset(md, 0, sizeof(md)); /* cannot happen with OpenSSL's SHA-256 */
	out[0] = 'h';
	out[1] = 'r';
	for (int i = 0; i < 12; i++) {
		out[2 + 2 * i] = hexd[md[i] >> 4];
		out[3 + 2 * i] = hexd[md[i] & 15];
	}
	out[PROVREF_LEN - 1] = '\0';
}

int provref_secret_parse(const char *hex, unsigned char key[PROVREF_KEY_LEN])
{
	const char *p = hex;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	for (int i = 0; i < PROVREF_KEY_LEN; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)p[2 * i]),
		    lo = hi < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)p[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	for (p += 2 * PROVREF_KEY_LEN; *p; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			return -1;
	return 0;
}

int provref_secret_new(char hex[2 * PROVREF_KEY_LEN + 1])
{
	unsigned char key[PROVREF_KEY_LEN];

	if (RAND_bytes(key, sizeof(key)) != 1)
		return -1;
	for (int i = 0; i < PROVREF_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	return 0;
}

/* Create the secret file (O_EXCL: a concurrent first start loses and reads
 * the winner's). 0, 1 when it exists already, -1 on error. */
static int secret_create(const char *path, char *err, size_t errlen)
{
	char hex[2 * PROVREF_KEY_LEN + 2];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len;

	if (fd < 0 && errno == EEXIST)
		return 1;
	if (fd < 0 || provref_secret_new(hex) != 0) {
		snprintf(err, errlen, "secret_file %s: cannot create: %s", path,
			 fd < 0 ? strerror(errno) : "no random bytes");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	len = strlen(hex);
	hex[len++] = '\n';
	if (write(fd, hex, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(err, errlen, "secret_file %s: cannot write: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

int provref_secret_file(const char *path, unsigned char key[PROVREF_KEY_LEN], char *err,
			size_t errlen)
{
	char buf[2 * PROVREF_KEY_LEN + 16];
	FILE *fp;
	size_t n;

	if (secret_create(path, err, errlen) < 0)
		return -1;
	fp = fopen(path, "re");
	if (!fp) {
		snprintf(err, errlen, "secret_file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if (provref_secret_parse(buf, key) != 0) {
		snprintf(err, errlen, "secret_file %s: not 64 hex digits", path);
		return -1;
	}
	return 0;
}
