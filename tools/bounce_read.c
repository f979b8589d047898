/*
 * bounce_read.c - delivery status notifications (RFC 3464) and complaint
 * reports (RFC 5965) mailed back to Herald (see bounce_read.h). GMime
 * takes the message apart; the report's own fields (a delivery-status or
 * feedback-report body: groups of "Name: value" lines, RFC 822 folding)
 * are read here.
 */
#include <ctype.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <string.h>

#include "bounce_read.h"

#define VERP_TAG "bounce+"

/* "hr" + 24 lowercase hex digits at p, not followed by a token character */
static int token_at(const char *p, char token[BOUNCE_TOKEN_MAX])
{
	if (p[0] != 'h' || p[1] != 'r')
		return -1;
	for (int i = 2; i < BOUNCE_TOKEN_MAX - 1; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return -1;
	if (isalnum((unsigned char)p[BOUNCE_TOKEN_MAX - 1]))
		return -1;
	memcpy(token, p, BOUNCE_TOKEN_MAX - 1);
	token[BOUNCE_TOKEN_MAX - 1] = '\0';
	return 0;
}

int bounce_token_of(const char *addr, char token[BOUNCE_TOKEN_MAX])
{
	const char *p = addr;

	while (addr && (p = strcasestr(p, VERP_TAG)) != NULL) {
		p += strlen(VERP_TAG);
		if (token_at(p, token) == 0 && p[BOUNCE_TOKEN_MAX - 1] == '@')
			return 0;
	}
	return -1;
}

/* The token as a Message-ID's local part: "<hr...@" */
static int token_of_msgid(const char *id, char token[BOUNCE_TOKEN_MAX])
{
	if (!id)
		return -1;
	while (*id == '<' || *id == ' ')
		id++;
	return token_at(id, token) == 0 && id[BOUNCE_TOKEN_MAX - 1] == '@' ? 0 : -1;
}

/* A leaf part's decoded content, or the text of a message/ part (GMime
 * may take a message/delivery-status for a message whose headers are the
 * report's first group), as a NUL-terminated GByteArray. */
static GByteArray *part_bytes(GMimeObject *o)
{
	GMimeDataWrapper *w = NULL;
	GMimeMessage *inner = NULL;
	GMimeStream *s;
	GByteArray *a;

	if (GMIME_IS_PART(o))
		w = g_mime_part_get_content(GMIME_PART(o));
	else if (GMIME_IS_MESSAGE_PART(o))
		inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
	if (!w && !inner)
		return NULL;
	s = g_mime_stream_mem_new();
	if (w)
		g_mime_data_wrapper_write_to_stream(w, s);
	else
		g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, s);
	/* the stream frees its array unless it is told it does not own it */
	a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(s), FALSE);
	g_object_unref(s);
	g_byte_array_append(a, (const guint8 *)"", 1);
	return a;
}

/* The value of field `name` in group `group` (0 the first) of a report
 * body, unfolded and with control characters blanked, into out. 0 when
 * found. */
static int report_field(const char *text, int group, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = text;
	int g = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '\r')) {
			g++;
			/* several blank lines are one separator */
			while (eol && (eol[1] == '\n' || (eol[1] == '\r' && eol[2] == '\n')))
				eol = strchr(eol + 1, '\n');
		} else if (g == group && len > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			size_t o = 0;
			const char *v = p + nl + 1;
			for (;;) {
				for (; v < p + len && o + 1 < outlen; v++)
					out[o++] = (unsigned char)*v < 0x20 ? ' ' : *v;
				if (!eol || (eol[1] != ' ' && eol[1] != '\t'))
					break;
				p = eol + 1; /* a folded continuation line */
				eol = strchr(p, '\n');
				len = eol ? (size_t)(eol - p) : strlen(p);
				v = p;
			}
			out[o] = '\0';
			/* folding white space is one blank */
			size_t k = 0;
			for (size_t m = 0; m < o; m++)
				if (out[m] != ' ' || !k || out[k - 1] != ' ')
					out[k++] = out[m];
			out[k] = '\0';
			o = k;
			while (o && out[o - 1] == ' ')
				out[--o] = '\0';
			size_t lead = strspn(out, " ");
			memmove(out, out + lead, strlen(out + lead) + 1);
			return 0;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	return -1;
}

static int local_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr(".!#$%&'*+/=?^_`{|}~-", c));
}

/* Contact details stay out of logs: every address's local part in s
 * becomes its first character and "***" (util/mask.c's way). */
static void mask_addresses(char *s, size_t size)
{
	char out[256];
	size_t o = 0, i = 0, n = strlen(s);

	while (i < n && o + 1 < sizeof(out)) {
		size_t j = i;
		while (j < n && local_char(s[j]))
			j++;
		if (j > i && s[j] == '@') { /* s[i..j) is a local part */
			int w = snprintf(out + o, sizeof(out) - o, "%c***", s[i]);
			o = w > 0 && o + (size_t)w < sizeof(out) ? o + (size_t)w : sizeof(out) - 1;
			i = j;
		} else if (j > i) {
			for (; i < j && o + 1 < sizeof(out); i++)
				out[o++] = s[i];
		} else {
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	snprintf(s, size, "%s", out);
}

/* "5.1.1" style: class digit, dot, 1-3 digits, dot, 1-3 digits */
static int status_ok(const char *s)
{
	int a, b, c, n = 0;

	return sscanf(s, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && (a == 2 || a == 4 || a == 5) &&
	       (s[n] == '\0' || s[n] == ' ');
}

/* The first per-recipient group with a Status (groups from 1). */
static int read_dsn(const char *text, struct bounce_report *out)
{
	char status[64];

	for (int g = 1; g < 64; g++) {
		if (report_field(text, g, "Status", status, sizeof(status)) != 0)
			continue;
		if (!status_ok(status))
			return -1;
		status[strcspn(status, " ")] = '\0';
		snprintf(out->status, sizeof(out->status), "%.11s", status);
		out->kind = status[0] == '5'   ? BOUNCE_PERMANENT
			    : status[0] == '4' ? BOUNCE_DELAY
					       : BOUNCE_NONE;
		if (report_field(text, g, "Diagnostic-Code", out->diag, sizeof(out->diag)) != 0)
			out->diag[0] = '\0';
		mask_addresses(out->diag, sizeof(out->diag));
		return 0;
	}
	return -1; /* a delivery-status without a recipient's status */
}

/* The token from the headers of the message the report encloses. */
static void token_from_enclosed(GMimeObject *o, struct bounce_report *out)
{
	GMimeObject *hdrs = NULL;
	GMimeParser *p = NULL;
	GMimeStream *s = NULL;
	GByteArray *a = NULL;

	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *m = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
		hdrs = m ? GMIME_OBJECT(m) : NULL;
		if (hdrs)
			g_object_ref(hdrs);
	} else if ((a = part_bytes(o)) != NULL) { /* text/rfc822-headers */
		s = g_mime_stream_mem_new_with_buffer((const char *)a->data, a->len - 1);
		p = g_mime_parser_new_with_stream(s);
		hdrs = GMIME_OBJECT(g_mime_parser_construct_message(p, NULL));
	}
	if (hdrs && bounce_token_of(g_mime_object_get_header(hdrs, "Return-Path"), out->token) &&
	    token_of_msgid(g_mime_object_get_header(hdrs, "Message-ID"), out->token))
		out->token[0] = '\0';
	if (hdrs)
		g_object_unref(hdrs);
	if (p)
		g_object_unref(p);
	if (s)
		g_object_unref(s);
	if (a)
		g_byte_array_free(a, TRUE);
}

/* The parts of a multipart/report: the machine-readable one read into
 * out; -1 when it is missing or malformed. */
static int read_report(GMimeMultipart *mp, int arf, struct bounce_report *out)
{
	const char *want = arf ? "feedback-report" : "delivery-status";
	int n = g_mime_multipart_get_count(mp), found = -1;

	for (int i = 0; i < n; i++) {
		GMimeObject *o = g_mime_multipart_get_part(mp, i);
		GMimeContentType *ct = g_mime_object_get_content_type(o);
		if (ct && (g_mime_content_type_is_type(ct, "message", want) ||
			   (!arf && g_mime_content_type_is_type(ct, "message",
								"global-delivery-status")))) {
			GByteArray *a = part_bytes(o);
			if (!a)
				return -1;
			if (arf) {
				if (report_field((const char *)a->data, 0, "Feedback-Type",
						 out->status, sizeof(out->status)) == 0) {
					out->kind = BOUNCE_COMPLAINT;
					found = 0;
				}
			} else {
				found = read_dsn((const char *)a->data, out);
			}
			g_byte_array_free(a, TRUE);
		} else if (arf && ct &&
			   (g_mime_content_type_is_type(ct, "message", "rfc822") ||
			    g_mime_content_type_is_type(ct, "text", "rfc822-headers")) &&
			   !out->token[0]) {
			token_from_enclosed(o, out);
		}
	}
	return found;
}

static void gmime_once(void)
{
	static int done;

	if (!done) {
		g_mime_init();
		done = 1;
	}
}

int bounce_read(const char *buf, size_t len, const char *rcpt, struct bounce_report *out)
{
	static const char *const to_hdrs[] = {"X-Original-To", "Delivered-To", "To"};
	GMimeStream *s;
	GMimeParser *p;
	GMimeMessage *msg;
	GMimeObject *body;
	GMimeContentType *ct;
	const char *rtype;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	gmime_once();
	if (len == 0)
		return -1;
	s = g_mime_stream_mem_new_with_buffer(buf, len);
	p = g_mime_parser_new_with_stream(s);
	msg = g_mime_parser_construct_message(p, NULL);
	g_object_unref(p);
	g_object_unref(s);
	if (!msg || !(body = g_mime_message_get_mime_part(msg)) ||
	    (!g_mime_object_get_header(GMIME_OBJECT(msg), "From") &&
	     !g_mime_object_get_header(GMIME_OBJECT(msg), "Content-Type"))) {
		if (msg)
			g_object_unref(msg);
		return -1;
	}
	if (rcpt)
		bounce_token_of(rcpt, out->token);
	for (size_t i = 0; i < 3 && !out->token[0]; i++)
		if (bounce_token_of(g_mime_object_get_header(GMIME_OBJECT(msg), to_hdrs[i]),
				    out->token) != 0)
			out->token[0] = '\0';
	ct = g_mime_object_get_content_type(body);
	if (ct && GMIME_IS_MULTIPART(body) &&
	    g_mime_content_type_is_type(ct, "multipart", "report") &&
	    (rtype = g_mime_content_type_get_parameter(ct, "report-type")) != NULL) {
		if (!strcasecmp(rtype, "delivery-status") ||
		    !strcasecmp(rtype, "global-delivery-status"))
			rc = read_report(GMIME_MULTIPART(body), 0, out);
		else if (!strcasecmp(rtype, "feedback-report"))
			rc = read_report(GMIME_MULTIPART(body), 1, out);
	}
	g_object_unref(msg);
	return rc;
}
