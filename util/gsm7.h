/* gsm7.h - GSM 03.38 analysis of a UTF-8 text: which SMS encoding it needs
 * (GSM-7 or UCS-2), how long it is in that encoding and how many SMS
 * segments it takes. Used by the sms channel and by `heraldctl sms-info`.
 * Knows nothing of gateways. */
#ifndef HERALD_GSM7_H
#define HERALD_GSM7_H

#include <stddef.h>

enum gsm_encoding {
	GSM_ENC_GSM7 = 0, /* 7-bit default alphabet (+ extension table) */
	GSM_ENC_UCS2 = 2, /* 16-bit; values match Kannel's coding= parameter */
};

/* Limits of one SMS and of one part of a concatenated SMS (the 6 or 7
 * septets / 3 units lost to the concatenation header). */
#define GSM7_SINGLE 160
#define GSM7_PART 153
#define UCS2_SINGLE 70
#define UCS2_PART 67

struct gsm_info {
	enum gsm_encoding encoding;
	/* GSM-7: septets (an extension character counts two).
	 * UCS-2: UTF-16 code units (a character outside the BMP counts two). */
	size_t chars;
	/* SMS segments needed; 0 for the empty text. */
	size_t segments;
};

/*
 * Analyse LEN bytes of UTF-8 TEXT. Returns 0 and fills *out, or -1 when the
 * text is not valid UTF-8 (overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences, stray continuation bytes, NUL).
 *
 * Segments of a message longer than one SMS are counted by filling parts in
 * order, so that a part never ends in the middle of an escape sequence
 * (GSM-7: ESC + extension character) or of a surrogate pair (UCS-2): such
 * a pair moves whole to the next part, as phones and gateways do. The count
 * is therefore ceil(chars / 153) (resp. 67) or, when a pair straddles a part
 * boundary, possibly one more.
 */
int gsm_analyse(const char *text, size_t len, struct gsm_info *out);

/* "gsm7" or "ucs2". */
const char *gsm_encoding_name(enum gsm_encoding enc);

#endif
