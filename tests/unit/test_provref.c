/* test_provref.c - provider references (lib/provref.c): the same for the
 * same message, channel and plan position under one key; different for
 * another of any of them or another key; the secret file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include "provref.h"

static void stable_and_keyed(void **state)
{
	unsigned char k1[PROVREF_KEY_LEN], k2[PROVREF_KEY_LEN];
	char a[PROVREF_LEN], b[PROVREF_LEN];

	memset(k1, 7, sizeof(k1));
	memset(k2, 7, sizeof(k2));
	k2[31] = 8;
	provider_ref(k1, "dvla-1", "sms", 0, a);
	provider_ref(k1, "dvla-1", "sms", 0, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), PROVREF_LEN - 1);
	assert_int_equal(strspn(a + 2, "0123456789abcdef"), 24);
	assert_memory_equal(a, "hr", 2);
	assert_null(strstr(a, "dvla"));
	provider_ref(k2, "dvla-1", "sms", 0, b);
	assert_string_not_equal(a, b);
	provider_ref(k1, "dvla-2", "sms", 0, b);
	assert_string_not_equal(a, b);
	provider_ref(k1, "dvla-1", "email", 0, b);
	assert_string_not_equal(a, b);
	provider_ref(k1, "dvla-1", "sms", 1, b);
	assert_string_not_equal(a, b);
	/* no ambiguity from the separator */
	provider_ref(k1, "a\nb", "c", 0, a);
	provider_ref(k1, "a", "b\nc", 0, b);
	assert_string_not_equal(a, b);
}

/* The cached keyed context gives HMAC()'s MAC: a fixed answer (openssl
 * dgst -sha256 -mac HMAC), and HMAC() itself while the key changes back
 * and forth between calls. */
static void same_as_hmac(void **state)
{
	unsigned char keys[3][PROVREF_KEY_LEN], md[EVP_MAX_MD_SIZE];
	char got[PROVREF_LEN], want[PROVREF_LEN], data[64];
	unsigned mdlen;

	memset(keys[0], 7, PROVREF_KEY_LEN);
	provider_ref(keys[0], "dvla-1", "sms", 0, got);
	assert_string_equal(got, "hra86e662b7fa5ee300ff0119a");
	memset(keys[1], 7, PROVREF_KEY_LEN);
	keys[1][0] = 9;
	for (int i = 0; i < PROVREF_KEY_LEN; i++)
		keys[2][i] = (unsigned char)(i * 37 + 1);
	for (int i = 0; i < 60; i++) {
		const unsigned char *k = keys[i % 7 % 3];
		char id[16];
		int n;
		snprintf(id, sizeof(id), "ev-%d", i);
		n = snprintf(data, sizeof(data), "%zu:%s\n%s\n%d", strlen(id), id, "email", i % 4);
		assert_non_null(HMAC(EVP_sha256(), k, PROVREF_KEY_LEN, (unsigned char *)data,
				     (size_t)n, md, &mdlen));
		want[0] = 'h', want[1] = 'r';
		for (int j = 0; j < 12; j++)
			snprintf(want + 2 + 2 * j, 3, "%02x", md[j]);
		provider_ref(k, id, "email", i % 4, got);
		assert_string_equal(got, want);
	}
}

static void secret_parse(void **state)
{
	unsigned char k[PROVREF_KEY_LEN];
	char hex[2 * PROVREF_KEY_LEN + 1];

	assert_int_equal(provref_secret_new(hex), 0);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(provref_secret_parse(hex, k), 0);
	assert_int_equal(
	    provref_secret_parse("  00112233445566778899aabbccddeeff00112233445566778899"
				 "aabbccddeeff\n",
				 k),
	    0);
	assert_int_equal(k[0], 0x00);
	assert_int_equal(k[31], 0xff);
	assert_int_equal(provref_secret_parse("0011", k), -1);
	hex[5] = 'g';
	assert_int_equal(provref_secret_parse(hex, k), -1);
	assert_int_equal(provref_secret_parse("00112233445566778899aabbccddeeff00112233445566778899"
					      "aabbccddeeff00",
					      k),
			 -1);
}

static void secret_file(void **state)
{
	char dir[] = "/tmp/provref.XXXXXX", path[64], err[256];
	unsigned char k1[PROVREF_KEY_LEN], k2[PROVREF_KEY_LEN];
	struct stat st;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	assert_int_equal(provref_secret_file(path, k1, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(provref_secret_file(path, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, sizeof(k1)); /* read back, not made anew */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not hex\n", fp);
	fclose(fp);
	assert_int_equal(provref_secret_file(path, k2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not 64 hex digits"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stable_and_keyed),
	    cmocka_unit_test(same_as_hmac),
	    cmocka_unit_test(secret_parse),
	    cmocka_unit_test(secret_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
