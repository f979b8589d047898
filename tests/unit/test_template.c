/*
 * test_template.c - the Mustache engine (util/mustache.c).
 *
 * First every case of the spec's six core files, read at run time from
 * $CONFORMANCE (the conformance folder or its mustache/ folder), else from
 * ../shared/conformance/mustache relative to the repo root (the cwd of
 * tests/run.sh). One cmocka test per spec file prints each failing case by
 * name; a last test asserts that all 136 cases ran and passed. Without the
 * conformance folder these seven are skipped (reported as skipped).
 *
 * Then our own table (escaping, values, truthiness, errors with line
 * numbers) and the limits that keep hostile input from hurting heraldd.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mustache.h"

#define SPEC_TOTAL 136

static const char *spec_names[] = {"comments", "delimiters", "interpolation",
				   "inverted", "partials",   "sections"};
static int spec_ran, spec_passed;

static const char *json_lookup(void *arg, const char *name)
{
	return json_string_value(json_object_get(arg, name));
}

/* Compile src and render it with data; NULL with err on any error. */
static char *run(const char *src, size_t len, const json_t *data, json_t *partials, int html,
		 size_t *outlen, char *err, size_t errlen)
{
	struct tmpl_partials p = {json_lookup, partials, NULL};
	struct tmpl *t = tmpl_compile(src, len, err, errlen);
	char *out;

	if (!t)
		return NULL;
	out = tmpl_render(t, data, partials ? &p : NULL, html, outlen, err, errlen);
	tmpl_free(&t);
	return out;
}

/* Print a string with \n \r \t visible. */
static void show(const char *label, const char *s, size_t n)
{
	print_message("    %-8s \"", label);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			print_message("\\n");
		else if (s[i] == '\r')
			print_message("\\r");
		else if (s[i] == '\t')
			print_message("\\t");
		else
			print_message("%c", s[i]);
	}
	print_message("\"\n");
}

/* The conformance folder: $CONFORMANCE, else ../shared/conformance. */
static const char *spec_dir(void)
{
	const char *env = getenv("CONFORMANCE");

	return env && *env ? env : "../shared/conformance";
}

/* Without the conformance data the spec tests are skipped (counted as
 * skipped by cmocka and tests/run.sh, not as passed), saying so. */
static void skip_without_spec(void)
{
	if (access(spec_dir(), F_OK) != 0) {
		print_message(
		    "  skipped: no Mustache conformance data at %s (set CONFORMANCE, or put "
		    "it at ../shared/conformance)\n",
		    spec_dir());
		skip();
	}
}

static json_t *spec_load(const char *name)
{
	const char *env = getenv("CONFORMANCE");
	char path[4096];
	json_error_t jerr;
	json_t *j;

	if (env && *env) {
		snprintf(path, sizeof(path), "%s/mustache/%s.json", env, name);
		if (access(path, R_OK) != 0)
			snprintf(path, sizeof(path), "%s/%s.json", env, name);
	} else {
		snprintf(path, sizeof(path), "../shared/conformance/mustache/%s.json", name);
	}
	j = json_load_file(path, 0, &jerr);
	if (!j)
		print_message("cannot read %s: %s (set CONFORMANCE?)\n", path, jerr.text);
	return j;
}

/* state: index into spec_names. */
static void spec_file(void **state)
{
	const char *file = spec_names[*(const size_t *)*state];
	json_t *spec = spec_load(file), *c;
	size_t i;
	int failed = 0;

	if (!spec)
		skip_without_spec();
	assert_non_null(spec);
	json_array_foreach(json_object_get(spec, "tests"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *src = json_string_value(json_object_get(c, "template"));
		json_t *want = json_object_get(c, "expected");
		char err[256] = "";
		size_t len = 0;
		char *out;

		spec_ran++;
		assert_non_null(src);
		out = run(src, json_string_length(json_object_get(c, "template")),
			  json_object_get(c, "data"), json_object_get(c, "partials"), 1, &len, err,
			  sizeof(err));
		if (out && len == json_string_length(want) &&
		    memcmp(out, json_string_value(want), len) == 0) {
			spec_passed++;
		} else {
			failed++;
			print_message("  not ok - %s: %s\n", file, name);
			show("template", src, strlen(src));
			show("expected", json_string_value(want), json_string_length(want));
			if (out)
				show("actual", out, len);
			else
				print_message("    error    %s\n", err);
		}
		free(out);
	}
	json_decref(spec);
	assert_int_equal(failed, 0);
}

static void spec_total(void **state)
{
	(void)state;
	skip_without_spec();
	print_message("  %d spec cases ran, %d passed\n", spec_ran, spec_passed);
	assert_int_equal(spec_ran, SPEC_TOTAL);
	assert_int_equal(spec_passed, SPEC_TOTAL);
}

/* ---- our own cases ------------------------------------------------------- */

struct tcase {
	const char *name;
	const char *src;
	const char *data;     /* JSON (any value) */
	const char *partials; /* JSON object of sources, or NULL */
	int html;
	const char *want; /* output; NULL when an error is expected */
	const char *err;  /* the exact error */
};

static const struct tcase cases[] = {
    /* escaping */
    {"escape on: & < > \" '", "{{x}}", "{\"x\":\"<a href='u'>&\\\"\"}", NULL, 1,
     "&lt;a href=&#39;u&#39;&gt;&amp;&quot;", NULL},
    {"escape off leaves values as they are", "{{x}}", "{\"x\":\"<b>'&'\\\"\"}", NULL, 0, "<b>'&'\"",
     NULL},
    {"triple and ampersand never escape", "{{{x}}}{{&x}}", "{\"x\":\"<&>\"}", NULL, 1, "<&><&>",
     NULL},
    {"template text itself is never escaped", "<p>{{x}}</p>", "{\"x\":\"a&b\"}", NULL, 1,
     "<p>a&amp;b</p>", NULL},
    {"UTF-8 passes through", "Annwyl {{name}}", "{\"name\":\"Siân Llŷr\"}", NULL, 1,
     "Annwyl Siân Llŷr", NULL},
    /* values */
    {"integers", "{{a}} {{b}} {{c}}", "{\"a\":0,\"b\":-42,\"c\":9007199254740993}", NULL, 0,
     "0 -42 9007199254740993", NULL},
    {"reals print shortest", "{{a}} {{b}} {{c}} {{d}}",
     "{\"a\":1.21,\"b\":2.0,\"c\":0.1,\"d\":-0.5}", NULL, 0, "1.21 2 0.1 -0.5", NULL},
    {"real needing 17 digits", "{{a}}", "{\"a\":0.30000000000000004}", NULL, 0,
     "0.30000000000000004", NULL},
    {"booleans", "{{t}}/{{f}}", "{\"t\":true,\"f\":false}", NULL, 0, "true/false", NULL},
    {"arrays and objects print nothing", "[{{a}}][{{o}}]", "{\"a\":[1],\"o\":{\"k\":1}}", NULL, 0,
     "[][]", NULL},
    {"null data renders the text", "a{{x}}b", "null", NULL, 0, "ab", NULL},
    /* truthiness */
    {"empty string is falsey", "{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":\"\"}", NULL, 0, "no",
     NULL},
    {"zero is truthy", "{{#n}}[{{.}}]{{/n}}{{^n}}none{{/n}}", "{\"n\":0}", NULL, 0, "[0]", NULL},
    {"empty object is truthy", "{{#o}}yes{{/o}}", "{\"o\":{}}", NULL, 0, "yes", NULL},
    {"section sees outer keys", "{{#citizen}}{{name}} {{transaction.reference}}{{/citizen}}",
     "{\"citizen\":{\"name\":\"Ada\"},\"transaction\":{\"reference\":\"HRL-1\"}}", NULL, 0,
     "Ada HRL-1", NULL},
    /* partials and delimiters */
    {"no partials given renders nothing", "[{{>p}}]", "{}", NULL, 0, "[]", NULL},
    {"nested standalone partials indent", "a\n  {{>outer}}\nz\n", "{}",
     "{\"outer\":\"o1\\n  {{>inner}}\\no2\\n\",\"inner\":\"i1\\ni2\\n\"}", 0,
     "a\n  o1\n    i1\n    i2\n  o2\nz\n", NULL},
    {"partial starts with default delimiters", "{{=<% %>=}}<%>p%>", "{\"x\":1}",
     "{\"p\":\"{{x}}\"}", 0, "1", NULL},
    {"triple under custom delimiters", "{{=<% %>=}}<%{x}%>/<%x%>", "{\"x\":\"&\"}", NULL, 1,
     "&/&amp;", NULL},
    {"CRLF standalone lines", "a\r\n{{#t}}\r\nb\r\n{{/t}}\r\nc", "{\"t\":true}", NULL, 0,
     "a\r\nb\r\nc", NULL},
    {"two tags on a line are not standalone", "{{#t}}{{/t}}\nx", "{\"t\":true}", NULL, 0, "\nx",
     NULL},
    /* compile errors */
    {"unclosed section", "line one\n{{#a}}\nx\n", "{}", NULL, 0, NULL,
     "line 2: unclosed section 'a'"},
    {"mismatched close", "a\n{{#a}}\n{{#b}}\n{{/a}}\n", "{}", NULL, 0, NULL,
     "line 4: mismatched close 'a', expected close of 'b' (line 3)"},
    {"close without open", "\n\n{{/a}}", "{}", NULL, 0, NULL,
     "line 3: close of 'a' without an open section"},
    {"unclosed tag", "a\nb {{name\nc\n", "{}", NULL, 0, NULL, "line 2: unclosed tag '{{'"},
    {"unclosed triple", "{{{x}}", "{}", NULL, 0, NULL, "line 1: unclosed tag '{{'"},
    {"unclosed tag after set delimiters", "{{=<% %>=}}\n<%x", "{}", NULL, 0, NULL,
     "line 2: unclosed tag '<%'"},
    {"bad delimiter: one part", "{{=<%=}}", "{}", NULL, 0, NULL, "line 1: bad delimiter '<%'"},
    {"bad delimiter: three parts", "{{=a b c=}}", "{}", NULL, 0, NULL,
     "line 1: bad delimiter 'a b c'"},
    {"bad delimiter: contains =", "{{=a= b=}}", "{}", NULL, 0, NULL,
     "line 1: bad delimiter 'a= b'"},
    {"bad delimiter: too long", "{{=aaaaaaaaaaaaaaaaa b=}}", "{}", NULL, 0, NULL,
     "line 1: bad delimiter 'aaaaaaaaaaaaaaaaa b'"},
    {"empty tag", "x {{ }}", "{}", NULL, 0, NULL, "line 1: empty tag"},
    {"empty section name", "{{#}}{{/}}", "{}", NULL, 0, NULL, "line 1: empty tag"},
    {"space inside a name", "{{first name}}", "{}", NULL, 0, NULL,
     "line 1: bad tag name 'first name'"},
    {"bad dotted name", "\n{{a..b}}", "{}", NULL, 0, NULL, "line 2: bad tag name 'a..b'"},
    /* render errors */
    {"partial recursion bounded", "{{>p}}", "{}", "{\"p\":\"x{{>p}}\"}", 0, NULL,
     "line 1: partial 'p' nested deeper than 32"},
    {"error inside a partial", "a{{>p}}", "{}", "{\"p\":\"\\n{{#x}}\"}", 0, NULL,
     "partial 'p': line 2: unclosed section 'x'"},
};

static void table_case(void **state)
{
	const struct tcase *tc = *state;
	json_t *data = json_loads(tc->data, JSON_DECODE_ANY, NULL);
	json_t *partials = tc->partials ? json_loads(tc->partials, 0, NULL) : NULL;
	char err[256] = "";
	char *out;

	assert_non_null(data);
	out = run(tc->src, strlen(tc->src), data, partials, tc->html, NULL, err, sizeof(err));
	if (tc->want) {
		if (!out)
			print_message("unexpected error: %s\n", err);
		assert_non_null(out);
		assert_string_equal(out, tc->want);
	} else {
		if (out)
			show("output", out, strlen(out));
		assert_null(out);
		assert_string_equal(err, tc->err);
	}
	free(out);
	json_decref(data);
	json_decref(partials);
}

/* ---- limits -------------------------------------------------------------- */

/* depth sections "{{#a}}" (or "{{^a}}") then their closes. */
static char *nested_with(char sigil, int depth)
{
	char *s = malloc((size_t)depth * 12 + 1), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth; i++)
		p += sprintf(p, "{{%ca}}", sigil);
	for (int i = 0; i < depth; i++)
		p += sprintf(p, "{{/a}}");
	*p = '\0';
	return s;
}

static char *nested(int depth)
{
	return nested_with('#', depth);
}

static void nesting_limit(void **state)
{
	char err[256] = "", *src = nested(64);
	struct tmpl *t = tmpl_compile(src, strlen(src), err, sizeof(err));

	(void)state;
	assert_non_null(t);
	tmpl_free(&t);
	free(src);
	src = nested(65);
	assert_null(tmpl_compile(src, strlen(src), err, sizeof(err)));
	assert_string_equal(err, "line 1: sections nested deeper than 64");
	free(src);
	/* Far deeper than a recursive parser's stack would survive. */
	src = nested(200000);
	assert_null(tmpl_compile(src, strlen(src), err, sizeof(err)));
	free(src);
}

/* Sections inside partials inside sections: the render depth is bounded
 * even where each template alone is within the compile limit. Inverted
 * sections count too. */
static void render_depth_limit(void **state)
{
	json_t *data = json_pack("{s:b}", "a", 1);
	json_t *parts = json_object();
	char err[256] = "", *out;

	(void)state;
	for (const char *sig = "#^"; *sig; sig++) {
		char *src = nested_with(*sig, 10), *p = malloc(strlen(src) + 16);

		/* p = 10 sections with "{{>p}}" in the middle: 11 levels per partial. */
		sprintf(p, "%.60s{{>p}}%s", src, src + 60);
		json_object_set_new(data, "a", json_boolean(*sig == '#'));
		json_object_set_new(parts, "p", json_string(p));
		out = run("{{>p}}", 6, data, parts, 0, NULL, err, sizeof(err));
		assert_null(out);
		assert_string_equal(err, "line 1: sections and partials nested deeper than 128");
		free(src);
		free(p);
	}
	json_decref(parts);
	json_decref(data);
}

static void output_limit(void **state)
{
	json_t *data = json_object(), *list = json_array();
	char big[1025], err[256] = "", *out, *amps;
	size_t len = 0;

	(void)state;
	memset(big, 'x', 1024);
	big[1024] = '\0';
	for (int i = 0; i < 1024; i++)
		json_array_append_new(list, json_string(big));
	json_object_set_new(data, "l", list);
	/* Exactly 1 MiB is allowed. */
	out = run("{{#l}}{{.}}{{/l}}", 17, data, NULL, 0, &len, err, sizeof(err));
	assert_non_null(out);
	assert_int_equal(len, 1u << 20);
	free(out);
	/* One byte more is not. */
	out = run("{{#l}}{{.}}{{/l}}!", 18, data, NULL, 0, &len, err, sizeof(err));
	assert_null(out);
	assert_string_equal(err, "output exceeds 1048576 bytes");
	json_decref(data);
	/* The limit counts escaped bytes: 300000 '&' fit raw, not as "&amp;". */
	amps = malloc(300001);
	assert_non_null(amps);
	memset(amps, '&', 300000);
	amps[300000] = '\0';
	data = json_pack("{s:s}", "x", amps);
	out = run("{{x}}", 5, data, NULL, 0, &len, err, sizeof(err));
	assert_non_null(out);
	assert_int_equal(len, 300000);
	free(out);
	out = run("{{x}}", 5, data, NULL, 1, &len, err, sizeof(err));
	assert_null(out);
	assert_string_equal(err, "output exceeds 1048576 bytes");
	free(amps);
	json_decref(data);
}

/* Exponential work that prints nothing stops, quickly. */
static void step_limit(void **state)
{
	json_t *data = json_object(), *list = json_array(), *parts;
	char err[256] = "", *out;

	(void)state;
	for (int i = 0; i < 1000; i++)
		json_array_append_new(list, json_integer(i));
	json_object_set_new(data, "l", list);
	out =
	    run("{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}", 36, data, NULL, 0, NULL, err, sizeof(err));
	assert_null(out);
	assert_string_equal(err, "render takes more than 4194304 steps");
	/* p0 calls p1 eight times, p1 calls p2 eight times...: 8^10 calls. */
	parts = json_object();
	for (int i = 0; i < 10; i++) {
		char name[16], src[128], *q = src;

		snprintf(name, sizeof(name), "p%d", i);
		for (int k = 0; k < 8; k++)
			q += sprintf(q, "{{>p%d}}", i + 1);
		json_object_set_new(parts, name, json_string(src));
	}
	out = run("{{>p0}}", 7, data, parts, 0, NULL, err, sizeof(err));
	assert_null(out);
	assert_string_equal(err, "render takes more than 4194304 steps");
	json_decref(parts);
	json_decref(data);
}

static void compile_once_render_many(void **state)
{
	const char *src = "Dear {{name}},\n{{#items}}- {{.}}\n{{/items}}";
	struct tmpl *t = tmpl_compile(src, strlen(src), NULL, 0);
	json_t *a = json_pack("{s:s, s:[s,s]}", "name", "Ada", "items", "one", "two");
	json_t *b = json_pack("{s:s, s:[]}", "name", "Bryn", "items");
	size_t len = 0;
	char *out;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 3; i++) {
		out = tmpl_render(t, a, NULL, 0, &len, NULL, 0);
		assert_string_equal(out, "Dear Ada,\n- one\n- two\n");
		assert_int_equal(len, strlen(out));
		free(out);
		out = tmpl_render(t, b, NULL, 0, &len, NULL, 0);
		assert_string_equal(out, "Dear Bryn,\n");
		free(out);
	}
	out = tmpl_render(t, NULL, NULL, 0, &len, NULL, 0);
	assert_string_equal(out, "Dear ,\n");
	free(out);
	tmpl_free(&t);
	assert_null(t);
	tmpl_free(&t);
	tmpl_free(NULL);
	/* Empty template: an empty string, not NULL. */
	t = tmpl_compile("", 0, NULL, 0);
	out = tmpl_render(t, a, NULL, 1, &len, NULL, 0);
	assert_non_null(out);
	assert_int_equal(len, 0);
	free(out);
	tmpl_free(&t);
	/* Errors without an err buffer do not crash. */
	assert_null(tmpl_compile("{{#a}}", 6, NULL, 0));
	assert_null(tmpl_render(NULL, a, NULL, 0, NULL, NULL, 0));
	json_decref(a);
	json_decref(b);
}

static void embedded_nul(void **state)
{
	const char src[] = "a\0{{x}}";
	json_t *d = json_pack("{s:s}", "x", "y");
	size_t len = 0;
	char *out = run(src, sizeof(src) - 1, d, NULL, 0, &len, NULL, 0);

	(void)state;
	assert_non_null(out);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0y", 3);
	free(out);
	json_decref(d);
}

/* A partial compiled by the caller is used for a tag without indentation;
 * an indented standalone tag compiles the source for that render. */
static const struct tmpl *precompiled;
static const struct tmpl *lookup_compiled(void *arg, const char *name)
{
	(void)arg;
	return !strcmp(name, "p") ? precompiled : NULL;
}

static void caller_compiled_partials(void **state)
{
	json_t *parts = json_pack("{s:s}", "p", "from source {{x}}");
	json_t *data = json_pack("{s:s}", "x", "X");
	char err[256];
	struct tmpl *pre = tmpl_compile("precompiled {{x}}", 17, err, sizeof(err));
	struct tmpl_partials p = {json_lookup, parts, lookup_compiled};
	const char *src = "a {{>p}} b\n  {{>p}}\n{{>q}}";
	struct tmpl *t = tmpl_compile(src, strlen(src), err, sizeof(err));
	char *out;

	(void)state;
	assert_non_null(pre);
	assert_non_null(t);
	precompiled = pre;
	out = tmpl_render(t, data, &p, 0, NULL, err, sizeof(err));
	assert_non_null(out);
	/* inline tag: the caller's; indented standalone: from source, indented;
	 * no compiled one (q): the source lookup, which has none either */
	assert_string_equal(out, "a precompiled X b\n  from source X");
	free(out);
	tmpl_free(&t);
	tmpl_free(&pre);
	json_decref(parts);
	json_decref(data);
}

int main(void)
{
	static size_t idx[6] = {0, 1, 2, 3, 4, 5};
	struct CMUnitTest spec[8], own[sizeof(cases) / sizeof(cases[0]) + 8];
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < 6; i++)
		spec[n++] = (struct CMUnitTest){spec_names[i], spec_file, NULL, NULL, &idx[i]};
	spec[n++] = (struct CMUnitTest){"all 136 spec cases pass", spec_total, NULL, NULL, NULL};
	rc = _cmocka_run_group_tests("mustache spec", spec, n, NULL, NULL);

	n = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		own[n++] =
		    (struct CMUnitTest){cases[i].name, table_case, NULL, NULL, (void *)&cases[i]};
	own[n++] = (struct CMUnitTest){"nesting limit", nesting_limit, NULL, NULL, NULL};
	own[n++] = (struct CMUnitTest){"caller-compiled partials", caller_compiled_partials, NULL,
				       NULL, NULL};
	own[n++] = (struct CMUnitTest){"render depth limit", render_depth_limit, NULL, NULL, NULL};
	own[n++] = (struct CMUnitTest){"output limit", output_limit, NULL, NULL, NULL};
	own[n++] = (struct CMUnitTest){"step limit", step_limit, NULL, NULL, NULL};
	own[n++] = (struct CMUnitTest){"compile once, render many", compile_once_render_many, NULL,
				       NULL, NULL};
	own[n++] = (struct CMUnitTest){"embedded NUL", embedded_nul, NULL, NULL, NULL};
	rc |= _cmocka_run_group_tests("template", own, n, NULL, NULL);
	return rc != 0;
}
