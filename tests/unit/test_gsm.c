/* test_gsm.c - GSM 03.38 encoding choice, length and segment counting
 * (util/gsm7.c), table-driven: each case builds its text from a
 * repeated unit plus a head and a tail, so the boundaries read as numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gsm7.h"

/* A text is up to three pieces, each a string repeated n times. */
struct gsm_piece {
	const char *s;
	size_t n;
};

struct gsm_case {
	const char *name;
	struct gsm_piece p[3];
	enum gsm_encoding enc;
	size_t chars, segments;
};

#define EURO "\xE2\x82\xAC"	 /* U+20AC, GSM-7 extension table */
#define WCIRC "\xC5\xB5"	 /* U+0175 w circumflex (Welsh), not GSM */
#define EMOJI "\xF0\x9F\x98\x80" /* U+1F600, a surrogate pair in UTF-16 */
#define OMEGA "\xCE\xA9"	 /* U+03A9, GSM-7 basic */

static const struct gsm_case gsm_cases[] = {
    {"empty text", {{"", 0}}, GSM_ENC_GSM7, 0, 0},
    {"one char", {{"a", 1}}, GSM_ENC_GSM7, 1, 1},
    {"160 gsm7 = one sms", {{"a", 160}}, GSM_ENC_GSM7, 160, 1},
    {"161 gsm7 = two parts", {{"a", 161}}, GSM_ENC_GSM7, 161, 2},
    {"153x2", {{"a", 306}}, GSM_ENC_GSM7, 306, 2},
    {"153x2+1", {{"a", 307}}, GSM_ENC_GSM7, 307, 3},
    {"153x3", {{"a", 459}}, GSM_ENC_GSM7, 459, 3},
    {"153x3+1", {{"a", 460}}, GSM_ENC_GSM7, 460, 4},
    {"153x6", {{"a", 918}}, GSM_ENC_GSM7, 918, 6},
    {"153x6+1", {{"a", 919}}, GSM_ENC_GSM7, 919, 7},
    {"basic punctuation", {{"@$_!\"#%&'()*+,-./:;<=>?", 1}}, GSM_ENC_GSM7, 23, 1},
    {"latin and greek basic", {{"\xC2\xA3\xC3\xA9\xC3\x9F\xC3\x87" OMEGA, 1}}, GSM_ENC_GSM7, 5, 1},
    {"LF and CR are basic", {{"a\r\nb", 1}}, GSM_ENC_GSM7, 4, 1},
    {"every extension char counts two", {{EURO "[]{}^~\\|\f", 1}}, GSM_ENC_GSM7, 20, 1},
    {"80 euro = 160 septets", {{EURO, 80}}, GSM_ENC_GSM7, 160, 1},
    {"158 + euro = 160", {{"a", 158}, {EURO, 1}}, GSM_ENC_GSM7, 160, 1},
    {"159 + euro = 161", {{"a", 159}, {EURO, 1}}, GSM_ENC_GSM7, 161, 2},
    {"159 + [ = 161", {{"a", 159}, {"[", 1}}, GSM_ENC_GSM7, 161, 2},
    {"151 + euro fills part 1 exactly", {{"a", 151}, {EURO, 1}, {"a", 153}}, GSM_ENC_GSM7, 306, 2},
    /* 152 + ESC€ would end part 1 inside the escape: the pair moves to
     * part 2, which then overflows: 3 parts where ceil(306/153) = 2. */
    {"escape never split across parts", {{"a", 152}, {EURO, 1}, {"a", 152}}, GSM_ENC_GSM7, 306, 3},
    {"one w-circumflex switches to ucs2", {{"a", 10}, {WCIRC, 1}}, GSM_ENC_UCS2, 11, 1},
    {"non-gsm first, then gsm", {{WCIRC, 1}, {"a", 69}}, GSM_ENC_UCS2, 70, 1},
    {"159 gsm7 + one non-gsm = 160 ucs2 units", {{"a", 159}, {WCIRC, 1}}, GSM_ENC_UCS2, 160, 3},
    {"extension chars count one in ucs2", {{EURO, 1}, {WCIRC, 1}}, GSM_ENC_UCS2, 2, 1},
    {"grave accent is not gsm", {{"`", 1}}, GSM_ENC_UCS2, 1, 1},
    {"tab is not gsm", {{"a\tb", 1}}, GSM_ENC_UCS2, 3, 1},
    {"70 ucs2 = one sms", {{WCIRC, 70}}, GSM_ENC_UCS2, 70, 1},
    {"71 ucs2 = two parts", {{WCIRC, 71}}, GSM_ENC_UCS2, 71, 2},
    {"67x2", {{WCIRC, 134}}, GSM_ENC_UCS2, 134, 2},
    {"67x2+1", {{WCIRC, 135}}, GSM_ENC_UCS2, 135, 3},
    {"67x3", {{WCIRC, 201}}, GSM_ENC_UCS2, 201, 3},
    {"67x3+1", {{WCIRC, 202}}, GSM_ENC_UCS2, 202, 4},
    {"emoji = 2 utf-16 units", {{EMOJI, 1}}, GSM_ENC_UCS2, 2, 1},
    {"35 emoji = 70 units", {{EMOJI, 35}}, GSM_ENC_UCS2, 70, 1},
    {"36 emoji = 72 units", {{EMOJI, 36}}, GSM_ENC_UCS2, 72, 2},
    {"67 emoji = 134 units in 33+33+1", {{EMOJI, 67}}, GSM_ENC_UCS2, 134, 3},
    {"surrogate pair never split across parts",
     {{"a", 66}, {EMOJI, 1}, {WCIRC, 66}},
     GSM_ENC_UCS2,
     134,
     3},
    {"65 + emoji fills part 1 exactly", {{"a", 65}, {EMOJI, 1}, {WCIRC, 67}}, GSM_ENC_UCS2, 134, 2},
    {"Welsh text",
     {{"Diolch! Mae eich tocyn yn barod i'w gasglu. Croeso i d" WCIRC "r.", 1}},
     GSM_ENC_UCS2,
     57,
     1},
};

static const struct {
	const char *name;
	const char *text;
} gsm_invalid[] = {
    {"lone 0xFF", "\xFF"},
    {"stray continuation byte", "a\x80z"},
    {"truncated 2-byte sequence at end", "abc\xC3"},
    {"truncated 3-byte sequence at end", "abc\xE2\x82"},
    {"bad continuation", "\xE2\x28\xA1"},
    {"overlong NUL C0 80", "\xC0\x80"},
    {"overlong slash E0 80 AF", "\xE0\x80\xAF"},
    {"UTF-16 surrogate ED A0 80", "\xED\xA0\x80"},
    {"above U+10FFFF", "\xF4\x90\x80\x80"},
    {"F5 lead byte", "\xF5\x80\x80\x80"},
};

static char *gsm_build(const struct gsm_case *c, size_t *len)
{
	size_t total = 0;
	char *s, *p;

	for (int k = 0; k < 3; k++)
		if (c->p[k].s)
			total += strlen(c->p[k].s) * c->p[k].n;
	s = p = malloc(total + 1);
	assert_non_null(s);
	for (int k = 0; k < 3; k++) {
		size_t l = c->p[k].s ? strlen(c->p[k].s) : 0;
		for (size_t i = 0; i < c->p[k].n; i++, p += l)
			memcpy(p, c->p[k].s, l);
	}
	*p = '\0';
	*len = total;
	return s;
}

static void test_gsm_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(gsm_cases) / sizeof(gsm_cases[0]); i++) {
		const struct gsm_case *c = &gsm_cases[i];
		struct gsm_info info;
		size_t len;
		char *s = gsm_build(c, &len);
		int rc = gsm_analyse(s, len, &info);

		free(s);
		if (rc != 0) {
			print_error("%s: rejected as invalid UTF-8\n", c->name);
			bad++;
		} else if (info.encoding != c->enc || info.chars != c->chars ||
			   info.segments != c->segments) {
			print_error("%s: got %s chars=%zu segments=%zu, want %s chars=%zu "
				    "segments=%zu\n",
				    c->name, gsm_encoding_name(info.encoding), info.chars,
				    info.segments, gsm_encoding_name(c->enc), c->chars,
				    c->segments);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_gsm_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(gsm_invalid) / sizeof(gsm_invalid[0]); i++) {
		struct gsm_info info;
		if (gsm_analyse(gsm_invalid[i].text, strlen(gsm_invalid[i].text), &info) != -1)
			fail_msg("%s: accepted invalid UTF-8", gsm_invalid[i].name);
	}
}

/* An embedded NUL is not text: the length given wins over strlen. */
static void test_gsm_nul(void **state)
{
	struct gsm_info info;
	(void)state;
	assert_int_equal(gsm_analyse("ab\0cd", 5, &info), -1);
	assert_int_equal(gsm_analyse("ab\0cd", 2, &info), 0);
	assert_int_equal(info.chars, 2);
}

/* Every byte string of length 1..3 over a spread of bytes: never crashes,
 * and whatever is accepted decodes to at most one unit per byte. */
static void test_gsm_no_crash(void **state)
{
	static const unsigned char bytes[] = {0x01, 0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xC3,
					      0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xFF};
	const size_t nb = sizeof(bytes);
	(void)state;
	for (size_t a = 0; a < nb; a++)
		for (size_t b = 0; b < nb; b++)
			for (size_t c = 0; c < nb; c++) {
				char s[3] = {(char)bytes[a], (char)bytes[b], (char)bytes[c]};
				struct gsm_info info;
				if (gsm_analyse(s, 3, &info) == 0)
					assert_true(info.chars <= 6 && info.segments == 1);
			}
}

static void test_gsm_names(void **state)
{
	(void)state;
	assert_string_equal(gsm_encoding_name(GSM_ENC_GSM7), "gsm7");
	assert_string_equal(gsm_encoding_name(GSM_ENC_UCS2), "ucs2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gsm_table), cmocka_unit_test(test_gsm_invalid),
	    cmocka_unit_test(test_gsm_nul),   cmocka_unit_test(test_gsm_no_crash),
	    cmocka_unit_test(test_gsm_names),
	};
	return cmocka_run_group_tests_name("gsm", tests, NULL, NULL);
}
