/*
 * test_service.c - services.d policy files (lib/service.c): every key, every
 * error with file and line (table-driven), glob matching, a directory with
 * two services, the same key twice, a missing directory, key files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "service.h"

static char dir[64];
static char key1[41], key2[41];

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static int setup(void **state)
{
	char sec[41];

	snprintf(dir, sizeof(dir), "/tmp/herald-svc.XXXXXX");
	if (!mkdtemp(dir) || zmq_curve_keypair(key1, sec) || zmq_curve_keypair(key2, sec))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_good(void **state)
{
	char text[1024], path[256], err[512], buf[128];
	struct service sv;

	snprintf(text, sizeof(text),
		 "# a comment\n"
		 "public_key = %s\n"
		 "templates = appointment-*, licence-renewal\n"
		 "channels = sms email\n"
		 "urgent = yes\n"
		 "rate = 50\nburst = 100\ndaily_limit = 10000\n"
		 "from = DVLA <noreply@dvla.example>\nreply_to = help@dvla.example\n"
		 "sender = DVLA\nretention_days = 90\n"
		 "callback_url = https://dvla.example/herald\n"
		 "callback_secret = 0123456789abcdef\n"
		 "mode = trial\n"
		 "guests = +447700900123, Ada@Example.org\n",
		 key1);
	put("dvla.conf", text);
	snprintf(path, sizeof(path), "%s/dvla.conf", dir);
	assert_int_equal(service_parse_file(path, "dvla", &sv, err, sizeof(err)), 0);
	assert_string_equal(sv.name, "dvla");
	assert_string_equal(sv.public_z85, key1);
	assert_int_equal(sv.ntemplates, 2);
	assert_true(service_may_template(&sv, "appointment-reminder"));
	assert_true(service_may_template(&sv, "licence-renewal"));
	assert_false(service_may_template(&sv, "payment-due"));
	assert_true(service_may_channel(&sv, "sms"));
	assert_false(service_may_channel(&sv, "print"));
	assert_string_equal(service_list(sv.templates, sv.ntemplates, buf, sizeof(buf)),
			    "appointment-*, licence-renewal");
	assert_int_equal(sv.urgent, 1);
	assert_int_equal(sv.rate, 50);
	assert_int_equal(sv.burst, 100);
	assert_int_equal(sv.daily_limit, 10000);
	assert_string_equal(sv.from, "DVLA <noreply@dvla.example>");
	assert_string_equal(sv.reply_to, "help@dvla.example");
	assert_string_equal(sv.sender, "DVLA");
	assert_int_equal(sv.retention_days, 90);
	assert_string_equal(sv.callback_url, "https://dvla.example/herald");
	assert_int_equal(sv.mode, SERVICE_TRIAL);
	assert_int_equal(sv.nguests, 2);
	assert_true(service_is_guest(&sv, "+447700900123"));
	assert_true(service_is_guest(&sv, "ada@example.org")); /* email: without case */
	assert_false(service_is_guest(&sv, "+447700900124"));
	assert_false(service_is_guest(&sv, NULL));
	service_clear(&sv);
	rm("dvla.conf");

	/* nothing but the key: no template, no channel, no urgent */
	snprintf(text, sizeof(text), "public_key = %s\n", key1);
	put("bare.conf", text);
	snprintf(path, sizeof(path), "%s/bare.conf", dir);
	assert_int_equal(service_parse_file(path, "bare", &sv, err, sizeof(err)), 0);
	assert_false(service_may_template(&sv, "t"));
	assert_false(service_may_channel(&sv, "file"));
	assert_int_equal(sv.urgent, 0);
	assert_int_equal(sv.mode, SERVICE_LIVE);
	service_clear(&sv);
	rm("bare.conf");

	/* "*" (the skeleton's) skips fnmatch: it matches every name fnmatch's
	 * "*" does, and a list that only starts with '*' is still a glob */
	snprintf(text, sizeof(text), "public_key = %s\ntemplates = *\nchannels = *x, sms\n", key1);
	put("star.conf", text);
	snprintf(path, sizeof(path), "%s/star.conf", dir);
	assert_int_equal(service_parse_file(path, "star", &sv, err, sizeof(err)), 0);
	static const char *const names[] = {"t", "payment-due", ".hidden", "a/b", "*", "x y"};
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		assert_int_equal(fnmatch("*", names[i], 0), 0);
		assert_true(service_may_template(&sv, names[i]));
	}
	assert_true(service_may_channel(&sv, "fax"));
	assert_true(service_may_channel(&sv, "sms"));
	assert_false(service_may_channel(&sv, "email"));
	service_clear(&sv);
	rm("star.conf");
}

static const struct {
	const char *name;
	const char *body; /* after a public_key line (line 1) */
	const char *error;
} bad[] = {
    {"unknown key", "colour = blue\n", "x.conf:2: unknown key 'colour'"},
    {"no equals", "templates\n", "x.conf:2: expected 'key = value'"},
    {"twice", "urgent = no\nurgent = yes\n", "x.conf:3: 'urgent' given twice"},
    {"urgent", "urgent = maybe\n", "x.conf:2: urgent = 'maybe': expected yes or no"},
    {"empty list", "templates = ,\n", "x.conf:2: expected a list"},
    {"rate", "rate = -1\n", "x.conf:2: rate = '-1': expected an integer"},
    {"burst", "burst = lots\n", "x.conf:2: burst = 'lots'"},
    {"retention", "retention_days = 0\n", "x.conf:2: retention_days = '0'"},
    {"mode", "mode = prod\n", "x.conf:2: mode = 'prod': expected live, trial or test"},
    {"sender", "sender = TOO LONG A NAME\n", "x.conf:2: sender = "},
    {"callback_url", "callback_url = ftp://x\n", "x.conf:2: callback_url: expected an http"},
    {"callback_secret", "callback_secret = short\n", "x.conf:2: callback_secret: expected 16"},
    {"from", "from = nobody\n", "x.conf:2: from: expected an email address"},
    {"reply_to list without id", "reply_to = main: a@b.example, c@d.example\n",
     "x.conf:2: reply_to: 'c@d.example' has no id"},
    {"reply_to id twice", "reply_to = main: a@b.example, main: c@d.example\n",
     "x.conf:2: reply_to: id 'main' given twice"},
    {"reply_to bad address", "reply_to = main: nobody\n",
     "x.conf:2: reply_to: 'nobody' is not an email address"},
    {"daily_limit.channel", "daily_limit.sms = lots\n", "x.conf:2: daily_limit.sms = 'lots'"},
    {"daily_limit.channel twice", "daily_limit.sms = 1\ndaily_limit.sms = 2\n",
     "x.conf:3: 'daily_limit.sms' given twice"},
    {"daily_limit.bad channel", "daily_limit.SMS = 1\n", "x.conf:2: daily_limit.SMS: not a"},
    {"callback_timeout", "callback_timeout = 0\n", "x.conf:2: callback_timeout = '0'"},
    {"callback_ordered", "callback_ordered = perhaps\n",
     "x.conf:2: callback_ordered = 'perhaps': expected yes or no"},
    {"callback_concurrency", "callback_concurrency = 17\n",
     "x.conf:2: callback_concurrency = '17'"},
    {"callback_url without secret", "callback_url = https://x.example/cb\n",
     "x.conf: callback_url is set but callback_secret is missing"},
    {"ordered and concurrency", "callback_concurrency = 2\n",
     "x.conf: callback_concurrency = 2 needs callback_ordered = no"},
};

static void test_bad(void **state)
{
	char text[512], path[256], err[512];
	struct service sv;
	int failures = 0;

	snprintf(path, sizeof(path), "%s/x.conf", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "public_key = %s\n%s", key1, bad[i].body);
		put("x.conf", text);
		err[0] = '\0';
		if (service_parse_file(path, "x", &sv, err, sizeof(err)) == 0 ||
		    !strstr(err, bad[i].error)) {
			print_error("case '%s': expected '%s', got '%s'\n", bad[i].name,
				    bad[i].error, err);
			failures++;
		}
	}
	put("x.conf", "templates = *\n");
	assert_int_equal(service_parse_file(path, "x", &sv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x.conf: no public_key"));
	put("x.conf", "public_key = not-a-key\n");
	assert_int_equal(service_parse_file(path, "x", &sv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x.conf:1: public_key: expected a Z85 CURVE key"));
	assert_int_equal(service_parse_file(path, "Bad.Name", &sv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'Bad.Name' is not a service name"));
	rm("x.conf");
	assert_int_equal(failures, 0);
}

/* reply_to as a list with ids, daily_limit.CHANNEL, the callback options */
static void test_lists(void **state)
{
	char text[1024], path[256], err[512];
	struct service sv;

	snprintf(text, sizeof(text),
		 "public_key = %s\n"
		 "reply_to = main: help@x.example, appeals: Appeals <appeals@x.example>\n"
		 "daily_limit = 1000\ndaily_limit.sms = 200\ndaily_limit.email = 0\n"
		 "callback_timeout = 30s\ncallback_retry_max = 5m\ncallback_max_age = 1d\n"
		 "callback_ordered = no\ncallback_concurrency = 8\n",
		 key1);
	put("y.conf", text);
	snprintf(path, sizeof(path), "%s/y.conf", dir);
	assert_int_equal(service_parse_file(path, "y", &sv, err, sizeof(err)), 0);
	assert_int_equal(sv.nreply, 2);
	assert_string_equal(sv.reply_to, "help@x.example"); /* the first: the default */
	assert_string_equal(service_reply_to(&sv, NULL), "help@x.example");
	assert_string_equal(service_reply_to(&sv, "main"), "help@x.example");
	assert_string_equal(service_reply_to(&sv, "appeals"), "Appeals <appeals@x.example>");
	assert_null(service_reply_to(&sv, "other"));
	assert_int_equal(sv.daily_limit, 1000);
	assert_int_equal(sv.nlimits, 1); /* 0: no limit */
	assert_string_equal(sv.limit_ch[0], "sms");
	assert_int_equal(sv.limit_n[0], 200);
	assert_int_equal(sv.cb_timeout_ms, 30000);
	assert_int_equal(sv.cb_retry_max_ms, 300000);
	assert_int_equal(sv.cb_max_age_ms, 86400000);
	assert_int_equal(sv.cb_ordered, 0);
	assert_int_equal(sv.cb_concurrency, 8);
	service_clear(&sv);

	/* one plain address (a display name with a comma) is one entry, without id */
	snprintf(text, sizeof(text), "public_key = %s\nreply_to = \"Doe, J\" <j@x.example>\n",
		 key1);
	put("y.conf", text);
	assert_int_equal(service_parse_file(path, "y", &sv, err, sizeof(err)), 0);
	assert_int_equal(sv.nreply, 1);
	assert_string_equal(sv.reply_to, "\"Doe, J\" <j@x.example>");
	assert_string_equal(service_reply_to(&sv, NULL), "\"Doe, J\" <j@x.example>");
	assert_null(service_reply_to(&sv, "main"));
	assert_int_equal(sv.cb_timeout_ms, -1); /* not given */
	assert_int_equal(sv.cb_ordered, -1);
	service_clear(&sv);
	rm("y.conf");
}

static void test_dir(void **state)
{
	char text[256], err[512], sub[128];
	struct services *s;
	unsigned char k[SERVICE_KEY_LEN];
	int missing;

	snprintf(text, sizeof(text), "public_key = %s\ntemplates = *\n", key1);
	put("b.conf", text);
	snprintf(text, sizeof(text), "public_key = %s\n", key2);
	put("a.conf", text);
	put("README", "not a policy\n");
	s = services_load(dir, &missing, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(missing, 0);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->v[0].name, "a"); /* sorted */
	assert_true(zmq_z85_decode(k, key1) != NULL);
	assert_string_equal(services_by_key(s, k)->name, "b");
	assert_string_equal(services_by_name(s, "a")->public_z85, key2);
	assert_null(services_by_name(s, "c"));
	services_free(&s);
	assert_null(s);

	/* one key, two services */
	snprintf(text, sizeof(text), "public_key = %s\n", key1);
	put("a.conf", text);
	assert_null(services_load(dir, &missing, err, sizeof(err)));
	assert_non_null(strstr(err, "services 'a' and 'b' have the same public_key"));
	rm("a.conf");
	rm("b.conf");
	rm("README");

	/* an empty directory: no service, not missing */
	s = services_load(dir, &missing, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(missing, 0);
	assert_int_equal(s->n, 0);
	services_free(&s);

	snprintf(sub, sizeof(sub), "%s/none", dir);
	s = services_load(sub, &missing, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(missing, 1);
	assert_int_equal(s->n, 0);
	services_free(&s);
}

static void test_key_file(void **state)
{
	char path[256], err[512], text[128];
	unsigned char k[SERVICE_KEY_LEN], want[SERVICE_KEY_LEN];

	snprintf(path, sizeof(path), "%s/k.key", dir);
	snprintf(text, sizeof(text), "\n%s\n", key2);
	put("k.key", text);
	assert_int_equal(service_read_key(path, k, err, sizeof(err)), 0);
	zmq_z85_decode(want, key2);
	assert_memory_equal(k, want, SERVICE_KEY_LEN);
	put("k.key", "short\n");
	assert_int_equal(service_read_key(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a Z85 CURVE key"));
	put("k.key", "");
	assert_int_equal(service_read_key(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no key in the file"));
	rm("k.key");
	assert_int_equal(service_read_key(path, k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
}

static void test_names(void **state)
{
	assert_true(service_name_valid("dvla"));
	assert_true(service_name_valid("hmrc-paye_2"));
	assert_false(service_name_valid(""));
	assert_false(service_name_valid("-x"));
	assert_false(service_name_valid("a:b"));
	assert_false(service_name_valid("DVLA"));
	assert_false(service_name_valid("../etc"));
}

/* The line of text that starts with prefix (at a line's start), or NULL. */
static const char *line_with(const char *text, const char *prefix)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, prefix, strlen(prefix)))
			return p;
	return NULL;
}

/* heraldctl keygen's skeleton names every key the parser accepts (set or
 * "#key = example"), parses as written, and parses with every key line
 * uncommented (each example value valid, no key twice); the parser's
 * "unknown key" message lists them all too. */
static void test_skeleton(void **state)
{
	char *skel = service_skeleton("svc", key1), *open_all, *d, path[256], want[64];
	char err[1024];
	struct service sv;

	assert_non_null(skel);
	for (int i = 0; service_keys[i]; i++) {
		snprintf(want, sizeof(want), "%s = ", service_keys[i]);
		const char *set = line_with(skel, want);
		snprintf(want, sizeof(want), "#%s = ", service_keys[i]);
		if (!set && !line_with(skel, want))
			fail_msg("the skeleton lacks the key '%s'", service_keys[i]);
	}
	assert_non_null(line_with(skel, "#" SERVICE_KEY_CHANNEL_LIMIT));
	assert_non_null(strstr(skel, "public_key = "));
	assert_non_null(strstr(skel, key1));

	put("svc.conf", skel);
	snprintf(path, sizeof(path), "%s/svc.conf", dir);
	assert_int_equal(service_parse_file(path, "svc", &sv, err, sizeof(err)), 0);
	assert_int_equal(sv.ntemplates, 1);
	assert_string_equal(sv.templates[0], "*");
	assert_int_equal(sv.urgent, 0);
	assert_int_equal(sv.rate, 0);
	assert_null(sv.callback_url);
	service_clear(&sv);

	/* every "#key = value" line opened */
	open_all = calloc(1, strlen(skel) + 1);
	assert_non_null(open_all);
	d = open_all;
	for (const char *p = skel; *p; p++) {
		if (*p == '#' && (p == skel || p[-1] == '\n') && p[1] >= 'a' && p[1] <= 'z' &&
		    strstr(p, " = ") && strstr(p, " = ") < strchr(p, '\n') &&
		    strcspn(p + 1, " ") == strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_."))
			continue;
		*d++ = *p;
	}
	put("svc.conf", open_all);
	if (service_parse_file(path, "svc", &sv, err, sizeof(err)) != 0)
		fail_msg("the skeleton with every key set does not parse: %s", err);
	assert_int_equal(sv.rate, 10);
	assert_int_equal(sv.burst, 50);
	assert_int_equal(sv.daily_limit, 100000);
	assert_int_equal(sv.nlimits, 1);
	assert_non_null(sv.from);
	assert_int_equal(sv.nreply, 2);
	assert_non_null(sv.sender);
	assert_int_equal(sv.retention_days, 30);
	assert_non_null(sv.callback_url);
	assert_non_null(sv.callback_secret);
	assert_int_equal(sv.cb_timeout_ms, 10000);
	assert_int_equal(sv.cb_retry_max_ms, 600000);
	assert_int_equal(sv.cb_max_age_ms, 3 * 86400 * 1000L);
	assert_int_equal(sv.cb_ordered, 0);
	assert_int_equal(sv.cb_concurrency, 4);
	assert_int_equal(sv.mode, SERVICE_LIVE);
	assert_int_equal(sv.nguests, 2);
	service_clear(&sv);

	/* the unknown-key message names every key */
	snprintf(err, sizeof(err), "public_key = %s\nnosuch = 1\n", key1);
	put("svc.conf", err);
	assert_int_equal(service_parse_file(path, "svc", &sv, err, sizeof(err)), -1);
	for (int i = 0; service_keys[i]; i++) {
		snprintf(want, sizeof(want), " %s,", service_keys[i]);
		if (!strstr(err, want) && !strstr(err, service_keys[i]))
			fail_msg("the unknown-key message lacks '%s': %s", service_keys[i], err);
	}
	assert_non_null(strstr(err, SERVICE_KEY_CHANNEL_LIMIT "CHANNEL"));
	rm("svc.conf");
	free(open_all);
	free(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),     cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_dir),	     cmocka_unit_test(test_key_file),
	    cmocka_unit_test(test_names),    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_skeleton),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
