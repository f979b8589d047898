/* smsreq.c - configuration, E.164, references, request building and
 * outcome mapping of the sms channel (no threads, no network: unit-tested
 * in tests/unit/test_sms_req.c). */
#include "smsreq.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "e164.h"
#include "fnv.h"
#include "num.h"

static int sms_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void sb_enc(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (sms_unreserved(*p)) {
			buf_add(b, (const char *)p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_add(b, e, 3);
		}
	}
}

/* "&name=value" (the first without '&'), value percent-encoded. */
static void sb_param(struct buf *b, int *first, const char *name, const char *value)
{
	if (!*first)
		buf_add(b, "&", 1);
	*first = 0;
	buf_str(b, name);
	buf_add(b, "=", 1);
	sb_enc(b, value);
}

/* A JSON string literal: quotes, backslash and control characters escaped,
 * UTF-8 passed through (the text was validated by gsm_analyse). */
static void sb_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[6];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		default:
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			buf_add(b, e, 6);
		}
	}
	buf_add(b, run, (size_t)(s - run));
	buf_add(b, "\"", 1);
}

/* ,"key":"value" (the first without the comma) */
static void sb_json_field(struct buf *b, int *first, const char *key, const char *value)
{
	buf_add(b, *first ? "{" : ",", 1);
	*first = 0;
	sb_json_str(b, key);
	buf_add(b, ":", 1);
	sb_json_str(b, value);
}

char *sms_url_encode(const char *s)
{
	struct buf b = BUF_INIT;

	sb_enc(&b, s);
	return buf_take(&b);
}

/* ---- configuration ------------------------------------------------------- */

const char *sms_profile_name(enum sms_profile p)
{
	switch (p) {
	case SMS_PROFILE_KANNEL: return "kannel";
	case SMS_PROFILE_TWILIO: return "twilio";
	case SMS_PROFILE_JSON: return "json";
	}
	return "?";
}

static int conf_copy(char *dst, size_t dstlen, const char *v, const char *key, char *err,
		     size_t errlen)
{
	if (!v)
		v = "";
	if (strlen(v) >= dstlen) {
		snprintf(err, errlen, "[channel.sms] %s is too long (max %zu bytes)", key,
			 dstlen - 1);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7F) {
			snprintf(err, errlen, "[channel.sms] %s contains a control character", key);
			return -1;
		}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int conf_uint(const char *v, unsigned def, unsigned lo, unsigned hi, const char *key,
		     unsigned *out, char *err, size_t errlen)
{
	char why[128];

	if (!v || !*v) {
		*out = def;
		return 0;
	}
	if (num_parse_uint(v, lo, hi, out, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "[channel.sms] %s = '%.40s': %s", key, v, why);
	return -1;
}

/* timeout: seconds, or 30s / 2m ...; *out_ms. */
static int conf_duration(const char *v, long def_s, long lo_s, long hi_s, const char *key,
			 long *out_ms, char *err, size_t errlen)
{
	char why[160];
	int64_t ms;

	if (!v || !*v) {
		*out_ms = def_s * 1000;
		return 0;
	}
	if (num_parse_duration(v, 1000, lo_s * 1000, hi_s * 1000, &ms, why, sizeof(why)) == 0) {
		*out_ms = (long)ms;
		return 0;
	}
	snprintf(err, errlen, "[channel.sms] %s = '%.40s': %s", key, v, why);
	return -1;
}

static int is_http_url(const char *u)
{
	return (!strncmp(u, "http://", 7) && u[7]) || (!strncmp(u, "https://", 8) && u[8]);
}

/* username/password, or account/token (the Twilio names; either pair is
 * accepted for any profile), or a Bearer token for json. */
static int conf_credentials(struct sms_conf *c, sms_conf_lookup get, void *ctx, char *err,
			    size_t errlen)
{
	const char *user_key = "username", *pass_key = "password";

	if (get(ctx, NULL, "account") ||
	    (c->profile == SMS_PROFILE_TWILIO && !get(ctx, NULL, "username"))) {
		user_key = "account";
		pass_key = "token";
	}
	if (conf_copy(c->user, sizeof(c->user), get(ctx, NULL, user_key), user_key, err, errlen) !=
		0 ||
	    conf_copy(c->pass, sizeof(c->pass), get(ctx, NULL, pass_key), pass_key, err, errlen) !=
		0)
		return -1;
	if (c->profile == SMS_PROFILE_JSON && !c->user[0] && get(ctx, NULL, "token")) {
		/* A token without an account is a Bearer token. */
		if (conf_copy(c->bearer, sizeof(c->bearer), get(ctx, NULL, "token"), "token", err,
			      errlen) != 0)
			return -1;
		c->pass[0] = '\0';
	}
	if (c->profile != SMS_PROFILE_JSON && (!c->user[0] || !c->pass[0])) {
		snprintf(err, errlen, "[channel.sms] profile %s needs %s and %s",
			 sms_profile_name(c->profile), user_key, pass_key);
		return -1;
	}
	if (c->profile == SMS_PROFILE_JSON && !c->bearer[0] && (!c->user[0] != !c->pass[0])) {
		snprintf(err, errlen, "[channel.sms] %s and %s go together", user_key, pass_key);
		return -1;
	}
	if (strchr(c->user, ':')) {
		snprintf(err, errlen, "[channel.sms] %s must not contain ':'", user_key);
		return -1;
	}
	return 0;
}

/* [http] public_url: where gateways send receipts ("" without it). */
static int conf_public_url(struct sms_conf *c, const char *v, char *err, size_t errlen)
{
	size_t n;

	if (v && *v) {
		if (!is_http_url(v) || strchr(v, '?') || strchr(v, ' ')) {
			snprintf(err, errlen,
				 "[http] public_url must be an http:// or https:// base URL "
				 "without query (got '%.80s')",
				 v);
			return -1;
		}
		if (conf_copy(c->public_url, sizeof(c->public_url), v, "public_url", err, errlen))
			return -1;
		n = strlen(c->public_url);
		while (n > 0 && c->public_url[n - 1] == '/')
			c->public_url[--n] = '\0';
	}
	return 0;
}

int sms_conf_load(struct sms_conf *c, sms_conf_lookup get, void *ctx, char *err, size_t errlen)
{
	const char *v;

	memset(c, 0, sizeof(*c));
	v = get(ctx, NULL, "profile");
	if (!v || !*v) {
		snprintf(err, errlen, "[channel.sms] profile is required: kannel, twilio or json");
		return -1;
	}
	if (!strcmp(v, "kannel")) {
		c->profile = SMS_PROFILE_KANNEL;
	} else if (!strcmp(v, "twilio")) {
		c->profile = SMS_PROFILE_TWILIO;
	} else if (!strcmp(v, "json")) {
		c->profile = SMS_PROFILE_JSON;
	} else {
		snprintf(err, errlen,
			 "[channel.sms] profile must be kannel, twilio or json (got '%.40s')", v);
		return -1;
	}
	v = get(ctx, NULL, "url");
	if (!v || !is_http_url(v)) {
		snprintf(err, errlen, "[channel.sms] url must be an http:// or https:// URL%s",
			 v ? "" : " (missing)");
		return -1;
	}
	if (strchr(v, ' ') || conf_copy(c->url, sizeof(c->url), v, "url", err, errlen) != 0) {
		if (strchr(v, ' '))
			snprintf(err, errlen, "[channel.sms] url must not contain spaces");
		return -1;
	}
	if (conf_credentials(c, get, ctx, err, errlen) != 0)
		return -1;
	if (conf_copy(c->from, sizeof(c->from), get(ctx, NULL, "from"), "from", err, errlen) != 0)
		return -1;
	if (c->profile == SMS_PROFILE_TWILIO && !c->from[0]) {
		snprintf(err, errlen,
			 "[channel.sms] profile twilio needs from (a number or sender id)");
		return -1;
	}
	if (conf_uint(get(ctx, NULL, "max_segments"), 6, 1, 255, "max_segments", &c->max_segments,
		      err, errlen) != 0 ||
	    conf_uint(get(ctx, NULL, "max_in_flight"), 32, 1, 1024, "max_in_flight",
		      &c->max_in_flight, err, errlen) != 0 ||
	    conf_duration(get(ctx, NULL, "timeout"), 10, 1, 600, "timeout", &c->timeout_ms, err,
			  errlen) != 0)
		return -1;
	return conf_public_url(c, get(ctx, "http", "public_url"), err, errlen);
}

/* ---- numbers and references ------------------------------------------------ */

static int ref_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_';
}

void sms_make_ref(const char *event_id, unsigned attempt, char *out, size_t outlen)
{
	char base[96];
	size_t n = 0;
	int changed = 0;
	uint32_t h; /* FNV-1a of the original id */

	if (!event_id)
		event_id = "";
	h = fnv1a32(event_id, strlen(event_id));
	for (const unsigned char *p = (const unsigned char *)event_id; *p; p++) {
		if (n < 80) {
			base[n++] = ref_char(*p) ? (char)*p : '_';
			changed |= !ref_char(*p);
		} else {
			changed = 1;
		}
	}
	base[n] = '\0';
	if (changed || n == 0)
		snprintf(out, outlen, "%s-%08x.%u", base, h, attempt);
	else
		snprintf(out, outlen, "%s.%u", base, attempt);
}

int sms_ref_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n]; n++)
		if (!ref_char((unsigned char)s[n]) && s[n] != '.')
			return 0;
	return n > 0 && n < SMS_REF_MAX;
}

/* ---- requests ------------------------------------------------------------- */

void sms_request_free(struct sms_request *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

/* The receipt URL for REF into out ("" when receipts are off). */
static void sms_callback(const struct sms_conf *c, const char *ref, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!c->public_url[0])
		return;
	switch (c->profile) {
	case SMS_PROFILE_KANNEL:
		/* Kannel replaces %d with the DLR type (1, 2, 4, 8, 16). */
		snprintf(out, outlen, "%s/receipts/sms?ref=%s&status=%%d", c->public_url, ref);
		break;
	case SMS_PROFILE_TWILIO:
		snprintf(out, outlen, "%s/receipts/sms/twilio?ref=%s", c->public_url, ref);
		break;
	case SMS_PROFILE_JSON: snprintf(out, outlen, "%s/receipts/sms/json", c->public_url); break;
	}
}

int sms_request_build(const struct sms_conf *c, const char *to, const char *text,
		      enum gsm_encoding enc, const char *ref, struct sms_request *out)
{
	return sms_request_build_from(c, NULL, to, text, enc, ref, out);
}

int sms_request_build_from(const struct sms_conf *c, const char *from, const char *to,
			   const char *text, enum gsm_encoding enc, const char *ref,
			   struct sms_request *out)
{
	if (!from || !*from)
		from = c->from;
	/* Build into the request's own buffer, kept from the last build. */
	struct buf b = {out->buf, 0, out->cap, 0};
	char cb[sizeof(c->public_url) + SMS_REF_MAX + 48];
	int first = 1;

	sms_callback(c, ref, cb, sizeof(cb));
	out->url = c->url;
	out->body = NULL;
	out->body_len = 0;
	out->content_type = NULL;
	out->user = c->user[0] ? c->user : NULL;
	out->pass = c->user[0] ? c->pass : NULL;
	out->bearer = c->bearer[0] ? c->bearer : NULL;
	switch (c->profile) {
	case SMS_PROFILE_KANNEL:
		buf_str(&b, c->url);
		buf_str(&b, strchr(c->url, '?') ? "&" : "?");
		sb_param(&b, &first, "username", c->user);
		sb_param(&b, &first, "password", c->pass);
		if (from[0])
			sb_param(&b, &first, "from", from);
		sb_param(&b, &first, "to", to);
		sb_param(&b, &first, "text", text);
		sb_param(&b, &first, "charset", "UTF-8");
		sb_param(&b, &first, "coding", enc == GSM_ENC_UCS2 ? "2" : "0");
		if (cb[0]) {
			sb_param(&b, &first, "dlr-mask", "31");
			sb_param(&b, &first, "dlr-url", cb);
		}
		out->user = out->pass = NULL; /* Kannel takes them as parameters */
		break;
	case SMS_PROFILE_TWILIO:
		sb_param(&b, &first, "To", to);
		sb_param(&b, &first, "From", from);
		sb_param(&b, &first, "Body", text);
		if (cb[0])
			sb_param(&b, &first, "StatusCallback", cb);
		out->content_type = "application/x-www-form-urlencoded";
		break;
	case SMS_PROFILE_JSON:
		sb_json_field(&b, &first, "to", to);
		if (from[0])
			sb_json_field(&b, &first, "from", from);
		sb_json_field(&b, &first, "text", text);
		sb_json_field(&b, &first, "reference", ref);
		if (cb[0])
			sb_json_field(&b, &first, "callback_url", cb);
		buf_add(&b, "}", 1);
		out->content_type = "application/json";
		break;
	}
	/* On failure buf_add kept the old storage in b.data: still ours. */
	out->buf = b.data;
	out->cap = b.cap;
	if (b.oom || !b.data)
		return -1;
	if (c->profile == SMS_PROFILE_KANNEL) {
		out->url = b.data;
	} else {
		out->body = b.data;
		out->body_len = b.len;
	}
	return 0;
}

/* ---- outcomes ------------------------------------------------------------- */

/* Replace every occurrence of secret (when long enough to matter) by ***. */
static void scrub(char *s, const char *secret)
{
	size_t sl = strlen(secret);
	char *p;

	if (sl < 3)
		return;
	while ((p = strstr(s, secret)) != NULL) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + sl, strlen(p + sl) + 1);
	}
}

void sms_excerpt(const struct sms_conf *c, const char *body, size_t len, char *out, size_t outlen)
{
	char tmp[512];
	size_t n = 0, o = 0, i = 0;
	const size_t keep = 100;

	if (outlen == 0)
		return;
	/* Printable ASCII, whitespace runs collapsed. */
	for (size_t k = 0; k < len && n < sizeof(tmp) - 1; k++) {
		unsigned char ch = (unsigned char)body[k];
		if (ch < 0x20 || ch >= 0x7F)
			ch = ' ';
		if (ch == ' ' && (n == 0 || tmp[n - 1] == ' '))
			continue;
		tmp[n++] = (char)ch;
	}
	while (n > 0 && tmp[n - 1] == ' ')
		n--;
	tmp[n] = '\0';
	if (c) {
		scrub(tmp, c->pass);
		scrub(tmp, c->bearer);
	}
	n = strlen(tmp);
	/* Digit runs of 7 or more (phone numbers) keep their first 2 and last
	 * 3 digits. */
	while (i < n && o + 1 < outlen && o < keep) {
		size_t j = i;
		while (j < n && isdigit((unsigned char)tmp[j]))
			j++;
		if (j - i >= 7) {
			for (size_t k = i; k < j && o + 1 < outlen && o < keep; k++)
				out[o++] = (k < i + 2 || k >= j - 3) ? tmp[k] : '*';
			i = j;
		} else if (j > i) {
			for (size_t k = i; k < j && o + 1 < outlen && o < keep; k++)
				out[o++] = tmp[k];
			i = j;
		} else {
			out[o++] = tmp[i++];
		}
	}
	if (i < n && o + 3 < outlen) {
		memcpy(out + o, "...", 3); /* cut short */
		o += 3;
	}
	out[o] = '\0';
}

/* The provider's id in a JSON answer: the string value of the first of
 * "sid", "id", "message_id", "messageId" found. A bounded scan rather than
 * a parse (this runs for every message and only feeds the human reason);
 * anything unexpected yields no id. */
static void provider_id(const char *body, size_t len, char *out, size_t outlen)
{
	static const char *const keys[] = {"\"sid\"", "\"id\"", "\"message_id\"", "\"messageId\"",
					   NULL};
	const char *end = body + len;

	out[0] = '\0';
	for (int k = 0; keys[k]; k++) {
		size_t kl = strlen(keys[k]), o = 0;
		const char *p = memmem(body, len, keys[k], kl);

		if (!p)
			continue;
		for (p += kl; p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'); p++)
			;
		if (p >= end || *p++ != ':')
			continue;
		for (; p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'); p++)
			;
		if (p >= end || *p++ != '"')
			continue;
		for (; p < end && *p != '"' && o + 1 < outlen && o < 64; p++) {
			unsigned char ch = (unsigned char)*p;
			if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
				break;
			out[o++] = (char)ch;
		}
		if (p < end && *p == '"' && o > 0) {
			out[o] = '\0';
			return;
		}
		out[0] = '\0';
	}
}

void sms_outcome(const struct sms_conf *c, long http_code, const char *curl_err, const char *body,
		 size_t body_len, const char *ref, struct herald_result *out)
{
	char ex[128], id[72];

	memset(out, 0, sizeof(*out));
	out->version = HERALD_RESULT_VERSION;
	snprintf(out->ref, sizeof(out->ref), "%s", ref ? ref : "");
	if (http_code <= 0) {
		out->status = HERALD_TEMPORARY;
		snprintf(out->reason, sizeof(out->reason), "no answer from gateway: %s",
			 curl_err && *curl_err ? curl_err : "transfer failed");
		return;
	}
	sms_excerpt(c, body ? body : "", body ? body_len : 0, ex, sizeof(ex));
	if (http_code >= 200 && http_code < 300) {
		out->status = HERALD_SENT;
		if (!c->public_url[0])
			out->flags |= HERALD_RF_FINAL; /* no receipt was asked for */
		id[0] = '\0';
		if (c->profile != SMS_PROFILE_KANNEL && body)
			provider_id(body, body_len, id, sizeof(id));
		if (id[0])
			snprintf(out->reason, sizeof(out->reason), "%ld accepted, id=%s", http_code,
				 id);
		else
			snprintf(out->reason, sizeof(out->reason), "%ld %s", http_code,
				 ex[0] ? ex : "accepted");
		return;
	}
	if (http_code >= 500 || http_code == 408 || http_code == 429)
		out->status = HERALD_TEMPORARY;
	else
		out->status = HERALD_PERMANENT; /* 4xx, and 1xx/3xx we do not follow */
	snprintf(out->reason, sizeof(out->reason), "HTTP %ld%s%s", http_code, ex[0] ? ": " : "",
		 ex);
}

int sms_path_profile(const char *path)
{
	if (!path || !*path || !strcmp(path, "/") || !strcmp(path, "/kannel"))
		return SMS_PROFILE_KANNEL;
	if (!strcmp(path, "/twilio"))
		return SMS_PROFILE_TWILIO;
	if (!strcmp(path, "/json"))
		return SMS_PROFILE_JSON;
	return -1;
}
