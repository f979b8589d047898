/* conf.h - a parsed INI file: ordered (section, key, value) triples. Knows
 * nothing of Herald's keys; router/config.c gives them meaning. */
#ifndef HERALD_CONF_H
#define HERALD_CONF_H

struct conf;

/* Parse FILE. On error returns NULL and writes a message to err. */
struct conf *conf_load(const char *file, char *err, int errlen);
void conf_free(struct conf **c);
/* Value of [section] key, or NULL. The last occurrence wins. */
const char *conf_get(const struct conf *c, const char *section, const char *key);
const char *conf_get_def(const struct conf *c, const char *section, const char *key,
			 const char *def);
/* Iterate: call fn for every entry of sections whose name starts with prefix. */
void conf_each(const struct conf *c, const char *prefix,
	       void (*fn)(const char *section, const char *key, const char *value, void *arg),
	       void *arg);
/* Every entry in file order, with the line it was read from. */
void conf_each_line(const struct conf *c,
		    void (*fn)(const char *section, const char *key, const char *value, int line,
			       void *arg),
		    void *arg);
/* Line of the last [section] key (the one conf_get returns), 0 if unset. */
int conf_line(const struct conf *c, const char *section, const char *key);

#endif
