/*
 * tmplstore_check.c - the templates as a set (tstore_check_set, for
 * heraldd -t and at load): each template complete for the enabled channels
 * in the default locale, each file's variant for a known channel, its
 * front matter keys known, its partials there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mustache.h"
#include "suggest.h"
#include "tmplstore.h"
#include "tmplstore_int.h"

static const char *const front_keys[] = {"subject", "channels", "optional", NULL};
/* Variants of the channels Herald ships, known even when not enabled. */
static const char *const shipped_variants[] = {"email", "email-html", "sms", "fax",
					       "print", "file",	      NULL};

static int listed(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && (p = strstr(p, name)); p += len)
		if ((p == list || strchr(" ,", p[-1])) && strchr(" ,", p[len]))
			return 1;
	return 0;
}

static int variant_known(const char *v, const struct tstore_channel *ch, size_t nch)
{
	for (const char *const *k = shipped_variants; *k; k++)
		if (!strcmp(*k, v))
			return 1;
	for (size_t i = 0; i < nch; i++)
		for (int j = 0; j < ch[i].nvariants; j++)
			if (!strcmp(ch[i].variants[j], v))
				return 1;
	return 0;
}

/* Problems of one file: its variant, front matter keys and partials. */
static int check_entry(const struct tstore *s, const struct tentry *e,
		       const struct tstore_channel *ch, size_t nch, tstore_report say, void *arg)
{
	char line[512], pname[128];
	int bad = 0;

	if (!variant_known(e->variant, ch, nch)) {
		snprintf(line, sizeof(line), "%s: variant '%s' is for no known channel", e->file,
			 e->variant);
		say(line, arg), bad++;
	}
	for (size_t i = 0; i < e->nfields; i++) {
		const char *hint = suggest_pick(e->fields[i].key, front_keys, NULL);
		if (listed(" subject channels optional ", e->fields[i].key))
			continue;
		snprintf(line, sizeof(line), "%s: unknown front matter key '%s'%s%s%s", e->file,
			 e->fields[i].key, hint ? " (did you mean '" : "", hint ? hint : "",
			 hint ? "'?)" : "");
		say(line, arg), bad++;
	}
	for (const char *p = e->partials; *p;) {
		size_t len = strcspn(p += strspn(p, " "), " ");
		int found = 0;

		if (!len)
			break;
		snprintf(pname, sizeof(pname), "%.*s", (int)len, p);
		for (size_t i = 0; i < s->np; i++)
			found |= !strcmp(s->p[i].name, pname);
		if (!found) {
			snprintf(line, sizeof(line), "%s: partial '%s' not found in _partials/",
				 e->file, pname);
			say(line, arg), bad++;
		}
		p += len;
	}
	return bad;
}

/* The template's own "channels:" front matter (as text, malloc'd), or
 * NULL: sent on every channel. */
static char *sent_on(const struct tdef *t)
{
	char err[128];

	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->e[i].nfields; j++)
			if (!strcmp(t->e[i].fields[j].key, "channels")) {
				json_t *none = json_object();
				char *text = tmpl_render(t->e[i].fields[j].t, none, NULL, 0, NULL,
							 err, sizeof(err));
				json_decref(none);
				return text;
			}
	return NULL;
}

int tstore_check_set(const struct tstore *s, const struct tstore_channel *ch, size_t nch,
		     tstore_report say, void *arg)
{
	char line[512];
	int bad = 0;

	for (size_t i = 0; s && i < s->n; i++) {
		const struct tdef *t = &s->t[i];
		char *only = sent_on(t);

		for (size_t k = 0; k < t->n; k++)
			bad += check_entry(s, &t->e[k], ch, nch, say, arg);
		for (size_t c = 0; c < nch; c++) {
			int has = 0;

			if (only && !listed(only, ch[c].name))
				continue;
			for (int j = 0; j < ch[c].nvariants && !has; j++)
				has = tdef_find_exact(t, ch[c].variants[j], "en") != NULL;
			if (has)
				continue;
			snprintf(line, sizeof(line),
				 "%s: incomplete: no %s variant in the default locale en for "
				 "channel %s (add %s/%s.en.mustache, or list the channels it is "
				 "sent on in front matter 'channels:')",
				 t->name, ch[c].variants[0], ch[c].name, t->name,
				 ch[c].variants[0]);
			say(line, arg), bad++;
		}
		free(only);
	}
	return bad;
}
