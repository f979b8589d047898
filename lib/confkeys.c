/* confkeys.c - the keys of herald.conf and their defaults (confkeys.h).
 * Keep in step with router/config.c, dispatch.c, callback.c, prepare.c and
 * man/herald.conf.5. */
#include "confkeys.h"

#include <string.h>

const struct confkey confkeys[] = {
    {"redis", "host", "127.0.0.1"},
    {"redis", "port", "6379"},
    {"redis", "socket", ""},
    {"redis", "password", ""},
    {"redis", "db", "0"},
    {"redis", "sentinels", ""},
    {"redis", "master_name", ""},
    {"redis", "replicas_ack", "0"},
    {"redis", "replicas_timeout_ms", "500"},
    {"redis", "connect_timeout", "500ms"},
    {"redis", "script_batch", "0"},
    {"redis", "state_connections", "4"},
    {"redis", "journey_connections", "4"},
    {"redis", "sentinel_password", ""},
    {"herald", "secret_file", ""},
    {"ingest", "endpoint", "tcp://127.0.0.1:7400"},
    {"ingest", "auth", "curve"},
    {"ingest", "curve_secret_key_file", ""},
    {"services", "dir", "/etc/herald/services.d"},
    {"log", "file", "/var/log/herald/delivery.log"},
    {"log", "json", "/var/log/herald/delivery.jsonl"},
    {"log", "publish", "tcp://127.0.0.1:7401"},
    {"log", "level", "info"},
    {"http", "listen", "127.0.0.1:7402"},
    {"http", "public_url", ""},
    {"templates", "dir", "/etc/herald/templates"},
    {"channels", "dir", "/usr/lib/herald/channels"},
    {"channels", "enable", ""},
    {"queue", "batch", "256"},
    {"queue", "claim_idle", "60"},
    {"queue", "retention_days", "30"},
    {"queue", "max_inflight", "20000"},
    {"queue", "drain_timeout", "10"},
    {"queue", "consumer", ""},
    {"queue", "trim_interval", "2s"},
    {"channel.*", "enabled", "yes"},
    {"channel.*", "optional", "no"},
    {"channel.*", "retry_min", "30"},
    {"channel.*", "retry_max", "3600"},
    {"channel.*", "max_attempts", "5"},
    {"channel.*", "max_age", "86400"},
    {"channel.*", "quiet_hours", ""},
    /* heraldd reads this one of the email channel's (router/bounce.c) */
    {"channel.email", "bounce_window", "24h"},
    {"channel.email", "bounce_domain", ""},   /* also the plugin's: heraldd polls only with it */
    {"channel.email", "unsubscribe_url", ""}, /* heraldd's: the links and their route */
    /* heraldd reads this one of the sms channel's (router/inbound_sms.c) */
    {"channel.sms", "stop_keywords", ""},
    {"service.*", "callback_url", ""},
    {"service.*", "callback_secret", ""},
    {"service.*", "callback_timeout", "10"},
    {"service.*", "callback_retry_max", "600"},
    {"service.*", "callback_queue", "100000"},
    {"service.*", "callback_max_age", "3d"},
    {"service.*", "ordered", "yes"},
    {"service.*", "concurrency", "1"},
    {NULL, NULL, NULL},
};

const char *confkey_pattern(const char *section)
{
	if (!strncmp(section, "channel.", 8) && section[8])
		return "channel.*";
	if (!strncmp(section, "service.", 8) && section[8])
		return "service.*";
	return section;
}

const struct confkey *confkey_find(const char *section, const char *key)
{
	const char *pat = confkey_pattern(section);

	/* a key of one section ([channel.email] bounce_window) first */
	for (const struct confkey *k = confkeys; k->section; k++)
		if (!strcmp(k->section, section) && !strcmp(k->key, key))
			return k;
	for (const struct confkey *k = confkeys; k->section; k++)
		if (!strcmp(k->section, pat) && !strcmp(k->key, key))
			return k;
	return NULL;
}

int confkey_section_known(const char *section)
{
	const char *pat = confkey_pattern(section);

	for (const struct confkey *k = confkeys; k->section; k++)
		if (!strcmp(k->section, pat))
			return 1;
	return 0;
}
