/*
 * jsonfast.c - see jsonfast.h. jansson reads its input a character at a
 * time through a stream and grows a buffer per string; this scans strings
 * in one pass and hands jansson the finished values (json_stringn_nocheck,
 * json_object_setn_new_nocheck). It never reports an error: whatever it
 * does not take goes to json_loadb.
 */
#include "jsonfast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_DIGITS 18 /* always fits an int64 */

struct jp {
	const char *p, *end;
	int depth;
	char *tmp; /* unescaped strings; never longer than the input */
};

static json_t *value(struct jp *j);

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int hex4(const char *q, unsigned *cp)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = q[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*cp = v;
	return 0;
}

/* The string whose opening quote was just passed: *s, *n point into the
 * input when it has no escape, else into j->tmp. 0, or -1 if not taken. */
static int string(struct jp *j, const char **s, size_t *n)
{
	const char *q = j->p;
	size_t o;

	while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
		q++;
	if (q >= j->end || (unsigned char)*q < 0x20)
		return -1;
	if (*q == '"') {
		*s = j->p;
		*n = (size_t)(q - j->p);
		j->p = q + 1;
		return 0;
	}
	o = (size_t)(q - j->p);
	memcpy(j->tmp, j->p, o);
	while (q < j->end) {
		unsigned char c = (unsigned char)*q;
		unsigned cp;

		if (c == '"') {
			j->p = q + 1;
			*s = j->tmp;
			*n = o;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			j->tmp[o++] = (char)c;
			q++;
			continue;
		}
		if (++q >= j->end)
			return -1;
		switch (*q++) {
		case '"': j->tmp[o++] = '"'; break;
		case '\\': j->tmp[o++] = '\\'; break;
		case '/': j->tmp[o++] = '/'; break;
		case 'b': j->tmp[o++] = '\b'; break;
		case 'f': j->tmp[o++] = '\f'; break;
		case 'n': j->tmp[o++] = '\n'; break;
		case 'r': j->tmp[o++] = '\r'; break;
		case 't': j->tmp[o++] = '\t'; break;
		case 'u':
			/* \u0000 and surrogates (pairs or not): jansson's call */
			if (j->end - q < 4 || hex4(q, &cp) != 0 || cp == 0 ||
			    (cp >= 0xD800 && cp <= 0xDFFF))
				return -1;
			q += 4;
			if (cp < 0x80) {
				j->tmp[o++] = (char)cp;
			} else if (cp < 0x800) {
				j->tmp[o++] = (char)(0xC0 | (cp >> 6));
				j->tmp[o++] = (char)(0x80 | (cp & 0x3F));
			} else {
				j->tmp[o++] = (char)(0xE0 | (cp >> 12));
				j->tmp[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				j->tmp[o++] = (char)(0x80 | (cp & 0x3F));
			}
			break;
		default: return -1;
		}
	}
	return -1;
}

static json_t *integer(struct jp *j)
{
	const char *q = j->p;
	int neg = 0, nd = 0;
	int64_t v = 0;

	if (*q == '-') {
		neg = 1;
		q++;
	}
	if (q >= j->end || *q < '0' || *q > '9')
		return NULL;
	if (*q == '0' && q + 1 < j->end && q[1] >= '0' && q[1] <= '9')
		return NULL; /* a leading zero */
	while (q < j->end && *q >= '0' && *q <= '9') {
		if (++nd > MAX_DIGITS)
			return NULL;
		v = v * 10 + (*q++ - '0');
	}
	if (q < j->end && (*q == '.' || *q == 'e' || *q == 'E'))
		return NULL; /* a real: jansson's */
	j->p = q;
	return json_integer(neg ? -v : v);
}

static json_t *literal(struct jp *j, const char *word, size_t n, json_t *v)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return NULL;
	j->p += n;
	return v;
}

/* After a member or an element: 1 past a ',' (another follows), 0 past
 * the closing bracket, -1 at anything else. */
static int after_item(struct jp *j, char close)
{
	int more;

	skip_ws(j);
	if (j->p >= j->end || (*j->p != ',' && *j->p != close))
		return -1;
	more = *j->p++ == ',';
	if (more)
		skip_ws(j);
	return more;
}

static json_t *object(struct jp *j)
{
	json_t *o = json_object();
	const char *k;
	size_t kn;

	if (!o)
		return NULL;
	j->p++; /* { */
	skip_ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return o;
	}
	for (;;) {
		json_t *v;
		char kb[128], *key;

		if (j->p >= j->end || *j->p != '"')
			goto fail;
		j->p++;
		if (string(j, &k, &kn) != 0)
			goto fail;
		/* k may be in tmp, which the value's strings reuse */
		key = kn < sizeof(kb) ? kb : malloc(kn + 1);
		if (!key)
			goto fail;
		memcpy(key, k, kn);
		key[kn] = '\0';
		skip_ws(j);
		/* a repeated key is jansson's to refuse */
		if (j->p >= j->end || *j->p != ':' || json_object_getn(o, key, kn))
			v = NULL;
		else {
			j->p++;
			skip_ws(j);
			v = value(j);
		}
		if (v && json_object_setn_new_nocheck(o, key, kn, v) != 0)
			v = NULL; /* (setn_new took it) */
		if (key != kb)
			free(key);
		if (!v)
			goto fail;
		switch (after_item(j, '}')) {
		case 1: continue;
		case 0: return o;
		default: goto fail;
		}
	}
fail:
	json_decref(o);
	return NULL;
}

static json_t *array(struct jp *j)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	j->p++; /* [ */
	skip_ws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return a;
	}
	for (;;) {
		json_t *v = value(j);
		if (!v || json_array_append_new(a, v) != 0)
			goto fail;
		switch (after_item(j, ']')) {
		case 1: continue;
		case 0: return a;
		default: goto fail;
		}
	}
fail:
	json_decref(a);
	return NULL;
}

static json_t *value(struct jp *j)
{
	json_t *v = NULL;
	const char *s;
	size_t n;

	if (j->p >= j->end)
		return NULL;
	switch (*j->p) {
	case '"':
		j->p++;
		if (string(j, &s, &n) == 0)
			v = json_stringn_nocheck(s, n);
		return v;
	case '{':
	case '[':
		if (++j->depth > MAX_DEPTH)
			return NULL;
		v = *j->p == '{' ? object(j) : array(j);
		j->depth--;
		return v;
	case 't': return literal(j, "true", 4, json_true());
	case 'f': return literal(j, "false", 5, json_false());
	case 'n': return literal(j, "null", 4, json_null());
	default: return integer(j);
	}
}

json_t *jsonfast_object(const char *buf, size_t len)
{
	struct jp j = {.p = buf, .end = buf + len};
	json_t *o = NULL;

	skip_ws(&j);
	if (j.p >= j.end || *j.p != '{')
		return NULL;
	j.tmp = malloc(len + 1);
	if (!j.tmp)
		return NULL;
	j.depth = 1;
	o = object(&j);
	if (o) {
		skip_ws(&j);
		if (j.p != j.end) { /* something after the object: jansson's words */
			json_decref(o);
			o = NULL;
		}
	}
	free(j.tmp);
	return o;
}
