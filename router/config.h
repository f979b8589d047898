/* config.h - heraldd's configuration: defaults, the INI file, validation.
 * Every key is documented in README.md ("Configuration"). */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include "conf.h"

struct config {
	struct conf *ini; /* the raw file, for [channel.*] and [service.*] lookups */
	char *path;
	/* [redis] */
	const char *redis_host;
	int redis_port;
	const char *redis_socket;   /* Unix socket path; NULL: host and port */
	const char *redis_password; /* never logged */
	int redis_db;
	const char *redis_sentinels;	     /* "host:port,..."; NULL: host/port/socket */
	const char *redis_master_name;	     /* the master's name in Sentinel */
	const char *redis_sentinel_password; /* the sentinels' own; never logged */
	int redis_script_batch;		     /* bytes; 0 off (redis.h herald_pipe) */
	int redis_state_connections;	     /* router/jlane.h; 0: on the main one */
#define JLANE_MAX 8
#define STATE_CONNECTIONS_DEFAULT 4    /* router/jlane.h */
	int redis_connect_timeout_ms;  /* each connect (and sentinel asked) */
	int redis_replicas_ack;	       /* WAIT for this many replicas; 0: none */
	int redis_replicas_timeout_ms; /* ... this long at most */
	/* [ingest] */
	const char *ingest_endpoint;
	int ingest_curve;		   /* auth = curve (1, default) or none (0) */
	const char *curve_secret_key_file; /* heraldd's CURVE secret key, Z85 */
	/* [services] */
	const char *services_dir; /* services.d: one NAME.conf per service */
	/* [log] */
	const char *log_file, *log_json, *log_publish;
	int log_level;
	/* [http] */
	const char *http_listen; /* "" disables the listener */
	const char *http_public_url;
	/* [channel.email] unsubscribe_url: one-click unsubscribe links (NULL: none) */
	const char *unsub_url;
	/* [templates] [channels] */
	const char *templates_dir, *channels_dir;
	/* [queue] */
	int batch;	      /* events read per XREADGROUP */
	int claim_idle_ms;    /* XAUTOCLAIM min idle */
	int trim_interval_ms; /* how often acknowledged entries are trimmed */
	int retention_days;   /* message bodies and contact details expire */
	int max_inflight;     /* stop reading while this many are with channels */
	int drain_timeout_ms; /* SIGTERM waits this long for in-flight messages */
	int bounce_window_ms; /* [channel.email] bounce_window: a later bounce is late */
	/* [channel.sms] stop_keywords: words besides STOP, UNSUBSCRIBE, STOPIO
	 * that opt a citizen out by SMS (lib/smsstop.h); NULL for none */
	const char *sms_stop_keywords;
	const char *consumer; /* consumer name in the group; default host:pid */
	/* [herald] secret_file: the provider references' secret (lib/provref.h);
	 * NULL: kept in Redis (KEY_SECRET) */
	const char *secret_file;
	/* [channels] enable = file,email (empty: every plugin in dir) */
	const char *channels_enable;
};

/* Load and validate. NULL with a reason in err. */
struct config *config_load(const char *path, char *err, int errlen);
void config_free(struct config **c);
/* Any key of any section (for plugins and services). */
const char *config_get(const struct config *c, const char *section, const char *key);
/* A per-channel integer with a default: [channel.<name>] key. config_load
 * has already refused a retry_min, retry_max, max_attempts or max_age that
 * is not a whole number in range. */
long config_channel_long(const struct config *c, const char *channel, const char *key, long def);

#endif
