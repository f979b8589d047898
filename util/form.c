/* form.c - urlencoded form decoding (see form.h). */
#include "form.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void form_url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int form_parse(struct form *f, const char *body)
{
	char *p, *save = NULL;

	memset(f, 0, sizeof(*f));
	f->buf = strdup(body ? body : "");
	if (!f->buf)
		return -1;
	for (p = strtok_r(f->buf, "&", &save); p && f->n < FORM_MAX_FIELDS;
	     p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		form_url_decode(p);
		if (eq)
			form_url_decode(eq);
		f->keys[f->n] = p;
		f->vals[f->n++] = eq ? eq : "";
	}
	return 0;
}

const char *form_get(const struct form *f, const char *name)
{
	for (int i = 0; i < f->n; i++)
		if (!strcmp(f->keys[i], name))
			return f->vals[i];
	return NULL;
}

void form_free(struct form *f)
{
	free(f->buf);
	memset(f, 0, sizeof(*f));
}
