/*
 * test_tmplstore.c - the template store (lib/tmplstore.c): folders built
 * in a mkdtemp() directory prove locale fallback, front matter, partials and
 * every load error (file and line); then the real templates/ folder is
 * loaded and every variant of every template rendered in English and Welsh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmplstore.h"

/* ---- a scratch folder ---------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int dir_setup(void **state)
{
	char *dir = strdup("/tmp/herald-tstore.XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int dir_teardown(void **state)
{
	nftw(*state, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

/* Write dir/rel (creating its folder) with the given text. */
static void put(const char *dir, const char *rel, const char *text)
{
	char path[1024];
	FILE *f;
	char *slash;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static json_t *sample(void)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}", "name",
			 "Ann & Bob O'Brien", "date", "Tuesday 1 December 2026", "citizen", "id",
			 "c-8812", "name", "Ann Jones", "transaction", "id", "tx-55", "reference",
			 "HRL-7K3Q-9PXM", "event", "id", "dvla-2026-000123", "service", "dvla");
}

/* ---- fallback ------------------------------------------------------------ */

static void locale_fallback(void **state)
{
	const char *d = *state;
	char err[256] = "";
	struct tstore *s;
	const struct tentry *e;

	put(d, "README.md", "not a template folder");
	put(d, "greet/README.txt", "ignored: not .mustache");
	put(d, "greet/sms.en.mustache", "Hello");
	put(d, "greet/sms.cy.mustache", "Helo");
	put(d, "greet/sms.cy-GB.mustache", "Shwmae");
	put(d, "greet/email.en.mustache", "Hello by email");
	put(d, "greet/letter.fr_CA.mustache", "Bonjour");
	put(d, "other/sms.en.mustache", "x");
	s = tstore_load(d, err, sizeof(err));
	if (!s)
		print_message("load: %s\n", err);
	assert_non_null(s);
	assert_int_equal(tstore_count(s), 2);
	assert_true(tstore_has(s, "greet"));
	assert_true(tstore_has(s, "other"));
	assert_false(tstore_has(s, "nope"));
	assert_false(tstore_has(s, "README.md"));

	struct {
		const char *variant, *locale, *want;
	} t[] = {
	    {"sms", "cy-GB", "cy-gb"}, /* exact */
	    {"sms", "CY_gb", "cy-gb"}, /* case and underscore */
	    {"sms", "cy", "cy"},       /* exact language */
	    {"sms", "cy-AR", "cy"},    /* region -> language */
	    {"sms", "fr-FR", "en"},    /* -> en */
	    {"sms", NULL, "en"},       /* no locale: en */
	    {"sms", "", "en"},
	    {"email", "cy-GB", "en"},	  /* no Welsh email: en */
	    {"letter", "en", "fr-ca"},	  /* only one locale: that one */
	    {"letter", "fr_ca", "fr-ca"}, /* normalised file name */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		e = tstore_find(s, "greet", t[i].variant, t[i].locale);
		assert_non_null(e);
		if (strcmp(tentry_locale(e), t[i].want))
			print_message("%s/%s: got %s, want %s\n", t[i].variant,
				      t[i].locale ? t[i].locale : "(null)", tentry_locale(e),
				      t[i].want);
		assert_string_equal(tentry_locale(e), t[i].want);
	}
	assert_null(tstore_find(s, "greet", "fax", "en"));
	assert_null(tstore_find(s, "nope", "sms", "en"));
	assert_null(tstore_find(s, "greet", NULL, "en"));
	tstore_free(&s);
	assert_null(s);
	tstore_free(&s);
}

/* ---- front matter, partials, escaping ------------------------------------ */

static void front_matter(void **state)
{
	const char *d = *state;
	char err[256] = "", *body = NULL;
	json_t *data = sample(), *front = NULL;
	struct tstore *s;
	const struct tentry *e;

	put(d, "_partials/footer.mustache", "Ref {{transaction.reference}}");
	put(d, "_partials/notes.txt", "ignored");
	put(d, "mot/email-html.en.mustache",
	    "---\r\n"
	    "subject: Your MOT is due, {{name}}\r\n"
	    "# a comment\r\n"
	    "\r\n"
	    "  heading :  {{date}}  \r\n"
	    "---\r\n"
	    "<p>{{name}}</p>\n{{>footer}}\n");
	put(d, "mot/sms.en.mustache", "--- not front matter\n{{name}}");
	s = tstore_load(d, err, sizeof(err));
	if (!s)
		print_message("load: %s\n", err);
	assert_non_null(s);
	assert_int_equal(tstore_count(s), 1); /* _partials is not a template */

	e = tstore_find(s, "mot", "email-html", "en");
	assert_non_null(e);
	assert_int_equal(tentry_render(s, e, data, 1, &body, &front, err, sizeof(err)), 0);
	/* The body is HTML-escaped, front matter never is (a header, not HTML).
	 * The standalone partial line takes the partial's own line ending. */
	assert_string_equal(body, "<p>Ann &amp; Bob O&#39;Brien</p>\nRef HRL-7K3Q-9PXM");
	assert_int_equal(json_object_size(front), 2);
	assert_string_equal(json_string_value(json_object_get(front, "subject")),
			    "Your MOT is due, Ann & Bob O'Brien");
	assert_string_equal(json_string_value(json_object_get(front, "heading")),
			    "Tuesday 1 December 2026");
	free(body);
	json_decref(front);

	/* Data cannot add a line to a front matter field. */
	json_object_set_new(data, "name", json_string("Ann\r\nBcc: x@example.org"));
	assert_int_equal(tentry_render(s, e, data, 0, &body, &front, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(json_object_get(front, "subject")),
			    "Your MOT is due, Ann  Bcc: x@example.org");
	free(body);
	json_decref(front);

	/* "---" followed by text is not front matter; no fields. */
	e = tstore_find(s, "mot", "sms", "en");
	assert_non_null(e);
	assert_int_equal(tentry_render(s, e, data, 0, &body, &front, err, sizeof(err)), 0);
	assert_string_equal(body, "--- not front matter\nAnn\r\nBcc: x@example.org");
	assert_int_equal(json_object_size(front), 0);
	free(body);
	json_decref(front);
	tstore_free(&s);
	json_decref(data);
}

/* The personalisation a template requires: names interpolated outside
 * sections in any file (body or front matter), less each file's
 * "optional" and the host's citizen/transaction/event. */
static void required_personalisation(void **state)
{
	const char *d = *state;
	char err[256] = "", miss[128];
	struct tstore *s;
	json_t *p;

	put(d, "due/email.en.mustache",
	    "---\n"
	    "subject: {{amount}} due on {{due_date}}\n"
	    "optional: phone , note\n"
	    "---\n"
	    "Dear {{name}}, {{{phone}}} {{&note}} {{citizen.name}} {{transaction.reference}}\n"
	    "{{#office}}{{address}} {{.}}{{/office}}{{^x}}{{y}}{{/x}}{{! c }}{{> footer}}\n");
	put(d, "due/sms.en.mustache", "{{name}}: {{amount}} by {{due_date}} ({{ref.code}})");
	put(d, "due/sms.cy.mustache", "{{name}}: {{note}}");
	s = tstore_load(d, err, sizeof(err));
	if (!s)
		print_message("load: %s\n", err);
	assert_non_null(s);

	/* phone is optional in email and used nowhere else; note is optional
	 * in email but required by sms.cy; ref from ref.code; sections,
	 * their contents and partials require nothing */
	assert_int_equal(tstore_missing(s, "due", NULL, miss, sizeof(miss)), 5);
	assert_string_equal(miss, "amount, due_date, name, note, ref");
	p = json_pack("{s:s, s:s, s:n, s:{s:s}}", "name", "Ann", "amount", "1", "due_date", "ref",
		      "code", "X");
	assert_int_equal(tstore_missing(s, "due", p, miss, sizeof(miss)), 2);
	assert_string_equal(miss, "due_date, note"); /* null is missing too */
	json_object_set_new(p, "due_date", json_string("today"));
	json_object_set_new(p, "note", json_string(""));
	assert_int_equal(tstore_missing(s, "due", p, miss, sizeof(miss)), 0);
	assert_string_equal(miss, "");
	/* an unknown template requires nothing (ingest says "unknown") */
	assert_int_equal(tstore_missing(s, "nope", NULL, miss, sizeof(miss)), 0);
	/* "optional" is not a front matter field */
	assert_non_null(tstore_find(s, "due", "email", "en"));
	{
		char *body = NULL;
		json_t *front = NULL;
		assert_int_equal(tentry_render(s, tstore_find(s, "due", "email", "en"), p, 0, &body,
					       &front, err, sizeof(err)),
				 0);
		assert_int_equal(json_object_size(front), 1);
		free(body);
		json_decref(front);
	}
	json_decref(p);
	tstore_free(&s);
}

/* A render-time error (partial recursion) names the file. */
static void render_error(void **state)
{
	const char *d = *state;
	char err[256] = "", *body = (char *)"x";
	json_t *front = NULL;
	struct tstore *s;

	put(d, "_partials/loop.mustache", "{{>loop}}");
	put(d, "t/sms.en.mustache", "{{>loop}}");
	s = tstore_load(d, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(tentry_render(s, tstore_find(s, "t", "sms", "en"), NULL, 0, &body, &front,
				       err, sizeof(err)),
			 -1);
	assert_string_equal(err, "t/sms.en.mustache: line 1: partial 'loop' nested deeper than 32");
	assert_null(body);
	assert_null(front);
	assert_int_equal(tentry_render(s, NULL, NULL, 0, &body, &front, err, sizeof(err)), -1);
	tstore_free(&s);
}

/* ---- load errors --------------------------------------------------------- */

struct ecase {
	const char *name;
	const char *files[3][2]; /* {relative path, content} */
	const char *err;
};

static const struct ecase ecases[] = {
    {"body syntax error, line counted in the file",
     {{"t/sms.en.mustache", "---\nsubject: x\n---\nline 4\n{{#a}}\n"}},
     "t/sms.en.mustache: line 5: unclosed section 'a'"},
    {"front matter value error",
     {{"t/email.en.mustache", "---\nfrom: a\nsubject: {{#x}}\n---\n"}},
     "t/email.en.mustache: line 3: unclosed section 'x'"},
    {"front matter not closed",
     {{"t/email.en.mustache", "---\nsubject: x\n\n"}},
     "t/email.en.mustache: line 1: front matter not closed by a '---' line"},
    {"front matter line without colon",
     {{"t/email.en.mustache", "---\nsubject x\n---\n"}},
     "t/email.en.mustache: line 2: expected 'key: value' in front matter"},
    {"front matter empty key",
     {{"t/email.en.mustache", "---\n: x\n---\n"}},
     "t/email.en.mustache: line 2: expected 'key: value' in front matter"},
    {"duplicate front matter key",
     {{"t/email.en.mustache", "---\nsubject: a\nsubject: b\n---\n"}},
     "t/email.en.mustache: line 3: duplicate front matter key 'subject'"},
    {"no locale in the name",
     {{"t/sms.mustache", "x"}},
     "t/sms.mustache: file name is not <variant>.<locale>.mustache"},
    {"two dots in the name",
     {{"t/sms.en.gb.mustache", "x"}},
     "t/sms.en.gb.mustache: file name is not <variant>.<locale>.mustache"},
    {"locale too short",
     {{"t/sms.e.mustache", "x"}},
     "t/sms.e.mustache: file name is not <variant>.<locale>.mustache"},
    {"invalid UTF-8",
     {{"t/sms.en.mustache", "ok\nbad \xff here\n"}},
     "t/sms.en.mustache: line 2: invalid UTF-8"},
    {"same locale twice",
     {{"t/sms.cy-GB.mustache", "a"}, {"t/sms.cy_gb.mustache", "b"}},
     "t/sms.cy_gb.mustache: same variant and locale as t/sms.cy-GB.mustache"},
    {"empty template folder", {{"t/notes.txt", "x"}}, "t: no <variant>.<locale>.mustache files"},
    {"bad template folder name",
     {{"bad name/sms.en.mustache", "x"}},
     "bad name: bad template folder name"},
    {"partial syntax error",
     {{"_partials/f.mustache", "ok\n{{/x}}"}, {"t/sms.en.mustache", "{{>f}}"}},
     "_partials/f.mustache: line 2: close of 'x' without an open section"},
};

static void load_error(void **state)
{
	const char *d = *state;
	char sub[1024], err[256] = "";
	struct tstore *s;

	for (size_t i = 0; i < sizeof(ecases) / sizeof(ecases[0]); i++) {
		const struct ecase *c = &ecases[i];

		snprintf(sub, sizeof(sub), "%s/%zu", d, i);
		mkdir(sub, 0755);
		for (size_t k = 0; k < 3 && c->files[k][0]; k++)
			put(sub, c->files[k][0], c->files[k][1]);
		err[0] = '\0';
		s = tstore_load(sub, err, sizeof(err));
		if (s || strcmp(err, c->err))
			print_message("case '%s': got \"%s\"\n", c->name, s ? "(loaded)" : err);
		assert_null(s);
		assert_string_equal(err, c->err);
	}
	snprintf(sub, sizeof(sub), "%s/missing", d);
	assert_null(tstore_load(sub, err, sizeof(err)));
	assert_non_null(strstr(err, "missing: No such file or directory"));
}

/* ---- the templates Herald ships ------------------------------------------ */

static json_t *shipped_data(const char *lang)
{
	int cy = !strcmp(lang, "cy");

	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	    " s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}",
	    "name", "Ann & Bob", "date",
	    cy ? "Dydd Mawrth 1 Rhagfyr 2026" : "Tuesday 1 December 2026", "time", "10:30am",
	    "location", "Cardiff Central Library, The Hayes, CF10 1FL", "phone", "029 2087 1000",
	    "licence_type", cy ? "trwydded yrru" : "driving licence", "expiry_date",
	    cy ? "14 Ionawr 2027" : "14 January 2027", "amount", "£120.00", "due_date",
	    cy ? "31 Rhagfyr 2026" : "31 December 2026", "url", "https://www.gov.uk/renew",
	    "citizen", "id", "c-8812", "name", "Ann Jones", "transaction", "id", "tx-55",
	    "reference", "HRL-7K3Q-9PXM", "event", "id", "dvla-2026-000123", "service", "dvla");
}

/* GSM 03.38 septets of an SMS, -1 if a character needs UCS-2. Only what
 * our templates and sample data use: ASCII, £ and the basic extension. */
static int gsm_septets(const char *s)
{
	int n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!strncmp(s, "£", 2)) {
			n++;
			s++;
		} else if (c >= 0x80 || c == '`' || (c < 0x20 && c != '\n' && c != '\r')) {
			return -1;
		} else {
			n += strchr("[]{}\\^~|", c) ? 2 : 1;
		}
	}
	return n;
}

static void shipped_templates(void **state)
{
	static const char *names[] = {"appointment-reminder", "licence-renewal", "payment-due"};
	static const char *variants[] = {"email", "email-html", "sms", "print"};
	static const char *langs[] = {"en", "cy"};
	const char *src = getenv("HERALD_SRC");
	char dir[1024], err[256] = "";
	struct tstore *s;
	int rendered = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/templates", src && *src ? src : ".");
	s = tstore_load(dir, err, sizeof(err));
	if (!s)
		print_message("load %s: %s\n", dir, err);
	assert_non_null(s);
	assert_true(tstore_count(s) >= 3);
	for (size_t n = 0; n < 3; n++)
		for (size_t v = 0; v < 4; v++)
			for (size_t l = 0; l < 2; l++) {
				const struct tentry *e =
				    tstore_find(s, names[n], variants[v], langs[l]);
				int html = !strcmp(variants[v], "email-html");
				json_t *data = shipped_data(langs[l]), *front = NULL;
				const char *subject;
				char *body = NULL;

				print_message("  %s/%s.%s\n", names[n], variants[v], langs[l]);
				assert_non_null(e);
				assert_string_equal(tentry_locale(e), langs[l]);
				if (tentry_render(s, e, data, html, &body, &front, err,
						  sizeof(err)) < 0)
					print_message("render: %s\n", err);
				assert_non_null(body);
				/* The reference lets the citizen carry on elsewhere. */
				assert_non_null(strstr(body, "HRL-7K3Q-9PXM"));
				assert_null(strstr(body, "{{"));
				/* Escaped only where the output is HTML. */
				assert_non_null(strstr(body, html ? "Ann &amp; Bob" : "Ann & Bob"));
				subject = json_string_value(json_object_get(front, "subject"));
				if (strcmp(variants[v], "sms") != 0) {
					assert_non_null(subject);
					assert_true(strlen(subject) > 10);
					assert_null(strchr(subject, '\n'));
				} else {
					int septets = gsm_septets(body);

					print_message("    %d GSM-7 characters\n", septets);
					/* Two concatenated GSM-7 segments: 2 x 153. */
					assert_true(septets > 0 && septets <= 306);
					assert_null(strchr(body, '\n'));
				}
				if (html) {
					assert_non_null(strstr(body, langs[l][0] == 'c'
									 ? "<html lang=\"cy\">"
									 : "<html lang=\"en\">"));
				} else {
					assert_null(strstr(body, "<p>"));
				}
				rendered++;
				free(body);
				json_decref(front);
				json_decref(data);
			}
	assert_int_equal(rendered, 24);
	for (size_t n = 0; n < 3; n++) {
		char miss[256];
		json_t *data = shipped_data("en");

		/* what the shipped templates require, and that the sample has it */
		tstore_missing(s, names[n], NULL, miss, sizeof(miss));
		print_message("  %s requires: %s\n", names[n], miss);
		assert_int_equal(tstore_missing(s, names[n], data, miss, sizeof(miss)), 0);
		json_decref(data);
	}
	tstore_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(locale_fallback, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(front_matter, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(render_error, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(required_personalisation, dir_setup, dir_teardown),
	    cmocka_unit_test_setup_teardown(load_error, dir_setup, dir_teardown),
	    cmocka_unit_test(shipped_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
