/*
 * tmplstore_load.c - the deployment's templates, loaded from one folder into
 * compiled form (tmplstore.h: tstore_load; the layout is described there).
 *
 * Everything that can be wrong with a file is found at load, with the file
 * and line: bad names, invalid UTF-8, unclosed front matter, a malformed
 * "key: value" line, Mustache syntax errors in the body, in a front matter
 * value or in a partial. A store that loaded renders without surprises,
 * except what only data can cause (the render limits of util/mustache.c).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mustache.h"
#include "text.h"
#include "tmplstore.h"
#include "tmplstore_int.h"

/* Grow an array of n elements of size sz by one zeroed element. */
static void *grow(void *arr, size_t n, size_t sz)
{
	char *v = realloc(arr, (n + 1) * sz);

	if (v)
		memset(v + n * sz, 0, sz);
	return v;
}

/* Names of templates, variants and partials: [A-Za-z0-9._-], no leading
 * dot. */
static int name_ok(const char *s, size_t len)
{
	if (!len || s[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* Language tag: letters, then "-"/"_" and letters or digits ("cy", "cy-GB"). */
static int locale_ok(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && isalpha((unsigned char)s[i]))
		i++;
	if (i < 2 || i > 3 || len >= TSTORE_MAX_LOCALE)
		return 0;
	for (; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    !((s[i] == '-' || s[i] == '_') && i + 1 < len && s[i + 1] != '-' &&
		      s[i + 1] != '_'))
			return 0;
	return 1;
}

/* Read a whole file as text: no NUL, valid UTF-8, at most 1 MiB. */
static char *read_text(const char *path, const char *rel, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	long bad;

	if (!f) {
		errf(err, errlen, "%s: %s", rel, strerror(errno));
		return NULL;
	}
	buf = malloc(TSTORE_MAX_FILE + 1);
	if (!buf) {
		errf(err, errlen, "%s: out of memory", rel);
		goto fail;
	}
	n = fread(buf, 1, TSTORE_MAX_FILE + 1, f);
	if (ferror(f)) {
		errf(err, errlen, "%s: read error", rel);
		goto fail;
	}
	if (n > TSTORE_MAX_FILE) {
		errf(err, errlen, "%s: larger than %d bytes", rel, TSTORE_MAX_FILE);
		goto fail;
	}
	buf[n] = '\0';
	bad = memchr(buf, '\0', n) ? (long)((char *)memchr(buf, '\0', n) - buf)
				   : utf8_invalid_at(buf, n);
	if (bad >= 0) {
		int line = 1;

		for (long i = 0; i < bad; i++)
			line += buf[i] == '\n';
		errf(err, errlen, "%s: line %d: %s", rel, line,
		     buf[bad] ? "invalid UTF-8" : "NUL byte");
		goto fail;
	}
	fclose(f);
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

/* Compile src; on error say "rel: line N: reason" with N counted in the
 * file (first_line is the file line of src's line 1). */
static struct tmpl *compile_at(const char *src, size_t len, const char *rel, int first_line,
			       char *err, size_t errlen)
{
	char cerr[256] = "";
	struct tmpl *t = tmpl_compile(src, len, cerr, sizeof(cerr));
	int line, off = 0;

	if (t)
		return t;
	if (sscanf(cerr, "line %d: %n", &line, &off) == 1 && off > 0)
		errf(err, errlen, "%s: line %d: %s", rel, first_line + line - 1, cerr + off);
	else
		errf(err, errlen, "%s: %s", rel, cerr);
	return NULL;
}

/* Front matter: "---" line, "key: value" lines (blank and "#" lines
 * skipped), "---" line. *body points after it; *body_line is its line. */
static int parse_front(struct tentry *e, const char *buf, size_t len, const char **body,
		       int *body_line, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	int line = 1;

	*body = buf;
	*body_line = 1;
	if (!(len >= 4 && !strncmp(buf, "---\n", 4)) && !(len >= 5 && !strncmp(buf, "---\r\n", 5)))
		return 0;
	p = (const char *)memchr(buf, '\n', len) + 1;
	for (;;) {
		const char *nl, *eol, *colon, *k, *v;
		size_t klen, vlen;
		struct field *f;

		line++;
		if (p >= end) {
			errf(err, errlen, "%s: line 1: front matter not closed by a '---' line",
			     e->file);
			return -1;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		eol = nl ? nl : end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		k = p;
		p = nl ? nl + 1 : end;
		if (eol - k == 3 && !strncmp(k, "---", 3))
			break;
		while (k < eol && isspace((unsigned char)*k))
			k++;
		if (k == eol || *k == '#')
			continue;
		colon = memchr(k, ':', (size_t)(eol - k));
		klen = colon ? (size_t)(colon - k) : 0;
		while (klen && isspace((unsigned char)k[klen - 1]))
			klen--;
		if (!colon || !name_ok(k, klen)) {
			errf(err, errlen, "%s: line %d: expected 'key: value' in front matter",
			     e->file, line);
			return -1;
		}
		for (size_t i = 0; i < e->nfields; i++)
			if (strlen(e->fields[i].key) == klen &&
			    !strncmp(e->fields[i].key, k, klen)) {
				errf(err, errlen, "%s: line %d: duplicate front matter key '%.*s'",
				     e->file, line, (int)klen, k);
				return -1;
			}
		v = colon + 1;
		while (v < eol && isspace((unsigned char)*v))
			v++;
		vlen = (size_t)(eol - v);
		while (vlen && isspace((unsigned char)v[vlen - 1]))
			vlen--;
		if (klen == 8 && !strncmp(k, "optional", 8)) { /* not a field: tstore_missing */
			free(e->optional);
			if (!(e->optional = strndup(v, vlen)))
				goto oom;
			continue;
		}
		f = grow(e->fields, e->nfields, sizeof(*f));
		if (!f)
			goto oom;
		e->fields = f;
		f = &e->fields[e->nfields++];
		if (!(f->key = strndup(k, klen)))
			goto oom;
		f->t = compile_at(v, vlen, e->file, line, err, errlen);
		if (!f->t)
			return -1;
	}
	*body = p;
	*body_line = line + 1;
	return 0;
oom:
	errf(err, errlen, "%s: out of memory", e->file);
	return -1;
}

/* " a b ": the names of the {{> name}} tags in src (default delimiters). */
static char *partial_names(const char *src)
{
	size_t cap = 2, n = 1;
	char *out = malloc(cap);
	const char *p = src;

	if (!out)
		return NULL;
	out[0] = ' ';
	while ((p = strstr(p, "{{>"))) {
		size_t len;
		char *o;

		p += 3;
		p += strspn(p, " \t");
		len = strcspn(p, " \t}");
		o = realloc(out, cap + len + 1);
		if (!o) {
			free(out);
			return NULL;
		}
		out = o;
		cap += len + 1;
		memcpy(out + n, p, len);
		n += len;
		out[n++] = ' ';
	}
	out[n] = '\0';
	return out;
}

/* Load DIR/name/file (file is "<variant>.<locale>.mustache") into e. */
static int load_entry(struct tentry *e, const char *dir, const char *name, const char *file,
		      char *err, size_t errlen)
{
	size_t stem = strlen(file) - strlen(".mustache"), len;
	const char *dot1 = memchr(file, '.', stem), *dot2, *body;
	char *path = NULL, *buf = NULL, loc[TSTORE_MAX_LOCALE];
	int body_line, rc = -1;

	if (asprintf(&e->file, "%s/%s", name, file) < 0) {
		e->file = NULL;
		errf(err, errlen, "out of memory");
		return -1;
	}
	dot2 = dot1 ? memchr(dot1 + 1, '.', stem - (size_t)(dot1 + 1 - file)) : NULL;
	if (!dot1 || dot2 || !name_ok(file, (size_t)(dot1 - file)) ||
	    !locale_ok(dot1 + 1, stem - (size_t)(dot1 + 1 - file))) {
		errf(err, errlen, "%s: file name is not <variant>.<locale>.mustache", e->file);
		return -1;
	}
	e->variant = strndup(file, (size_t)(dot1 - file));
	if (!e->variant || asprintf(&path, "%s/%s", dir, e->file) < 0) {
		path = NULL;
		errf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(loc, sizeof(loc), "%.*s", (int)(stem - (size_t)(dot1 + 1 - file)), dot1 + 1);
	tstore_locale_norm(loc, e->locale, sizeof(e->locale));
	buf = read_text(path, e->file, &len, err, errlen);
	if (!buf || parse_front(e, buf, len, &body, &body_line, err, errlen) < 0)
		goto fail;
	e->body = compile_at(body, len - (size_t)(body - buf), e->file, body_line, err, errlen);
	if (!e->body || !(e->partials = partial_names(buf)))
		goto fail;
	rc = 0;
fail:
	free(path);
	free(buf);
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a > b && !strcmp(s + a - b, suffix);
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Is name in the comma-separated list (spaces around names ignored)? */
static int in_list(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ','), *q = end ? end : p + strlen(p);
		while (p < q && isspace((unsigned char)*p))
			p++;
		while (q > p && isspace((unsigned char)q[-1]))
			q--;
		if ((size_t)(q - p) == len && !strncmp(p, name, len))
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

struct req_walk {
	struct tdef *t;
	const struct tentry *e;
	int oom;
};

/* tmpl_top_names' callback: name is required unless the entry marks it
 * optional or the host provides it (prepare.c's render_data). */
static void req_add(void *arg, const char *name)
{
	struct req_walk *w = arg;
	struct tdef *t = w->t;
	size_t i = 0;
	char **v;

	if (in_list(w->e->optional, name) || !strcmp(name, "citizen") ||
	    !strcmp(name, "transaction") || !strcmp(name, "event"))
		return;
	while (i < t->nreq && strcmp(t->req[i], name) < 0)
		i++;
	if (i < t->nreq && !strcmp(t->req[i], name))
		return;
	v = realloc(t->req, (t->nreq + 1) * sizeof(*v));
	if (!v || !(name = strdup(name))) {
		if (v)
			t->req = v;
		w->oom = 1;
		return;
	}
	t->req = v;
	memmove(&v[i + 1], &v[i], (t->nreq - i) * sizeof(*v));
	v[i] = (char *)name;
	t->nreq++;
}

/* The names every variant of t needs from the personalisation (the union
 * over its files: body and front matter). -1 when out of memory. */
static int required_names(struct tdef *t)
{
	struct req_walk w = {.t = t};

	for (size_t k = 0; k < t->n; k++) {
		w.e = &t->e[k];
		tmpl_top_names(w.e->body, req_add, &w);
		for (size_t f = 0; f < w.e->nfields; f++)
			tmpl_top_names(w.e->fields[f].t, req_add, &w);
	}
	return w.oom ? -1 : 0;
}

/* One template folder: every <variant>.<locale>.mustache in it. */
static int load_template(struct tstore *s, const char *dir, const char *name, char *err,
			 size_t errlen)
{
	struct dirent **ls = NULL;
	struct tdef *t;
	char *path = NULL;
	int n = -1, rc = -1;

	if (!name_ok(name, strlen(name))) {
		errf(err, errlen, "%s: bad template folder name", name);
		return -1;
	}
	t = grow(s->t, s->n, sizeof(*t));
	if (!t)
		goto oom;
	s->t = t;
	t = &s->t[s->n++];
	if (!(t->name = strdup(name)) || asprintf(&path, "%s/%s", dir, name) < 0) {
		path = NULL;
		goto oom;
	}
	n = scandir(path, &ls, visible, alphasort);
	if (n < 0) {
		errf(err, errlen, "%s: %s", name, strerror(errno));
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		struct tentry *e;

		if (!ends_with(ls[i]->d_name, ".mustache"))
			continue; /* README and the like */
		e = grow(t->e, t->n, sizeof(*e));
		if (!e)
			goto oom;
		t->e = e;
		e = &t->e[t->n++];
		if (load_entry(e, dir, name, ls[i]->d_name, err, errlen) < 0)
			goto fail;
		for (size_t k = 0; k + 1 < t->n; k++)
			if (!strcmp(t->e[k].variant, e->variant) &&
			    !strcmp(t->e[k].locale, e->locale)) {
				errf(err, errlen, "%s: same variant and locale as %s", e->file,
				     t->e[k].file);
				goto fail;
			}
	}
	if (t->n == 0) {
		errf(err, errlen, "%s: no <variant>.<locale>.mustache files", name);
		goto fail;
	}
	if (required_names(t) != 0)
		goto oom;
	rc = 0;
	goto fail;
oom:
	errf(err, errlen, "%s: out of memory", name);
fail:
	for (int i = 0; i < n; i++)
		free(ls[i]);
	free(ls);
	free(path);
	return rc;
}

/* DIR/_partials/<name>.mustache, each checked by compiling it once. */
static int load_partials(struct tstore *s, const char *dir, char *err, size_t errlen)
{
	struct dirent **ls = NULL;
	char *path = NULL, *rel = NULL;
	int n, rc = -1;

	if (asprintf(&path, "%s/_partials", dir) < 0) {
		errf(err, errlen, "_partials: out of memory");
		return -1;
	}
	n = scandir(path, &ls, visible, alphasort);
	free(path);
	path = NULL;
	if (n < 0) {
		errf(err, errlen, "_partials: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *f = ls[i]->d_name;
		struct partial *p;
		size_t len;

		if (!ends_with(f, ".mustache"))
			continue;
		free(rel);
		free(path);
		rel = path = NULL;
		if (asprintf(&rel, "_partials/%s", f) < 0) {
			rel = NULL;
			goto oom;
		}
		if (asprintf(&path, "%s/%s", dir, rel) < 0) {
			path = NULL;
			goto oom;
		}
		if (!name_ok(f, strlen(f) - strlen(".mustache"))) {
			errf(err, errlen, "%s: bad partial name", rel);
			goto fail;
		}
		p = grow(s->p, s->np, sizeof(*p));
		if (!p)
			goto oom;
		s->p = p;
		p = &s->p[s->np++];
		if (!(p->name = strndup(f, strlen(f) - strlen(".mustache"))))
			goto oom;
		if (!(p->src = read_text(path, rel, &len, err, errlen)))
			goto fail;
		if (!(p->t = compile_at(p->src, len, rel, 1, err, errlen)))
			goto fail;
	}
	rc = 0;
	goto fail;
oom:
	errf(err, errlen, "_partials: out of memory");
fail:
	for (int i = 0; i < n; i++)
		free(ls[i]);
	free(ls);
	free(path);
	free(rel);
	return rc;
}

struct tstore *tstore_load(const char *dir, char *err, size_t errlen)
{
	struct tstore *s = calloc(1, sizeof(*s));
	struct dirent **ls = NULL;
	int n = -1;

	if (!s) {
		errf(err, errlen, "out of memory");
		return NULL;
	}
	n = scandir(dir, &ls, visible, alphasort);
	if (n < 0) {
		errf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ls[i]->d_name;
		char *path;
		int d;

		if (asprintf(&path, "%s/%s", dir, name) < 0) {
			errf(err, errlen, "out of memory");
			goto fail;
		}
		d = is_dir(path);
		free(path);
		if (!d)
			continue; /* README.md etc. */
		if (!strcmp(name, "_partials") ? load_partials(s, dir, err, errlen) < 0
					       : load_template(s, dir, name, err, errlen) < 0)
			goto fail;
	}
	for (int i = 0; i < n; i++)
		free(ls[i]);
	free(ls);
	return s;
fail:
	for (int i = 0; i < n; i++)
		free(ls[i]);
	free(ls);
	tstore_free(&s);
	return NULL;
}
