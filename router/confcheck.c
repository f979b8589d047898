/*
 * confcheck.c - strict configuration, as postconf is strict: every section
 * and key heraldd reads is in lib/confkeys.c; anything else is an error that
 * names the file, the line and the closest known name ("did you mean").
 *
 * Sections: the fixed ones below; [channel.<name>] takes the host's channel
 * keys (confkeys "channel.*") plus the plugin's own list (struct herald_channel
 * version >= 3 `keys`; an older plugin's unknown keys are only warned);
 * [service.<name>] takes the callback_* keys (router/callback.c).
 * A section may appear more than once: its keys merge and, for a key set
 * twice, the last value wins (as conf_get reads it).
 */
#include "confcheck.h"

#include <stdio.h>
#include <string.h>

#include "confkeys.h"
#include "log.h"
#include "suggest.h"

/* The known names of one table pattern ("queue", "channel.*"), for the
 * suggestion; n is the room in out. */
static const char *const *pattern_keys(const char *pat, const char **out, size_t n)
{
	size_t k = 0;

	for (const struct confkey *e = confkeys; e->section && k + 1 < n; e++)
		if (!strcmp(e->section, pat))
			out[k++] = e->key;
	out[k] = NULL;
	return out;
}

static int in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (!strcmp(*list, name))
			return 1;
	return 0;
}

struct cc_walk {
	const char *path;
	int errors;
	char last_bad_section[128];
};

/* Suggest a section for an unknown one: a fixed name, or channel./service.
 * with the rest kept ("chanel.email" -> "channel.email"). */
static void suggest_section(const char *section, char *out, size_t outlen)
{
	const char *names[64];
	static const char *const prefixes[] = {"channel", "service", NULL};
	const char *dot = strchr(section, '.'), *s;
	char head[64];
	size_t n = 0;

	out[0] = '\0';
	if (dot && (size_t)(dot - section) < sizeof(head)) {
		memcpy(head, section, (size_t)(dot - section));
		head[dot - section] = '\0';
		if ((s = suggest_pick(head, prefixes, NULL)))
			snprintf(out, outlen, " (did you mean [%s%s]?)", s, dot);
		return;
	}
	for (const struct confkey *e = confkeys; e->section && n + 1 < 64; e++)
		if (!strchr(e->section, '*') && (!n || strcmp(names[n - 1], e->section)))
			names[n++] = e->section;
	names[n] = NULL;
	if ((s = suggest_pick(section, names, NULL)))
		snprintf(out, outlen, " (did you mean [%s]?)", s);
}

static void check_entry(const char *section, const char *key, const char *value, int line,
			void *arg)
{
	struct cc_walk *w = arg;
	const char *keys[64], *s;
	char hint[160];

	if (!strncmp(section, "channel.", 8) && section[8])
		return; /* confcheck_channel, with the plugin's list */
	if (!confkey_section_known(section)) {
		if (!strcmp(w->last_bad_section, section))
			return; /* one error per unknown section */
		snprintf(w->last_bad_section, sizeof(w->last_bad_section), "%s", section);
		suggest_section(section, hint, sizeof(hint));
		log_msg(LOG_L_ERR, "%s:%d: unknown section [%s]%s", w->path, line, section, hint);
		w->errors++;
		return;
	}
	if (confkey_find(section, key))
		return;
	s = suggest_pick(key, pattern_keys(confkey_pattern(section), keys, 64), NULL);
	log_msg(LOG_L_ERR, "%s:%d: [%s] unknown key '%s'%s%s%s", w->path, line, section, key,
		s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
	w->errors++;
}

int confcheck_sections(const struct config *c)
{
	struct cc_walk w = {c->path, 0, ""};

	conf_each_line(c->ini, check_entry, &w);
	return w.errors;
}

struct cc_chan {
	const char *path, *section;
	const char *const *plugin_keys;
	int strict, errors;
};

static void check_chan_entry(const char *section, const char *key, const char *value, int line,
			     void *arg)
{
	struct cc_chan *cc = arg;
	const char *host[32], *s;

	if (strcmp(section, cc->section) != 0 || confkey_find(section, key) ||
	    in_list(cc->plugin_keys, key))
		return;
	s = suggest_pick(key, pattern_keys("channel.*", host, 32), cc->plugin_keys);
	log_msg(cc->strict ? LOG_L_ERR : LOG_L_WARNING, "%s:%d: [%s] unknown key '%s'%s%s%s%s",
		cc->path, line, section, key, s ? " (did you mean '" : "", s ? s : "",
		s ? "'?)" : "", cc->strict ? "" : " (the plugin does not list its keys)");
	cc->errors += cc->strict;
}

int confcheck_channel(const struct config *c, const char *name, const struct herald_channel *desc)
{
	char sec[96];
	struct cc_chan cc = {c->path, sec, NULL, 0, 0};

	snprintf(sec, sizeof(sec), "channel.%s", name);
	if (desc && desc->version >= 3 && desc->keys) {
		cc.plugin_keys = desc->keys;
		cc.strict = 1;
	}
	conf_each_line(c->ini, check_chan_entry, &cc);
	return cc.errors;
}

int confcheck_yes(const char *v)
{
	return v && (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"));
}
