/*
 * mime.c - building the email a citizen receives, and reading the relay's
 * answer. No libesmtp, no threads, no I/O: every function here is pure and
 * covered by tests/unit/test_email.c.
 *
 * Choices (see mime.h for the contract):
 *  - Bodies are quoted-printable, not 8bit: the message is 7-bit clean, so
 *    it survives any relay without 8BITMIME and every line stays <= 76
 *    characters (far below the 998 limit), whatever the template renders.
 *  - Header values never contain CR or LF: mime_clean() turns every control
 *    character into a space before a value is written, and every line we
 *    emit after the first of a header starts with a space (a fold). So no
 *    personalisation value can start a header of its own.
 *  - Non-ASCII header text becomes RFC 2047 encoded-words, Q or B, whichever
 *    is shorter, <= 75 characters each, one per folded line, never splitting
 *    a UTF-8 character between two words.
 *  - The multipart boundary starts with "=_": quoted-printable output can
 *    never contain "=_" (an '=' there is always followed by hex or CRLF), so
 *    the boundary cannot collide with content.
 */
#include "mime.h"
#include "text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- UTF-8 and cleaning ------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid: s is
 * NUL-terminated, and utf8_decode stops at the first byte that does not
 * continue the sequence, so it never reads past the NUL. */
static size_t utf8_seq(const unsigned char *s)
{
	uint32_t cp;

	return utf8_decode((const char *)s, 4, &cp);
}

char *mime_clean(const char *s, int single_line)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	char *out = malloc(n * 3 + 1), *o;

	if (!out)
		return NULL;
	o = out;
	while (*p) {
		size_t k = utf8_seq(p);
		if (k == 0) {
			memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			p++;
			continue;
		}
		if (k > 1) {
			memcpy(o, p, k);
			o += k;
			p += k;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			if (single_line) {
				if (o > out && o[-1] != ' ')
					*o++ = ' ';
			} else if (*p == '\n' || *p == '\r' || *p == '\t') {
				*o++ = (char)*p;
			}
			p++;
			continue;
		}
		if (single_line && *p == ' ' && (o == out || o[-1] == ' ')) {
			p++; /* leading blank or a run of blanks */
			continue;
		}
		*o++ = (char)*p++;
	}
	if (single_line)
		while (o > out && o[-1] == ' ')
			o--;
	*o = '\0';
	return out;
}

/* ---- addresses --------------------------------------------------------- */

static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

int email_addr_check(const char *addr)
{
	const char *at, *p;
	size_t local, dom, label = 0;

	if (!addr || !*addr || strlen(addr) > EMAIL_ADDR_MAX)
		return EMAIL_ADDR_BAD;
	for (p = addr; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return EMAIL_ADDR_BAD; /* space, CR, LF, controls */
	for (p = addr; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return EMAIL_ADDR_UNSUPPORTED;
	at = strchr(addr, '@');
	if (!at || strchr(at + 1, '@'))
		return EMAIL_ADDR_BAD;
	local = (size_t)(at - addr);
	dom = strlen(at + 1);
	if (local == 0 || local > 64 || dom == 0 || dom > 253)
		return EMAIL_ADDR_BAD;
	/* Local part: dot-atom (quoted local parts are not accepted). */
	if (addr[0] == '.' || at[-1] == '.')
		return EMAIL_ADDR_BAD;
	for (p = addr; p < at; p++) {
		if (*p == '.' ? p[1] == '.' : !is_atext((unsigned char)*p))
			return EMAIL_ADDR_BAD;
	}
	/* Domain: LDH labels separated by single dots, or an address
	 * literal [...] of printable characters without brackets inside. */
	p = at + 1;
	if (*p == '[') {
		if (p[dom - 1] != ']' || dom < 3)
			return EMAIL_ADDR_BAD;
		for (p++; *p != ']'; p++)
			if (*p == '[' || *p == '\\')
				return EMAIL_ADDR_BAD;
		return p[1] == '\0' ? EMAIL_ADDR_OK : EMAIL_ADDR_BAD;
	}
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				return EMAIL_ADDR_BAD;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return EMAIL_ADDR_BAD;
		if (c == '-' && label == 0)
			return EMAIL_ADDR_BAD;
		if (++label > 63)
			return EMAIL_ADDR_BAD;
	}
	if (label == 0 || p[-1] == '-')
		return EMAIL_ADDR_BAD;
	return EMAIL_ADDR_OK;
}

/* Copy s[0..n) trimmed of blanks (and, for a display name, of one pair
 * of surrounding quotes) into out; -1 when it does not fit. */
static int copy_trim(char *out, size_t outlen, const char *s, size_t n, int unquote)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (unquote && n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	if (n >= outlen)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int email_parse_mailbox(const char *in, char *name, size_t namelen, char *addr, size_t addrlen)
{
	const char *lt, *gt;

	if (!in || namelen == 0 || addrlen == 0)
		return -1;
	lt = strrchr(in, '<');
	if (lt) {
		gt = strchr(lt, '>');
		if (!gt || gt[strspn(gt + 1, " \t") + 1] != '\0')
			return -1;
		if (copy_trim(name, namelen, in, (size_t)(lt - in), 1) != 0 ||
		    copy_trim(addr, addrlen, lt + 1, (size_t)(gt - lt - 1), 0) != 0)
			return -1;
	} else {
		name[0] = '\0';
		if (copy_trim(addr, addrlen, in, strlen(in), 0) != 0)
			return -1;
	}
	return email_addr_check(addr) == EMAIL_ADDR_OK ? 0 : -1;
}

/* ---- header folding ---------------------------------------------------- */

struct fold {
	struct buf *b;
	size_t col;
	int first;
};

static void fold_start(struct fold *f, struct buf *b, const char *name)
{
	f->b = b;
	f->first = 1;
	buf_str(b, name);
	buf_add(b, ":", 1);
	f->col = strlen(name) + 1;
}

/* Put one unbreakable atom on the current line, or fold before it when
 * the line would pass 78 characters. */
static void fold_atom(struct fold *f, const char *a, size_t n)
{
	if (!f->first && f->col + 1 + n > 78) {
		buf_add(f->b, "\r\n ", 3);
		f->col = 1;
	} else {
		buf_add(f->b, " ", 1);
		f->col++;
	}
	buf_add(f->b, a, n);
	f->col += n;
	f->first = 0;
}

static void fold_end(struct fold *f)
{
	buf_add(f->b, "\r\n", 2);
}

/* Atoms separated by spaces (s is cleaned: single spaces, trimmed). */
static void fold_words(struct fold *f, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, " ");
		fold_atom(f, s, n);
		s += n;
		while (*s == ' ')
			s++;
	}
}

static int q_plain(unsigned char c)
{
	/* The characters RFC 2047 section 5 (3) allows unencoded even in a
	 * phrase, minus '=', '?' and '_', which Q reserves. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '!' || c == '*' || c == '+' || c == '-' || c == '/' || c == ' ';
}

/* One byte as two upper-case hex digits at o (OpenSSL's; o[2] gets a NUL,
 * which every caller has room for and then overwrites or keeps). */
static char *hex_byte(char *o, unsigned char c)
{
	OPENSSL_buf2hexstr_ex(o, 3, NULL, &c, 1, '\0');
	return o + 2;
}

/* Base64 length of n bytes (EVP_EncodeBlock pads to whole quads). */
static size_t b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* s is cleaned UTF-8: write it as encoded-words. */
static void fold_encoded(struct fold *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), qlen = 0;
	int use_b;

	for (size_t i = 0; i < n; i++)
		qlen += q_plain(p[i]) ? 1 : 3;
	use_b = b64_len(n) < qlen;

	while (*p) {
		char w[80];
		size_t wl, limit = 75, room, take = 0, enc = 0;

		/* The first word shares its line with "Name: ". */
		if (f->first && f->col + 1 + limit > 76)
			limit = f->col + 1 + 24 > 76 ? 24 : 76 - f->col - 1;
		room = limit - 12; /* "=?UTF-8?Q?" and "?=" */
		while (p[take]) {
			size_t k = utf8_seq(p + take), add = 0;
			if (k == 0)
				k = 1; /* cannot happen after mime_clean */
			if (use_b) {
				if (b64_len(take + k) > room)
					break;
			} else {
				for (size_t j = 0; j < k; j++)
					add += q_plain(p[take + j]) ? 1 : 3;
				if (enc + add > room)
					break;
				enc += add;
			}
			take += k;
		}
		memcpy(w, use_b ? "=?UTF-8?B?" : "=?UTF-8?Q?", 10);
		wl = 10;
		if (use_b) {
			wl += (size_t)EVP_EncodeBlock((unsigned char *)w + wl, p, (int)take);
		} else {
			for (size_t j = 0; j < take; j++) {
				if (p[j] == ' ') {
					w[wl++] = '_';
				} else if (q_plain(p[j])) {
					w[wl++] = (char)p[j];
				} else {
					w[wl++] = '=';
					wl += (size_t)(hex_byte(w + wl, p[j]) - (w + wl));
				}
			}
		}
		w[wl++] = '?';
		w[wl++] = '=';
		fold_atom(f, w, wl);
		p += take;
	}
}

/* Can s (cleaned) go into a header as it is? */
static int plain_ascii(const char *s, size_t max_word)
{
	size_t word = 0;

	if (strstr(s, "=?"))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80)
			return 0;
		word = *p == ' ' ? 0 : word + 1;
		if (word > max_word)
			return 0;
	}
	return 1;
}

void mime_header_text(struct buf *b, const char *name, const char *value)
{
	struct fold f;
	char *v = mime_clean(value, 1);

	if (!v) {
		b->oom = 1;
		return;
	}
	fold_start(&f, b, name);
	if (plain_ascii(v, 76))
		fold_words(&f, v);
	else
		fold_encoded(&f, v);
	fold_end(&f);
	free(v);
}

void mime_header_raw(struct buf *b, const char *name, const char *value)
{
	struct fold f;
	char *v = mime_clean(value, 1);

	if (!v) {
		b->oom = 1;
		return;
	}
	fold_start(&f, b, name);
	fold_words(&f, v);
	fold_end(&f);
	free(v);
}

void mime_header_mailbox(struct buf *b, const char *name, const char *display, const char *addr)
{
	struct fold f;
	char *v = mime_clean(display, 1);
	struct buf a;

	if (!v) {
		b->oom = 1;
		return;
	}
	a = (struct buf)BUF_INIT;
	fold_start(&f, b, name);
	if (*v && plain_ascii(v, 900) && strlen(v) <= 900) {
		buf_add(&a, "\"", 1);
		for (const char *p = v; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_add(&a, "\\", 1);
			buf_add(&a, p, 1);
		}
		buf_add(&a, "\"", 1);
		if (a.oom)
			b->oom = 1;
		else
			fold_atom(&f, a.data, a.len);
	} else if (*v) {
		fold_encoded(&f, v);
	}
	buf_reset(&a);
	buf_add(&a, "<", 1);
	buf_str(&a, addr);
	buf_add(&a, ">", 1);
	if (a.oom)
		b->oom = 1;
	else if (*v)
		fold_atom(&f, a.data, a.len);
	else
		fold_atom(&f, a.data + 1, a.len - 2); /* bare addr-spec */
	fold_end(&f);
	buf_free(&a);
	free(v);
}

/* ---- bodies ------------------------------------------------------------ */

/* Written as itself in quoted-printable (blanks only inside a line): tab,
 * and printable ASCII but '=' (61). A table, as this is looked up for
 * every byte of every body. */
static const unsigned char qp_lit[256] = {[9] = 1, [32 ... 60] = 1, [62 ... 126] = 1};

/* Eight bytes at once: 1 if all of them are printable ASCII (32-126) but
 * '=' (a tab among them, also literal, takes the byte loop). Bit 7 of a
 * byte of (v - 0x01..) & ~v is set where v's byte was 0, for bytes below
 * 0x80; the same on v - 0x20.. finds bytes below 32. */
static int qp_lit8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t v, eq, del;

	memcpy(&v, p, 8);
	if (v & highs)
		return 0; /* not ASCII */
	eq = v ^ (ones * '=');
	del = v ^ (ones * 0x7f);
	return !((((eq - ones) & ~eq) | ((del - ones) & ~del) | ((v - ones * 0x20) & ~v)) & highs);
}

/* One byte as =XX. */
static char *qp_hex(char *o, unsigned char c)
{
	o[0] = '=';
	return hex_byte(o + 1, c);
}

/* Quoted-printable, written straight into the buffer (this is the hot
 * path of a bulk send). The text need not be valid UTF-8: each invalid
 * byte is written as U+FFFD, so the part really is charset=UTF-8. */
void mime_qp(struct buf *b, const char *text)
{
	const unsigned char *p = (const unsigned char *)(text ? text : "");

	for (;;) {
		size_t n = strcspn((const char *)p, "\r\n"), col = 0, i = 0;
		/* Worst case: 9 output bytes per input byte (an invalid byte is
		 * =EF=BF=BD), and a soft break (3) per 8 input bytes: a break
		 * comes only when the line holds more than 75 - 9 = 66 bytes, at
		 * most 9 per input byte, so at least 8 input bytes apart (a line
		 * of invalid bytes: 8 per line). Plus the line end. */
		char *o = buf_reserve(b, n * 9 + (n / 8 + 1) * 3 + 8);

		if (!o)
			return;
		while (i < n) {
			unsigned char c = p[i];
			size_t k = 1, need;
			int enc;
			/* Fast path: copy a run of characters that need no encoding,
			 * up to column 75 and short of a trailing blank. */
			if (col < 75 && qp_lit[c] &&
			    !(i == 0 && n >= 5 && memcmp(p, "From ", 5) == 0)) {
				size_t j = i + 1, lim = i + (75 - col) < n ? i + (75 - col) : n,
				       run;
				while (j + 8 <= lim && qp_lit8(p + j))
					j += 8;
				while (j < lim && qp_lit[p[j]])
					j++;
				run = j - i;
				if (i + run == n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
					run--;
				if (run > 0) {
					memcpy(o, p + i, run);
					o += run;
					col += run;
					i += run;
					continue;
				}
			}
			if (c >= 0x80) {
				k = utf8_seq(p + i);
				if (k == 0 || i + k > n)
					k = 0; /* invalid: one byte becomes U+FFFD */
				need = k ? 3 * k : 9;
				enc = 1;
			} else {
				enc = !((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t');
				if ((c == ' ' || c == '\t') && i + 1 == n)
					enc = 1; /* a trailing blank would be stripped */
				if (i == 0 && n >= 5 && memcmp(p, "From ", 5) == 0)
					enc = 1; /* mbox "From " munging */
				need = enc ? 3 : 1;
			}
			/* Lines stay <= 76: 75 plus the soft break's '=', or 76
			 * when this is the line's last character. */
			if (col + need > 75 && !(i + (k ? k : 1) == n && col + need <= 76)) {
				memcpy(o, "=\r\n", 3);
				o += 3;
				col = 0;
			}
			if (!enc) {
				*o++ = (char)c;
			} else if (k == 0) {
				o = qp_hex(qp_hex(qp_hex(o, 0xef), 0xbf), 0xbd);
			} else {
				for (size_t j = 0; j < k; j++)
					o = qp_hex(o, p[i + j]);
			}
			col += need;
			i += k ? k : 1;
		}
		memcpy(o, "\r\n", 2);
		o += 2;
		b->len = (size_t)(o - b->data);
		b->data[b->len] = '\0';
		p += n;
		if (*p == '\r' && p[1] == '\n')
			p += 2;
		else if (*p)
			p++;
		if (!*p)
			break;
	}
}

/* ---- dates and ids ----------------------------------------------------- */

void mime_date(time_t t, char *out, size_t outlen)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, outlen, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000", wd[tm.tm_wday % 7],
		 tm.tm_mday, mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

static int msgid_keep(unsigned char c)
{
	return c != '=' && is_atext(c);
}

void mime_msgid_local(const char *event_id, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)(event_id ? event_id : "");
	size_t o = 0;

	if (outlen == 0)
		return;
	if (!*p) {
		snprintf(out, outlen, "herald");
		return;
	}
	for (size_t i = 0; p[i]; i++) {
		unsigned char c = p[i];
		if (msgid_keep(c) ||
		    (c == '.' && o > 0 && out[o - 1] != '.' && msgid_keep(p[i + 1]))) {
			/* A dot needs room for the character after it. */
			if (o + (c == '.' ? 2 : 1) >= outlen)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 3 >= outlen)
				break;
			out[o++] = '=';
			o += (size_t)(hex_byte(out + o, c) - (out + o));
		}
	}
	out[o] = '\0';
}

/* ---- the message ------------------------------------------------------- */

#ifndef HERALD_EMAIL_GMIME /* else mime_gmime.c's, for the bench */
static void part_headers(struct buf *b, const char *type)
{
	buf_str(b, "Content-Type: ");
	buf_str(b, type);
	buf_str(b, "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n");
}

int mime_build(const struct mime_msg *m, struct buf *out, char *msgid, size_t msgidlen)
{
	char local[400], date[64], bnd[48];
	const char *body = m->body ? m->body : "", *html = m->html;

	mime_msgid_local(m->event_id, local, sizeof(local));
	snprintf(msgid, msgidlen, "<%s@%s>", local, m->domain);
	mime_date(m->date, date, sizeof(date));

	buf_str(out, "Date: ");
	buf_str(out, date);
	buf_str(out, "\r\n");
	mime_header_mailbox(out, "From", m->from_name, m->from_addr);
	mime_header_mailbox(out, "To", m->to_name, m->to_addr);
	if (m->reply_to && *m->reply_to)
		mime_header_mailbox(out, "Reply-To", NULL, m->reply_to);
	mime_header_text(out, "Subject", m->subject ? m->subject : "");
	buf_str(out, "Message-ID: ");
	buf_str(out, msgid);
	buf_str(out, "\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
	if (m->reference && *m->reference)
		mime_header_text(out, "X-Herald-Reference", m->reference);
	if (m->list_unsubscribe && *m->list_unsubscribe)
		mime_header_raw(out, "List-Unsubscribe", m->list_unsubscribe);
	if (m->one_click && m->list_unsubscribe && *m->list_unsubscribe)
		buf_str(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	if (!html) {
		part_headers(out, "text/plain");
		buf_str(out, "\r\n");
		mime_qp(out, body);
	} else {
		snprintf(bnd, sizeof(bnd), "=_herald_%016llx", m->boundary_seed);
		buf_str(out, "Content-Type: multipart/alternative;\r\n boundary=\"");
		buf_str(out, bnd);
		buf_str(out, "\"\r\n\r\nThis is a multi-part message in MIME format.\r\n--");
		buf_str(out, bnd);
		buf_str(out, "\r\n");
		part_headers(out, "text/plain");
		buf_str(out, "\r\n");
		mime_qp(out, body);
		buf_str(out, "--");
		buf_str(out, bnd);
		buf_str(out, "\r\n");
		part_headers(out, "text/html");
		buf_str(out, "\r\n");
		mime_qp(out, html);
		buf_str(out, "--");
		buf_str(out, bnd);
		buf_str(out, "--\r\n");
	}
	return out->oom ? -1 : 0;
}
#endif

/* ---- SMTP replies ------------------------------------------------------ */

/* Parse "D.DDD.DDD" at s; returns the characters used, 0 if none. */
static size_t parse_enh(const char *s, int *c, int *sub, int *det)
{
	char *e;
	long a, b, d;
	const char *p = s;

	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	a = *p++ - '0';
	if (*p++ != '.' || *p < '0' || *p > '9')
		return 0;
	b = strtol(p, &e, 10);
	if (e == p || e - p > 3 || *e != '.')
		return 0;
	p = e + 1;
	if (*p < '0' || *p > '9')
		return 0;
	d = strtol(p, &e, 10);
	if (e - p > 3 || (*e && *e != ' '))
		return 0;
	*c = (int)a;
	*sub = (int)b;
	*det = (int)d;
	return (size_t)(e - s);
}

static void queue_id(const char *t, char *out, size_t outlen)
{
	static const char *const marks[] = {"queued as ", "id="};

	out[0] = '\0';
	for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
		size_t ml = strlen(marks[m]), n = 0;
		const char *p = t;
		for (; *p; p++)
			if (strncasecmp(p, marks[m], ml) == 0)
				break;
		if (!*p)
			continue;
		p += ml;
		while (n + 1 < outlen && n < 64 &&
		       ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
			(p[n] >= '0' && p[n] <= '9') || p[n] == '.' || p[n] == '_' || p[n] == '-'))
			n++;
		if (n > 0) {
			memcpy(out, p, n);
			out[n] = '\0';
			return;
		}
	}
}

void email_map_reply(enum email_stage stage, int code, const char *text, int enh_class,
		     int enh_subject, int enh_detail, const char *msgid, struct herald_result *r)
{
	char t[256], *clean = mime_clean(text ? text : "", 1);
	const char *rest;
	int ec = enh_class, es = enh_subject, ed = enh_detail;

	snprintf(t, sizeof(t), "%s", clean ? clean : "");
	free(clean);
	rest = t;
	if (ec <= 0) {
		size_t k = parse_enh(t, &ec, &es, &ed);
		if (k) {
			rest = t + k;
			while (*rest == ' ')
				rest++;
		} else {
			ec = 0;
		}
	}
	r->flags = 0;
	r->ref[0] = '\0';
	r->dsn[0] = '\0';
	if (ec > 0)
		snprintf(r->dsn, sizeof(r->dsn), "%d.%d.%d", ec, es, ed);
	if (code >= 200 && code <= 299) {
		r->status = HERALD_SENT;
		r->flags = HERALD_RF_FINAL;
		queue_id(rest, r->ref, sizeof(r->ref));
		if (!r->ref[0])
			snprintf(r->ref, sizeof(r->ref), "%s", msgid ? msgid : "");
	} else if (code >= 500 && code <= 599) {
		r->status = HERALD_PERMANENT;
		if (stage == EMAIL_STAGE_RCPT && ec == 5 && es == 1 && ed != 7 && ed != 8)
			r->flags |= HERALD_RF_BAD_ADDRESS;
	} else {
		r->status = HERALD_TEMPORARY;
	}
	snprintf(r->reason, sizeof(r->reason), "%d%s%s%s%.200s", code, r->dsn[0] ? " " : "", r->dsn,
		 *rest ? " " : "", rest);
}

void email_verp_path(const char *domain, const char *token, char *out, size_t outlen)
{
	snprintf(out, outlen, VERP_PREFIX "%s@%s", token, domain);
}
