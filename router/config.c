/* config.c - typed view of the INI file with defaults and range checks. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "num.h"
#include "sentinel.h"
#include "unsubtok.h"
#include "smsstop.h"

/* "path:line: [sec] key = 'v': " before the parser's reason. */
static void where(char *err, int errlen, const struct conf *ini, const char *path, const char *sec,
		  const char *key, const char *v, const char *why)
{
	snprintf(err, (size_t)errlen, "%s:%d: [%s] %s = '%s': %s", path, conf_line(ini, sec, key),
		 sec, key, v, why);
}

static int get_int(struct config *c, const char *sec, const char *key, int def, int lo, int hi,
		   int *out, char *err, int errlen)
{
	const char *v = conf_get(c->ini, sec, key);
	char why[128];
	int rc;

	if (!v) {
		*out = def;
		return 0;
	}
	rc = lo == 1 && hi == 65535 ? num_parse_port(v, out, why, sizeof(why))
				    : num_parse_int(v, lo, hi, out, why, sizeof(why));
	if (rc)
		where(err, errlen, c->ini, c->path, sec, key, v, why);
	return rc;
}

static int get_duration(struct config *c, const char *sec, const char *key, int def_s, int lo_s,
			int hi_s, int *out_ms, char *err, int errlen)
{
	const char *v = conf_get(c->ini, sec, key);
	char why[160];
	int64_t ms;

	if (!v) {
		*out_ms = def_s * 1000;
		return 0;
	}
	if (num_parse_duration(v, 1000, lo_s * 1000LL, hi_s * 1000LL, &ms, why, sizeof(why))) {
		where(err, errlen, c->ini, c->path, sec, key, v, why);
		return -1;
	}
	*out_ms = (int)ms;
	return 0;
}

/* A duration in ms; a bare number is in unit_ms. */
static int get_ms(struct config *c, const char *sec, const char *key, int def_ms, int unit_ms,
		  int lo_ms, int hi_ms, int *out_ms, char *err, int errlen)
{
	const char *v = conf_get(c->ini, sec, key);
	char why[160];
	int64_t ms;

	if (!v) {
		*out_ms = def_ms;
		return 0;
	}
	if (num_parse_duration(v, unit_ms, lo_ms, hi_ms, &ms, why, sizeof(why))) {
		where(err, errlen, c->ini, c->path, sec, key, v, why);
		return -1;
	}
	*out_ms = (int)ms;
	return 0;
}

/* The retry policy of any [channel.*]: whole numbers (seconds or a count),
 * never negative. Checked here so that a typo stops heraldd at start instead
 * of quietly becoming the default (config_channel_long). */
static const struct {
	const char *key;
	long max;
} chan_nums[] = {{"retry_min", 2592000},
		 {"retry_max", 2592000},
		 {"max_attempts", 1000000},
		 {"max_age", 315360000}};

struct chan_check {
	const struct conf *ini;
	const char *path;
	char *err;
	int errlen, bad;
};

static void check_chan_key(const char *sec, const char *key, const char *v, void *arg)
{
	struct chan_check *cc = arg;
	char why[128];
	long n;

	for (size_t i = 0; i < sizeof(chan_nums) / sizeof(chan_nums[0]) && !cc->bad; i++)
		if (!strcmp(key, chan_nums[i].key) &&
		    num_parse_long(v, 0, chan_nums[i].max, &n, why, sizeof(why))) {
			where(cc->err, cc->errlen, cc->ini, cc->path, sec, key, v, why);
			cc->bad = 1;
		}
}

/* [channel.email] unsubscribe_url (router/unsubscribe.c): served by the
 * HTTP listener, so that must be on. */
static int config_unsub_url(struct config *c, char *err, int errlen)
{
	char why[128];

	c->unsub_url = conf_get(c->ini, "channel.email", "unsubscribe_url");
	if (c->unsub_url && !*c->unsub_url)
		c->unsub_url = NULL;
	if (!c->unsub_url)
		return 0;
	if (unsub_url_check(c->unsub_url, why, sizeof(why)) != 0) {
		where(err, errlen, c->ini, c->path, "channel.email", "unsubscribe_url",
		      c->unsub_url, why);
		return -1;
	}
	if (!c->http_listen[0]) {
		where(err, errlen, c->ini, c->path, "channel.email", "unsubscribe_url",
		      c->unsub_url, "needs the HTTP listener ([http] listen is empty)");
		return -1;
	}
	return 0;
}

/* [ingest] auth, curve_secret_key_file; [services] dir (see zap.h). */
static int config_auth(struct config *c, char *err, int errlen)
{
	const char *auth = conf_get_def(c->ini, "ingest", "auth", "curve");

	if (!strcmp(auth, "curve")) {
		c->ingest_curve = 1;
	} else if (strcmp(auth, "none") != 0) {
		snprintf(err, (size_t)errlen, "%s:%d: [ingest] auth = '%s': expected curve or none",
			 c->path, conf_line(c->ini, "ingest", "auth"), auth);
		return -1;
	}
	c->curve_secret_key_file = conf_get(c->ini, "ingest", "curve_secret_key_file");
	if (c->curve_secret_key_file && !*c->curve_secret_key_file)
		c->curve_secret_key_file = NULL;
	c->services_dir = conf_get_def(c->ini, "services", "dir", "/etc/herald/services.d");
	return 0;
}

/* [redis] sentinels, master_name, replicas_ack (sentinel.h, README "High
 * availability"). */
static int redis_ha(struct config *c, char *err, int errlen)
{
	struct sentinels s;
	char why[300];

	c->redis_sentinels = conf_get(c->ini, "redis", "sentinels");
	c->redis_master_name = conf_get(c->ini, "redis", "master_name");
	c->redis_sentinel_password = conf_get(c->ini, "redis", "sentinel_password");
	if (c->redis_sentinels && !*c->redis_sentinels)
		c->redis_sentinels = NULL;
	if (c->redis_sentinels && sentinel_parse(c->redis_sentinels, &s, why, sizeof(why)) != 0) {
		where(err, errlen, c->ini, c->path, "redis", "sentinels", c->redis_sentinels, why);
		return -1;
	}
	if (c->redis_sentinels && c->redis_socket) {
		snprintf(err, (size_t)errlen,
			 "%s: [redis] socket and sentinels exclude each other (the sentinels "
			 "name the master's host and port)",
			 c->path);
		return -1;
	}
	if (c->redis_sentinels && (!c->redis_master_name || !*c->redis_master_name)) {
		snprintf(err, (size_t)errlen,
			 "%s: [redis] sentinels is set: master_name (the name the sentinels "
			 "monitor the master under) is required too",
			 c->path);
		return -1;
	}
	/* replicas_timeout_ms bare in ms, connect_timeout in seconds like
	 * every other timeout key; both take units ("250ms", "2s"). WAIT
	 * stays under the 5 s a synchronous reply may take (redisconn.c),
	 * past which the connection is dropped. */
	return get_int(c, "redis", "replicas_ack", 0, 0, 64, &c->redis_replicas_ack, err, errlen) ||
	       get_ms(c, "redis", "replicas_timeout_ms", 500, 1, 1, 4000,
		      &c->redis_replicas_timeout_ms, err, errlen) ||
	       get_ms(c, "redis", "connect_timeout", 500, 1000, 10, 60000,
		      &c->redis_connect_timeout_ms, err, errlen) ||
	       get_int(c, "redis", "script_batch", 0 /* off; on: RDB_PIPE_BYTES */, 0, 1 << 24,
		       &c->redis_script_batch, err, errlen) ||
	       /* journey_connections: its name in 0.6, when it carried the
		* journeys only */
	       get_int(c, "redis", "journey_connections", STATE_CONNECTIONS_DEFAULT, 0, JLANE_MAX,
		       &c->redis_state_connections, err, errlen) ||
	       get_int(c, "redis", "state_connections", c->redis_state_connections, 0, JLANE_MAX,
		       &c->redis_state_connections, err, errlen);
}

/* [http] listen: "" (off) or HOST:PORT with a strict port (99999 is not
 * 34463). */
static int config_check_listen(struct config *c, char *err, int errlen)
{
	const char *v = c->http_listen, *colon = strrchr(v, ':');
	char why[128];
	int port;

	if (!*v)
		return 0;
	if (!colon || colon == v) {
		where(err, errlen, c->ini, c->path, "http", "listen", v, "expected HOST:PORT");
		return -1;
	}
	if (num_parse_port(colon + 1, &port, why, sizeof(why)) != 0) {
		where(err, errlen, c->ini, c->path, "http", "listen", v, why);
		return -1;
	}
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
	c->secret_file = conf_get(c->ini, "herald", "secret_file");
	if (c->secret_file && !*c->secret_file)
		c->secret_file = NULL;

	lvl = conf_get_def(c->ini, "log", "level", "info");
	c->log_level = log_level_parse(lvl);
	if (c->log_level < 0) {
		snprintf(err, (size_t)errlen,
			 "%s:%d: [log] level = '%s': expected error, warning, "
			 "notice, info or debug",
			 path, conf_line(c->ini, "log", "level"), lvl);
		goto fail;
	}
	if (get_int(c, "redis", "port", 6379, 1, 65535, &c->redis_port, err, errlen) ||
	    get_int(c, "redis", "db", 0, 0, 1000, &c->redis_db, err, errlen) ||
	    redis_ha(c, err, errlen) ||
	    get_int(c, "queue", "batch", 256, 1, 10000, &c->batch, err, errlen) ||
	    get_duration(c, "queue", "claim_idle", 60, 1, 86400, &c->claim_idle_ms, err, errlen) ||
	    get_ms(c, "queue", "trim_interval", 2000, 1000, 10, 3600000, &c->trim_interval_ms, err,
		   errlen) ||
	    get_int(c, "queue", "retention_days", 30, 1, 3650, &c->retention_days, err, errlen) ||
	    get_int(c, "queue", "max_inflight", 20000, 1, 10000000, &c->max_inflight, err,
		    errlen) ||
	    get_int(c, "queue", "drain_timeout", 10, 0, 3600, &c->drain_timeout_ms, err, errlen) ||
	    get_duration(c, "channel.email", "bounce_window", 86400, 1, 7 * 86400,
			 &c->bounce_window_ms, err, errlen))
		goto fail;
	c->drain_timeout_ms *= 1000;
	c->sms_stop_keywords = conf_get(c->ini, "channel.sms", "stop_keywords");
	{
		char why[200];
		if (smsstop_check(c->sms_stop_keywords, why, sizeof(why)) != 0) {
			snprintf(err, (size_t)errlen, "%s:%d: [channel.sms] stop_keywords: %s",
				 path, conf_line(c->ini, "channel.sms", "stop_keywords"), why);
			goto fail;
		}
	}
	{
		struct chan_check cc = {c->ini, path, err, errlen, 0};
		conf_each(c->ini, "channel.", check_chan_key, &cc);
		if (cc.bad)
			goto fail;
	}
	if (c->redis_socket && strlen(c->redis_socket) >= 108) { /* sun_path */
		snprintf(err, (size_t)errlen,
			 "%s: [redis] socket: path longer than a Unix socket allows (107 bytes)",
			 path);
		goto fail;
	}
	if (config_check_listen(c, err, errlen) != 0)
		goto fail;
	if (config_unsub_url(c, err, errlen) != 0)
		goto fail;
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
	long n;

	snprintf(sec, sizeof(sec), "channel.%s", channel);
	v = conf_get(c->ini, sec, key);
	if (!v || num_parse_long(v, LONG_MIN, LONG_MAX, &n, NULL, 0))
		return def; /* config_load refused junk in the keys it knows */
	return n;
}
