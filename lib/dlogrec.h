/*
 * dlogrec.h - a delivery record: one per message transition, in two forms
 * (heraldd's delivery log writes both and publishes the JSON,
 * router/deliverylog.h; the journey herald:tx:<tx> keeps the JSON):
 *   text  (Postfix-style, for people):
 *     2026-11-22T09:00:01.234Z dvla-000123: tx=tx-55, citizen=c-8812, channel=sms,
 *     to=+44*******123, attempt=1, delay=0.84, delays=0.01/0.02/0.81, dsn=-,
 *     status=sent (202 0: Accepted for delivery)
 *   JSON lines (same fields, for machines). Contact details arrive masked.
 */
#ifndef HERALD_DLOGREC_H
#define HERALD_DLOGREC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One record. Strings may be NULL or "" (shown as "-"); channel NULL means
 * none (JSON null). fulfilled_in < 0: absent. */
struct dlog_rec {
	const char *ts, *event_id, *tx, *citizen, *service, *channel, *to, *delays, *dsn, *status,
	    *reason, *ref;
	int attempt;
	int possible_dup; /* the attempt may have reached the provider twice:
			     text ", dup=possible", JSON "possible_duplicate":true */
	double delay, fulfilled_in;
	/* the JSON form's delays at microsecond resolution ("0.000120/..."); NULL:
	 * delays (the text form keeps milliseconds) */
	const char *delays_fine;
};

/* The text line (no newline) and the JSON object (compact, one line, valid
 * UTF-8 whatever the input) of a record. Return the length written. */
size_t dlog_rec_text(const struct dlog_rec *r, char *buf, size_t len);
size_t dlog_rec_json(const struct dlog_rec *r, char *buf, size_t len);

/*
 * Record fields: ts (RFC 3339 string), event_id, tx, citizen, service,
 * channel, to (masked), attempt, possible_duplicate (only when true), delay (s, accepted -> now;
 * JSON: six decimals, microseconds), delays
 * ("queue/prepare/channel" seconds; JSON: microseconds), dsn, status, reason, ref,
 * fulfilled_in (s, only on the first delivered).
 */
/* Format a JSON record (from the PUB socket or the JSON log) as the text
 * line, exactly as dlog_rec_text does. Used by heraldctl tail. */
void dlog_format_text(const json_t *rec, char *buf, size_t len);

#endif
