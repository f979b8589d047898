/*
 * inbound.c - messages citizens send back (mobile originated), parsed on
 * heraldd's HTTP thread (no plugin state) from a request to
 * <public_url path>/inbound/sms. req->path is what follows /inbound/sms:
 *
 *   ""|"/kannel"  Kannel sms-service get-url, e.g.
 *                 get-url = "http://HOST/PATH/inbound/sms?from=%p&to=%P&text=%a&id=%I"
 *                 from (required), to, text, id (the message's UUID)
 *   "/twilio"     Twilio's incoming message webhook: POST form From, To,
 *                 Body, MessageSid; signed (X-Twilio-Signature over
 *                 public_url + "/inbound/sms/twilio") when sms_receipt_auth
 *                 says so, like receipts
 *   "/json"       POST {"from":"+44...","to":"...","text":"...","id":"..."}
 *
 * Returns 1 with *out, -1 for anything malformed or forged. The text is
 * the citizen's: it is copied (valid UTF-8, control characters but
 * newline and tab made spaces, cut at a character) and never logged.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "e164.h"
#include "smsreq.h"

static int inb_answer(char *resp, size_t resp_len, int rc, const char *msg)
{
	if (resp && resp_len)
		snprintf(resp, resp_len, "%s", msg);
	return rc;
}

static const char *inb_arg(const struct herald_http_req *req, const char *name)
{
	return req->arg ? req->arg(req, name) : NULL;
}

int sms_inbound_number(const char *in, char *out, size_t outlen)
{
	const char *d = in;

	if (!in || outlen < 2)
		return -1;
	while (*d == ' ')
		d++;
	if (*d == '+')
		d++;
	else if (d[0] == '0' && d[1] == '0')
		d += 2;
	if ((size_t)snprintf(out, outlen, "+%s", d) >= outlen || !e164_valid(out)) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2, cp = s[0] & 0x1Fu;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3, cp = s[0] & 0x0Fu;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3Fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

/* The citizen's text into out->text: valid UTF-8 (an invalid byte becomes
 * '?'), controls but \n and \t become spaces, cut at a character. */
static void inb_text(struct herald_inbound *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t o = 0, n;

	while (*s) {
		n = utf8_len(s);
		if (o + (n ? n : 1) >= sizeof(out->text)) {
			out->truncated = 1;
			break;
		}
		if (!n) {
			out->text[o++] = '?';
			s++;
		} else if (n == 1) {
			out->text[o++] = (char)(*s < 0x20 && *s != '\n' && *s != '\t' ? ' ' : *s);
			if (*s == 0x7F)
				out->text[o - 1] = ' ';
			s++;
		} else {
			memcpy(out->text + o, s, n);
			o += n;
			s += n;
		}
	}
	out->text[o] = '\0';
}

/* The gateway's id when it is one word of [A-Za-z0-9._-] (a UUID, a
 * Twilio SID) that fits; otherwise none. */
static void inb_id(struct herald_inbound *out, const char *id)
{
	size_t n = id ? strlen(id) : 0;

	out->id[0] = '\0';
	if (n == 0 || n >= 64)
		return;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && !strchr("._-", id[i]))
			return;
	memcpy(out->id, id, n + 1);
}

/* Fill *out; -1 when from is no number. */
static int inb_fill(struct herald_inbound *out, const char *from, const char *to, const char *text,
		    const char *id)
{
	memset(out, 0, sizeof(*out));
	out->version = HERALD_INBOUND_VERSION;
	if (sms_inbound_number(from, out->from, sizeof(out->from)) != 0)
		return -1;
	if (to && strlen(to) < sizeof(out->to)) {
		for (size_t i = 0; to[i]; i++)
			out->to[i] = isprint((unsigned char)to[i]) ? to[i] : '?';
	}
	inb_id(out, id);
	inb_text(out, text);
	return 0;
}

static int inb_kannel(const struct herald_http_req *req, struct herald_inbound *out, char *resp,
		      size_t resp_len)
{
	if (inb_fill(out, inb_arg(req, "from"), inb_arg(req, "to"), inb_arg(req, "text"),
		     inb_arg(req, "id")) != 0)
		return inb_answer(resp, resp_len, -1, "missing or bad from");
	return inb_answer(resp, resp_len, 1, "");
}

static int inb_twilio(const struct herald_http_req *req, struct herald_inbound *out, char *resp,
		      size_t resp_len)
{
	/* an empty TwiML answer: Twilio sends no reply text */
	static const char twiml[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

	if (!sms_twilio_signed(req, "/inbound/sms/twilio"))
		return inb_answer(resp, resp_len, -1, "bad or missing X-Twilio-Signature");
	if (inb_fill(out, inb_arg(req, "From"), inb_arg(req, "To"), inb_arg(req, "Body"),
		     inb_arg(req, "MessageSid")) != 0)
		return inb_answer(resp, resp_len, -1, "missing or bad From");
	return inb_answer(resp, resp_len, 1, twiml);
}

static int inb_json(const struct herald_http_req *req, struct herald_inbound *out, char *resp,
		    size_t resp_len)
{
	json_t *o = NULL;
	int rc;

	if (req->body && req->body_len)
		o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o))
		rc = inb_answer(resp, resp_len, -1, "body is not a JSON object");
	else if (inb_fill(out, json_string_value(json_object_get(o, "from")),
			  json_string_value(json_object_get(o, "to")),
			  json_string_value(json_object_get(o, "text")),
			  json_string_value(json_object_get(o, "id"))) != 0)
		rc = inb_answer(resp, resp_len, -1, "missing or bad from");
	else
		rc = inb_answer(resp, resp_len, 1, "ok");
	json_decref(o);
	return rc;
}

int sms_inbound(const struct herald_http_req *req, struct herald_inbound *out, char *resp,
		size_t resp_len)
{
	if (resp && resp_len)
		resp[0] = '\0';
	if (!req || !out)
		return -1;
	switch (sms_path_profile(req->path)) {
	case SMS_PROFILE_KANNEL: return inb_kannel(req, out, resp, resp_len);
	case SMS_PROFILE_TWILIO: return inb_twilio(req, out, resp, resp_len);
	case SMS_PROFILE_JSON: return inb_json(req, out, resp, resp_len);
	default: return inb_answer(resp, resp_len, -1, "unknown inbound path");
	}
}
