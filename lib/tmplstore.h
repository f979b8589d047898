/*
 * tmplstore.h - the templates a deployment ships, loaded from a folder:
 *
 *   DIR/<name>/<variant>.<locale>.mustache     e.g. mot-reminder/sms.cy.mustache
 *   DIR/_partials/<partial>.mustache           shared partials ({{> footer}})
 *
 * A template file may start with front matter between two "---" lines, one
 * "key: value" per line (value is itself a Mustache template, e.g.
 * "subject: Your MOT is due, {{name}}"). Everything is parsed once at load
 * (and again at SIGHUP, into a new store). Locale lookup falls back
 * cy-GB -> cy -> en (then any locale of that variant); locales are
 * compared without case, "_" = "-".
 *
 * Front matter values are one line each and never HTML-escaped (a subject
 * is a header, not HTML); CR/LF coming from data become spaces. The key
 * "optional" is not a field: it lists personalisation names this file
 * does not require (tstore_missing). Files must
 * be UTF-8 without NUL bytes, at most 1 MiB. Files in a template folder not
 * ending in .mustache, and plain files in DIR, are ignored. A store is
 * read-only after load: any number of threads may render from it.
 */
#ifndef HERALD_TMPLSTORE_H
#define HERALD_TMPLSTORE_H

#include <jansson.h>
#include <stddef.h>

struct tstore;
struct tentry; /* one parsed file: name, variant, locale, front matter, body */

/* Load every template under dir. NULL on any error, err naming the file and
 * line ("mot-reminder/sms.en.mustache: line 3: unclosed section"). */
struct tstore *tstore_load(const char *dir, char *err, size_t errlen);
void tstore_free(struct tstore **s);

/* 1 if a template folder of that name exists, else 0. */
int tstore_has(const struct tstore *s, const char *name);
/* The personalisation a template requires: every name one of its files
 * (body or front matter) interpolates outside any section (see
 * tmpl_top_names), less the names a file's front matter marks
 * "optional: a, b" (that file only) and those the host provides
 * (citizen, transaction, event). Returns how many of them personalisation
 * (NULL: none) lacks or has as null, their names, sorted, in out
 * ("due_date, name"). 0 for an unknown template. */
size_t tstore_missing(const struct tstore *s, const char *name, const json_t *personalisation,
		      char *out, size_t outlen);
/* Number of template names loaded. */
size_t tstore_count(const struct tstore *s);

/* Best entry for (name, variant, locale) with fallback to the language, then
 * "en"; NULL if the template has no such variant at all. locale may be NULL
 * (means "en"). */
const struct tentry *tstore_find(const struct tstore *s, const char *name, const char *variant,
				 const char *locale);
/* The locale the entry was written for ("cy", "en", ...). */
const char *tentry_locale(const struct tentry *e);

/* Render an entry: the body into *body (malloc'd), and each front matter
 * field, rendered with the same data, into *front (a new JSON object of
 * strings, e.g. {"subject": "Your MOT is due, Ada"}). html_escape as in
 * tmpl_render. Returns 0, or -1 with a reason in err. */
int tentry_render(const struct tstore *s, const struct tentry *e, const json_t *data,
		  int html_escape, char **body, json_t **front, char *err, size_t errlen);

/* An enabled channel as the set check sees it: its name and the variants it
 * renders (herald_channel.variants, then html_variant). */
struct tstore_channel {
	char name[33];
	char variants[8][33];
	int nvariants;
};
typedef void (*tstore_report)(const char *line, void *arg);

/* The store as a set: every template has, for each channel in ch (unless
 * its front matter "channels: a, b" names the channels it is sent on), one
 * of that channel's variants in the default locale "en"; every file's
 * variant belongs to a known channel (ch, or one Herald ships); front matter
 * keys are known (subject, channels); every {{> partial}} exists. Each
 * problem is one line to say(); returns their number. */
int tstore_check_set(const struct tstore *s, const struct tstore_channel *ch, size_t nch,
		     tstore_report say, void *arg);

#endif
