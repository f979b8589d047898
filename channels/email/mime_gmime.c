/*
 * mime_gmime.c - mime_build() composed with GMime 3 instead of mime.c's
 * own writer, compiled only with -DHERALD_EMAIL_GMIME (the email-gmime.so
 * plugin and test_email_gmime that make bench and make test build beside
 * the default ones). tests/bench/b_email.sh measures both plugins in the
 * same rounds against smtp-source; issue #11's rule: GMime composes the
 * email unless it costs more than 10 % of the email figure.
 *
 * Same message as mime.c's: the same headers in the same order, the same
 * Message-ID and boundary, quoted-printable UTF-8 parts. Every value is
 * first cleaned by mime_clean() (single-line for headers), so no value can
 * carry a line break into a header whatever GMime does with it.
 */
#ifdef HERALD_EMAIL_GMIME

#include "mime.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
	g_mime_init();
}

/* A quoted-printable text/<subtype> part of text (cleaned, line breaks
 * kept). NULL when out of memory. */
static GMimeObject *text_part(const char *subtype, const char *text)
{
	char *clean = mime_clean(text, 0);
	GMimeTextPart *p;
	GMimeStream *st;
	GMimeDataWrapper *dw;

	if (!clean)
		return NULL;
	p = g_mime_text_part_new_with_subtype(subtype);
	/* the UTF-8 bytes as they are (g_mime_text_part_set_text would pick
	 * another charset, ISO-8859-1, when the text fits one) */
	st = g_mime_stream_mem_new_with_buffer(clean, strlen(clean));
	dw = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(GMIME_PART(p), dw);
	g_object_unref(dw);
	g_object_unref(st);
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(p), "charset", "UTF-8");
	g_mime_part_set_content_encoding(GMIME_PART(p), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	free(clean);
	return GMIME_OBJECT(p);
}

/* name cleaned to one line (NULL or "" stays ""). */
static char *one_line(const char *s)
{
	return mime_clean(s ? s : "", 1);
}

static void set_text_header(GMimeMessage *msg, const char *name, const char *value)
{
	char *v = one_line(value);

	if (v)
		g_mime_object_set_header(GMIME_OBJECT(msg), name, v, "UTF-8");
	free(v);
}

/* A structured header whose value we build (List-Unsubscribe): as it is
 * (GMime would write a long URL as encoded-words, which no mail client
 * reads as a link), folded at spaces as mime.c's mime_header_raw does. */
static void set_raw_header(GMimeMessage *msg, const char *name, const char *value)
{
	char *v = one_line(value);
	GMimeHeader *h;
	GString *raw;

	if (!v)
		return;
	g_mime_object_set_header(GMIME_OBJECT(msg), name, v, NULL);
	h = g_mime_header_list_get_header(g_mime_object_get_header_list(GMIME_OBJECT(msg)), name);
	raw = g_string_new(" ");
	for (const char *p = v; *p; p++) {
		if (*p == ' ' && p != v)
			g_string_append(raw, "\n");
		g_string_append_c(raw, *p);
	}
	g_string_append(raw, "\n");
	if (h)
		g_mime_header_set_raw_value(h, raw->str);
	g_string_free(raw, TRUE);
	free(v);
}

/* The headers mime.c writes, in its order. */
static void headers(GMimeMessage *msg, const struct mime_msg *m, const char *msgid)
{
	GDateTime *date = g_date_time_new_from_unix_utc((gint64)m->date);
	char *from = one_line(m->from_name), *to = one_line(m->to_name),
	     *subject = one_line(m->subject);

	g_mime_message_set_date(msg, date);
	g_date_time_unref(date);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, from ? from : "", m->from_addr);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, to ? to : "", m->to_addr);
	if (m->reply_to && *m->reply_to)
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_REPLY_TO, "", m->reply_to);
	g_mime_message_set_subject(msg, subject ? subject : "", "UTF-8");
	/* as a header: g_mime_message_set_message_id would spell it Message-Id */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Message-ID", msgid, NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "MIME-Version", "1.0", NULL);
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-generated", NULL);
	if (m->reference && *m->reference)
		set_text_header(msg, "X-Herald-Reference", m->reference);
	if (m->list_unsubscribe && *m->list_unsubscribe)
		set_raw_header(msg, "List-Unsubscribe", m->list_unsubscribe);
	if (m->one_click && m->list_unsubscribe && *m->list_unsubscribe)
		g_mime_object_set_header(GMIME_OBJECT(msg), "List-Unsubscribe-Post",
					 "List-Unsubscribe=One-Click", NULL);
	free(from);
	free(to);
	free(subject);
}

/* Serialise msg with CRLF line ends onto out. */
static int write_out(GMimeMessage *msg, struct buf *out)
{
	GMimeFormatOptions *fo = g_mime_format_options_new();
	GMimeStream *st = g_mime_stream_mem_new();
	GByteArray *ba;
	int rc = 0;

	g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
	if (g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, st) < 0)
		rc = -1;
	ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(st));
	if (rc == 0)
		buf_add(out, (const char *)ba->data, ba->len);
	g_object_unref(st);
	g_mime_format_options_free(fo);
	return rc;
}

int mime_build(const struct mime_msg *m, struct buf *out, char *msgid, size_t msgidlen)
{
	char local[400], bnd[48];
	GMimeMessage *msg;
	GMimeObject *plain, *body;
	int rc;

	pthread_once(&gmime_once, gmime_start);
	mime_msgid_local(m->event_id, local, sizeof(local));
	snprintf(msgid, msgidlen, "<%s@%s>", local, m->domain);

	msg = g_mime_message_new(FALSE); /* our header order, not GMime's */
	headers(msg, m, msgid);
	plain = text_part("plain", m->body ? m->body : "");
	body = plain;
	if (plain && m->html) {
		GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
		GMimeObject *html = text_part("html", m->html);

		snprintf(bnd, sizeof(bnd), "=_herald_%016llx", m->boundary_seed);
		g_mime_multipart_set_boundary(alt, bnd);
		g_mime_multipart_set_prologue(alt, "This is a multi-part message in MIME format.");
		g_mime_multipart_add(alt, plain);
		g_object_unref(plain);
		if (html) {
			g_mime_multipart_add(alt, html);
			g_object_unref(html);
		}
		body = html ? GMIME_OBJECT(alt) : NULL;
		if (!html)
			g_object_unref(alt);
	}
	if (!body) {
		g_object_unref(msg);
		return -1;
	}
	g_mime_message_set_mime_part(msg, body);
	g_object_unref(body);
	rc = write_out(msg, out);
	g_object_unref(msg);
	return rc || out->oom ? -1 : 0;
}

#endif
