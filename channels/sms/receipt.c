/*
 * receipt.c - delivery receipts of the sms channel, parsed on heraldd's HTTP
 * thread (no plugin state). req->path is what follows /receipts/sms:
 *
 *   ""|"/kannel"  Kannel dlr-url:  ?ref=REF&status=N   (N = DLR type)
 *                 1 delivered -> DELIVERED, 2 not delivered -> PERMANENT,
 *                 16 rejected by SMSC -> PERMANENT, 4 buffered / 8 accepted
 *                 by SMSC -> intermediate (0)
 *   "/twilio"     StatusCallback POST form MessageStatus=..., ref in the query,
 *                 signed (X-Twilio-Signature) when sms_receipt_auth says so:
 *                 delivered|read -> DELIVERED, undelivered|failed|canceled ->
 *                 PERMANENT (ErrorCode in the reason), queued|accepted|
 *                 scheduled|sending|sent -> 0
 *   "/json"       POST {"reference":REF,"status":"delivered"|"failed",
 *                 "reason":"..."}; "sent"|"queued"|"accepted"|"buffered" -> 0
 *
 * Returns 1 with out->ref and status, 0 for intermediate states, -1 for
 * anything malformed. resp gets a one-line answer for the gateway.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsreq.h"

/* Write "msg" or "msg: detail" to resp and return rc. */
static int rcpt_answer(char *resp, size_t resp_len, int rc, const char *msg, const char *detail)
{
	if (resp && resp_len)
		snprintf(resp, resp_len, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
	return rc;
}

static const char *rcpt_arg(const struct herald_http_req *req, const char *name)
{
	return req->arg ? req->arg(req, name) : NULL;
}

/* Whole decimal number 0..65535, or -1. */
static int rcpt_num(const char *s)
{
	int n = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > 6553)
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n <= 65535 ? n : -1;
}

/* Printable ASCII copy of a provider's text for the reason. */
static void rcpt_clean(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 1 < outlen && o < 120; s++)
		out[o++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7F ? *s : ' ';
	out[o] = '\0';
}

static void rcpt_fill(struct herald_result *out, const char *ref, enum herald_status st)
{
	memset(out, 0, sizeof(*out));
	out->version = HERALD_RESULT_VERSION;
	out->status = st;
	snprintf(out->ref, sizeof(out->ref), "%s", ref);
}

static int rcpt_kannel(const struct herald_http_req *req, struct herald_result *out, char *resp,
		       size_t resp_len)
{
	const char *ref = rcpt_arg(req, "ref");
	int type = rcpt_num(rcpt_arg(req, "status"));

	if (!sms_ref_valid(ref))
		return rcpt_answer(resp, resp_len, -1, "missing or bad ref", NULL);
	switch (type) {
	case 1:
		rcpt_fill(out, ref, HERALD_DELIVERED);
		snprintf(out->reason, sizeof(out->reason), "dlr 1: delivered to phone");
		break;
	case 2:
		rcpt_fill(out, ref, HERALD_PERMANENT);
		snprintf(out->reason, sizeof(out->reason), "dlr 2: not delivered to phone");
		break;
	case 16:
		rcpt_fill(out, ref, HERALD_PERMANENT);
		snprintf(out->reason, sizeof(out->reason), "dlr 16: rejected by SMSC");
		break;
	case 4: return rcpt_answer(resp, resp_len, 0, "ok: buffered", NULL);
	case 8: return rcpt_answer(resp, resp_len, 0, "ok: accepted by SMSC", NULL);
	default: return rcpt_answer(resp, resp_len, -1, "unknown dlr status", NULL);
	}
	return rcpt_answer(resp, resp_len, 1, "ok", NULL);
}

static int rcpt_in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

/* The Twilio check (sms_receipt_auth): the base URL and the auth token,
 * written by open before the HTTP thread reads them. */
static char tw_base[sizeof(((struct sms_conf *)0)->public_url)],
    tw_token[sizeof(((struct sms_conf *)0)->pass)];
static atomic_int tw_on;

void sms_receipt_auth(const struct sms_conf *c)
{
	atomic_store(&tw_on, 0);
	if (c->profile != SMS_PROFILE_TWILIO || !c->pass[0] || !c->public_url[0])
		return;
	snprintf(tw_base, sizeof(tw_base), "%s", c->public_url);
	snprintf(tw_token, sizeof(tw_token), "%s", c->pass);
	atomic_store(&tw_on, 1);
}

/* A Twilio request is signed with the account's token over the URL heraldd
 * gave Twilio (public_url + suffix: sms_callback's for a receipt, the
 * number's messaging webhook for an inbound message) and the POST
 * parameters. 1 when it is (or nothing is checked), else 0. */
int sms_twilio_signed(const struct herald_http_req *req, const char *suffix)
{
	char url[sizeof(tw_base) + 256];

	if (!atomic_load(&tw_on))
		return 1;
	if (req->version < 2 || !req->header) /* a host that cannot show headers */
		return 0;
	snprintf(url, sizeof(url), "%s%s", tw_base, suffix);
	return sms_twilio_verify(tw_token, url, req->body, req->header(req, "X-Twilio-Signature"));
}

static int rcpt_twilio_signed(const struct herald_http_req *req, const char *ref)
{
	char suffix[160];

	snprintf(suffix, sizeof(suffix), "/receipts/sms/twilio?ref=%s", ref);
	return sms_twilio_signed(req, suffix);
}

static int rcpt_twilio(const struct herald_http_req *req, struct herald_result *out, char *resp,
		       size_t resp_len)
{
	static const char *const done[] = {"delivered", "read", NULL};
	static const char *const failed[] = {"undelivered", "failed", "canceled", NULL};
	static const char *const interim[] = {"queued",	 "accepted", "scheduled",
					      "sending", "sent",     NULL};
	const char *ref = rcpt_arg(req, "ref"), *st = rcpt_arg(req, "MessageStatus");
	const char *code = rcpt_arg(req, "ErrorCode");
	char c[16];

	if (!sms_ref_valid(ref))
		return rcpt_answer(resp, resp_len, -1, "missing or bad ref", NULL);
	if (!rcpt_twilio_signed(req, ref))
		return rcpt_answer(resp, resp_len, -1, "bad or missing X-Twilio-Signature", NULL);
	if (!st)
		return rcpt_answer(resp, resp_len, -1, "missing MessageStatus", NULL);
	if (rcpt_in(st, interim))
		return rcpt_answer(resp, resp_len, 0, "ok", st);
	if (rcpt_in(st, done)) {
		rcpt_fill(out, ref, HERALD_DELIVERED);
		snprintf(out->reason, sizeof(out->reason), "twilio %s", st);
	} else if (rcpt_in(st, failed)) {
		rcpt_fill(out, ref, HERALD_PERMANENT);
		rcpt_clean(c, sizeof(c), code);
		snprintf(out->reason, sizeof(out->reason), "twilio %s%s%s%s", st,
			 c[0] ? " (error " : "", c, c[0] ? ")" : "");
	} else {
		return rcpt_answer(resp, resp_len, -1, "unknown MessageStatus", NULL);
	}
	return rcpt_answer(resp, resp_len, 1, "ok", NULL);
}

static int rcpt_json(const struct herald_http_req *req, struct herald_result *out, char *resp,
		     size_t resp_len)
{
	static const char *const interim[] = {"sent", "queued", "accepted", "buffered", NULL};
	json_t *o = NULL;
	const char *ref, *st, *why;
	char clean[128];
	int rc;

	if (req->body && req->body_len)
		o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
	ref = json_string_value(json_object_get(o, "reference"));
	st = json_string_value(json_object_get(o, "status"));
	why = json_string_value(json_object_get(o, "reason"));
	if (!json_is_object(o)) {
		rc = rcpt_answer(resp, resp_len, -1, "body is not a JSON object", NULL);
	} else if (!sms_ref_valid(ref)) {
		rc = rcpt_answer(resp, resp_len, -1, "missing or bad reference", NULL);
	} else if (!st) {
		rc = rcpt_answer(resp, resp_len, -1, "missing status", NULL);
	} else if (rcpt_in(st, interim)) {
		rc = rcpt_answer(resp, resp_len, 0, "ok", st);
	} else if (!strcmp(st, "delivered") || !strcmp(st, "failed")) {
		rcpt_fill(out, ref, !strcmp(st, "delivered") ? HERALD_DELIVERED : HERALD_PERMANENT);
		rcpt_clean(clean, sizeof(clean), why);
		snprintf(out->reason, sizeof(out->reason), "%s%s%s", st, clean[0] ? ": " : "",
			 clean);
		rc = rcpt_answer(resp, resp_len, 1, "ok", NULL);
	} else {
		rc = rcpt_answer(resp, resp_len, -1, "unknown status", NULL);
	}
	json_decref(o);
	return rc;
}

int sms_receipt(const struct herald_http_req *req, struct herald_result *out, char *resp,
		size_t resp_len)
{
	if (resp && resp_len)
		resp[0] = '\0';
	if (!req || !out)
		return -1;
	switch (sms_path_profile(req->path)) {
	case SMS_PROFILE_KANNEL: return rcpt_kannel(req, out, resp, resp_len);
	case SMS_PROFILE_TWILIO: return rcpt_twilio(req, out, resp, resp_len);
	case SMS_PROFILE_JSON: return rcpt_json(req, out, resp, resp_len);
	default: return rcpt_answer(resp, resp_len, -1, "unknown receipt path", NULL);
	}
}
