/* conf.c - load an INI file with inih into a flat list of entries. */
#include "conf.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conf_ent {
	char *section, *key, *value;
	int line; /* 1-based line of the key in the file */
};

struct conf {
	struct conf_ent *ents;
	size_t n, cap;
	int line; /* lines read so far (the reader counts them) */
};

/* fgets that counts lines: at each handler call c->line is the line just
 * parsed (inih reads one line, then calls the handler). */
struct conf_reader {
	FILE *fp;
	struct conf *c;
};

static char *read_line(char *str, int num, void *stream)
{
	struct conf_reader *rd = stream;
	char *s = fgets(str, num, rd->fp);

	if (s)
		rd->c->line++;
	return s;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct conf *c = user;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct conf_ent *e = realloc(c->ents, cap * sizeof(*e));
		if (!e)
			return 0;
		c->ents = e;
		c->cap = cap;
	}
	c->ents[c->n].section = strdup(section);
	c->ents[c->n].key = strdup(key);
	c->ents[c->n].value = strdup(value);
	c->ents[c->n].line = c->line;
	if (!c->ents[c->n].section || !c->ents[c->n].key || !c->ents[c->n].value) {
		free(c->ents[c->n].section);
		free(c->ents[c->n].key);
		free(c->ents[c->n].value);
		return 0;
	}
	c->n++;
	return 1;
}

struct conf *conf_load(const char *file, char *err, int errlen)
{
	struct conf *c = calloc(1, sizeof(*c));
	struct conf_reader rd = {NULL, c};
	int rc = -1;

	if (!c) {
		snprintf(err, (size_t)errlen, "out of memory");
		return NULL;
	}
	rd.fp = fopen(file, "r");
	if (rd.fp) {
		rc = ini_parse_stream(read_line, &rd, on_entry, c);
		fclose(rd.fp);
	}
	if (rc == -1) {
		snprintf(err, (size_t)errlen, "%s: cannot open: %s", file, strerror(errno));
		goto fail;
	} else if (rc == -2) {
		snprintf(err, (size_t)errlen, "%s: out of memory", file);
		goto fail;
	} else if (rc > 0) {
		snprintf(err, (size_t)errlen, "%s:%d: syntax error", file, rc);
		goto fail;
	}
	return c;
fail:
	conf_free(&c);
	return NULL;
}

void conf_free(struct conf **cp)
{
	struct conf *c = *cp;

	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->ents[i].section);
		free(c->ents[i].key);
		free(c->ents[i].value);
	}
	free(c->ents);
	free(c);
	*cp = NULL;
}

const char *conf_get(const struct conf *c, const char *section, const char *key)
{
	if (!c)
		return NULL;
	for (size_t i = c->n; i-- > 0;)
		if (!strcmp(c->ents[i].section, section) && !strcmp(c->ents[i].key, key))
			return c->ents[i].value;
	return NULL;
}

const char *conf_get_def(const struct conf *c, const char *section, const char *key,
			 const char *def)
{
	const char *v = conf_get(c, section, key);
	return v ? v : def;
}

void conf_each(const struct conf *c, const char *prefix,
	       void (*fn)(const char *section, const char *key, const char *value, void *arg),
	       void *arg)
{
	size_t plen = strlen(prefix);

	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (!strncmp(c->ents[i].section, prefix, plen))
			fn(c->ents[i].section, c->ents[i].key, c->ents[i].value, arg);
}

void conf_each_line(const struct conf *c,
		    void (*fn)(const char *section, const char *key, const char *value, int line,
			       void *arg),
		    void *arg)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		fn(c->ents[i].section, c->ents[i].key, c->ents[i].value, c->ents[i].line, arg);
}

int conf_line(const struct conf *c, const char *section, const char *key)
{
	if (!c)
		return 0;
	for (size_t i = c->n; i-- > 0;)
		if (!strcmp(c->ents[i].section, section) && !strcmp(c->ents[i].key, key))
			return c->ents[i].line;
	return 0;
}
