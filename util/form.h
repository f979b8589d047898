/*
 * form.h - application/x-www-form-urlencoded ("a=1&b=x+y%21") decoding: the
 * one decoder heraldd's HTTP listener uses for receipt bodies, and the one
 * its tests use. Knows nothing of Herald.
 */
#ifndef HERALD_FORM_H
#define HERALD_FORM_H

#define FORM_MAX_FIELDS 64 /* fields past this are ignored */

struct form {
	char *buf; /* decoded copy: k\0v\0k\0v\0 */
	const char *keys[FORM_MAX_FIELDS], *vals[FORM_MAX_FIELDS];
	int n;
};

/* Decode in place: '+' is a space, %XX a byte; a '%' not followed by two hex
 * digits stays as it is. */
void form_url_decode(char *s);

/* Split and decode body (NULL: empty) into f. A field without '=' has the
 * value "". 0, or -1 out of memory (f is then empty). */
int form_parse(struct form *f, const char *body);
/* The value of the first field called name, or NULL. */
const char *form_get(const struct form *f, const char *name);
void form_free(struct form *f);

#endif
