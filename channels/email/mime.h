/*
 * mime.h - the pure parts of the email channel, kept free of libesmtp and
 * threads so the unit tests can link them alone: address checks, header
 * encoding (RFC 2047 encoded-words, folding, no header injection),
 * quoted-printable bodies, the whole RFC 5322 / MIME message, and the
 * mapping of an SMTP reply to a herald_result.
 */
#ifndef HERALD_EMAIL_MIME_H
#define HERALD_EMAIL_MIME_H

#include <stddef.h>
#include <time.h>

#include <herald/channel.h>

#include "buf.h"

/* Address checks (ASCII only: libesmtp does not speak SMTPUTF8). */
#define EMAIL_ADDR_OK 0
#define EMAIL_ADDR_BAD -1	  /* malformed: no '@', CR/LF, spaces, ... */
#define EMAIL_ADDR_UNSUPPORTED -2 /* non-ASCII: would need SMTPUTF8 */
#define EMAIL_ADDR_MAX 254
int email_addr_check(const char *addr);

/* Split "Display Name <addr@example.org>" or "addr@example.org" into its
 * display name (possibly "") and address, both trimmed. 0, or -1 when the
 * address part does not pass email_addr_check or a buffer is too small. */
int email_parse_mailbox(const char *in, char *name, size_t namelen, char *addr, size_t addrlen);

/* A copy of s that is valid UTF-8 (each invalid byte becomes U+FFFD).
 * single_line: CR, LF, TAB and every other control character become a
 * space and the ends are trimmed, so the value can never start a new
 * header line. Otherwise line breaks are kept. NULL s gives "". Returns
 * NULL only when out of memory. */
char *mime_clean(const char *s, int single_line);

/* Append "Name: value" CRLF for an unstructured header (Subject,
 * X-Herald-Reference, ...). The value is cleaned as above; plain ASCII is
 * folded at spaces (lines <= 78 where the words allow), anything else is
 * written as RFC 2047 UTF-8 encoded-words (Q or B, whichever is shorter),
 * each <= 75 characters, never splitting a character, one per line. */
void mime_header_text(struct buf *b, const char *name, const char *value);

/* Append "Name: value" CRLF for a structured header whose value we build
 * (List-Unsubscribe): cleaned, folded at spaces, never encoded. */
void mime_header_raw(struct buf *b, const char *name, const char *value);

/* Append "Name: display <addr>" CRLF (From, To, Reply-To). display may be
 * NULL or ""; it is cleaned and written as a quoted-string when ASCII, as
 * encoded-words otherwise. addr must already pass email_addr_check. */
void mime_header_mailbox(struct buf *b, const char *name, const char *display, const char *addr);

/* Append text as quoted-printable (RFC 2045): CRLF line ends (LF, CRLF
 * and lone CR in the input are all line breaks), lines <= 76 characters
 * with soft breaks, '=' / non-ASCII / controls / trailing blanks encoded,
 * "From " at a line start encoded, each byte of invalid UTF-8 written as
 * U+FFFD. Always ends with CRLF. */
void mime_qp(struct buf *b, const char *text);

/* RFC 5322 date in UTC: "Mon, 06 Apr 2026 09:30:00 +0000". */
void mime_date(time_t t, char *out, size_t outlen);

/* Message-ID local part from an event id: [A-Za-z0-9!#$%&'*+/?^_`{|}~-]
 * kept, '.' kept between two kept characters, every other byte written as
 * "=XX", so distinct event ids give distinct Message-IDs. "" -> "herald".
 * Always NUL-terminates; truncates when out is too small. */
void mime_msgid_local(const char *event_id, char *out, size_t outlen);

struct mime_msg {
	const char *from_name, *from_addr; /* validated (email_parse_mailbox) */
	const char *to_name, *to_addr;	   /* to_addr validated; to_name raw */
	const char *reply_to;		   /* validated address or NULL */
	const char *subject;		   /* raw, may be NULL */
	const char *body;		   /* text/plain, raw, may be NULL */
	const char *html;		   /* text/html or NULL: single part */
	const char *event_id;		   /* raw, for the Message-ID */
	const char *domain;		   /* validated, for the Message-ID */
	const char *reference;		   /* raw, X-Herald-Reference, may be NULL */
	const char *list_unsubscribe;	   /* validated or NULL */
	int one_click; /* it holds an RFC 8058 link: List-Unsubscribe-Post too */
	time_t date;
	unsigned long long boundary_seed; /* any number; makes the boundary */
};

/* Build the whole message (headers, blank line, body; CRLF line ends,
 * ending in CRLF) into out (appended). Writes "<local@domain>" to msgid.
 * 0, or -1 when out of memory. */
/* The VERP envelope sender "bounce+<token>@<domain>" (heraldctl bounce
 * reads the token back: VERP_PREFIX). */
#define VERP_PREFIX "bounce+"
void email_verp_path(const char *domain, const char *token, char *out, size_t outlen);
int mime_build(const struct mime_msg *m, struct buf *out, char *msgid, size_t msgidlen);

/* Which SMTP command a reply answered. */
enum email_stage {
	EMAIL_STAGE_MAIL = 1,
	EMAIL_STAGE_RCPT = 2,
	EMAIL_STAGE_DATA = 3,
};

/* Fill r (status, flags, dsn, reason, ref) from an SMTP reply: 2xx sent
 * (final: email has no receipts), 5xx permanent (a 5.1.x enhanced code on
 * RCPT, except 5.1.7/5.1.8 which are about the sender, also marks the
 * address bad), anything else temporary. enh_class 0 means libesmtp did
 * not parse an enhanced code; one at the start of text is then used.
 * reason is "CODE [D.D.D] text"; ref is the relay's queue id when a 2xx
 * reply shows one ("queued as X", "id=X"), else msgid. r->msg_id and
 * r->version are left alone. */
void email_map_reply(enum email_stage stage, int code, const char *text, int enh_class,
		     int enh_subject, int enh_detail, const char *msgid, struct herald_result *r);

#endif
