/* preview.c - call a channel plugin's preview (see preview.h). The host
 * table here is the small one heraldctl can offer: config lookups, a log on
 * stderr and the contact masking. */
#include "preview.h"

#include <dlfcn.h>
#include <herald/channel.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mask.h"

struct pv_ctx {
	const struct conf *conf;
	char section[96];
};

static const char *pv_conf(void *ctx, const char *key)
{
	struct pv_ctx *p = ctx;
	return conf_get(p->conf, p->section, key);
}

static const char *pv_conf_section(void *ctx, const char *section, const char *key)
{
	struct pv_ctx *p = ctx;
	return conf_get(p->conf, section, key);
}

static void pv_log(void *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > HERALD_LOG_WARNING)
		return;
	va_start(ap, fmt);
	fputs("heraldctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void pv_mask(void *ctx, const char *addr, char *out, size_t outlen)
{
	mask_contact(addr, out, outlen);
}

int preview_render(const char *dir, const char *channel, const struct conf *conf,
		   const struct preview_msg *pm, unsigned char **out, size_t *len, char *err,
		   size_t errlen)
{
	const char *meta[] = {"fm.subject",
			      pm->subject ? pm->subject : "",
			      "citizen.name",
			      pm->name ? pm->name : "",
			      "citizen.address",
			      pm->address ? pm->address : "",
			      NULL};
	struct herald_msg msg = {.version = HERALD_MSG_VERSION,
				 .event_id = "preview",
				 .template_name = "preview",
				 .locale = pm->locale ? pm->locale : "en",
				 .reference = pm->reference,
				 .to = pm->address,
				 .subject = pm->subject,
				 .body = pm->body,
				 .meta = meta,
				 .attempt = 1};
	struct pv_ctx p = {conf, ""};
	struct herald_host host = {HERALD_HOST_VERSION, &p,	pv_conf,
				   pv_conf_section,	pv_log, pv_mask};
	const struct herald_channel *d;
	char path[4096];
	void *dl;

	snprintf(p.section, sizeof(p.section), "channel.%s", channel);
	snprintf(path, sizeof(path), "%s/%s.so", dir, channel);
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
		return -1;
	}
	d = dlsym(dl, HERALD_CHANNEL_SYMBOL);
	if (!d || d->abi != HERALD_CHANNEL_ABI || d->version < 3 || !d->preview) {
		snprintf(err, errlen,
			 "%s: the %s channel cannot preview (needs channel ABI %d, "
			 "struct version 3 with preview)",
			 path, channel, HERALD_CHANNEL_ABI);
		dlclose(dl);
		return -1;
	}
	/* the plugin stays loaded: its libraries (pango, fontconfig) keep
	 * state until the process ends */
	return d->preview(&host, &msg, out, len, err, errlen);
}
