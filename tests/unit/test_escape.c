/* test_escape.c - outside values in the text logs (util/text.c
 * text_log_escape, text_ctl_escape; lib/dlogrec.c; util/log.c): control
 * bytes as \xNN, values that could read as ", key=" quoted, so that no
 * line or field of a log can be forged; never half an escape when cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlogrec.h"
#include "log.h"
#include "text.h"

static const struct {
	const char *in, *out;
} log_cases[] = {
    {"plain", "plain"},
    {"", ""},
    {"Si\xc3\xa2n", "Si\xc3\xa2n"}, /* UTF-8 kept */
    {"a\nheraldd[1]: error: forged", "a\\x0aheraldd[1]: error: forged"},
    {"cr\rlf\n", "cr\\x0dlf\\x0a"},
    {"tab\tdel\x7f", "tab\\x09del\\x7f"},
    {"back\\slash", "back\\\\slash"},
    {"550 no such user, try later", "550 no such user, try later"},
    {"bounced, status=delivered", "\"bounced, status=delivered\""},
    {"x, to=+4477", "\"x, to=+4477\""},
    {"say \"hi\"", "\"say \\\"hi\\\"\""},
    {"q\", status=ok\n", "\"q\\\", status=ok\\x0a\""},
    {"a=b", "a=b"},
    {", =x", ", =x"},
};

static void escape_table(void **state)
{
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(log_cases) / sizeof(log_cases[0]); i++) {
		size_t n = text_log_escape(log_cases[i].in, out, sizeof(out));
		assert_string_equal(out, log_cases[i].out);
		assert_int_equal(n, strlen(log_cases[i].out));
	}
	assert_int_equal(text_log_escape(NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "");
}

/* Cut short: never half an escape, a quoted value always closed. */
static void escape_cut(void **state)
{
	char out[64];

	(void)state;
	for (size_t len = 1; len < 12; len++) {
		memset(out, 'Z', sizeof(out));
		size_t n = text_log_escape("\n\n\n\n", out, len);
		assert_true(n < len && n % 4 == 0);
		assert_int_equal(out[n], '\0');
		n = text_log_escape("a, b=\"c\"", out, len);
		assert_true(n < len);
		if (len > 2) {
			assert_int_equal(out[0], '"');
			assert_int_equal(out[n - 1], '"');
		}
	}
	text_ctl_escape("a\nb", out, 3);
	assert_string_equal(out, "a");
	text_ctl_escape("a\\b\x1b", out, sizeof(out));
	assert_string_equal(out, "a\\b\\x1b");
}

/* A delivery record with forged fields from an event and a provider. */
static void record_line(void **state)
{
	struct dlog_rec r = {.ts = "2026-12-06T08:00:00.000Z",
			     .event_id = "e-1\nheraldd[1]: error: forged",
			     .tx = "e-1",
			     .citizen = "c-1, channel=fax",
			     .channel = "sms",
			     .to = "+4477***777",
			     .delays = "0.1/0.2/0.3",
			     .status = "failed",
			     .reason = "x), status=delivered (y",
			     .attempt = 1,
			     .fulfilled_in = -1};
	char text[1024];

	(void)state;
	dlog_rec_text(&r, text, sizeof(text));
	assert_null(strchr(text, '\n'));
	assert_non_null(strstr(text, " e-1\\x0aheraldd[1]: error: forged: tx=e-1,"));
	assert_non_null(strstr(text, ", citizen=\"c-1, channel=fax\", channel=sms,"));
	assert_non_null(strstr(text, ", status=failed (\"x), status=delivered (y\")"));
}

static void log_line(void **state)
{
	char path[] = "/tmp/herald-test-esc.XXXXXX", text[512] = "";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	log_warnx("receipt for unknown reference '%s'", "r\nheraldd[1]: error: forged");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	assert_non_null(strstr(text, "'r\\x0aheraldd[1]: error: forged'\n"));
	assert_null(strstr(text, "\nheraldd[1]: error"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escape_table),
	    cmocka_unit_test(escape_cut),
	    cmocka_unit_test(record_line),
	    cmocka_unit_test(log_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
