/* test_unsubtok.c - one-click unsubscribe tokens (lib/unsubtok.c): a
 * token reads back to what it was made of, is the same every time, says
 * nothing in clear, and is refused when altered in any byte, truncated,
 * extended, made under another key or not base64url; the plaintext parser
 * takes exactly four valid fields; base64url round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unsubtok.h"

static const struct unsub_tok sample = {"dvla-1", "tx-55", "dvla", "c-8812"};

static void round_trip(void **state)
{
	unsigned char key[PROVREF_KEY_LEN];
	char a[UNSUB_TOKEN_MAX], b[UNSUB_TOKEN_MAX];
	struct unsub_tok t;

	(void)state;
	memset(key, 7, sizeof(key));
	assert_int_equal(unsub_token_make(key, &sample, a, sizeof(a)), 0);
	assert_int_equal(unsub_token_make(key, &sample, b, sizeof(b)), 0);
	assert_string_equal(a, b); /* deterministic: every retry the same link */
	assert_int_equal(
	    strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
	    strlen(a));
	assert_null(strstr(a, "c-8812"));
	assert_int_equal(unsub_token_read(key, a, strlen(a), &t), 0);
	assert_string_equal(t.event_id, "dvla-1");
	assert_string_equal(t.tx, "tx-55");
	assert_string_equal(t.service, "dvla");
	assert_string_equal(t.citizen, "c-8812");
	/* too small a buffer */
	assert_int_equal(unsub_token_make(key, &sample, a, 10), -1);
}

static void longest_fits(void **state)
{
	unsigned char key[PROVREF_KEY_LEN];
	char tok[UNSUB_TOKEN_MAX];
	struct unsub_tok t, r;

	(void)state;
	memset(key, 1, sizeof(key));
	memset(&t, 'x', sizeof(t));
	t.event_id[EVENT_MAX_ID] = t.tx[EVENT_MAX_ID] = t.service[EVENT_MAX_ID] =
	    t.citizen[EVENT_MAX_ID] = '\0';
	assert_int_equal(unsub_token_make(key, &t, tok, sizeof(tok)), 0);
	assert_int_equal(unsub_token_read(key, tok, strlen(tok), &r), 0);
	assert_memory_equal(&t, &r, sizeof(t));
	/* bad fields are refused */
	t.citizen[3] = ' ';
	assert_int_equal(unsub_token_make(key, &t, tok, sizeof(tok)), -1);
	t.citizen[0] = '\0';
	assert_int_equal(unsub_token_make(key, &t, tok, sizeof(tok)), -1);
}

static void forged_refused(void **state)
{
	unsigned char key[PROVREF_KEY_LEN], other[PROVREF_KEY_LEN];
	char tok[UNSUB_TOKEN_MAX], bad[UNSUB_TOKEN_MAX + 8];
	struct unsub_tok t;
	size_t n;

	(void)state;
	memset(key, 7, sizeof(key));
	memset(other, 7, sizeof(other));
	other[0] = 8;
	assert_int_equal(unsub_token_make(key, &sample, tok, sizeof(tok)), 0);
	n = strlen(tok);
	assert_int_equal(unsub_token_read(other, tok, n, &t), -1);
	assert_string_equal(t.citizen, ""); /* nothing left behind */
	/* every byte changed to every other base64url character */
	for (size_t i = 0; i < n; i++) {
		for (const char *c = "AQgw_-9z"; *c; c++) {
			if (*c == tok[i])
				continue;
			memcpy(bad, tok, n + 1);
			bad[i] = *c;
			assert_int_equal(unsub_token_read(key, bad, n, &t), -1);
		}
	}
	for (size_t k = 0; k < n; k++)
		assert_int_equal(unsub_token_read(key, tok, k, &t), -1);
	memcpy(bad, tok, n);
	memcpy(bad + n, "AAAA", 5);
	assert_int_equal(unsub_token_read(key, bad, n + 4, &t), -1);
	assert_int_equal(unsub_token_read(key, "", 0, &t), -1);
	assert_int_equal(unsub_token_read(key, "%2e%2e/..", 9, &t), -1);
	memset(bad, 'A', sizeof(bad));
	assert_int_equal(unsub_token_read(key, bad, sizeof(bad), &t), -1);
}

static void plain_parse(void **state)
{
	struct unsub_tok t;

	(void)state;
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1\0e\0t\0s\0c", 9, &t), 0);
	assert_string_equal(t.citizen, "c");
	/* version, field count, empty field, trailing separator, bad byte */
	assert_int_equal(unsub_plain_parse((const unsigned char *)"2\0e\0t\0s\0c", 9, &t), -1);
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1\0e\0t\0s", 7, &t), -1);
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1\0e\0\0s\0c", 8, &t), -1);
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1\0e\0t\0s\0c\0", 10, &t), -1);
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1\0e\0t\0s\0c\0x", 11, &t), -1);
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1\0e\0t\0s\0c d", 11, &t), -1);
	assert_int_equal(unsub_plain_parse((const unsigned char *)"1", 1, &t), -1);
}

static void base64url(void **state)
{
	unsigned char in[64], out[64];
	char enc[100];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 250);
	for (size_t len = 0; len <= sizeof(in); len++) {
		int n = b64url_encode(in, len, enc, sizeof(enc));
		assert_int_equal(n, (int)((len * 4 + 2) / 3));
		assert_int_equal(b64url_decode(enc, (size_t)n, out, sizeof(out)), (int)len);
		assert_memory_equal(in, out, len);
	}
	assert_int_equal(b64url_encode(in, 3, enc, 4), -1);
	assert_int_equal(b64url_decode("A", 1, out, sizeof(out)), -1);
	assert_int_equal(b64url_decode("AB", 2, out, sizeof(out)), -1); /* spare bits */
	assert_int_equal(b64url_decode("AA==", 4, out, sizeof(out)), -1);
	assert_int_equal(b64url_decode("A+/A", 4, out, sizeof(out)), -1);
	assert_int_equal(b64url_decode("AAAAAAAA", 8, out, 5), -1);
}

/* [channel.email] unsubscribe_url as heraldd -t checks it. */
static void url_check(void **state)
{
	static const char *const good[] = {"https://herald.example.org/unsubscribe",
					   "https://h.example:8443/u/", "http://127.0.0.1:7402/u",
					   "http://[::1]:7402/u", "http://localhost/u"};
	static const char *const bad[] = {"http://herald.example.org/u",
					  "http://127.0.0.10/u",
					  "http://localhost.evil/u",
					  "https://herald.example.org",
					  "https://herald.example.org/",
					  "https:///u",
					  "ftp://h.example/u",
					  "https://h.example/u?a=1",
					  "https://h.example/u#x",
					  "https://h.example/a b",
					  "https://h.example/a>b",
					  "https://h.example/a,b",
					  "https://h.example/a\r\nBcc: x"};
	char why[128], longer[300];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(unsub_url_check(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(unsub_url_check(bad[i], why, sizeof(why)), -1);
		assert_true(why[0] != '\0');
	}
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	memcpy(longer, "https://h.example/", 18);
	assert_int_equal(unsub_url_check(longer, why, sizeof(why)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(round_trip),     cmocka_unit_test(longest_fits),
	    cmocka_unit_test(forged_refused), cmocka_unit_test(plain_parse),
	    cmocka_unit_test(base64url),      cmocka_unit_test(url_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
