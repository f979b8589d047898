/* dispatch.c - the plugin loader and the host side of the channel ABI. */
#include "dispatch.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confcheck.h"
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

static int optional(const struct config *cfg, const char *name)
{
	char sec[96];

	snprintf(sec, sizeof(sec), "channel.%s", name);
	return confcheck_yes(config_get(cfg, sec, "optional"));
}

/* A configured channel that does not load or open stops the start
 * (cs->failed) unless its section says optional = yes. */
static void chan_open_failed(struct chanset *cs, const struct config *cfg, const char *name)
{
	if (optional(cfg, name)) {
		log_warnx("channel %s: not loaded; running without it (optional = yes)", name);
		return;
	}
	log_msg(LOG_L_ERR,
		"channel %s: not loaded; not starting (set optional = yes in [channel.%s] to "
		"run without it)",
		name, name);
	cs->failed++;
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
			chan_open_failed(cs, cfg, name);
			continue;
		}
		if (cs->n == CHAN_MAX) {
			log_warnx("more than %d channels; ignoring %s", CHAN_MAX, name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", cfg->channels_dir, de->d_name);
		desc = chan_check(path, &dl);
		if (!desc) {
			chan_open_failed(cs, cfg, name);
			continue;
		}
		if (strcmp(desc->name, name) != 0) {
			log_msg(LOG_L_ERR, "channel plugin %s: calls itself '%s': refusing it",
				path, desc->name);
			chan_open_failed(cs, cfg, name);
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
		if (confcheck_channel(cfg, name, desc) > 0 ||
		    desc->open(&c->host, &c->state) != 0) {
			chan_open_failed(cs, cfg, name);
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

/* ---- heraldd -t ---------------------------------------------------------- */

struct names {
	char list[CHAN_MAX * 2][33];
	int n;
};

static void add_name(struct names *nm, const char *name, size_t len)
{
	if (!len || len >= sizeof(nm->list[0]) || nm->n == CHAN_MAX * 2)
		return;
	for (int i = 0; i < nm->n; i++)
		if (strlen(nm->list[i]) == len && !strncmp(nm->list[i], name, len))
			return;
	memcpy(nm->list[nm->n], name, len);
	nm->list[nm->n++][len] = '\0';
}

static void collect_fn(const char *section, const char *key, const char *value, void *arg)
{
	add_name(arg, section + 8, strlen(section + 8));
}

void chan_variants(const struct herald_channel *desc, struct tstore_channel *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", desc->name);
	for (const char *const *v = desc->variants; *v && out->nvariants < 7; v++)
		snprintf(out->variants[out->nvariants++], sizeof(out->variants[0]), "%s", *v);
	if (desc->html_variant)
		snprintf(out->variants[out->nvariants++], sizeof(out->variants[0]), "%s",
			 desc->html_variant);
}

size_t chans_variants(const struct chanset *cs, struct tstore_channel *out)
{
	for (int i = 0; i < cs->n; i++)
		chan_variants(cs->ch[i].desc, &out[i]);
	return (size_t)cs->n;
}

/* One configured channel: its plugin loads, its keys are known, and its
 * check() (version >= 3) accepts the section. 0 or the number of errors. */
static int chan_check_one(const struct config *cfg, const char *name, struct tstore_channel *info)
{
	struct chan c;
	char path[4096], err[512];
	const struct herald_channel *desc;
	void *dl;
	int errors = 0;

	snprintf(path, sizeof(path), "%s/%s.so", cfg->channels_dir, name);
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name)) {
		log_msg(LOG_L_ERR, "%s: [channel.%s]: a channel name is a-z, 0-9, '_' and '-' only",
			cfg->path, name);
		return optional(cfg, name) ? 0 : 1;
	}
	desc = chan_check(path, &dl);
	if (!desc)
		return optional(cfg, name) ? 0 : 1;
	if (strcmp(desc->name, name) != 0) {
		log_msg(LOG_L_ERR, "channel plugin %s: calls itself '%s': refusing it", path,
			desc->name);
		dlclose(dl);
		return optional(cfg, name) ? 0 : 1;
	}
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.section, sizeof(c.section), "channel.%s", name);
	c.cfg = cfg;
	c.host = (struct herald_host){HERALD_HOST_VERSION, &c,	     host_conf,
				      host_conf_section,   host_log, host_mask};
	chan_variants(desc, info);
	errors += confcheck_channel(cfg, name, desc);
	if (desc->version >= 3 && desc->check && desc->check(&c.host, err, sizeof(err)) != 0) {
		if (err[0] == '[')
			log_msg(LOG_L_ERR, "%s: %s", cfg->path, err);
		else
			log_msg(LOG_L_ERR, "%s: [channel.%s] %s", cfg->path, name, err);
		errors++;
	}
	dlclose(dl);
	return errors;
}

int chans_check(const struct config *cfg, struct tstore_channel *out, size_t *nout)
{
	struct names nm = {.n = 0};
	const char *p = cfg->channels_enable;
	int errors = 0;

	conf_each(cfg->ini, "channel.", collect_fn, &nm);
	while (p && *p) {
		size_t len = strcspn(p, ", ");
		add_name(&nm, p, len);
		p += len;
		p += strspn(p, ", ");
	}
	*nout = 0;
	for (int i = 0; i < nm.n; i++) {
		if (!enabled(cfg, nm.list[i]))
			continue;
		memset(&out[*nout], 0, sizeof(out[0]));
		errors += chan_check_one(cfg, nm.list[i], &out[*nout]);
		if (out[*nout].nvariants && *nout + 1 < CHAN_MAX)
			(*nout)++;
	}
	return errors;
}
