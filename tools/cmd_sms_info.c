/*
 * cmd_sms_info.c - `heraldctl sms-info TEXT`: how an SMS text will travel,
 * for template authors. Prints one line
 *
 *   encoding=gsm7|ucs2 chars=N segments=M
 *
 * where chars are GSM-7 septets (extension characters count two) or UCS-2
 * UTF-16 units (characters outside the BMP count two). TEXT "-" reads the
 * text from standard input (one trailing newline dropped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heraldctl.h"

/* The encoder is the sms channel's own (the Makefile links it in). */
#include "gsm7.h"

static void sms_info_usage(FILE *fp)
{
	fprintf(fp, "usage: heraldctl sms-info TEXT|-\n"
		    "prints: encoding=gsm7|ucs2 chars=N segments=M\n"
		    "  chars = GSM-7 septets for gsm7 (each of the extension characters\n"
		    "          \xE2\x82\xAC [ ] { } ^ ~ \\ | and form feed counts two),\n"
		    "          UTF-16 code units for ucs2 (an emoji counts two)\n"
		    "  segments: gsm7 one SMS up to 160, else parts of 153;\n"
		    "            ucs2 one SMS up to 70, else parts of 67\n"
		    "  TEXT - reads standard input (a trailing newline is dropped)\n");
}

static char *sms_info_read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, stdin);
		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			char *p = cap < (1u << 24) ? realloc(buf, cap * 2) : NULL;
			if (!p) {
				free(buf);
				return NULL;
			}
			buf = p;
			cap *= 2;
		}
	}
	if (!buf || ferror(stdin)) {
		free(buf);
		return NULL;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*len = n;
	return buf;
}

int cmd_sms_info(struct ctl *c, int argc, char **argv)
{
	struct gsm_info info;
	char *owned = NULL;
	const char *text;
	size_t len;
	int rc = 1;

	(void)c;
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		sms_info_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		sms_info_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-")) {
		owned = sms_info_read_stdin(&len);
		if (!owned) {
			fprintf(stderr, "heraldctl: sms-info: cannot read standard input\n");
			return 1;
		}
		text = owned;
	} else {
		text = argv[1];
		len = strlen(text);
	}
	if (gsm_analyse(text, len, &info) != 0) {
		fprintf(stderr, "heraldctl: sms-info: text is not valid UTF-8\n");
		goto fail;
	}
	printf("encoding=%s chars=%zu segments=%zu\n", gsm_encoding_name(info.encoding), info.chars,
	       info.segments);
	rc = 0;
fail:
	free(owned);
	return rc;
}
