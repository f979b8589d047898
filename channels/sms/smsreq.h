/* smsreq.h - the pure parts of the sms channel, kept apart from threads and
 * libcurl so unit tests can reach them: configuration, E.164 check,
 * reference, the HTTP request each gateway profile expects, the mapping of
 * a gateway's answer to a herald_result, and delivery receipt parsing. */
#ifndef HERALD_SMSREQ_H
#define HERALD_SMSREQ_H

#include <herald/channel.h>
#include <stddef.h>

#include "gsm7.h"

enum sms_profile {
	SMS_PROFILE_KANNEL, /* Kannel smsbox /cgi-bin/sendsms, GET */
	SMS_PROFILE_TWILIO, /* Twilio-style form POST with basic auth */
	SMS_PROFILE_JSON,   /* generic JSON POST */
};

#define SMS_REF_MAX 112 /* fits herald_result.ref with room to spare */

struct sms_conf {
	enum sms_profile profile;
	char url[1024];
	char user[256];	  /* username, or account (twilio) */
	char pass[256];	  /* password, or token (twilio); never logged */
	char bearer[256]; /* json profile: token without account = Bearer auth */
	char from[64];
	/* [http] public_url without trailing '/', "" when receipts are off. */
	char public_url[1024];
	unsigned max_segments;	/* default 6 */
	unsigned max_in_flight; /* default 32 */
	long timeout_ms;	/* default 10 s */
};

/* Read and validate [channel.sms] (and [http] public_url) through the
 * lookup function. Returns 0, or -1 with a clear message in err. */
typedef const char *(*sms_conf_lookup)(void *ctx, const char *section, const char *key);
int sms_conf_load(struct sms_conf *c, sms_conf_lookup get, void *ctx, char *err, size_t errlen);
const char *sms_profile_name(enum sms_profile p);

/* A URL-safe reference for one attempt: the event id with anything outside
 * [A-Za-z0-9_-] made '_' (plus a hash of the original when that changed it
 * or it was long, so two event ids never share a reference), then
 * ".<attempt>". Always NUL-terminated, at most SMS_REF_MAX-1 bytes. */
void sms_make_ref(const char *event_id, unsigned attempt, char *out, size_t outlen);
/* 1 when s looks like a reference we made (the receipt side checks). */
int sms_ref_valid(const char *s);

/* One HTTP request to the gateway. Zero it before the first build; a
 * later build reuses its buffer (the worker keeps one per transfer slot). */
struct sms_request {
	const char *url;  /* full URL (Kannel: with the query string) */
	const char *body; /* POST body, NULL for GET */
	size_t body_len;
	const char *content_type; /* of body, NULL for GET */
	const char *user, *pass;  /* basic auth, NULL for none */
	const char *bearer;	  /* Bearer token, NULL for none */
	char *buf;		  /* owned: the Kannel URL or the body */
	size_t cap;
};

/* Build the request for sending TEXT (already analysed as ENC) to TO with
 * reference REF. Pointers into the configuration stay valid as long as it
 * does. Returns 0, or -1 on allocation failure. */
int sms_request_build(const struct sms_conf *c, const char *to, const char *text,
		      enum gsm_encoding enc, const char *ref, struct sms_request *out);
/* The same with another originator: from (NULL or "": the configured
 * one), e.g. the service's (meta service.sender). */
int sms_request_build_from(const struct sms_conf *c, const char *from, const char *to,
			   const char *text, enum gsm_encoding enc, const char *ref,
			   struct sms_request *out);
void sms_request_free(struct sms_request *r);

/* Percent-encode (RFC 3986 unreserved kept, everything else %XX). Returns a
 * malloc'd string or NULL. */
char *sms_url_encode(const char *s);

/*
 * Map a finished HTTP exchange to a result: http_code 0 means no answer
 * (curl_err explains: refused, timeout...). 2xx -> SENT with ref, 4xx ->
 * PERMANENT (408 and 429 -> TEMPORARY: they ask to come back later), 5xx
 * and no answer -> TEMPORARY, anything else PERMANENT. The reason is the
 * status plus a short sanitised excerpt of the body: printable ASCII only,
 * long digit runs masked, configured secrets removed.
 */
void sms_outcome(const struct sms_conf *c, long http_code, const char *curl_err, const char *body,
		 size_t body_len, const char *ref, struct herald_result *out);
/* The sanitised excerpt used in reasons (exposed for tests). */
void sms_excerpt(const struct sms_conf *c, const char *body, size_t len, char *out, size_t outlen);

/* Which profile's form a receipt or inbound request is in, by the path
 * below /receipts/sms or /inbound/sms: "", "/" or "/kannel" kannel,
 * "/twilio", "/json"; -1 for any other (NULL is ""). */
int sms_path_profile(const char *path);
/* herald_channel.receipt for /receipts/sms[/twilio|/json]. */
int sms_receipt(const struct herald_http_req *req, struct herald_result *out, char *resp,
		size_t resp_len);
/* What receipts are checked against, from the channel's config (called by
 * open, before any receipt): with profile twilio, an auth token and
 * public_url, every /twilio receipt must carry a valid X-Twilio-Signature
 * (needs a version >= 2 herald_http_req); otherwise none is checked. */
void sms_receipt_auth(const struct sms_conf *c);

/* 1 when a Twilio request carries a valid X-Twilio-Signature for
 * public_url + suffix (or sms_receipt_auth checks none), else 0. */
int sms_twilio_signed(const struct herald_http_req *req, const char *suffix);
/* herald_channel.inbound for /inbound/sms[/kannel|/twilio|/json]
 * (inbound.c). */
int sms_inbound(const struct herald_http_req *req, struct herald_inbound *out, char *resp,
		size_t resp_len);
/* The sender as E.164: "+447700900123", "447700900123" and
 * "00447700900123" all give "+447700900123". 0, or -1 when it is none. */
int sms_inbound_number(const char *in, char *out, size_t outlen);
/* Twilio's request signature (twsig.c): base64 HMAC-SHA1 with token over
 * url and the urlencoded form_body's parameters sorted by name. out needs
 * 29 bytes; 0, or -1. sms_twilio_verify: 1 when signature is that value
 * (compared in constant time), else 0. */
int sms_twilio_sign(const char *token, const char *url, const char *form_body, char *out,
		    size_t outlen);
int sms_twilio_verify(const char *token, const char *url, const char *form_body,
		      const char *signature);

#endif
