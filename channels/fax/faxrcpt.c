/*
 * faxrcpt.c - the fax channel's pure helpers: references,
 * what an upload's HTTP outcome means, and the gateway callback.
 *
 * Callback contract (POST <public_url>/receipts/fax, or GET with a query):
 *   JSON   Content-Type: application/json
 *          {"ref": "...", "status": "...", "reason": "..."}
 *   form   application/x-www-form-urlencoded body or query string:
 *          ref=...&status=...&reason=...
 *   ref     the "ref" form field Herald sent with the upload (required)
 *   status  delivered                  -> delivered
 *           busy, no-answer            -> temporary-failure (retried later)
 *           failed                     -> temporary-failure (a broken call;
 *                                         retried), unless reason says the
 *                                         number is wrong (below)
 *           invalid-number, wrong-number, not-fax, no-fax
 *                                      -> permanent-failure, bad address
 *           ('_' and '-' are the same, case does not matter; "success" and
 *           "ok" mean delivered, "no-answer" may be "noanswer")
 *   reason  free text for the delivery log (optional)
 * Anything else (no ref, unknown status, bad JSON) is answered 400 and
 * changes nothing.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fax.h"
#include "fnv.h"

void fax_make_ref(const char *event_id, unsigned attempt, char *out, size_t outlen)
{
	const char *ev = event_id ? event_id : "";
	size_t lim = outlen < sizeof(((struct herald_result *)0)->ref)
			 ? outlen
			 : sizeof(((struct herald_result *)0)->ref);
	int n;

	if (outlen == 0)
		return;
	n = snprintf(out, lim, "%s.%u", ev, attempt);
	if (n < 0 || (size_t)n >= lim) {
		/* FNV-1a 64: stable, and short enough for any ref buffer */
		uint64_t h = fnv1a64_add(FNV1A64_HERALD_V1, ev, strlen(ev));
		snprintf(out, lim, "h%016llx.%u", (unsigned long long)h, attempt);
	}
}

void fax_sanitize(const char *text, size_t len, char *out, size_t outlen)
{
	size_t o = 0, i = 0;

	if (outlen == 0)
		return;
	while (text && i < len && text[i] && o + 1 < outlen) {
		if (isdigit((unsigned char)text[i])) {
			size_t j = i;
			while (j < len && isdigit((unsigned char)text[j]))
				j++;
			if (j - i >= 6) {
				const char *keep = text + j - 3;
				if (o + 6 >= outlen)
					break;
				memcpy(out + o, "***", 3);
				memcpy(out + o + 3, keep, 3);
				o += 6;
			} else {
				for (size_t k = i; k < j && o + 1 < outlen; k++)
					out[o++] = text[k];
			}
			i = j;
			continue;
		}
		out[o++] = ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) ? ' ' : text[i];
		i++;
	}
	out[o] = '\0';
}

void fax_upload_outcome(int curl_ok, const char *curl_err, long http, const char *body,
			struct herald_result *out)
{
	char quoted[160];

	fax_sanitize(body ? body : "", body ? strlen(body) : 0, quoted, sizeof(quoted));
	out->flags = 0;
	if (!curl_ok) {
		out->status = HERALD_TEMPORARY;
		snprintf(out->reason, sizeof(out->reason), "fax gateway unreachable: %s",
			 curl_err && *curl_err ? curl_err : "transfer failed");
		return;
	}
	if (http >= 200 && http < 300) {
		out->status = HERALD_SENT;
		snprintf(out->reason, sizeof(out->reason), "accepted by the fax gateway (HTTP %ld)",
			 http);
		return;
	}
	/* 408 and 429 say "later", like 5xx; other 4xx refuse this request */
	if (http >= 400 && http < 500 && http != 408 && http != 429)
		out->status = HERALD_PERMANENT;
	else
		out->status = HERALD_TEMPORARY;
	snprintf(out->reason, sizeof(out->reason), "fax gateway answered HTTP %ld%s%s", http,
		 quoted[0] ? ": " : "", quoted);
}

/* A value from the JSON object, or NULL. */
static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int status_is(const char *s, const char *want)
{
	/* compare ignoring case, with '_' == '-' */
	for (; *s && *want; s++, want++) {
		char a = (char)tolower((unsigned char)*s), b = *want;
		if (a == '_')
			a = '-';
		if (a != b)
			return 0;
	}
	return *s == '\0' && *want == '\0';
}

static int reason_says_bad_number(const char *r)
{
	static const char *const pats[] = {"not a fax",	     "no fax",	    "wrong number",
					   "invalid number", "unallocated", "not in service"};
	char low[256];
	size_t i;

	for (i = 0; r && r[i] && i + 1 < sizeof(low); i++)
		low[i] = (char)tolower((unsigned char)r[i]);
	low[i] = '\0';
	for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
		if (strstr(low, pats[k]))
			return 1;
	return 0;
}

int fax_receipt(const struct herald_http_req *req, struct herald_result *out, char *resp,
		size_t resp_len)
{
	json_t *j = NULL;
	const char *ref, *status, *reason;
	char why[160];
	int rc = -1;

	if (resp && resp_len)
		resp[0] = '\0';
	if (!req || !out)
		return -1;
	if (req->content_type && !strncasecmp(req->content_type, "application/json", 16)) {
		json_error_t je;
		j = json_loadb(req->body ? req->body : "", req->body_len, 0, &je);
		if (!json_is_object(j)) {
			snprintf(resp, resp_len, "bad JSON: %s\n", j ? "not an object" : je.text);
			goto done;
		}
		ref = jstr(j, "ref");
		status = jstr(j, "status");
		reason = jstr(j, "reason");
	} else {
		ref = req->arg ? req->arg(req, "ref") : NULL;
		status = req->arg ? req->arg(req, "status") : NULL;
		reason = req->arg ? req->arg(req, "reason") : NULL;
	}
	if (!ref || !*ref || strlen(ref) >= sizeof(out->ref)) {
		snprintf(resp, resp_len, "missing or oversized ref\n");
		goto done;
	}
	if (!status || !*status) {
		snprintf(resp, resp_len, "missing status\n");
		goto done;
	}
	fax_sanitize(reason ? reason : "", reason ? strlen(reason) : 0, why, sizeof(why));
	out->flags = 0;
	if (status_is(status, "delivered") || status_is(status, "success") ||
	    status_is(status, "ok")) {
		out->status = HERALD_DELIVERED;
		snprintf(out->reason, sizeof(out->reason), "fax delivered%s%s", why[0] ? ": " : "",
			 why);
	} else if (status_is(status, "busy") || status_is(status, "no-answer") ||
		   status_is(status, "noanswer")) {
		out->status = HERALD_TEMPORARY;
		snprintf(out->reason, sizeof(out->reason), "fax %s%s%s",
			 status_is(status, "busy") ? "line busy" : "no answer", why[0] ? ": " : "",
			 why);
	} else if (status_is(status, "invalid-number") || status_is(status, "wrong-number") ||
		   status_is(status, "not-fax") || status_is(status, "no-fax") ||
		   (status_is(status, "failed") && reason_says_bad_number(why))) {
		char st[40];
		fax_sanitize(status, strlen(status), st, sizeof(st));
		out->status = HERALD_PERMANENT;
		out->flags = HERALD_RF_BAD_ADDRESS;
		snprintf(out->reason, sizeof(out->reason), "fax number unusable (%s)%s%s", st,
			 why[0] ? ": " : "", why);
	} else if (status_is(status, "failed")) {
		out->status = HERALD_TEMPORARY;
		snprintf(out->reason, sizeof(out->reason), "fax failed%s%s", why[0] ? ": " : "",
			 why);
	} else {
		snprintf(resp, resp_len, "unknown status\n");
		goto done;
	}
	snprintf(out->ref, sizeof(out->ref), "%s", ref);
	out->dsn[0] = '\0';
	snprintf(resp, resp_len, "ok\n");
	rc = 1;
done:
	json_decref(j);
	return rc;
}
