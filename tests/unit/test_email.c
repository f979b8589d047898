/*
 * test_email.c - unit tests of channels/email/mime.c: address checks,
 * cleaning, RFC 2047 subjects (a Welsh one), folding, header injection,
 * quoted-printable bodies, the multipart message, Message-ID and the SMTP
 * reply mapping. No network, no libesmtp. The encoded output is decoded
 * again here (small RFC 2047 / quoted-printable decoders below) so each
 * test proves the round trip, not just the shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../channels/email/mime.h"

static const char welsh[] = "Atgoffa: mae eich apwyntiad ddydd Llun \xe2\x80\x93 \xc5\xb5y";

/* ---- helpers ----------------------------------------------------------- */

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t b64_dec(const char *in, size_t n, char *out)
{
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned v = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n && in[i] != '='; i++) {
		const char *p = strchr(tbl, in[i]);
		assert_non_null(p);
		v = (v << 6) | (unsigned)(p - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	return o;
}

/* Is s valid UTF-8? (to prove no encoded-word splits a character) */
static int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t k = s[i] < 0x80	       ? 1
			   : (s[i] >> 5) == 6  ? 2
			   : (s[i] >> 4) == 14 ? 3
			   : (s[i] >> 3) == 30 ? 4
					       : 0;
		if (k == 0 || i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

/* Unfold one header ("Name: v\r\n v2\r\n") and decode its encoded-words
 * (whitespace between two adjacent encoded-words is dropped, RFC 2047 6.2).
 * Checks every encoded-word on the way: <= 75 chars, valid UTF-8 alone. */
static char *header_decode(const char *hdr)
{
	char *out = calloc(1, strlen(hdr) + 1), *o = out;
	const char *p = strchr(hdr, ':');
	int prev_ew = 0;
	size_t pending = 0; /* raw blanks seen since the last encoded-word */

	assert_non_null(p);
	p++;
	while (*p == ' ')
		p++;
	while (*p) {
		if (p[0] == '\r' && p[1] == '\n') {
			if (p[2] != ' ' && p[2] != '\t')
				break; /* end of this header */
			p += 2;	       /* unfold: the blank after CRLF stays */
			continue;
		}
		if (strncmp(p, "=?UTF-8?", 8) == 0) {
			char enc = p[8];
			const char *txt = p + 10, *end = strstr(txt, "?=");
			char buf[128];
			size_t n = 0;
			assert_non_null(end);
			assert_true((size_t)(end + 2 - p) <= 75);
			if (!prev_ew)
				for (; pending; pending--)
					*o++ = ' ';
			pending = 0;
			if (enc == 'B') {
				n = b64_dec(txt, (size_t)(end - txt), buf);
			} else {
				assert_int_equal(enc, 'Q');
				for (const char *q = txt; q < end; q++) {
					if (*q == '_') {
						buf[n++] = ' ';
					} else if (*q == '=') {
						buf[n++] = (char)(hexv(q[1]) * 16 + hexv(q[2]));
						q += 2;
					} else {
						buf[n++] = *q;
					}
				}
			}
			assert_true(valid_utf8((unsigned char *)buf, n));
			memcpy(o, buf, n);
			o += n;
			p = end + 2;
			prev_ew = 1;
			continue;
		}
		if (*p == ' ' || *p == '\t') {
			pending++;
			p++;
			continue;
		}
		for (; pending; pending--)
			*o++ = ' ';
		prev_ew = 0;
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/* Every line of s ends in CRLF (no bare CR or LF) and is <= max chars. */
static void assert_lines(const char *s, size_t max)
{
	size_t col = 0;

	for (const char *p = s; *p; p++) {
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			p++;
			col = 0;
			continue;
		}
		assert_int_not_equal(*p, '\n');
		col++;
		if (col > max)
			fail_msg("line longer than %zu: %.80s", max, p - col + 1);
	}
}

/* Decode quoted-printable (CRLF lines) back to text with CRLF breaks. */
static char *qp_decode(const char *s, size_t n)
{
	char *out = calloc(1, n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
		} else if (s[i] == '=') {
			assert_true(hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0);
			*o++ = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static char *build(const char *subject, const char *to_name, const char *reference,
		   const char *body, const char *html, char *msgid, size_t msgidlen)
{
	struct buf b;
	struct mime_msg m = {
	    .from_name = "Gwasanaeth Cymru",
	    .from_addr = "noreply@gov.example",
	    .to_name = to_name,
	    .to_addr = "ada@example.org",
	    .reply_to = "help@gov.example",
	    .subject = subject,
	    .body = body,
	    .html = html,
	    .event_id = "dvla-2026-000123",
	    .domain = "gov.example",
	    .reference = reference,
	    .list_unsubscribe = "<mailto:unsub@gov.example>",
	    .date = 1775468400,
	    .boundary_seed = 0x1234abcdULL,
	};

	b = (struct buf)BUF_INIT;
	assert_int_equal(mime_build(&m, &b, msgid, msgidlen), 0);
	return b.data;
}

/* The header block of a message (up to the first empty line). */
static char *headers_of(const char *msg)
{
	const char *e = strstr(msg, "\r\n\r\n");
	assert_non_null(e);
	return strndup(msg, (size_t)(e - msg) + 2);
}

/* Lines of a header block that start a header (not a fold): their names. */
static int count_header(const char *hdrs, const char *name)
{
	int n = 0;
	size_t nl = strlen(name);

	for (const char *p = hdrs; *p;) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':')
			n++;
		p = strstr(p, "\r\n");
		if (!p)
			break;
		p += 2;
	}
	return n;
}

static void assert_only_known_headers(const char *hdrs)
{
	static const char *const known[] = {
	    "Date",
	    "From",
	    "To",
	    "Reply-To",
	    "Subject",
	    "Message-ID",
	    "MIME-Version",
	    "Auto-Submitted",
	    "X-Herald-Reference",
	    "List-Unsubscribe",
	    "List-Unsubscribe-Post",
	    "Content-Type",
	    "Content-Transfer-Encoding",
	};
	for (const char *p = hdrs; *p;) {
		const char *e = strstr(p, "\r\n");
		assert_non_null(e);
		if (*p != ' ' && *p != '\t') {
			int found = 0;
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
				size_t kl = strlen(known[i]);
				if (strncmp(p, known[i], kl) == 0 && p[kl] == ':')
					found = 1;
			}
			if (!found)
				fail_msg("unexpected header line: %.*s", (int)(e - p), p);
		}
		p = e + 2;
	}
}

/* ---- tests ------------------------------------------------------------- */

static void test_addr_check(void **state)
{
	static const struct {
		const char *addr;
		int want;
	} cases[] = {
	    {"ada@example.org", EMAIL_ADDR_OK},
	    {"a.b+tag@sub.example.co.uk", EMAIL_ADDR_OK},
	    {"o'brien@example.ie", EMAIL_ADDR_OK},
	    {"x@[127.0.0.1]", EMAIL_ADDR_OK},
	    {"", EMAIL_ADDR_BAD},
	    {"ada.example.org", EMAIL_ADDR_BAD}, /* no '@' */
	    {"ada@", EMAIL_ADDR_BAD},
	    {"@example.org", EMAIL_ADDR_BAD},
	    {"a@b@example.org", EMAIL_ADDR_BAD},
	    {"ada lovelace@example.org", EMAIL_ADDR_BAD},      /* space */
	    {"ada@example.org\r\nBcc: x@y.z", EMAIL_ADDR_BAD}, /* CR/LF */
	    {"ada@example.org\n", EMAIL_ADDR_BAD},
	    {"ada@exa mple.org", EMAIL_ADDR_BAD},
	    {".ada@example.org", EMAIL_ADDR_BAD},
	    {"ada.@example.org", EMAIL_ADDR_BAD},
	    {"a..da@example.org", EMAIL_ADDR_BAD},
	    {"ada@example..org", EMAIL_ADDR_BAD},
	    {"ada@-example.org", EMAIL_ADDR_BAD},
	    {"ada@example-.org", EMAIL_ADDR_BAD},
	    {"ada@example.org.", EMAIL_ADDR_BAD},
	    {"<ada@example.org>", EMAIL_ADDR_BAD},
	    {"ada@exa<mple.org", EMAIL_ADDR_BAD},
	    {"\"ada\"@example.org", EMAIL_ADDR_BAD}, /* quoted local parts refused */
	    {"ad\x7f@example.org", EMAIL_ADDR_BAD},
	    {"\xc5\xb5y@example.cymru", EMAIL_ADDR_UNSUPPORTED},
	};
	char longlocal[80], longaddr[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (email_addr_check(cases[i].addr) != cases[i].want)
			fail_msg("email_addr_check(\"%s\") != %d", cases[i].addr, cases[i].want);
	assert_int_equal(email_addr_check(NULL), EMAIL_ADDR_BAD);
	memset(longlocal, 'a', 65);
	strcpy(longlocal + 65, "@example.org");
	assert_int_equal(email_addr_check(longlocal), EMAIL_ADDR_BAD);
	memset(longaddr, 'b', 260);
	memcpy(longaddr, "a@", 2);
	longaddr[260] = '\0';
	assert_int_equal(email_addr_check(longaddr), EMAIL_ADDR_BAD);
}

static void test_parse_mailbox(void **state)
{
	char name[64], addr[64];

	assert_int_equal(email_parse_mailbox("Herald <noreply@gov.example>", name, sizeof(name),
					     addr, sizeof(addr)),
			 0);
	assert_string_equal(name, "Herald");
	assert_string_equal(addr, "noreply@gov.example");
	assert_int_equal(email_parse_mailbox("\"GOV, Wales\" <a@b.example>", name, sizeof(name),
					     addr, sizeof(addr)),
			 0);
	assert_string_equal(name, "GOV, Wales");
	assert_int_equal(
	    email_parse_mailbox("  a@b.example ", name, sizeof(name), addr, sizeof(addr)), 0);
	assert_string_equal(name, "");
	assert_string_equal(addr, "a@b.example");
	assert_int_equal(
	    email_parse_mailbox("X <a@b.example", name, sizeof(name), addr, sizeof(addr)), -1);
	assert_int_equal(
	    email_parse_mailbox("X <a@b.example> junk", name, sizeof(name), addr, sizeof(addr)),
	    -1);
	assert_int_equal(
	    email_parse_mailbox("X <not an address>", name, sizeof(name), addr, sizeof(addr)), -1);
	assert_int_equal(email_parse_mailbox("a@b.example", name, sizeof(name), addr, 4), -1);
}

static void test_clean(void **state)
{
	char *s = mime_clean("  a\r\nBcc:\tb  \x01 c ", 1);
	assert_string_equal(s, "a Bcc: b c");
	free(s);
	s = mime_clean("ok \xff\xc0\x80 \xed\xa0\x80 end", 1); /* invalid, overlong, surrogate */
	assert_true(valid_utf8((unsigned char *)s, strlen(s)));
	assert_non_null(strstr(s, "\xef\xbf\xbd"));
	free(s);
	s = mime_clean("line1\r\nline2\n\tx\x07", 0);
	assert_string_equal(s, "line1\r\nline2\n\tx");
	free(s);
	s = mime_clean(NULL, 1);
	assert_string_equal(s, "");
	free(s);
}

static void test_subject_ascii_folds(void **state)
{
	struct buf b;
	char *d;
	const char *subj =
	    "Your appointment at the Cardiff office has been moved to a later time on "
	    "Monday because the building is closed for maintenance work";

	b = (struct buf)BUF_INIT;
	mime_header_text(&b, "Subject", subj);
	assert_null(strstr(b.data, "=?"));	  /* plain ASCII stays readable */
	assert_non_null(strstr(b.data, "\r\n ")); /* and was folded */
	assert_lines(b.data, 78);
	d = header_decode(b.data);
	assert_string_equal(d, subj);
	free(d);
	buf_free(&b);
}

static void test_subject_welsh_rfc2047(void **state)
{
	struct buf b;
	char *d, *big;

	b = (struct buf)BUF_INIT;
	mime_header_text(&b, "Subject", welsh);
	assert_non_null(strstr(b.data, "Subject: =?UTF-8?Q?"));
	assert_lines(b.data, 76);
	d = header_decode(b.data);
	assert_string_equal(d, welsh);
	free(d);

	/* Five times as long: several encoded-words, each decodable alone
	 * (header_decode checks <= 75 chars and valid UTF-8 per word). */
	big = calloc(1, sizeof(welsh) * 5 + 8);
	for (int i = 0; i < 5; i++) {
		strcat(big, welsh);
		strcat(big, " ");
	}
	big[strlen(big) - 1] = '\0';
	buf_reset(&b);
	mime_header_text(&b, "Subject", big);
	assert_true(count_header(b.data, "Subject") == 1);
	assert_non_null(strstr(b.data, "?=\r\n =?UTF-8?Q?"));
	assert_lines(b.data, 76);
	d = header_decode(b.data);
	assert_string_equal(d, big);
	free(d);
	free(big);
	buf_free(&b);
}

static void test_subject_base64_when_shorter(void **state)
{
	struct buf b;
	char *d;
	/* Japanese: every byte non-ASCII, so B is shorter than Q. */
	const char *jp = "\xe4\xba\x88\xe7\xb4\x84\xe3\x81\xae\xe3\x81\x8a\xe7\x9f\xa5\xe3\x82\x89"
			 "\xe3\x81\x9b\xe4\xba\x88\xe7\xb4\x84\xe3\x81\xae\xe3\x81\x8a\xe7\x9f\xa5"
			 "\xe3\x82\x89\xe3\x81\x9b\xe4\xba\x88\xe7\xb4\x84\xe3\x81\xae\xe3\x81\x8a";

	b = (struct buf)BUF_INIT;
	mime_header_text(&b, "Subject", jp);
	assert_non_null(strstr(b.data, "=?UTF-8?B?"));
	assert_lines(b.data, 76);
	d = header_decode(b.data);
	assert_string_equal(d, jp);
	free(d);
	buf_free(&b);
}

static void test_subject_lookalike_encoded_word(void **state)
{
	struct buf b;
	char *d;

	/* ASCII that looks like an encoded-word must not be decoded as one. */
	b = (struct buf)BUF_INIT;
	mime_header_text(&b, "Subject", "=?UTF-8?B?SGk=?=");
	assert_null(strstr(b.data, "Subject: =?UTF-8?B?SGk=?="));
	d = header_decode(b.data);
	assert_string_equal(d, "=?UTF-8?B?SGk=?=");
	free(d);
	buf_free(&b);
}

static void test_header_injection(void **state)
{
	char msgid[512], *msg, *hdrs, *d;
	const char *sub;

	msg =
	    build("Hello\r\nBcc: victim@example.net\r\n\r\nfake body", "Ada\r\nBcc: evil@x.example",
		  "REF-1\nX-Evil: 1\rCc: a@b.example", "body", NULL, msgid, sizeof(msgid));
	hdrs = headers_of(msg);
	assert_only_known_headers(hdrs);
	assert_int_equal(count_header(hdrs, "Bcc"), 0);
	assert_int_equal(count_header(hdrs, "Cc"), 0);
	assert_int_equal(count_header(hdrs, "X-Evil"), 0);
	assert_int_equal(count_header(hdrs, "Subject"), 1);
	assert_int_equal(count_header(hdrs, "To"), 1);
	sub = strstr(hdrs, "Subject:");
	d = header_decode(sub);
	assert_string_equal(d, "Hello Bcc: victim@example.net fake body");
	free(d);
	/* The To display name with a CR/LF became one quoted-string line. */
	assert_non_null(strstr(hdrs, "To: \"Ada Bcc: evil@x.example\" <ada@example.org>\r\n"));
	/* Non-ASCII + CR/LF together: encoded-words, still one header. */
	free(hdrs);
	free(msg);
	msg = build("\xc5\xb5y\r\nBcc: v@example.net", "\xc5\xb5\r\nBcc: e@x.example", "R\r\n", "b",
		    NULL, msgid, sizeof(msgid));
	hdrs = headers_of(msg);
	assert_only_known_headers(hdrs);
	assert_int_equal(count_header(hdrs, "Bcc"), 0);
	d = header_decode(strstr(hdrs, "Subject:"));
	assert_string_equal(d, "\xc5\xb5y Bcc: v@example.net");
	free(d);
	free(hdrs);
	free(msg);
}

static void test_qp_roundtrip(void **state)
{
	struct buf b;
	char *d;
	const char *in =
	    "Annwyl Ada,\n\nMae eich apwyntiad ddydd Llun \xe2\x80\x93 \xc5\xb5y. "
	    "Cost = \xc2\xa3"
	    "5.\nFrom here on a very long line follows that must be "
	    "soft-broken because it is far longer than seventy-six characters, really.\n"
	    "trailing space \n.\nend";
	const char *want =
	    "Annwyl Ada,\r\n\r\nMae eich apwyntiad ddydd Llun \xe2\x80\x93 \xc5\xb5y. "
	    "Cost = \xc2\xa3"
	    "5.\r\nFrom here on a very long line follows that must "
	    "be soft-broken because it is far longer than seventy-six characters, "
	    "really.\r\ntrailing space \r\n.\r\nend\r\n";

	b = (struct buf)BUF_INIT;
	mime_qp(&b, in);
	assert_lines(b.data, 76);
	assert_non_null(strstr(b.data, "Cost =3D =C2=A3"));
	assert_non_null(strstr(b.data, "=46rom here"));	 /* "From " at a line start */
	assert_non_null(strstr(b.data, "space=20\r\n")); /* trailing blank kept */
	for (const char *p = b.data; *p; p++)
		assert_true((unsigned char)*p < 0x80); /* 7-bit clean */
	d = qp_decode(b.data, b.len);
	assert_string_equal(d, want);
	free(d);
	/* Invalid UTF-8 becomes U+FFFD (the part says charset=UTF-8), a
	 * control character is encoded, a valid character never split. */
	buf_reset(&b);
	mime_qp(&b, "a\xff b\xc5 \x07\xc5\xb5");
	assert_string_equal(b.data, "a=EF=BF=BD b=EF=BF=BD =07=C5=B5\r\n");
	/* 76 characters fit on one line; the 77th needs a soft break. */
	{
		char a[80], expected[100];
		memset(a, 'a', 77);
		a[76] = '\0';
		buf_reset(&b);
		mime_qp(&b, a);
		snprintf(expected, sizeof(expected), "%s\r\n", a);
		assert_string_equal(b.data, expected);
		a[76] = 'a';
		a[77] = '\0';
		buf_reset(&b);
		mime_qp(&b, a);
		snprintf(expected, sizeof(expected), "%.75s=\r\naa\r\n", a);
		assert_string_equal(b.data, expected);
	}
	/* Lone CR and CRLF are line breaks too; empty text is one CRLF. */
	buf_reset(&b);
	mime_qp(&b, "a\rb\r\nc");
	assert_string_equal(b.data, "a\r\nb\r\nc\r\n");
	buf_reset(&b);
	mime_qp(&b, "");
	assert_string_equal(b.data, "\r\n");
	/* A line of 200 '=' never splits an =3D triplet. */
	buf_reset(&b);
	{
		char eq[201];
		memset(eq, '=', 200);
		eq[200] = '\0';
		mime_qp(&b, eq);
		assert_lines(b.data, 76);
		d = qp_decode(b.data, b.len);
		assert_int_equal(strlen(d), 202);
		free(d);
	}
	/* Eight bytes are checked at once: each byte that is not plain
	 * printable ASCII ('=', DEL, a control, a tab, a non-ASCII byte), at
	 * every offset of a long run, is still seen and encoded (or, a tab,
	 * kept), and the text comes back whole. */
	{
		static const char *const odd[] = {"=", "\x7f", "\x1f", "\t", "\xc5\xb5", "\x80"};
		static const char *const enc[] = {"=3D", "=7F", "=1F", "\t", "=C5=B5", "=EF=BF=BD"};
		char in2[200], want2[220];
		for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++)
			for (int at = 0; at < 40; at++) {
				memset(in2, 'x', 80);
				memcpy(in2 + at, odd[k], strlen(odd[k]));
				in2[at + strlen(odd[k]) + (60 - at - 1)] = '\0';
				buf_reset(&b);
				mime_qp(&b, in2);
				assert_lines(b.data, 76);
				assert_non_null(strstr(b.data, enc[k]));
				if (strcmp(odd[k], "\x80") != 0) { /* U+FFFD is no round trip */
					d = qp_decode(b.data, b.len);
					snprintf(want2, sizeof(want2), "%s\r\n", in2);
					assert_string_equal(d, want2);
					free(d);
				}
			}
	}
	buf_free(&b);
}

/* mime_qp reserves its room up front: a line of invalid bytes (each
 * =EF=BF=BD, a soft break every eight) is its worst case. Every length up
 * to 400, invalid bytes from every offset on and at every offset alone,
 * each in a fresh buffer (so the reservation is all there is; ASan sees
 * a byte past it), decodes to U+FFFD per byte with lines <= 76. */
static void test_qp_invalid_bytes_sizing(void **state)
{
	char in[402];

	for (size_t n = 1; n <= 400; n++) {
		for (size_t at = 0; at < n; at++) {
			for (int alone = 0; alone < 2; alone++) {
				struct buf b;
				char *d;
				size_t bad = alone ? 1 : n - at, fffd = 0;
				if (alone && n > 120 && at % 7)
					continue; /* single bytes: every offset up to 120, then
						     every 7th */
				if (!alone && n > 120 && at > 8 && at % 13)
					continue;
				memset(in, 'a', n);
				memset(in + at, 0xff, bad);
				in[n] = '\0';
				b = (struct buf)BUF_INIT;
				mime_qp(&b, in);
				assert_false(b.oom);
				assert_true(b.len < b.cap);
				assert_lines(b.data, 76);
				d = qp_decode(b.data, b.len);
				for (const char *q = d; (q = strstr(q, "\xef\xbf\xbd")); q += 3)
					fffd++;
				assert_int_equal(fffd, bad);
				assert_int_equal(strlen(d), n - bad + 3 * bad + 2);
				free(d);
				buf_free(&b);
			}
		}
	}
}

static void test_multipart_structure(void **state)
{
	char msgid[512], *msg, *hdrs, *d;
	const char *bnd = "=_herald_000000001234abcd", *p, *text, *html;
	int delims = 0;

	msg = build(welsh, "Ada Lovelace", "REF-42", "Annwyl Ada,\nDiolch.\n",
		    "<p>Annwyl <b>Ada</b> \xe2\x80\x93 \xc5\xb5y</p>\n", msgid, sizeof(msgid));
	assert_lines(msg, 78);
	assert_true(strlen(msg) >= 2 && strcmp(msg + strlen(msg) - 2, "\r\n") == 0);
	hdrs = headers_of(msg);
	assert_only_known_headers(hdrs);
	assert_int_equal(count_header(hdrs, "MIME-Version"), 1);
#ifdef HERALD_EMAIL_GMIME /* test_email_gmime: GMime's layout of the same */
	assert_non_null(strstr(hdrs, "Content-Type: multipart/alternative; boundary=\""
				     "=_herald_000000001234abcd\"\r\n"));
#else
	assert_non_null(strstr(hdrs, "Content-Type: multipart/alternative;\r\n boundary=\""
				     "=_herald_000000001234abcd\"\r\n"));
#endif
	assert_non_null(strstr(hdrs, "Message-ID: <dvla-2026-000123@gov.example>\r\n"));
	assert_non_null(strstr(hdrs, "Date: Mon, 06 Apr 2026 09:40:00 +0000\r\n"));
#ifdef HERALD_EMAIL_GMIME /* GMime quotes a display name only when it must */
	assert_non_null(strstr(hdrs, "From: Gwasanaeth Cymru <noreply@gov.example>\r\n"));
#else
	assert_non_null(strstr(hdrs, "From: \"Gwasanaeth Cymru\" <noreply@gov.example>\r\n"));
#endif
	assert_non_null(strstr(hdrs, "Reply-To: help@gov.example\r\n"));
	assert_non_null(strstr(hdrs, "X-Herald-Reference: REF-42\r\n"));
	assert_non_null(strstr(hdrs, "List-Unsubscribe: <mailto:unsub@gov.example>\r\n"));
	assert_int_equal(count_header(hdrs, "List-Unsubscribe-Post"), 0); /* no one-click link */
	assert_string_equal(msgid, "<dvla-2026-000123@gov.example>");
	d = header_decode(strstr(hdrs, "Subject:"));
	assert_string_equal(d, welsh);
	free(d);
	free(hdrs);

	/* Exactly two delimiters and one close delimiter, each on its own line. */
	for (p = msg; (p = strstr(p, bnd)) != NULL; p++) {
		if (p >= msg + 4 && strncmp(p - 4, "\r\n--", 4) == 0)
			delims++;
	}
	assert_int_equal(delims, 3);
	assert_non_null(strstr(msg, "\r\n--=_herald_000000001234abcd--\r\n"));
	text =
	    strstr(msg, "--=_herald_000000001234abcd\r\nContent-Type: text/plain; charset=UTF-8\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	html =
	    strstr(msg, "--=_herald_000000001234abcd\r\nContent-Type: text/html; charset=UTF-8\r\n"
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
	assert_non_null(text);
	assert_non_null(html);
	assert_true(text < html); /* text first: the least preferred alternative */
	assert_non_null(strstr(html, "<p>Annwyl <b>Ada</b> =E2=80=93 =C5=B5y</p>"));
	free(msg);

	/* Without HTML: one text/plain part, no multipart. */
	msg = build("Hi", NULL, NULL, "Body", NULL, msgid, sizeof(msgid));
	assert_null(strstr(msg, "multipart"));
	assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"
				    "Content-Transfer-Encoding: quoted-printable\r\n\r\nBody\r\n"));
	assert_non_null(strstr(msg, "To: ada@example.org\r\n"));
	assert_null(strstr(msg, "X-Herald-Reference"));
	free(msg);
}

static void test_message_id(void **state)
{
	char a[400], b[400], id1[512], id2[512], *m1, *m2;

	mime_msgid_local("dvla-2026-000123", a, sizeof(a));
	assert_string_equal(a, "dvla-2026-000123");
	mime_msgid_local("a b<c>@d\r\n", a, sizeof(a));
	assert_string_equal(a, "a=20b=3Cc=3E=40d=0D=0A");
	mime_msgid_local("a_b", b, sizeof(b));
	mime_msgid_local("a b", a, sizeof(a));
	assert_string_not_equal(a, b); /* distinct ids stay distinct */
	mime_msgid_local("a=20b", b, sizeof(b));
	assert_string_not_equal(a, b);
	mime_msgid_local(".x..y.", a, sizeof(a));
	assert_string_equal(a, "=2Ex=2E.y=2E"); /* a valid dot-atom */
	mime_msgid_local("", a, sizeof(a));
	assert_string_equal(a, "herald");
	mime_msgid_local("abc.def", a, 5); /* never ends on a dot or half an escape */
	assert_string_equal(a, "abc");
	mime_msgid_local("ab cd", a, 5);
	assert_string_equal(a, "ab");
	/* Stable: the same event gives the same Message-ID on a retry. */
	m1 = build("x", NULL, NULL, "y", NULL, id1, sizeof(id1));
	m2 = build("other subject", NULL, NULL, "z", "<p>z</p>", id2, sizeof(id2));
	assert_string_equal(id1, id2);
	free(m1);
	free(m2);
}

static void test_date(void **state)
{
	char d[64];

	mime_date(0, d, sizeof(d));
	assert_string_equal(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	mime_date(1775468400, d, sizeof(d));
	assert_string_equal(d, "Mon, 06 Apr 2026 09:40:00 +0000");
}

static void test_reply_mapping(void **state)
{
	static const struct {
		enum email_stage stage;
		int code;
		const char *text;
		int ec, es, ed;
		enum herald_status st;
		unsigned flags;
		const char *dsn, *reason, *ref;
	} cases[] = {
	    {EMAIL_STAGE_RCPT, 550, "user unknown\r\n", 5, 1, 1, HERALD_PERMANENT,
	     HERALD_RF_BAD_ADDRESS, "5.1.1", "550 5.1.1 user unknown", ""},
	    /* Enhanced code not parsed by libesmtp: taken from the text. */
	    {EMAIL_STAGE_RCPT, 550, "5.1.1 user unknown\r\n", 0, 0, 0, HERALD_PERMANENT,
	     HERALD_RF_BAD_ADDRESS, "5.1.1", "550 5.1.1 user unknown", ""},
	    {EMAIL_STAGE_RCPT, 550, "5.1.10 null MX", 0, 0, 0, HERALD_PERMANENT,
	     HERALD_RF_BAD_ADDRESS, "5.1.10", "550 5.1.10 null MX", ""},
	    {EMAIL_STAGE_RCPT, 550, "5.7.1 relaying denied", 0, 0, 0, HERALD_PERMANENT, 0, "5.7.1",
	     "550 5.7.1 relaying denied", ""},
	    {EMAIL_STAGE_RCPT, 550, "mailbox unavailable", 0, 0, 0, HERALD_PERMANENT, 0, "",
	     "550 mailbox unavailable", ""},
	    {EMAIL_STAGE_MAIL, 553, "sender rejected", 5, 1, 8, HERALD_PERMANENT, 0, "5.1.8",
	     "553 5.1.8 sender rejected", ""},
	    {EMAIL_STAGE_DATA, 554, "5.1.1 no valid recipients", 0, 0, 0, HERALD_PERMANENT, 0,
	     "5.1.1", "554 5.1.1 no valid recipients", ""},
	    {EMAIL_STAGE_RCPT, 450, "4.2.0 mailbox busy\r\n", 0, 0, 0, HERALD_TEMPORARY, 0, "4.2.0",
	     "450 4.2.0 mailbox busy", ""},
	    {EMAIL_STAGE_DATA, 421, "service closing\r\nchannel", 4, 3, 2, HERALD_TEMPORARY, 0,
	     "4.3.2", "421 4.3.2 service closing channel", ""},
	    {EMAIL_STAGE_DATA, 250, "Ok: queued as 4Zk9Qw1Xyz\r\n", 2, 0, 0, HERALD_SENT,
	     HERALD_RF_FINAL, "2.0.0", "250 2.0.0 Ok: queued as 4Zk9Qw1Xyz", "4Zk9Qw1Xyz"},
	    {EMAIL_STAGE_DATA, 250, "OK id=1wXyZ-000Abc-3q", 0, 0, 0, HERALD_SENT, HERALD_RF_FINAL,
	     "", "250 OK id=1wXyZ-000Abc-3q", "1wXyZ-000Abc-3q"},
	    {EMAIL_STAGE_DATA, 250, "2.0.0 Ok", 0, 0, 0, HERALD_SENT, HERALD_RF_FINAL, "2.0.0",
	     "250 2.0.0 Ok", "<ev-1@gov.example>"},
	    {EMAIL_STAGE_DATA, 250, NULL, 0, 0, 0, HERALD_SENT, HERALD_RF_FINAL, "", "250",
	     "<ev-1@gov.example>"},
	    {EMAIL_STAGE_DATA, 354, "go ahead", 0, 0, 0, HERALD_TEMPORARY, 0, "", "354 go ahead",
	     ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct herald_result r;
		memset(&r, 0x5a, sizeof(r));
		email_map_reply(cases[i].stage, cases[i].code, cases[i].text, cases[i].ec,
				cases[i].es, cases[i].ed, "<ev-1@gov.example>", &r);
		if (r.status != cases[i].st || r.flags != cases[i].flags ||
		    strcmp(r.dsn, cases[i].dsn) != 0 || strcmp(r.reason, cases[i].reason) != 0 ||
		    strcmp(r.ref, cases[i].ref) != 0)
			fail_msg("case %zu: status=%d flags=%u dsn='%s' reason='%s' ref='%s'", i,
				 r.status, r.flags, r.dsn, r.reason, r.ref);
	}
}

static void test_bad_input_never_crashes(void **state)
{
	/* Long, binary, half-UTF-8 values through every header and body path. */
	char junk[3000], msgid[512];
	struct buf b;
	struct mime_msg m = {0};

	for (size_t i = 0; i < sizeof(junk) - 1; i++)
		junk[i] = (char)(1 + (i * 7919) % 255);
	junk[sizeof(junk) - 1] = '\0';
	m.from_addr = "a@b.example";
	m.to_addr = "c@d.example";
	m.to_name = junk;
	m.subject = junk;
	m.body = junk;
	m.html = junk;
	m.event_id = junk;
	m.reference = junk;
	m.domain = "d.example";
	b = (struct buf)BUF_INIT;
	assert_int_equal(mime_build(&m, &b, msgid, sizeof(msgid)), 0);
	assert_lines(b.data, 998);
	{
		char *hdrs = headers_of(b.data);
		assert_only_known_headers(hdrs);
		free(hdrs);
	}
	buf_free(&b);
}

/* RFC 8058: with the one-click link, List-Unsubscribe holds it (first) and
 * List-Unsubscribe-Post says One-Click; each header once. */
static void test_one_click_unsubscribe(void **state)
{
	static const char url[] = "https://herald.gov.example/unsubscribe/"
				  "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdEfGhIjKlMnOpQrStUvWxYz"
				  "0123456789-_AbCdEfGhIjKlMnOpQrSt";
	char lu[512], msgid[128], *hdrs;
	struct buf b = BUF_INIT;
	struct mime_msg m = {
	    .from_addr = "noreply@gov.example",
	    .to_addr = "ada@example.org",
	    .subject = "s",
	    .body = "b",
	    .event_id = "e-1",
	    .domain = "gov.example",
	    .list_unsubscribe = lu,
	    .one_click = 1,
	    .date = 1775468400,
	};

	(void)state;
	snprintf(lu, sizeof(lu), "<%s>, <mailto:unsub@gov.example>", url);
	assert_int_equal(mime_build(&m, &b, msgid, sizeof(msgid)), 0);
	hdrs = headers_of(b.data);
	assert_only_known_headers(hdrs);
	assert_int_equal(count_header(hdrs, "List-Unsubscribe"), 1);
	assert_int_equal(count_header(hdrs, "List-Unsubscribe-Post"), 1);
	assert_non_null(strstr(hdrs, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"));
	snprintf(lu, sizeof(lu), "<%s>,", url); /* whole (GMime may fold before it) */
	assert_non_null(strstr(hdrs, lu));
	assert_true(strstr(hdrs, lu) < strstr(hdrs, "mailto:"));
	free(hdrs);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_check),
	    cmocka_unit_test(test_parse_mailbox),
	    cmocka_unit_test(test_clean),
	    cmocka_unit_test(test_subject_ascii_folds),
	    cmocka_unit_test(test_subject_welsh_rfc2047),
	    cmocka_unit_test(test_subject_base64_when_shorter),
	    cmocka_unit_test(test_subject_lookalike_encoded_word),
	    cmocka_unit_test(test_header_injection),
	    cmocka_unit_test(test_qp_roundtrip),
	    cmocka_unit_test(test_qp_invalid_bytes_sizing),
	    cmocka_unit_test(test_multipart_structure),
	    cmocka_unit_test(test_message_id),
	    cmocka_unit_test(test_date),
	    cmocka_unit_test(test_reply_mapping),
	    cmocka_unit_test(test_bad_input_never_crashes),
	    cmocka_unit_test(test_one_click_unsubscribe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
