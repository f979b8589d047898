/*
 * fuzz_mime.c - libFuzzer target for the email channel's encoders
 * (channels/email/mime.c): address checks, mailbox parsing, mime_clean,
 * encoded-word headers (text, raw, mailbox) and quoted-printable bodies.
 * No header line the encoders write may hold a bare CR or LF, whatever the
 * input: that is header injection.
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

/* Every CR is followed by LF and every LF preceded by CR; a header's
 * continuation lines start with a blank. */
static void check_header(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' && (i + 1 >= b->len || b->data[i + 1] != '\n'))
			abort();
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			abort();
		if (b->data[i] == '\n' && i + 1 < b->len && b->data[i + 1] != ' ' &&
		    b->data[i + 1] != '\t')
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	char *s = strndup((const char *)buf, len), *c;
	char name[256], addr[256];
	struct buf b = {0};

	if (!s)
		return 0;
	email_addr_check(s);
	for (int single = 0; single < 2; single++) {
		c = mime_clean(s, single);
		if (c && single && (strchr(c, '\n') || strchr(c, '\r')))
			abort();
		free(c);
	}
	mime_header_text(&b, "Subject", s);
	check_header(&b);
	buf_reset(&b);
	mime_header_raw(&b, "List-Unsubscribe", s);
	check_header(&b);
	buf_reset(&b);
	if (email_parse_mailbox(s, name, sizeof(name), addr, sizeof(addr)) == 0) {
		mime_header_mailbox(&b, "From", name, addr);
		check_header(&b);
		buf_reset(&b);
	}
	mime_qp(&b, s);
	buf_free(&b);
	free(s);
	return 0;
}
