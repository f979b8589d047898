/*
 * tmplstore.c - the deployment's templates in compiled form (see
 * tmplstore.h for the layout): the store freed, its lookups (with the
 * locale fallback), rendering, and the personalisation a template needs.
 * Reading a folder into a store is tmplstore_load.c; the checks of the
 * templates as a set, tmplstore_check.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mustache.h"
#include "text.h"
#include "tmplstore.h"
#include "tmplstore_int.h"

static void entry_clear(struct tentry *e)
{
	for (size_t i = 0; i < e->nfields; i++) {
		free(e->fields[i].key);
		tmpl_free(&e->fields[i].t);
	}
	free(e->fields);
	free(e->optional);
	tmpl_free(&e->body);
	free(e->variant);
	free(e->file);
	free(e->partials);
}

void tstore_free(struct tstore **sp)
{
	struct tstore *s = sp ? *sp : NULL;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		for (size_t k = 0; k < s->t[i].n; k++)
			entry_clear(&s->t[i].e[k]);
		free(s->t[i].e);
		free(s->t[i].name);
		for (size_t k = 0; k < s->t[i].nreq; k++)
			free(s->t[i].req[k]);
		free(s->t[i].req);
	}
	for (size_t i = 0; i < s->np; i++) {
		free(s->p[i].name);
		free(s->p[i].src);
		tmpl_free(&s->p[i].t);
	}
	free(s->t);
	free(s->p);
	free(s);
	*sp = NULL;
}

/* tmplstore_int.h */
void tstore_locale_norm(const char *in, char *out, size_t outlen)
{
	size_t i = 0;

	for (; in && in[i] && i + 1 < outlen; i++)
		out[i] = in[i] == '_' ? '-' : (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

const struct tdef *tstore_def(const struct tstore *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->n; i++)
		if (!strcmp(s->t[i].name, name))
			return &s->t[i];
	return NULL;
}

int tstore_has(const struct tstore *s, const char *name)
{
	return tstore_def(s, name) != NULL;
}

size_t tstore_count(const struct tstore *s)
{
	return s ? s->n : 0;
}

const struct tentry *tdef_find_exact(const struct tdef *t, const char *variant, const char *locale)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].variant, variant) &&
		    (!locale || !strcmp(t->e[i].locale, locale)))
			return &t->e[i];
	return NULL;
}

/* Exact locale, then its language, then "en", then any locale of that
 * variant (a Welsh-only template still reaches an English reader). */
const struct tentry *tstore_find(const struct tstore *s, const char *name, const char *variant,
				 const char *locale)
{
	const struct tdef *t = tstore_def(s, name);
	const struct tentry *e;
	char want[TSTORE_MAX_LOCALE];
	char *dash;

	if (!t || !variant)
		return NULL;
	tstore_locale_norm(locale && *locale ? locale : "en", want, sizeof(want));
	if ((e = tdef_find_exact(t, variant, want)))
		return e;
	dash = strchr(want, '-');
	if (dash) {
		*dash = '\0';
		if ((e = tdef_find_exact(t, variant, want)))
			return e;
	}
	if ((e = tdef_find_exact(t, variant, "en")))
		return e;
	return tdef_find_exact(t, variant, NULL);
}

const char *tentry_locale(const struct tentry *e)
{
	return e ? e->locale : NULL;
}

static const char *partial_lookup(void *arg, const char *name)
{
	const struct tstore *s = arg;

	for (size_t i = 0; i < s->np; i++)
		if (!strcmp(s->p[i].name, name))
			return s->p[i].src;
	return NULL;
}

static const struct tmpl *partial_compiled(void *arg, const char *name)
{
	const struct tstore *s = arg;

	for (size_t i = 0; i < s->np; i++)
		if (!strcmp(s->p[i].name, name))
			return s->p[i].t;
	return NULL;
}

int tentry_render(const struct tstore *s, const struct tentry *e, const json_t *data,
		  int html_escape, char **body, json_t **front, char *err, size_t errlen)
{
	struct tmpl_partials parts = {partial_lookup, (void *)s, partial_compiled};
	char rerr[256];
	size_t len;

	*body = NULL;
	*front = NULL;
	if (!s || !e) {
		errf(err, errlen, "no template");
		return -1;
	}
	*front = json_object();
	if (!*front)
		goto oom;
	for (size_t i = 0; i < e->nfields; i++) {
		char *v = tmpl_render(e->fields[i].t, data, &parts, 0, &len, rerr, sizeof(rerr));

		if (!v) {
			errf(err, errlen, "%s: %s: %s", e->file, e->fields[i].key, rerr);
			goto fail;
		}
		/* A field is one line (a subject header): data cannot add lines. */
		for (size_t k = 0; k < len; k++)
			if (v[k] == '\r' || v[k] == '\n')
				v[k] = ' ';
		if (json_object_set_new(*front, e->fields[i].key, json_stringn(v, len)) < 0) {
			free(v);
			goto oom;
		}
		free(v);
	}
	*body = tmpl_render(e->body, data, &parts, html_escape, NULL, rerr, sizeof(rerr));
	if (!*body) {
		errf(err, errlen, "%s: %s", e->file, rerr);
		goto fail;
	}
	return 0;
oom:
	errf(err, errlen, "%s: out of memory", e->file);
fail:
	json_decref(*front);
	*front = NULL;
	return -1;
}

size_t tstore_missing(const struct tstore *s, const char *name, const json_t *personalisation,
		      char *out, size_t outlen)
{
	const struct tdef *t = tstore_def(s, name);
	size_t n = 0, used = 0;

	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; t && i < t->nreq; i++) {
		const json_t *v = json_object_get(personalisation, t->req[i]);
		int w;

		if (v && !json_is_null(v))
			continue;
		w = snprintf(out + used, outlen - used, "%s%s", n ? ", " : "", t->req[i]);
		if (w > 0 && (size_t)w < outlen - used)
			used += (size_t)w;
		n++;
	}
	return n;
}
