/* sms_fakereq.h - the request the sms channel's parser tests hand to
 * receipt() and inbound() (test_sms_receipt.c, test_sms_inbound.c): arg()
 * as heraldd's listener (router/http.c) answers it, the query string first,
 * then a urlencoded body, both through the one decoder in util/form.c
 * (libmicrohttpd decodes the query the same way: '+' and %XX); header()
 * shows X-Twilio-Signature as sig. And the Twilio account both sign with. */
#ifndef HERALD_TEST_SMS_FAKEREQ_H
#define HERALD_TEST_SMS_FAKEREQ_H

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../channels/sms/smsreq.h"
#include "form.h"

#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"

struct fake {
	struct form query, body;
	const char *sig; /* X-Twilio-Signature, or NULL */
};

static inline const char *fake_arg(const struct herald_http_req *req, const char *name)
{
	struct fake *f = req->priv;
	const char *v = form_get(&f->query, name);

	return v ? v : form_get(&f->body, name);
}

static inline const char *fake_header(const struct herald_http_req *req, const char *name)
{
	struct fake *f = req->priv;

	return !strcasecmp(name, "X-Twilio-Signature") ? f->sig : NULL;
}

/* c: profile twilio, token "tok-secret", public_url
 * https://herald.example/hook/k7, and the channel checks signatures by it
 * (sms_receipt_auth). */
static inline void fake_twilio_auth(struct sms_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->profile = SMS_PROFILE_TWILIO;
	snprintf(c->pass, sizeof(c->pass), "tok-secret");
	snprintf(c->public_url, sizeof(c->public_url), "https://herald.example/hook/k7");
	sms_receipt_auth(c);
}

#endif
