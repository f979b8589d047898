/* gsm7.c - GSM 03.38 encoding choice, length and segment count of UTF-8 text.
 *
 * Only analysis: gateways (Kannel with charset=UTF-8, Twilio, JSON APIs)
 * take UTF-8 and do the conversion themselves; we need to know the coding to
 * ask for and how many parts the citizen will be billed for. */
#include "gsm7.h"

#include <stdint.h>

#include "text.h"

/* Non-ASCII characters of the GSM 03.38 default alphabet (one septet). */
static const uint16_t gsm_basic_hi[] = {
    0x00A1, 0x00A3, 0x00A4, 0x00A5, 0x00A7, 0x00BF, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C9, 0x00D1, 0x00D6, 0x00D8, 0x00DC, 0x00DF, 0x00E0, 0x00E4, 0x00E5, 0x00E6,
    0x00E8, 0x00E9, 0x00EC, 0x00F1, 0x00F2, 0x00F6, 0x00F8, 0x00F9, 0x00FC, 0x0393,
    0x0394, 0x0398, 0x039B, 0x039E, 0x03A0, 0x03A3, 0x03A6, 0x03A8, 0x03A9,
};

/* Septets an ASCII character costs in GSM-7: 1 basic, 2 extension table
 * (ESC + char), 0 not representable. The default alphabet has no ` (grave),
 * no DEL and no controls but LF and CR (form feed is an extension char). */
static const unsigned char gsm_ascii_cost[128] = {
    /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 1, 0, 0,
    /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x40 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, /* [ \ ] ^ */
    /* 0x60 */ 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* ` */
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 0, /* { | } ~ DEL */
};

/* Septets for code point C in GSM-7, 0 when it needs UCS-2. */
static int gsm_cost(uint32_t c)
{
	size_t lo = 0, hi = sizeof(gsm_basic_hi) / sizeof(gsm_basic_hi[0]);

	if (c < 0x80)
		return gsm_ascii_cost[c];
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

/* One UTF-8 sequence at s (n bytes left): its length and the code point in
 * *cp, or 0 when invalid (a NUL byte ends the text: invalid here too). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	return s[0] ? utf8_decode((const char *)s, n, cp) : 0;
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

/* Parts needed for LEN bytes of valid UTF-8 in encoding ENC when it does
 * not fit one SMS: fill parts in order, pairs never split. */
static size_t gsm_parts(const unsigned char *s, size_t len, enum gsm_encoding enc)
{
	struct gsm_packer p = {0, 0, 0};
	size_t i = 0;

	while (i < len) {
		uint32_t cp = 0;
		size_t n = utf8_next(s + i, len - i, &cp);

		i += n ? n : 1; /* (validated by the caller) */
		if (enc == GSM_ENC_GSM7)
			gsm_pack(&p, (size_t)gsm_cost(cp), GSM7_PART);
		else
			gsm_pack(&p, cp > 0xFFFF ? 2 : 1, UCS2_PART);
	}
	return p.parts;
}

int gsm_analyse(const char *text, size_t len, struct gsm_info *out)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t septets = 0, units = 0, i = 0;
	int is_gsm7 = 1;

	/* One pass for validity and lengths (ASCII by table); the part by
	 * part count below only for texts longer than one SMS. */
	while (i < len) {
		uint32_t cp;
		size_t n;
		int cost;

		if (s[i] < 0x80) {
			if (s[i] == 0)
				return -1;
			cost = gsm_ascii_cost[s[i]];
			i++;
			units++;
		} else {
			n = utf8_next(s + i, len - i, &cp);
			if (n == 0)
				return -1;
			i += n;
			units += cp > 0xFFFF ? 2 : 1;
			cost = is_gsm7 ? gsm_cost(cp) : 0;
		}
		septets += (size_t)cost;
		if (cost == 0)
			is_gsm7 = 0;
	}
	if (is_gsm7) {
		out->encoding = GSM_ENC_GSM7;
		out->chars = septets;
		out->segments =
		    septets <= GSM7_SINGLE ? (septets ? 1 : 0) : gsm_parts(s, len, GSM_ENC_GSM7);
	} else {
		out->encoding = GSM_ENC_UCS2;
		out->chars = units;
		out->segments =
		    units <= UCS2_SINGLE ? (units ? 1 : 0) : gsm_parts(s, len, GSM_ENC_UCS2);
	}
	return 0;
}

const char *gsm_encoding_name(enum gsm_encoding enc)
{
	return enc == GSM_ENC_UCS2 ? "ucs2" : "gsm7";
}
