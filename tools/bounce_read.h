/*
 * bounce_read.h - what a report mailed back to Herald's VERP address says
 * (heraldctl bounce): an RFC 3464 delivery status notification
 * (multipart/report; report-type=delivery-status) or an RFC 5965 complaint
 * (report-type=feedback-report, ARF). GMime parses the MIME structure.
 */
#ifndef HERALD_BOUNCE_READ_H
#define HERALD_BOUNCE_READ_H

#include <stddef.h>

enum bounce_kind {
	BOUNCE_NONE = 0,  /* not a report Herald acts on (a 2.x.x, an auto-reply) */
	BOUNCE_PERMANENT, /* Status 5.x.x */
	BOUNCE_DELAY,	  /* Status 4.x.x */
	BOUNCE_COMPLAINT, /* ARF */
};

/* "hr" and 24 hex digits (lib/provref.h): the VERP token */
#define BOUNCE_TOKEN_MAX 27

struct bounce_report {
	enum bounce_kind kind;
	char token[BOUNCE_TOKEN_MAX]; /* "" when none was found */
	char status[16];	      /* "5.1.1"; the feedback type for a complaint */
	char diag[256];		      /* the Diagnostic-Code, control characters blanked */
};

/* Read the message (len bytes) as delivered to the bounce address.
 * rcpt, if not NULL, is the envelope recipient Postfix's pipe(8) passes
 * (${original_recipient}): bounce+TOKEN@domain; else the token is looked
 * for in X-Original-To, Delivered-To and To, and for a complaint in the
 * enclosed message's Return-Path and Message-ID. 0, or -1 when the text
 * is not a message at all (or a report without what a report must hold). */
int bounce_read(const char *buf, size_t len, const char *rcpt, struct bounce_report *out);

/* The token of "bounce+TOKEN@domain" (also inside <...> or after other
 * text): 0 and token set, or -1. */
int bounce_token_of(const char *addr, char token[BOUNCE_TOKEN_MAX]);

#endif
