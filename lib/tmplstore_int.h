/*
 * tmplstore_int.h - what the template store's files share (lib/tmplstore.c:
 * the store, its lookups and rendering; tmplstore_load.c: reading a folder
 * into one; tmplstore_check.c: the templates as a set). Not for use
 * outside them: tmplstore.h is the interface.
 */
#ifndef HERALD_TMPLSTORE_INT_H
#define HERALD_TMPLSTORE_INT_H

#include <stddef.h>

#include "mustache.h"
#include "tmplstore.h"

#define TSTORE_MAX_FILE (1024 * 1024)
#define TSTORE_MAX_LOCALE 32

struct field {
	char *key;
	struct tmpl *t;
};

struct tentry {
	char *file; /* "name/variant.locale.mustache", for messages */
	char *variant;
	char locale[TSTORE_MAX_LOCALE];
	struct field *fields;
	size_t nfields;
	struct tmpl *body;
	char *partials; /* " a b " : the partials the file names ({{> a}}) */
	char *optional; /* front matter "optional: a, b" as written, or NULL */
};

struct tdef {
	char *name;
	struct tentry *e;
	size_t n;
	char **req; /* required personalisation names, sorted (tstore_missing) */
	size_t nreq;
};

struct partial {
	char *name;
	char *src;
	struct tmpl *t; /* compiled at load: renders do not compile it again */
};

struct tstore {
	struct tdef *t;
	size_t n;
	struct partial *p;
	size_t np;
};

/* "cy_GB" -> "cy-gb" into out (truncated to the buffer). */
void tstore_locale_norm(const char *in, char *out, size_t outlen);
/* The template of that name, or NULL. */
const struct tdef *tstore_def(const struct tstore *s, const char *name);
/* t's entry for variant in locale (NULL: any locale), or NULL. */
const struct tentry *tdef_find_exact(const struct tdef *t, const char *variant, const char *locale);

#endif
