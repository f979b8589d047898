/* dispatch.c - the plugin loader and the host side of the channel ABI. */
#include "dispatch.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mask.h"
#include "router.h"

static const char *host_conf(void *ctx, const char *key)
{
	struct chan *c = ctx;
	return config_get(c->cfg, c->section, key);
}

static const char *host_conf_section(void *ctx, const char *section, const char *key)
{
	struct chan *c = ctx;
	return config_get(c->cfg, section, key);
}

static void host_log(void *ctx, int level, const char *fmt, ...)
{
	struct chan *c = ctx;
	char buf[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(level, "channel %s: %s", c->name, buf);
}

static void host_mask(void *ctx, const char *addr, char *out, size_t outlen)
{
	mask_contact(addr, out, outlen);
}

const struct herald_channel *chan_check(const char *path, void **dlp)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const struct herald_channel *d;

	*dlp = NULL;
	if (!dl) {
		log_msg(LOG_L_ERR, "channel plugin %s: cannot load: %s", path, dlerror());
		return NULL;
	}
	d = dlsym(dl, HERALD_CHANNEL_SYMBOL);
	if (!d) {
		log_msg(LOG_L_ERR, "channel plugin %s: no '%s' symbol: %s", path,
			HERALD_CHANNEL_SYMBOL, dlerror());
		goto refuse;
	}
	if (d->abi != HERALD_CHANNEL_ABI) {
		log_msg(LOG_L_ERR,
			"channel plugin %s: built for channel ABI %u, heraldd speaks ABI %d: "
			"refusing it (rebuild the plugin against this include/herald/channel.h)",
			path, d->abi, HERALD_CHANNEL_ABI);
		goto refuse;
	}
	if (!d->name || !d->open || !d->submit || !d->poll || !d->close || !d->variants ||
	    !d->variants[0]) {
		log_msg(LOG_L_ERR,
			"channel plugin %s: descriptor lacks name/open/submit/poll/close/variants: "
			"refusing it",
			path);
		goto refuse;
	}
	*dlp = dl;
	return d;
refuse:
	dlclose(dl);
	return NULL;
}

/* conf has no "section exists" query; probe by iterating. */
struct probe {
	const char *section;
	int found;
};

static void probe_fn(const char *section, const char *key, const char *value, void *arg)
{
	struct probe *p = arg;
	if (!strcmp(section, p->section))
		p->found = 1;
}

/* A channel runs when [channels] enable lists it or its [channel.<name>]
 * section exists, unless that section says enabled = no. */
static int enabled(const struct config *cfg, const char *name)
{
	char sec[96];
	const char *v;
	struct probe pr;

	snprintf(sec, sizeof(sec), "channel.%s", name);
	v = config_get(cfg, sec, "enabled");
	if (v && (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0")))
		return 0;
	if (list_has(cfg->channels_enable, name))
		return 1;
	pr.section = sec;
	pr.found = 0;
	conf_each(cfg->ini, sec, probe_fn, &pr);
	return pr.found;
}

int chans_load(struct chanset *cs, const struct config *cfg)
{
	DIR *d = opendir(cfg->channels_dir);
	struct dirent *de;

	memset(cs, 0, sizeof(*cs));
	if (!d) {
		log_warn("channels dir %s", cfg->channels_dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char path[4096], name[33];
		struct chan *c;
		const struct herald_channel *desc;
		void *dl;

		if (len < 4 || strcmp(de->d_name + len - 3, ".so") != 0 || len - 3 >= sizeof(name))
			continue;
		memcpy(name, de->d_name, len - 3);
		name[len - 3] = '\0';
		if (!enabled(cfg, name))
			continue;
		/* one word: it names a config section, log fields and a part of
		 * the message hash's space-separated "at" (lib/msgrec.h) */
		if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len - 3) {
			log_msg(LOG_L_ERR,
				"channel plugin %s/%s: a channel name is a-z, 0-9, '_' and '-' "
				"only: refusing it",
				cfg->channels_dir, de->d_name);
			continue;
		}
		if (cs->n == CHAN_MAX) {
			log_warnx("more than %d channels; ignoring %s", CHAN_MAX, name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", cfg->channels_dir, de->d_name);
		desc = chan_check(path, &dl);
		if (!desc)
			continue;
		if (strcmp(desc->name, name) != 0) {
			log_msg(LOG_L_ERR, "channel plugin %s: calls itself '%s': refusing it",
				path, desc->name);
			dlclose(dl);
			continue;
		}
		c = &cs->ch[cs->n];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
		snprintf(c->section, sizeof(c->section), "channel.%s", name);
		c->dl = dl;
		c->desc = desc;
		c->cfg = cfg;
		c->host = (struct herald_host){HERALD_HOST_VERSION, c,	      host_conf,
					       host_conf_section,   host_log, host_mask};
		c->retry_min = config_channel_long(cfg, name, "retry_min", 30);
		c->retry_max = config_channel_long(cfg, name, "retry_max", 3600);
		c->max_attempts = config_channel_long(cfg, name, "max_attempts", 5);
		c->max_age = config_channel_long(cfg, name, "max_age", 86400);
		if (desc->open(&c->host, &c->state) != 0) {
			log_msg(LOG_L_ERR, "channel %s: open failed; running without it", name);
			dlclose(dl);
			continue;
		}
		log_info("channel %s: loaded %s (ABI %u)", name, path, desc->abi);
		cs->n++;
	}
	closedir(d);
	return cs->n;
}

void chans_close(struct chanset *cs)
{
	for (int i = 0; i < cs->n; i++) {
		cs->ch[i].desc->close(cs->ch[i].state);
		dlclose(cs->ch[i].dl);
	}
	cs->n = 0;
}

struct chan *chans_find(struct chanset *cs, const char *name)
{
	for (int i = 0; i < cs->n; i++)
		if (!strcmp(cs->ch[i].name, name))
			return &cs->ch[i];
	return NULL;
}
