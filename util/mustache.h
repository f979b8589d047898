/*
 * mustache.h - Mustache engine (spec core modules: interpolation, sections,
 * inverted, comments, partials, delimiters). Compile once, render many.
 * Data is a jansson value; the engine never modifies it.
 *
 * Values: strings as they are, integers in decimal, reals in the shortest
 * form that reads back the same (1.21, 2), true/false as words; null,
 * missing, objects and arrays print nothing. Sections: missing, null,
 * false, "" and [] are falsey; everything else (0, {}) is truthy.
 *
 * Limits (each a clear error, never a crash): 64 sections open at once in
 * one template; 128 sections + partials nested at render, of which at most
 * 32 partials; 1 MiB of output; 4,194,304 nodes visited per render.
 * Errors read "line N: reason" (partials: "partial 'x': line N: reason").
 */
#ifndef HERALD_MUSTACHE_H
#define HERALD_MUSTACHE_H

#include <jansson.h>
#include <stddef.h>

struct tmpl;

/* Partial lookup: return the partial's source (NUL-terminated) or NULL when
 * there is no such partial (renders as empty, per the spec). compiled, if
 * set, returns the partial compiled once by the caller (NULL if it has
 * none): used for a tag without indentation; otherwise, and for indented
 * standalone tags, the source is compiled for the render. */
struct tmpl_partials {
	const char *(*lookup)(void *arg, const char *name);
	void *arg;
	const struct tmpl *(*compiled)(void *arg, const char *name);
};

/* Compile source. NULL on a syntax error, with "line N: reason" in err. */
struct tmpl *tmpl_compile(const char *src, size_t len, char *err, size_t errlen);
void tmpl_free(struct tmpl **t);

/* Render with data. html_escape: 1 escapes & < > " ' in {{x}}
 * (never in {{{x}}} / {{&x}}), 0 leaves every value as is (SMS, text).
 * Returns a malloc'd NUL-terminated string (length in *outlen if not NULL),
 * or NULL with a reason in err. */
char *tmpl_render(const struct tmpl *t, const json_t *data, const struct tmpl_partials *partials,
		  int html_escape, size_t *outlen, char *err, size_t errlen);

/* Call fn with the name of each interpolation ({{x}}, {{{x}}}, {{&x}}) that
 * is outside every section and inverted section, as its first part ("a" of
 * "a.b"), once per tag, in template order. Names inside sections resolve
 * against the section's value, and a section's own name is a condition
 * (missing is falsey), so neither is reported; partials are not followed;
 * the implicit iterator "." is skipped. */
void tmpl_top_names(const struct tmpl *t, void (*fn)(void *arg, const char *name), void *arg);

#endif
