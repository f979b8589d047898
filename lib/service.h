/*
 * service.h - who a publisher is and what it may do: the policy files in
 * services.d/ (one NAME.conf per service), shared by heraldd (ZAP handler,
 * ingest checks) and heraldctl (keygen writes the skeleton).
 *
 * A policy file is "key = value" lines; '#' starts a comment line. Every
 * key is validated; an unknown key is an error naming the file and line.
 *
 *   public_key      = <Z85, 40 characters>   required: the CURVE key that is
 *                                             this service
 *   templates       = name, glob-*, ...      templates it may use ("*": all)
 *   channels        = sms, email | *         channels it may use ("*": all)
 *   urgent          = no | yes               may it send priority "urgent"
 *                                             (which overrides quiet hours)
 *   rate, burst, daily_limit events per second, bucket size (0: rate),
 *                           per UTC day; 0: none (herald_accept, scripts.c)
 *   daily_limit.CHANNEL     events per UTC day that may use CHANNEL (counted
 *                           at accept against every limited channel the
 *                           event may use; router/policy.c)
 *   from, sender            the email From and SMS originator of its
 *                           messages (meta service.*: router/prepare.c)
 *   reply_to = a@b | id: a@b, id2: c@d   the Reply-To: one address, or a
 *                           list with ids; an event's "reply_to_id" picks
 *                           one (none: the first)
 *   retention_days          its messages' hashes, journeys and references
 *                           expire after this ([queue] retention_days)
 *   callback_url, callback_secret   its status callbacks (router/callback.c;
 *                           the old [service.NAME] of herald.conf is
 *                           deprecated), with callback_timeout,
 *                           callback_retry_max, callback_max_age,
 *                           callback_ordered, callback_concurrency
 *   mode            = live | trial | test  (router/testmode.h)
 *   guests          = a@b, +44...          trial mode: who may receive
 */
#ifndef HERALD_SERVICE_H
#define HERALD_SERVICE_H

#include <stddef.h>

#define SERVICE_NAME_MAX 64
#define SERVICE_KEY_LEN 32 /* a CURVE key, binary */
#define SERVICE_Z85_LEN 40 /* ... in Z85 */
#define SERVICE_MAX_PATTERNS 64

enum service_mode { SERVICE_LIVE = 0, SERVICE_TRIAL, SERVICE_TEST };

struct service {
	char name[SERVICE_NAME_MAX + 1]; /* the file name without .conf */
	unsigned char public_key[SERVICE_KEY_LEN];
	char public_z85[SERVICE_Z85_LEN + 1];
	char *templates[SERVICE_MAX_PATTERNS]; /* names or fnmatch globs */
	int ntemplates;
	char *channels[SERVICE_MAX_PATTERNS];
	int nchannels;
	int urgent;
	long rate, burst, daily_limit;	      /* 0: no limit (router/scripts.c) */
	char *limit_ch[SERVICE_MAX_PATTERNS]; /* daily_limit.<channel> */
	long limit_n[SERVICE_MAX_PATTERNS];
	int nlimits;
	char *from, *reply_to, *sender;	       /* reply_to: the first (default) one */
	char *reply_ids[SERVICE_MAX_PATTERNS]; /* "id: addr" entries; "" for a plain one */
	char *reply_addrs[SERVICE_MAX_PATTERNS];
	int nreply;
	int retention_days; /* 0: [queue] retention_days */
	char *callback_url, *callback_secret;
	/* -1: not given (the [service.NAME] value or the default) */
	long cb_timeout_ms, cb_retry_max_ms, cb_max_age_ms, cb_concurrency;
	int cb_ordered;
	int world_readable; /* the file's mode lets anyone read it */
	enum service_mode mode;
	char *guests[SERVICE_MAX_PATTERNS]; /* trial mode: who may receive */
	int nguests;
};

/* Every service of one services.d directory, as loaded at one time. */
struct services {
	char *dir;
	struct service *v;
	size_t n;
};

/* Load DIR/<name>.conf (files not ending in .conf are skipped). A missing
 * DIR is an empty set (*missing set to 1). NULL with the file, line and
 * reason in err on any error. */
struct services *services_load(const char *dir, int *missing, char *err, size_t errlen);
void services_free(struct services **s);
/* Parse one policy file into sv (name from the caller). 0, or -1 with the
 * file and line in err. service_clear frees what it holds. */
int service_parse_file(const char *path, const char *name, struct service *sv, char *err,
		       size_t errlen);
void service_clear(struct service *sv);

const struct service *services_by_key(const struct services *s,
				      const unsigned char key[SERVICE_KEY_LEN]);
const struct service *services_by_name(const struct services *s, const char *name);

/* 1 if the policy lets it use the template / the channel. */
int service_may_template(const struct service *sv, const char *name);
int service_may_channel(const struct service *sv, const char *name);
/* The Reply-To address of id (NULL: the default, which may be NULL); NULL
 * when the service has no reply_to of that id. */
const char *service_reply_to(const struct service *sv, const char *id);
/* "a, b" (or "*") into buf, for messages. */
const char *service_list(char *const *list, int n, char *buf, size_t buflen);

/* 1 if to (an address or number) is on the service's guest list (email
 * addresses compared without case). */
int service_is_guest(const struct service *sv, const char *to);

/* Every key a policy file accepts, NULL-terminated, and the prefix of the
 * per-channel daily limits (daily_limit.CHANNEL): service_parse_file's own
 * list, which the skeleton below must cover (tests/unit/test_service.c). */
extern const char *const service_keys[];
#define SERVICE_KEY_CHANNEL_LIMIT "daily_limit."

/* The skeleton policy heraldctl keygen writes for service name with the
 * public key pub_z85: public_key, templates, channels and urgent set, every
 * other key commented out ("#key = example") with a line saying what it
 * does. A malloc'd string (the caller frees it), NULL without memory. */
char *service_skeleton(const char *name, const char *pub_z85);

/* 1-64 of a-z 0-9 - _, not starting with - or _ . */
int service_name_valid(const char *name);

/* Read a Z85 key (the first non-empty line, 40 characters) from a file
 * into key (binary). 0, or -1 with a reason in err. */
int service_read_key(const char *path, unsigned char key[SERVICE_KEY_LEN], char *err,
		     size_t errlen);

#endif
