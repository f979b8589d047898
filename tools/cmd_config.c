/*
 * cmd_config.c - heraldctl config [-n|-d] [SECTION[.KEY]...]: the effective
 * configuration, as postconf prints Postfix's:
 *   (none)  every key heraldd knows, the file's value or the default, the
 *           defaults marked "; default"; then [channel.*] / [service.*]
 *           sections of the file with the host's defaults filled in
 *   -n      only what the file sets (postconf -n)
 *   -d      only the defaults (postconf -d)
 * Arguments limit the output to sections ("queue") or keys ("queue.batch").
 * The table is lib/confkeys.c, the one heraldd checks the file against.
 *
 * heraldctl log-level LEVEL: every heraldd reading this Redis switches its
 * operator log level within a few seconds (and logs that it did);
 * "default" returns them to their [log] level.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confkeys.h"
#include "ctl_redis.h"
#include "heraldctl.h"
#include "schema.h"

enum { SHOW_ALL, SHOW_SET, SHOW_DEFAULTS };

struct show {
	const struct conf *conf;
	int mode, argc;
	char **argv;
	const char *cur;    /* the [channel.X] whose plugin keys are shown */
	char last[128];	    /* section header last printed */
	char seen[32][128]; /* channel.* / service.* sections of the file */
	int nseen;
};

/* Does the SECTION[.KEY] filter let this through? */
static int wanted(const struct show *s, const char *section, const char *key)
{
	size_t sl = strlen(section);

	if (s->argc == 0)
		return 1;
	for (int i = 0; i < s->argc; i++)
		if (!strcmp(s->argv[i], section) ||
		    (!strncmp(s->argv[i], section, sl) && s->argv[i][sl] == '.' &&
		     !strcmp(s->argv[i] + sl + 1, key)))
			return 1;
	return 0;
}

static void put(struct show *s, const char *section, const char *key, const char *v, int def)
{
	if (!wanted(s, section, key))
		return;
	if (strcmp(s->last, section) != 0) {
		printf("%s[%s]\n", s->last[0] ? "\n" : "", section);
		snprintf(s->last, sizeof(s->last), "%s", section);
	}
	printf("%s = %s%s\n", key, v, def && s->mode == SHOW_ALL ? "\t; default" : "");
}

/* One section: the table's keys for its pattern, then (channel.X) the
 * plugin's keys the file sets. */
static void show_section(struct show *s, const char *section, const char *pat)
{
	for (const struct confkey *k = confkeys; k->section; k++) {
		const char *v = s->conf ? conf_get(s->conf, section, k->key) : NULL;

		if (strcmp(k->section, pat) != 0)
			continue;
		if (v && s->mode != SHOW_DEFAULTS)
			put(s, section, k->key,
			    !strcmp(k->key, "password") || !strcmp(k->key, "callback_secret")
				? "(set, not shown)"
				: v,
			    0);
		else if (!v && s->mode != SHOW_SET)
			put(s, section, k->key, k->def, 1);
	}
}

static void note_section(const char *section, const char *key, const char *value, int line,
			 void *arg)
{
	struct show *s = arg;

	for (int i = 0; i < s->nseen; i++)
		if (!strcmp(s->seen[i], section))
			return;
	if (s->nseen < 32)
		snprintf(s->seen[s->nseen++], sizeof(s->seen[0]), "%s", section);
}

/* Plugin keys of a [channel.X]: set in the file, not in the host's table. */
static void show_plugin_key(const char *section, const char *key, const char *value, int line,
			    void *arg)
{
	struct show *s = arg;
	const char *v;

	if (strcmp(section, s->cur) != 0 || confkey_find(section, key))
		return;
	v = conf_get(s->conf, section, key);
	if (v == value) /* the last occurrence only */
		put(s, section, key, strstr(key, "password") || strstr(key, "token") ? "(set)" : v,
		    0);
}

int cmd_config(struct ctl *c, int argc, char **argv)
{
	struct show s = {.conf = c->conf};
	int opt;

	while ((opt = getopt(argc, argv, "nd")) != -1) {
		switch (opt) {
		case 'n': s.mode = SHOW_SET; break;
		case 'd': s.mode = SHOW_DEFAULTS; break;
		default:
			fprintf(stderr, "usage: heraldctl config [-n|-d] [SECTION[.KEY]...]\n");
			return 2;
		}
	}
	s.argc = argc - optind;
	s.argv = argv + optind;
	if (!c->conf && s.mode != SHOW_DEFAULTS)
		fprintf(stderr, "heraldctl config: %s: no such file; showing the defaults\n",
			c->conf_path);
	for (const struct confkey *k = confkeys; k->section; k++)
		if (!strchr(k->section, '*') &&
		    (k == confkeys || strcmp(k[-1].section, k->section)))
			show_section(&s, k->section, k->section);
	if (s.mode == SHOW_DEFAULTS) {
		show_section(&s, "channel.*", "channel.*");
		show_section(&s, "service.*", "service.*");
		return 0;
	}
	conf_each_line(c->conf, note_section, &s);
	for (int i = 0; i < s.nseen; i++) {
		const char *pat = confkey_pattern(s.seen[i]);

		if (!strchr(pat, '*'))
			continue;
		show_section(&s, s.seen[i], pat);
		s.cur = s.seen[i];
		conf_each_line(c->conf, show_plugin_key, &s);
	}
	return 0;
}

int cmd_log_level(struct ctl *c, int argc, char **argv)
{
	static const char *const levels[] = {"error", "warning", "notice", "info", "debug", NULL};
	redisContext *rc;
	redisReply *r;
	int ok = 0;

	if (argc != 2) {
		fprintf(stderr,
			"usage: heraldctl log-level error|warning|notice|info|debug|default\n");
		return 2;
	}
	for (const char *const *l = levels; *l; l++)
		ok |= !strcmp(*l, argv[1]);
	if (!ok && strcmp(argv[1], "default") != 0) {
		fprintf(stderr,
			"heraldctl log-level: '%s': expected error, warning, notice, info, "
			"debug or default\n",
			argv[1]);
		return 2;
	}
	rc = ctl_redis_open(c, "log-level");
	if (!rc)
		return 2;
	r = !strcmp(argv[1], "default")
		? ctl_redis_cmd(rc, "log-level", "DEL %s", KEY_LOGLEVEL)
		: ctl_redis_cmd(rc, "log-level", "SET %s %s", KEY_LOGLEVEL, argv[1]);
	ctl_redis_close(&rc);
	if (!r)
		return 2;
	freeReplyObject(r);
	printf("log level %s: every heraldd on this Redis applies it within 5 seconds\n", argv[1]);
	return 0;
}
