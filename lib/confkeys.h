/*
 * confkeys.h - every key of herald.conf that heraldd reads, with its
 * default: the one table behind heraldd's strict check (router/confcheck.c)
 * and `heraldctl config` (postconf -d / -n). [channel.<name>] sections take
 * the host keys below plus the plugin's own (struct herald_channel keys);
 * [service.<name>] sections take the callback_* keys.
 */
#ifndef HERALD_CONFKEYS_H
#define HERALD_CONFKEYS_H

struct confkey {
	const char *section; /* "redis", or "channel.*" / "service.*" */
	const char *key;
	const char *def; /* as heraldd reads it when unset; "" = unset/off */
};

/* NULL-terminated (section NULL). */
extern const struct confkey confkeys[];

/* The entry of a fixed section's key, or of a channel.* / service.* key
 * for a section of that kind; NULL when unknown. */
const struct confkey *confkey_find(const char *section, const char *key);
/* 1 when the section is one heraldd knows (fixed, channel.X or service.X). */
int confkey_section_known(const char *section);
/* The table's pattern for a section: "channel.*", "service.*" or itself. */
const char *confkey_pattern(const char *section);

#endif
