/*
 * deliverylog.h - one record per message transition, written three ways:
 *   text  (Postfix-style, for people):
 *     2026-11-22T09:00:01.234Z dvla-000123: tx=tx-55, citizen=c-8812, channel=sms,
 *     to=+44*******123, attempt=1, delay=0.84, delays=0.01/0.02/0.81, dsn=-,
 *     status=sent (202 0: Accepted for delivery)
 *   JSON lines (same fields, for machines), and the same JSON on a ZMQ PUB
 *   socket for `heraldctl tail`. Contact details arrive masked.
 * The files are reopened on SIGHUP/SIGUSR1 (logrotate's postrotate).
 */
#ifndef HERALD_DELIVERYLOG_H
#define HERALD_DELIVERYLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct dlog;

/* Any path may be NULL or "" to disable that output. zctx is a ZMQ
 * context for the PUB socket. NULL with err on failure. */
struct dlog *dlog_open(const char *text_path, const char *json_path, const char *pub_endpoint,
		       void *zctx, char *err, size_t errlen);
void dlog_close(struct dlog **d);
/* Reopen both files (after rotation). 0 or -1 (keeps the old ones). */
int dlog_reopen(struct dlog *d);
/* One record. Strings may be NULL or "" (shown as "-"); channel NULL means
 * none (JSON null). fulfilled_in < 0: absent. */
struct dlog_rec {
	const char *ts, *event_id, *tx, *citizen, *service, *channel, *to, *delays, *dsn, *status,
	    *reason, *ref;
	int attempt;
	double delay, fulfilled_in;
};

/* The text line (no newline) and the JSON object (compact, one line, valid
 * UTF-8 whatever the input) of a record. Return the length written. */
size_t dlog_rec_text(const struct dlog_rec *r, char *buf, size_t len);
size_t dlog_rec_json(const struct dlog_rec *r, char *buf, size_t len);
/* Write one record given as its text line and JSON text. */
void dlog_write(struct dlog *d, const char *text, const char *json);
/* Flush buffered lines (once per event-loop turn). */
void dlog_flush(struct dlog *d);

/*
 * Record fields: ts (RFC 3339 string), event_id, tx, citizen, service,
 * channel, to (masked), attempt, delay (s, accepted -> now), delays
 * ("queue/prepare/channel" seconds), dsn, status, reason, ref,
 * fulfilled_in (s, only on the first delivered).
 */
/* Format a JSON record (from the PUB socket or the JSON log) as the text
 * line, exactly as dlog_rec_text does. Used by heraldctl tail. */
void dlog_format_text(const json_t *rec, char *buf, size_t len);

#endif
