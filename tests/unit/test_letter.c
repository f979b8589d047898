/* test_letter.c - the letter renderer's helpers (date per locale, paragraph
 * markup and escaping, sender splitting, message mapping) and a few whole
 * renders (PDF produced, pagination, large print, hostile input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "letter.h"

/* Under LeakSanitizer: fontconfig's own one-off allocations are no leak of
 * ours (see tests/integration/paper_lsan.supp, which says the same). */
__attribute__((visibility("default"), used)) const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libfontconfig.so\n";
}

static time_t day(int y, int m, int d)
{
	struct tm tm = {0};

	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void test_date(void **st)
{
	static const struct {
		int y, m, d;
		const char *locale, *want;
	} cases[] = {
	    {2026, 11, 22, "en", "22 November 2026"},
	    {2026, 11, 22, "cy", "22 Tachwedd 2026"},
	    {2026, 11, 22, "cy-GB", "22 Tachwedd 2026"},
	    {2026, 11, 22, "cy_GB.UTF-8", "22 Tachwedd 2026"},
	    {2026, 11, 22, "CY", "22 Tachwedd 2026"},
	    {2026, 11, 22, NULL, "22 November 2026"},
	    {2026, 11, 22, "cym", "22 November 2026"}, /* not a cy tag */
	    {2026, 11, 22, "en-GB", "22 November 2026"},
	    {2027, 1, 1, "cy", "1 Ionawr 2027"},
	    {2027, 2, 3, "cy", "3 Chwefror 2027"},
	    {2027, 3, 4, "cy", "4 Mawrth 2027"},
	    {2027, 4, 5, "cy", "5 Ebrill 2027"},
	    {2027, 5, 6, "cy", "6 Mai 2027"},
	    {2027, 6, 7, "cy", "7 Mehefin 2027"},
	    {2027, 7, 8, "cy", "8 Gorffennaf 2027"},
	    {2027, 8, 9, "cy", "9 Awst 2027"},
	    {2027, 9, 10, "cy", "10 Medi 2027"},
	    {2027, 10, 11, "cy", "11 Hydref 2027"},
	    {2027, 12, 31, "cy", "31 Rhagfyr 2027"},
	    {2027, 12, 31, "en", "31 December 2027"},
	    {2027, 7, 8, "en", "8 July 2027"},
	};
	char out[64];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(letter_format_date(day(cases[i].y, cases[i].m, cases[i].d),
						    cases[i].locale, out, sizeof(out)),
				 0);
		assert_string_equal(out, cases[i].want);
	}
	/* too small a buffer is an error, not a truncated date */
	assert_int_equal(letter_format_date(day(2026, 11, 22), "en", out, 8), -1);
	assert_int_equal(letter_format_date(day(2026, 11, 22), "en", out, 0), -1);
}

/* A job's copy owns its strings: equal, not shared, NULLs kept, freed. */
static void test_dup(void **st)
{
	char body[] = "Dear Ada,\n\n*Pay* by Friday.";
	struct letter src = {.name = "Ada Lovelace",
			     .address = "1 Stryd\nAbertawe",
			     .locale = "cy",
			     .subject = "Pay",
			     .body = body,
			     .large_print = 1},
		      copy;

	(void)st;
	assert_int_equal(letter_dup(&copy, &src), 0);
	body[0] = 'X'; /* the source changes; the copy does not */
	assert_string_equal(copy.body, "Dear Ada,\n\n*Pay* by Friday.");
	assert_ptr_not_equal(copy.name, src.name);
	assert_string_equal(copy.name, "Ada Lovelace");
	assert_string_equal(copy.address, "1 Stryd\nAbertawe");
	assert_string_equal(copy.locale, "cy");
	assert_null(copy.reference);
	assert_null(copy.sender);
	assert_int_equal(copy.large_print, 1);
	letter_release(&copy);
	assert_null(copy.name);
	assert_null(copy.body);
}

static void test_is_welsh(void **st)
{
	(void)st;
	assert_true(letter_is_welsh("cy"));
	assert_true(letter_is_welsh("cy-GB"));
	assert_false(letter_is_welsh("en"));
	assert_false(letter_is_welsh("c"));
	assert_false(letter_is_welsh(""));
	assert_false(letter_is_welsh(NULL));
	assert_false(letter_is_welsh("cyrl"));
}

static void test_markup(void **st)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"plain text", "plain text"},
	    {"Your *licence* expires", "Your <b>licence</b> expires"},
	    {"*two words* here", "<b>two words</b> here"},
	    {"a *b* c *d*", "a <b>b</b> c <b>d</b>"},
	    {"5 * 3 = 15", "5 * 3 = 15"}, /* opener needs a non-space after */
	    {"*unclosed emphasis", "*unclosed emphasis"},
	    {"trailing *", "trailing *"},
	    {"*", "*"},
	    {"**", "**"},
	    {"*a *", "*a *"}, /* closer needs a non-space before */
	    {"**bold**", "*<b>bold</b>*"},
	    /* (g_markup_escape_text writes an apostrophe as &apos;) */
	    {"<b>not markup</b> & \"q\" 'a'",
	     "&lt;b&gt;not markup&lt;/b&gt; &amp; &quot;q&quot; &apos;a&apos;"},
	    {"*<i>x</i>*", "<b>&lt;i&gt;x&lt;/i&gt;</b>"},
	    {"ctl\x01\x7f"
	     "x",
	     "ctl  x"},
	    {"line one\nline two", "line one\nline two"},
	    {"Ŵ ŷ *ليلى* 李", "Ŵ ŷ <b>ليلى</b> 李"},
	    {"&amp;", "&amp;amp;"},
	    {"a\xff*b\xc3*", "a\xef\xbf\xbd<b>b\xef\xbf\xbd</b>"}, /* invalid UTF-8: U+FFFD */
	    {"cr\rtab\t", "cr tab\t"},
	    {"", ""},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *m = letter_para_markup(cases[i].in, strlen(cases[i].in));
		assert_non_null(m);
		assert_string_equal(m, cases[i].want);
		free(m);
	}
	/* the length bounds the scan: no closer beyond it */
	{
		char *m = letter_para_markup("*a* *b*", 5);
		assert_string_equal(m, "<b>a</b> *");
		free(m);
	}
}

static void test_sender(void **st)
{
	char buf[128];
	const char *lines[8];

	(void)st;
	assert_int_equal(letter_split_sender("DVLA|Swansea|SA6 7JL", buf, sizeof(buf), lines, 8),
			 3);
	assert_string_equal(lines[0], "DVLA");
	assert_string_equal(lines[1], "Swansea");
	assert_string_equal(lines[2], "SA6 7JL");
	assert_int_equal(letter_split_sender("  A  || \t |B ", buf, sizeof(buf), lines, 8), 2);
	assert_string_equal(lines[0], "A");
	assert_string_equal(lines[1], "B");
	assert_int_equal(letter_split_sender("", buf, sizeof(buf), lines, 8), 0);
	assert_int_equal(letter_split_sender(NULL, buf, sizeof(buf), lines, 8), 0);
	assert_int_equal(letter_split_sender("|||", buf, sizeof(buf), lines, 8), 0);
	assert_int_equal(letter_split_sender("a|b|c|d", buf, sizeof(buf), lines, 2), 2);
	assert_string_equal(lines[1], "b");
	/* lines that do not fit the buffer are dropped, never overflow it */
	assert_int_equal(letter_split_sender("abc|defgh", buf, 6, lines, 8), 1);
	assert_string_equal(lines[0], "abc");
}

static void test_from_msg(void **st)
{
	const char *meta[] = {"citizen.name",	       "Ada Lovelace", "fm.subject", "Renewal",
			      "citizen.accessibility", "large-print",  NULL};
	const char *meta2[] = {"citizen.name", "Bob", NULL};
	struct herald_msg m = {0};
	struct letter l;

	(void)st;
	m.to = "1 High St\nSwansea";
	m.locale = "cy";
	m.reference = "R-1";
	m.subject = "ignored when fm.subject is set";
	m.body = "Hello";
	m.meta = meta;
	letter_from_msg(&l, &m, "DVLA|Swansea");
	assert_string_equal(l.name, "Ada Lovelace");
	assert_string_equal(l.address, "1 High St\nSwansea");
	assert_string_equal(l.subject, "Renewal");
	assert_string_equal(l.sender, "DVLA|Swansea");
	assert_string_equal(l.reference, "R-1");
	assert_true(l.large_print);
	m.meta = meta2;
	letter_from_msg(&l, &m, NULL);
	assert_string_equal(l.subject, "ignored when fm.subject is set");
	assert_false(l.large_print);
	m.meta = NULL;
	letter_from_msg(&l, &m, NULL);
	assert_null(l.name);
	assert_null(letter_meta(meta, "nope"));
	assert_null(letter_meta(NULL, "x"));
	assert_true(letter_has_address("x"));
	assert_false(letter_has_address(" \n\t\n"));
	assert_false(letter_has_address(""));
	assert_false(letter_has_address(NULL));
}

static char *long_body(int paras)
{
	const char *p = "This paragraph is long enough to wrap over several lines of an A4 page "
			"so that the renderer has to decide where each page ends and the next "
			"one starts, and the page numbers have to say how many pages there are.";
	size_t n = (strlen(p) + 2) * (size_t)paras + 1;
	char *b = calloc(1, n);

	for (int i = 0; i < paras; i++) {
		strcat(b, p);
		strcat(b, "\n\n");
	}
	return b;
}

static int render_pages(const struct letter *l)
{
	unsigned char *pdf = NULL;
	size_t len = 0;
	int pages = 0;
	char err[256];

	assert_int_equal(letter_render_mem(l, &pdf, &len, &pages, err, sizeof(err)), 0);
	assert_non_null(pdf);
	assert_true(len > 1000);
	assert_memory_equal(pdf, "%PDF-", 5);
	free(pdf);
	return pages;
}

static void test_render(void **st)
{
	struct letter l = {0};
	char *body = long_body(40);
	int normal, large;

	(void)st;
	l.name = "Ada Lovelace";
	l.address = "1 High Street\nSwansea\nSA1 1AA";
	l.sender = "DVLA|Swansea|SA6 7JL";
	l.reference = "REF-1";
	l.subject = "Heading";
	l.locale = "en";
	l.body = "Short *letter*.";
	assert_int_equal(render_pages(&l), 1);
	l.body = body;
	normal = render_pages(&l);
	assert_true(normal >= 2);
	l.large_print = 1;
	large = render_pages(&l);
	assert_true(large > normal);
	free(body);
}

static void test_render_hostile(void **st)
{
	struct letter l = {0};
	char big[8192];

	(void)st;
	/* invalid UTF-8, control characters, markup, nothing but blank lines */
	l.name = "\xff\xfe<b>\x01";
	l.address = "\n\n  \n\xc3";
	l.sender = "|||";
	l.subject = "\x80\x80";
	l.body = "\n\n\n  \n";
	assert_int_equal(render_pages(&l), 1);
	l.body = "*\xff*  <span>&&& *";
	assert_int_equal(render_pages(&l), 1);
	/* one enormous word and an address far too long for the window */
	memset(big, 'W', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	l.body = big;
	l.address = big;
	assert_true(render_pages(&l) >= 1);
	/* all NULL */
	memset(&l, 0, sizeof(l));
	assert_int_equal(render_pages(&l), 1);
}

static void test_render_file_error(void **st)
{
	struct letter l = {0};
	char err[256] = "";

	(void)st;
	l.body = "x";
	assert_int_equal(letter_render_file(&l, "/nonexistent-dir/x.pdf", NULL, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.pdf"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_dup),
	    cmocka_unit_test(test_is_welsh),
	    cmocka_unit_test(test_markup),
	    cmocka_unit_test(test_sender),
	    cmocka_unit_test(test_from_msg),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_render_hostile),
	    cmocka_unit_test(test_render_file_error),
	};
	int rc;

	/* glib reads G_SLICE when it loads, before main: start again with it
	 * set, so pango objects come from malloc and LeakSanitizer sees any this
	 * code leaks (GSlice chunks would hide them) */
	(void)argc;
	if (!getenv("G_SLICE")) {
		setenv("G_SLICE", "always-malloc", 1);
		execv("/proc/self/exe", argv);
	}
	setenv("TZ", "Europe/London", 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	letter_process_cleanup();
	return rc;
}
