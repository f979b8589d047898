/* gsm.c - GSM 03.38 encoding choice, length and segment count of UTF-8 text.
 *
 * Only analysis: gateways (Kannel with charset=UTF-8, Twilio, JSON APIs)
 * take UTF-8 and do the conversion themselves; we need to know the coding to
 * ask for and how many parts the citizen will be billed for. */
#include "gsm.h"

#include <stdint.h>

/* Non-ASCII characters of the GSM 03.38 default alphabet (one septet). */
static const uint16_t gsm_basic_hi[] = {
    0x00A1, 0x00A3, 0x00A4, 0x00A5, 0x00A7, 0x00BF, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C9, 0x00D1, 0x00D6, 0x00D8, 0x00DC, 0x00DF, 0x00E0, 0x00E4, 0x00E5, 0x00E6,
    0x00E8, 0x00E9, 0x00EC, 0x00F1, 0x00F2, 0x00F6, 0x00F8, 0x00F9, 0x00FC, 0x0393,
    0x0394, 0x0398, 0x039B, 0x039E, 0x03A0, 0x03A3, 0x03A6, 0x03A8, 0x03A9,
};

/* Septets an ASCII character costs in GSM-7: 1 basic, 2 extension table
 * (ESC + char), 0 not representable. The default alphabet has no ` (grave),
 * no controls but LF and CR (form feed is an extension character). */
static int gsm_ascii_cost(uint32_t c)
{
	switch (c) {
	case '\n':
	case '\r': return 1;
	case '\f':
	case '^':
	case '{':
	case '}':
	case '\\':
	case '[':
	case '~':
	case ']':
	case '|': return 2;
	case '`': return 0;
	default: return c >= 0x20 && c < 0x7F ? 1 : 0;
	}
}

/* Septets for code point C in GSM-7, 0 when it needs UCS-2. */
static int gsm_cost(uint32_t c)
{
	size_t lo = 0, hi = sizeof(gsm_basic_hi) / sizeof(gsm_basic_hi[0]);

	if (c < 0x80)
		return gsm_ascii_cost(c);
	if (c == 0x20AC) /* euro sign: extension table */
		return 2;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (gsm_basic_hi[mid] == c)
			return 1;
		if (gsm_basic_hi[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Decode one UTF-8 sequence at s (n bytes left). Returns its length and the
 * code point in *cp, or 0 when the bytes are not valid UTF-8. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return c ? 1 : 0;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0; /* continuation byte, overlong lead C0/C1, or F5..FF */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Fills parts of PART units in order; a unit pair never straddles two. */
struct gsm_packer {
	size_t total, parts, used;
};

static void gsm_pack(struct gsm_packer *p, size_t cost, size_t part)
{
	if (p->parts == 0 || p->used + cost > part) {
		p->parts++;
		p->used = 0;
	}
	p->used += cost;
	p->total += cost;
}

int gsm_analyse(const char *text, size_t len, struct gsm_info *out)
{
	const unsigned char *s = (const unsigned char *)text;
	struct gsm_packer g7 = {0, 0, 0}, u2 = {0, 0, 0};
	int is_gsm7 = 1;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = utf8_next(s + i, len - i, &cp);
		int cost;

		if (n == 0)
			return -1;
		i += n;
		cost = is_gsm7 ? gsm_cost(cp) : 0;
		if (cost == 0)
			is_gsm7 = 0;
		else
			gsm_pack(&g7, (size_t)cost, GSM7_PART);
		gsm_pack(&u2, cp > 0xFFFF ? 2 : 1, UCS2_PART);
	}
	if (is_gsm7) {
		out->encoding = GSM_ENC_GSM7;
		out->chars = g7.total;
		out->segments = g7.total <= GSM7_SINGLE ? (g7.total ? 1 : 0) : g7.parts;
	} else {
		out->encoding = GSM_ENC_UCS2;
		out->chars = u2.total;
		out->segments = u2.total <= UCS2_SINGLE ? (u2.total ? 1 : 0) : u2.parts;
	}
	return 0;
}

const char *gsm_encoding_name(enum gsm_encoding enc)
{
	return enc == GSM_ENC_UCS2 ? "ucs2" : "gsm7";
}
