/*
 * dispatch.h - channel plugins: load, refuse the wrong ABI, open with a host
 * table, submit, poll. A channel is enabled by its [channel.<name>] section
 * (or by [channels] enable = a,b); `enabled = no` in the section disables it.
 */
#ifndef HERALD_DISPATCH_H
#define HERALD_DISPATCH_H

#include <herald/channel.h>

#include "config.h"
#include "tmplstore.h"

#define CHAN_MAX 16

struct chan {
	char name[33];
	char section[48]; /* "channel." + name */
	void *dl;
	const struct herald_channel *desc;
	void *state;
	struct herald_host host;
	const struct config *cfg;
	unsigned long submitted, finished;
	/* per-channel retry policy ([channel.<name>] retry_min, retry_max
	 * (seconds), max_attempts, max_age (seconds)) */
	long retry_min, retry_max, max_attempts, max_age;
};

struct chanset {
	struct chan ch[CHAN_MAX];
	int n;
	int failed; /* configured, not optional, did not open: do not start */
};

/* Load every enabled plugin from cfg->channels_dir. Failures are logged
 * and the channel left out. Returns the number loaded. */
int chans_load(struct chanset *cs, const struct config *cfg);
/* heraldd -t: every configured channel's plugin loads, its keys are known
 * and its check() accepts the section. Errors logged; their number. */
int chans_check(const struct config *cfg, struct tstore_channel *out, size_t *nout);
/* The variants of a plugin, and of every loaded channel (for
 * tstore_check_set); out has room for CHAN_MAX. */
void chan_variants(const struct herald_channel *desc, struct tstore_channel *out);
size_t chans_variants(const struct chanset *cs, struct tstore_channel *out);
void chans_close(struct chanset *cs);
struct chan *chans_find(struct chanset *cs, const char *name);
/* Load and check one plugin file (exposed for tests). NULL on refusal
 * (the reason is logged). */
const struct herald_channel *chan_check(const char *path, void **dl);

#endif
