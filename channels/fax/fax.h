/* fax.h - the pure parts of the fax channel (no curl, no threads), shared by
 * fax.c and the unit tests: number check, references, HTTP outcome mapping
 * and the gateway callback parser. */
#ifndef HERALD_FAX_H
#define HERALD_FAX_H

#include <stddef.h>

#include <herald/channel.h>

/* The reference sent to the gateway (form field "ref") and echoed in its
 * callback: "<event_id>.<attempt>", or "h<16 hex digits>.<attempt>" (a hash
 * of the event id) when that would not fit a herald_result ref. */
void fax_make_ref(const char *event_id, unsigned attempt, char *out, size_t outlen);

/* The outcome of an upload: curl_ok is 0 when the transfer itself failed
 * (refused, timeout; curl_err says why), else http is the status code. Fills
 * status, flags and reason of *out (not ref). body is the start of the
 * gateway's reply, quoted with long digit runs masked. */
void fax_upload_outcome(int curl_ok, const char *curl_err, long http, const char *body,
			struct herald_result *out);

/* Copy text into out for a log or reason: control characters become
 * spaces, runs of 6+ digits keep only their last 3 ("***123"), at most
 * outlen - 1 bytes. */
void fax_sanitize(const char *text, size_t len, char *out, size_t outlen);

/* herald_channel.receipt for the fax channel (see faxrcpt.c). */
int fax_receipt(const struct herald_http_req *req, struct herald_result *out, char *resp,
		size_t resp_len);

#endif
