/*
 * herald/channel.h - the channel plugin ABI. This header is the whole contract
 * between heraldd (the host) and a channel plugin (email, sms, fax, print,
 * file, ...). A plugin is a shared object that exports exactly one symbol,
 * HERALD_CHANNEL_SYMBOL, a `const struct herald_channel`.
 *
 * Versioning
 *   abi     The major ABI number. The host refuses (with a log line naming both
 *           numbers, and dlclose) a plugin whose abi differs from its own
 *           HERALD_CHANNEL_ABI. Bump it only for incompatible changes.
 *   version Every struct passed across the boundary starts with a version.
 *           Fields are only ever appended; a reader checks `version >= N`
 *           before touching a field added in version N (as Redis modules do).
 *           struct herald_channel version 2 appends `drain`; version 3
 *           `keys`, `check` (strict configuration, `heraldd -t`) and
 *           `preview` (heraldctl render --pdf); version 4 `inbound`
 *           (messages citizens send back, e.g. an SMS reply); older
 *           plugins still load unchanged (the host reads a member only
 *           when the plugin's version has it).
 *
 * Threads
 *   The host calls open/submit/poll/fd/close from its single router thread.
 *   Those calls MUST NOT block on the network or on a remote peer: a plugin
 *   that talks to a server does so on threads of its own and reports back
 *   through poll(). receipt() and inbound() are the exception: they are
 *   called on the HTTP listener's thread and MUST only parse the request
 *   (no plugin state).
 *
 * Outcomes
 *   A plugin never exits and never aborts on bad input: every message it
 *   accepted with submit() comes back exactly once through poll() as a
 *   herald_result with one of the herald_status values, a provider reference
 *   and a human-readable reason. A later delivery receipt (SMS DLR, fax
 *   callback, CUPS job completion) may come back as a second result with the
 *   same msg_id (from poll) or the same ref (from receipt).
 */
#ifndef HERALD_CHANNEL_H
#define HERALD_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERALD_CHANNEL_ABI 1
#define HERALD_CHANNEL_SYMBOL "herald_channel"

/* Struct versions of this header. */
#define HERALD_HOST_VERSION 1
#define HERALD_MSG_VERSION 2 /* 2: provider_ref, possible_duplicate */
#define HERALD_RESULT_VERSION 1

/* Log levels for herald_host.log (syslog numbering). */
enum herald_log_level {
	HERALD_LOG_ERR = 3,
	HERALD_LOG_WARNING = 4,
	HERALD_LOG_NOTICE = 5,
	HERALD_LOG_INFO = 6,
	HERALD_LOG_DEBUG = 7,
};

/* What the host offers a plugin. Valid from open() until close() returns. */
struct herald_host {
	uint32_t version; /* HERALD_HOST_VERSION */
	void *ctx;	  /* pass back as the first argument of every call */
	/* A key of this channel's own [channel.<name>] section, NULL if unset. */
	const char *(*conf)(void *ctx, const char *key);
	/* Any key of any section (e.g. "http", "public_url"), NULL if unset. */
	const char *(*conf_section)(void *ctx, const char *section, const char *key);
	/* Operator log (not the delivery log). Thread-safe. Never pass secrets
	 * or unmasked contact details; use mask() for addresses. */
	void (*log)(void *ctx, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	/* Mask a contact detail for logs: a***@example.org, +44*******123. */
	void (*mask)(void *ctx, const char *addr, char *out, size_t outlen);
};

/* One message for one attempt on one channel. All strings are UTF-8, owned
 * by the host and valid only during submit(): copy what you keep. */
struct herald_msg {
	uint32_t version; /* HERALD_MSG_VERSION */
	uint64_t msg_id;  /* host handle; echo it in the herald_result */
	const char *event_id;
	const char *transaction_id;
	const char *reference; /* short human transaction reference */
	const char *service;
	const char *citizen_id;
	const char *template_name;
	const char *locale; /* locale of the template actually rendered */
	/* Address from the citizen field named by herald_channel.address_field
	 * (email address, E.164 number, multi-line postal address), or NULL when
	 * the channel needs none. */
	const char *to;
	const char *subject; /* front matter "subject", or NULL */
	const char *body;    /* rendered text of the channel variant */
	const char *html;    /* rendered HTML variant (html_variant), or NULL */
	/* NULL-terminated list of key, value pairs: every front matter field
	 * ("fm.<key>"), the publishing service's sender identity from its
	 * services.d policy when it has one ("service.from" and
	 * "service.reply_to": email mailboxes, "service.sender": an SMS
	 * originator; a channel uses them instead of its configured ones)
	 * and citizen fields a channel may need ("citizen.name",
	 * "citizen.accessibility", "citizen.address", ...). */
	const char *const *meta;
	unsigned attempt; /* 1 for the first attempt on this channel */
	int urgent;	  /* priority urgent */
	/* ---- version >= 2 ---- */
	/* The reference to give the provider (SMS client reference, the local
	 * part of the email Message-ID, fax reference, CUPS job name, spool
	 * file name): "hr" and 24 hex digits, the same for every retry on
	 * this channel of this message, after a restart and on any instance,
	 * so that a provider that de-duplicates by it can. A plugin that
	 * reports this reference in herald_result.ref gets receipts matched
	 * even before its "sent" is recorded. */
	const char *provider_ref;
	/* 1: this attempt may have reached the provider already (heraldd
	 * stopped, or died, between handing it over and recording the
	 * answer). A plugin may tell the provider (e.g. a header); heraldd
	 * marks every record of the attempt. */
	int possible_duplicate;
};

enum herald_status {
	HERALD_SENT = 1,      /* handed to the provider; a receipt may follow */
	HERALD_DELIVERED = 2, /* the provider confirms delivery */
	HERALD_TEMPORARY = 3, /* try again later on the same channel */
	HERALD_PERMANENT = 4, /* this channel will not work for this message */
	/* Only after drain() (a version 2 host): not started, nothing was sent;
	 * the host leaves the message pending and resumes it after its
	 * restart as the same attempt with the same provider_ref. */
	HERALD_ABANDONED = 5,
};

/* herald_result.flags */
#define HERALD_RF_BAD_ADDRESS 0x1u /* the failure proves the address wrong */
#define HERALD_RF_FINAL 0x2u	   /* SENT that needs no receipt (counts as delivered) */
/* with FINAL: a bounce may still undo it (email with a VERP return path):
 * the host keeps what a hop needs for a while */
#define HERALD_RF_PROVISIONAL 0x4u

struct herald_result {
	uint32_t version; /* HERALD_RESULT_VERSION */
	uint64_t msg_id;  /* from herald_msg; 0 when the result comes from receipt() */
	enum herald_status status;
	unsigned flags;
	char ref[128];	  /* provider reference: SMTP queue id, gateway id, job id */
	char dsn[16];	  /* enhanced status code, e.g. "5.1.1", or "" */
	char reason[256]; /* human reason, e.g. "550 5.1.1 user unknown" */
};

/* An HTTP request to /receipts/<channel>[/rest] (or /inbound/...). A plugin reads the
 * members under "version >= 2" only when version says so (a version 1
 * host has none of them). */
#define HERALD_HTTP_REQ_VERSION 2
struct herald_http_req {
	uint32_t version;	  /* HERALD_HTTP_REQ_VERSION of the host */
	const char *method;	  /* "GET", "POST" */
	const char *path;	  /* the part after /receipts|inbound/<channel>, "" or "/x" */
	const char *content_type; /* may be NULL */
	const char *body;	  /* raw body (NUL-terminated), may be "" */
	size_t body_len;
	/* Query-string or urlencoded form argument, NULL if absent. */
	const char *(*arg)(const struct herald_http_req *req, const char *name);
	void *priv; /* host's */
	/* ---- version >= 2 ---- */
	/* A request header (name compared without case, e.g.
	 * "X-Twilio-Signature"), NULL if absent. Valid during receipt(). */
	const char *(*header)(const struct herald_http_req *req, const char *name);
};

/* What a citizen sent back through a channel (an SMS reply), as inbound()
 * parsed it from the gateway's request. Why an entry of its own rather
 * than a flagged receipt(): a receipt names one of our messages by its
 * reference and changes its status; an inbound message names only the
 * citizen's number (the host finds the message, herald:mo:, lib/schema.h)
 * and carries text no herald_result has room for. Kept apart, a version 1
 * to 3 plugin and every receipt() stay exactly as they were. */
#define HERALD_INBOUND_VERSION 1
#define HERALD_INBOUND_TEXT_MAX 1601 /* bytes with the NUL: 10 SMS parts of UCS-2 */
struct herald_inbound {
	uint32_t version; /* HERALD_INBOUND_VERSION */
	char from[40];	  /* the sender in E.164 ("+447700900123") */
	char to[40];	  /* the number or short code it was sent to, or "" */
	/* The gateway's id of the message (Kannel %I, Twilio MessageSid), or
	 * "": a gateway that sends the same message twice is heard once. */
	char id[100];
	char text[HERALD_INBOUND_TEXT_MAX]; /* UTF-8, cut at a character */
	int truncated;			    /* 1: the text was longer */
};

struct herald_channel {
	uint32_t abi;	  /* HERALD_CHANNEL_ABI */
	uint32_t version; /* of this struct: 4 (3 has no inbound, 2 no keys/check/preview,
			     1 no drain) */
	const char *name; /* "email"; must match [channel.<name>] and the file */
	/* Citizen record field holding this channel's address, or NULL if the
	 * channel needs no address (file). */
	const char *address_field;
	/* NULL-terminated template variants to render for the body, tried in
	 * order (e.g. {"fax", "print", NULL}); the first that exists wins. */
	const char *const *variants;
	/* Optional template variant rendered with HTML escaping into msg.html
	 * (e.g. "email-html"), or NULL. */
	const char *html_variant;

	/* MUST: read config through host->conf, start threads, return 0.
	 * On -1 the host logs the error and runs without this channel. */
	int (*open)(const struct herald_host *host, void **state);
	/* MUST: accept or refuse the message without blocking. Return 0 when
	 * accepted (a result will follow through poll), -1 when refused now
	 * (queue full); the host then tries again later. */
	int (*submit)(void *state, const struct herald_msg *msg);
	/* MUST: return up to max finished results without blocking. */
	int (*poll)(void *state, struct herald_result *out, int max);
	/* MAY (NULL): a file descriptor that becomes readable when poll has
	 * results. Without it the host polls on a short timer. */
	int (*fd)(void *state);
	/* MAY (NULL): parse a delivery receipt. Called on the HTTP thread.
	 * Return 1 and fill *out (status, ref, reason) to update a message, 0 to
	 * answer without an update, -1 when the request is malformed. Write the
	 * HTTP response body (text) to resp (may be left empty). */
	int (*receipt)(const struct herald_http_req *req, struct herald_result *out, char *resp,
		       size_t resp_len);
	/* MUST: stop threads, free everything. In-flight messages are lost to
	 * this process; the host re-queues anything without a result. */
	void (*close)(void *state);
	/* ---- version >= 2 ---- */
	/* MAY (NULL): the host is stopping (SIGTERM). Without blocking: start
	 * nothing more; answer every accepted message not yet started with
	 * HERALD_ABANDONED (through poll); messages already with the provider
	 * report as usual. The host waits up to [queue] drain_timeout for
	 * those, then calls close(). */
	void (*drain)(void *state);
	/* ---- version >= 3 (a version 1 or 2 plugin ends above; the host
	 * reads these only when version >= 3) ---- */
	/* MAY (NULL): NULL-terminated list of the keys this plugin reads from
	 * its [channel.<name>] section. With it the host refuses any other key
	 * there (besides its own: enabled, optional, retry_min, retry_max,
	 * max_attempts, max_age, quiet_hours) with a "did you mean" hint;
	 * without it (and for version 1 and 2 plugins) unknown keys are only
	 * warned. */
	const char *const *keys;
	/* MAY (NULL): read and validate the configuration exactly as open()
	 * would, without connecting, starting threads or creating files.
	 * Return 0, or -1 with a reason in err. `heraldd -t` calls it for every
	 * configured channel. */
	int (*check)(const struct herald_host *host, char *err, size_t errlen);
	/* MAY (NULL): render msg exactly as this channel would deliver it, and
	 * deliver nothing: the document (a PDF for print and fax) into *out,
	 * malloc'd (the caller free()s it), its size in *len. 0, or -1 with a
	 * reason in err. Called by `heraldctl render --pdf` without open(). */
	int (*preview)(const struct herald_host *host, const struct herald_msg *msg,
		       unsigned char **out, size_t *len, char *err, size_t errlen);
	/* ---- version >= 4 ---- */
	/* MAY (NULL): parse a message a citizen sent (an SMS reply) from a
	 * request to /inbound/<channel>[/rest], under [http] public_url's path
	 * like receipts, and authenticated by the same rules (a signature the
	 * provider adds is checked here, as receipt() checks its own). Called
	 * on the HTTP thread; same answers as receipt(): 1 and *out filled, 0
	 * to answer without one, -1 when the request is malformed or forged.
	 * The text is the citizen's: never log it. */
	int (*inbound)(const struct herald_http_req *req, struct herald_inbound *out, char *resp,
		       size_t resp_len);
};

/* Define the one exported descriptor: HERALD_CHANNEL_EXPORT = { ... }; */
#define HERALD_CHANNEL_EXPORT                                                                      \
	__attribute__((visibility("default"))) const struct herald_channel herald_channel

#ifdef __cplusplus
}
#endif
#endif
