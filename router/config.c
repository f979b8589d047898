/* config.c - typed view of the INI file with defaults and range checks. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int get_int(struct config *c, const char *sec, const char *key, int def, int lo, int hi,
		   int *out, char *err, int errlen)
{
	const char *v = conf_get(c->ini, sec, key);
	char *end;
	long n;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi) {
		snprintf(err, (size_t)errlen, "%s: [%s] %s = '%s': expected an integer %d..%d",
			 c->path, sec, key, v, lo, hi);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* [ingest] auth, curve_secret_key_file; [services] dir (see zap.h). */
static int config_auth(struct config *c, char *err, int errlen)
{
	const char *auth = conf_get_def(c->ini, "ingest", "auth", "curve");

	if (!strcmp(auth, "curve")) {
		c->ingest_curve = 1;
	} else if (strcmp(auth, "none") != 0) {
		snprintf(err, (size_t)errlen, "%s: [ingest] auth = '%s': expected curve or none",
			 c->path, auth);
		return -1;
	}
	c->curve_secret_key_file = conf_get(c->ini, "ingest", "curve_secret_key_file");
	if (c->curve_secret_key_file && !*c->curve_secret_key_file)
		c->curve_secret_key_file = NULL;
	c->services_dir = conf_get_def(c->ini, "services", "dir", "/etc/herald/services.d");
	return 0;
}

struct config *config_load(const char *path, char *err, int errlen)
{
	struct config *c = calloc(1, sizeof(*c));
	const char *lvl;

	if (!c) {
		snprintf(err, (size_t)errlen, "out of memory");
		return NULL;
	}
	c->path = strdup(path);
	c->ini = conf_load(path, err, errlen);
	if (!c->ini || !c->path)
		goto fail;

	c->redis_host = conf_get_def(c->ini, "redis", "host", "127.0.0.1");
	c->redis_socket = conf_get(c->ini, "redis", "socket");
	if (c->redis_socket && !*c->redis_socket)
		c->redis_socket = NULL;
	c->redis_password = conf_get(c->ini, "redis", "password");
	c->ingest_endpoint = conf_get_def(c->ini, "ingest", "endpoint", "tcp://127.0.0.1:7400");
	c->log_file = conf_get_def(c->ini, "log", "file", "/var/log/herald/delivery.log");
	c->log_json = conf_get_def(c->ini, "log", "json", "/var/log/herald/delivery.jsonl");
	c->log_publish = conf_get_def(c->ini, "log", "publish", "tcp://127.0.0.1:7401");
	c->http_listen = conf_get_def(c->ini, "http", "listen", "127.0.0.1:7402");
	c->http_public_url = conf_get(c->ini, "http", "public_url");
	c->templates_dir = conf_get_def(c->ini, "templates", "dir", "/etc/herald/templates");
	c->channels_dir = conf_get_def(c->ini, "channels", "dir", "/usr/lib/herald/channels");
	c->channels_enable = conf_get_def(c->ini, "channels", "enable", "");
	c->consumer = conf_get(c->ini, "queue", "consumer");
	if (config_auth(c, err, errlen) != 0)
		goto fail;

	lvl = conf_get_def(c->ini, "log", "level", "info");
	c->log_level = log_level_parse(lvl);
	if (c->log_level < 0) {
		snprintf(err, (size_t)errlen,
			 "%s: [log] level = '%s': expected error, warning, "
			 "notice, info or debug",
			 path, lvl);
		goto fail;
	}
	if (get_int(c, "redis", "port", 6379, 1, 65535, &c->redis_port, err, errlen) ||
	    get_int(c, "redis", "db", 0, 0, 1000, &c->redis_db, err, errlen) ||
	    get_int(c, "queue", "batch", 256, 1, 10000, &c->batch, err, errlen) ||
	    get_int(c, "queue", "claim_idle", 60, 1, 86400, &c->claim_idle_ms, err, errlen) ||
	    get_int(c, "queue", "retention_days", 30, 1, 3650, &c->retention_days, err, errlen))
		goto fail;
	c->claim_idle_ms *= 1000;
	if (c->redis_socket && strlen(c->redis_socket) >= 108) { /* sun_path */
		snprintf(err, (size_t)errlen,
			 "%s: [redis] socket: path longer than a Unix socket allows (107 bytes)",
			 path);
		goto fail;
	}
	if (strncmp(c->ingest_endpoint, "tcp://", 6) && strncmp(c->ingest_endpoint, "ipc://", 6)) {
		snprintf(err, (size_t)errlen,
			 "%s: [ingest] endpoint = '%s': expected tcp:// or ipc://", path,
			 c->ingest_endpoint);
		goto fail;
	}
	return c;
fail:
	config_free(&c);
	return NULL;
}

void config_free(struct config **cp)
{
	struct config *c = *cp;

	if (!c)
		return;
	conf_free(&c->ini);
	free(c->path);
	free(c);
	*cp = NULL;
}

const char *config_get(const struct config *c, const char *section, const char *key)
{
	return conf_get(c->ini, section, key);
}

long config_channel_long(const struct config *c, const char *channel, const char *key, long def)
{
	char sec[128];
	const char *v;
	char *end;
	long n;

	snprintf(sec, sizeof(sec), "channel.%s", channel);
	v = conf_get(c->ini, sec, key);
	if (!v)
		return def;
	n = strtol(v, &end, 10);
	return (end == v || *end) ? def : n;
}
