/*
 * mustache.c - Mustache engine: the spec's core modules (interpolation,
 * sections, inverted, comments, partials, set delimiters).
 *
 * tmpl_compile() turns source into a tree of nodes once; tmpl_render() walks
 * it with a context stack of jansson values. Partials arrive as source
 * through a lookup callback, so each render compiles the partials it uses
 * (once per name and indentation, cached for that render). A standalone
 * partial tag indents every line of the partial's source, which is what the
 * spec asks for ("each line of the partial should be indented before
 * rendering"): interpolated values are never indented.
 *
 * Hostile templates and data are bounded: sections nested in one template,
 * sections + partials nested at render, partial recursion, output size and
 * the number of nodes visited (an empty-output exponential recursion would
 * otherwise never finish). Every limit is a clear error, never a crash.
 *
 * Truthiness: missing, null, false, "" and [] are falsey; everything else,
 * including 0 and {}, is truthy (so "{{#balance}}" shows a balance of 0,
 * and an empty optional field hides its section).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mustache.h"
#include "text.h"

#define TMPL_MAX_NEST 64	   /* sections open at once in one template */
#define TMPL_MAX_DEPTH 128	   /* sections + partials nested at render */
#define TMPL_MAX_PARTIAL_DEPTH 32  /* partials within partials */
#define TMPL_MAX_OUTPUT (1u << 20) /* rendered bytes */
#define TMPL_MAX_STEPS (1ul << 22) /* nodes visited in one render */
#define TMPL_MAX_DELIM 16	   /* bytes in one custom delimiter */

enum node_type { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

struct node;
struct nodes {
	struct node *v;
	size_t n, cap;
};

struct node {
	enum node_type type;
	int line;
	const char *text; /* N_TEXT: a slice of tmpl->src */
	size_t len;
	char *name;   /* the tag's name as written ("a.b", ".", "footer") */
	char *path;   /* N_VAR/N_RAW/sections: name split at '.', NUL-separated */
	int nparts;   /* parts in path; 0 for the implicit iterator "." */
	char *indent; /* N_PARTIAL: indentation of a standalone tag, or NULL */
	struct nodes kids;
};

struct tmpl {
	char *src;
	struct nodes root;
};

static struct node *nodes_add(struct nodes *ns)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 8;
		struct node *v = realloc(ns->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		ns->v = v;
		ns->cap = cap;
	}
	memset(&ns->v[ns->n], 0, sizeof(ns->v[0]));
	return &ns->v[ns->n++];
}

static void nodes_free(struct nodes *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		free(ns->v[i].name);
		free(ns->v[i].path);
		free(ns->v[i].indent);
		nodes_free(&ns->v[i].kids);
	}
	free(ns->v);
	ns->v = NULL;
	ns->n = ns->cap = 0;
}

void tmpl_free(struct tmpl **t)
{
	if (!t || !*t)
		return;
	nodes_free(&(*t)->root);
	free((*t)->src);
	free(*t);
	*t = NULL;
}

/* ---- compiler ----------------------------------------------------------- */

struct parser {
	const char *s;
	size_t len;
	size_t counted; /* newlines are counted up to here */
	int line;
	char otag[TMPL_MAX_DELIM + 1], ctag[TMPL_MAX_DELIM + 2];
	size_t olen, clen;
	struct nodes *open[TMPL_MAX_NEST + 1]; /* open[0] is the root list */
	struct node *opener[TMPL_MAX_NEST + 1];
	int nopen;
	char *err;
	size_t errlen;
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_space(char c)
{
	return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Line number of offset off; offsets are asked for in increasing order. */
static int line_at(struct parser *p, size_t off)
{
	for (; p->counted < off; p->counted++)
		if (p->s[p->counted] == '\n')
			p->line++;
	return p->line;
}

static int add_text(struct parser *p, size_t from, size_t to)
{
	struct node *n;

	if (to <= from)
		return 0;
	n = nodes_add(p->open[p->nopen]);
	if (!n)
		return -1;
	n->type = N_TEXT;
	n->text = p->s + from;
	n->len = to - from;
	return 0;
}

/* A standalone tag is alone on its line but for blanks: the whole line,
 * newline included, disappears from the output. [*ls, *le) is that line. */
static int standalone(const struct parser *p, size_t ts, size_t te, size_t *ls, size_t *le)
{
	size_t a = ts, b = te;

	while (a > 0 && is_blank(p->s[a - 1]))
		a--;
	if (a > 0 && p->s[a - 1] != '\n')
		return 0;
	while (b < p->len && is_blank(p->s[b]))
		b++;
	if (b < p->len) {
		if (p->s[b] == '\n')
			b++;
		else if (p->s[b] == '\r' && b + 1 < p->len && p->s[b + 1] == '\n')
			b += 2;
		else
			return 0;
	}
	*ls = a;
	*le = b;
	return 1;
}

/* {{=<% %>=}}: body is "<% %>" (between the two '='). */
static int set_delims(struct parser *p, const char *body, size_t n, int line)
{
	size_t i = 0, a, alen, b, blen;

	while (i < n && is_space(body[i]))
		i++;
	a = i;
	while (i < n && !is_space(body[i]))
		i++;
	alen = i - a;
	while (i < n && is_space(body[i]))
		i++;
	b = i;
	while (i < n && !is_space(body[i]))
		i++;
	blen = i - b;
	while (i < n && is_space(body[i]))
		i++;
	if (!alen || !blen || i != n || alen > TMPL_MAX_DELIM || blen > TMPL_MAX_DELIM ||
	    memchr(body + a, '=', alen) || memchr(body + b, '=', blen)) {
		errf(p->err, p->errlen, "line %d: bad delimiter '%.*s'", line,
		     (int)(n > 40 ? 40 : n), body);
		return -1;
	}
	memcpy(p->otag, body + a, alen);
	p->otag[alen] = '\0';
	p->olen = alen;
	memcpy(p->ctag, body + b, blen);
	p->ctag[blen] = '\0';
	p->clen = blen;
	return 0;
}

/* Fill n->name (and the dotted path for data tags) from the trimmed name. */
static int set_name(struct parser *p, struct node *n, const char *nm, size_t len, int dotted,
		    int line)
{
	for (size_t i = 0; i < len; i++)
		if (is_space(nm[i]))
			goto bad;
	n->name = strndup(nm, len);
	if (!n->name)
		goto oom;
	if (!dotted || (len == 1 && nm[0] == '.'))
		return 0;
	if (nm[0] == '.' || nm[len - 1] == '.' || strstr(n->name, ".."))
		goto bad;
	n->path = strndup(nm, len);
	if (!n->path)
		goto oom;
	n->nparts = 1;
	for (char *c = n->path; *c; c++)
		if (*c == '.') {
			*c = '\0';
			n->nparts++;
		}
	return 0;
bad:
	errf(p->err, p->errlen, "line %d: bad tag name '%.*s'", line, (int)(len > 40 ? 40 : len),
	     nm);
	return -1;
oom:
	errf(p->err, p->errlen, "line %d: out of memory", line);
	return -1;
}

/* Handle one tag; sigil is the type character ('\0' for a variable). */
static int add_tag(struct parser *p, char sigil, const char *nm, size_t len, int line,
		   const char *indent, size_t ilen)
{
	struct node *n, *o;

	if (!len) {
		errf(p->err, p->errlen, "line %d: empty tag", line);
		return -1;
	}
	if (sigil == '/') {
		if (p->nopen == 0) {
			errf(p->err, p->errlen, "line %d: close of '%.*s' without an open section",
			     line, (int)(len > 40 ? 40 : len), nm);
			return -1;
		}
		o = p->opener[p->nopen];
		if (strlen(o->name) != len || memcmp(o->name, nm, len) != 0) {
			errf(p->err, p->errlen,
			     "line %d: mismatched close '%.*s', expected close of '%s' (line %d)",
			     line, (int)(len > 40 ? 40 : len), nm, o->name, o->line);
			return -1;
		}
		p->nopen--;
		return 0;
	}
	if ((sigil == '#' || sigil == '^') && p->nopen >= TMPL_MAX_NEST) {
		errf(p->err, p->errlen, "line %d: sections nested deeper than %d", line,
		     TMPL_MAX_NEST);
		return -1;
	}
	n = nodes_add(p->open[p->nopen]);
	if (!n) {
		errf(p->err, p->errlen, "line %d: out of memory", line);
		return -1;
	}
	n->line = line;
	switch (sigil) {
	case '#': n->type = N_SECTION; break;
	case '^': n->type = N_INVERTED; break;
	case '>': n->type = N_PARTIAL; break;
	case '&':
	case '{': n->type = N_RAW; break;
	default: n->type = N_VAR; break;
	}
	if (set_name(p, n, nm, len, n->type != N_PARTIAL, line) < 0)
		return -1;
	if (n->type == N_PARTIAL && ilen) {
		n->indent = strndup(indent, ilen);
		if (!n->indent) {
			errf(p->err, p->errlen, "line %d: out of memory", line);
			return -1;
		}
	}
	if (n->type == N_SECTION || n->type == N_INVERTED) {
		p->nopen++;
		p->open[p->nopen] = &n->kids;
		p->opener[p->nopen] = n;
	}
	return 0;
}

static int parse(struct parser *p)
{
	size_t pos = 0;

	while (pos < p->len) {
		const char *o = memmem(p->s + pos, p->len - pos, p->otag, p->olen);
		const char *body, *close;
		char sigil = '\0', closer[TMPL_MAX_DELIM + 2];
		size_t ts, c, blen, te, ls, le;
		int line, alone = 0;

		if (!o)
			return add_text(p, pos, p->len) < 0 ? -1 : 0;
		ts = (size_t)(o - p->s);
		c = ts + p->olen;
		line = line_at(p, ts);
		if (c < p->len && p->s[c] != '\0' && strchr("#^/!>&{=", p->s[c]))
			sigil = p->s[c++];
		/* {{{x}}} closes with "}" + ctag, {{=a b=}} with "=" + ctag. */
		closer[0] = sigil == '{' ? '}' : '=';
		memcpy(closer + 1, p->ctag, p->clen + 1);
		if (sigil == '{' || sigil == '=')
			close = memmem(p->s + c, p->len - c, closer, p->clen + 1);
		else
			close = memmem(p->s + c, p->len - c, p->ctag, p->clen);
		if (!close) {
			errf(p->err, p->errlen, "line %d: unclosed tag '%s'", line, p->otag);
			return -1;
		}
		body = p->s + c;
		blen = (size_t)(close - body);
		te = (size_t)(close - p->s) + p->clen + (sigil == '{' || sigil == '=');
		if (sigil && strchr("#^/!>=", sigil))
			alone = standalone(p, ts, te, &ls, &le);
		if (add_text(p, pos, alone ? ls : ts) < 0)
			goto oom;
		pos = alone ? le : te;
		if (sigil == '!')
			continue;
		if (sigil == '=') {
			if (set_delims(p, body, blen, line) < 0)
				return -1;
			continue;
		}
		while (blen && is_space(*body)) {
			body++;
			blen--;
		}
		while (blen && is_space(body[blen - 1]))
			blen--;
		if (add_tag(p, sigil, body, blen, line, alone ? p->s + ls : NULL,
			    alone ? ts - ls : 0) < 0)
			return -1;
	}
	return 0;
oom:
	errf(p->err, p->errlen, "out of memory");
	return -1;
}

struct tmpl *tmpl_compile(const char *src, size_t len, char *err, size_t errlen)
{
	struct parser p;
	struct tmpl *t = calloc(1, sizeof(*t));

	if (!t || !(t->src = malloc(len + 1))) {
		errf(err, errlen, "out of memory");
		goto fail;
	}
	if (len)
		memcpy(t->src, src, len);
	t->src[len] = '\0';
	memset(&p, 0, sizeof(p));
	p.s = t->src;
	p.len = len;
	p.line = 1;
	strcpy(p.otag, "{{");
	strcpy(p.ctag, "}}");
	p.olen = p.clen = 2;
	p.open[0] = &t->root;
	p.err = err;
	p.errlen = errlen;
	if (parse(&p) < 0)
		goto fail;
	if (p.nopen) {
		errf(err, errlen, "line %d: unclosed section '%s'", p.opener[p.nopen]->line,
		     p.opener[p.nopen]->name);
		goto fail;
	}
	return t;
fail:
	tmpl_free(&t);
	return NULL;
}

/* ---- renderer ----------------------------------------------------------- */

struct pcache {
	char *name, *indent; /* indent "" for none */
	struct tmpl *t;	     /* NULL: no such partial */
	struct pcache *next;
};

struct render {
	struct buf out;
	const struct tmpl_partials *parts;
	int html;
	const json_t *stack[TMPL_MAX_DEPTH + 1];
	int sp;
	int depth, pdepth;
	unsigned long steps;
	struct pcache *cache;
	char *err;
	size_t errlen;
};

static int out_put(struct render *r, const char *s, size_t n)
{
	if (n > TMPL_MAX_OUTPUT - r->out.len) {
		errf(r->err, r->errlen, "output exceeds %u bytes", TMPL_MAX_OUTPUT);
		return -1;
	}
	buf_add(&r->out, s, n);
	if (r->out.oom) {
		errf(r->err, r->errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int out_escaped(struct render *r, const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		if (out_put(r, s + start, i - start) < 0 || out_put(r, rep, strlen(rep)) < 0)
			return -1;
		start = i + 1;
	}
	return out_put(r, s + start, n - start);
}

/* The value a name resolves to: the first context (innermost first) that is
 * an object holding the first part, then each further part inside it. */
static const json_t *lookup(const struct render *r, const struct node *n)
{
	const json_t *v = NULL;
	const char *part = n->path;

	if (n->nparts == 0)
		return r->stack[r->sp - 1];
	for (int i = r->sp - 1; i >= 0 && !v; i--)
		if (json_is_object(r->stack[i]))
			v = json_object_get(r->stack[i], part);
	for (int k = 1; v && k < n->nparts; k++) {
		part += strlen(part) + 1;
		v = json_is_object(v) ? json_object_get(v, part) : NULL;
	}
	return v;
}

static int truthy(const json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT: return 1;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_FALSE:
	case JSON_NULL: return 0;
	default: return 1;
	}
}

/* Shortest decimal that reads back as the same double: 1.21 -> "1.21". */
static void fmt_real(char *buf, size_t sz, double d)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sz, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static int interpolate(struct render *r, const json_t *v, int escape)
{
	char num[64];
	const char *s = num;
	size_t n;

	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		s = json_string_value(v);
		n = json_string_length(v);
		break;
	case JSON_INTEGER:
		n = (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				     json_integer_value(v));
		break;
	case JSON_REAL:
		fmt_real(num, sizeof(num), json_real_value(v));
		n = strlen(num);
		break;
	case JSON_TRUE: s = "true", n = 4; break;
	case JSON_FALSE: s = "false", n = 5; break;
	default: return 0; /* null, missing; objects and arrays have no text */
	}
	return escape ? out_escaped(r, s, n) : out_put(r, s, n);
}

/* Source of a partial with indent before every line (not after a final
 * newline). */
static char *indent_source(const char *src, const char *indent)
{
	size_t ilen = strlen(indent), slen = strlen(src), lines = 1, o = 0;
	char *out;

	for (size_t i = 0; i < slen; i++)
		lines += src[i] == '\n';
	out = malloc(slen + lines * ilen + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < slen; i++) {
		if (i == 0 || src[i - 1] == '\n') {
			memcpy(out + o, indent, ilen);
			o += ilen;
		}
		out[o++] = src[i];
	}
	out[o] = '\0';
	return out;
}

/* The compiled partial for (name, indent), compiling it on first use in this
 * render. *t is NULL when there is no such partial. */
static int partial_get(struct render *r, const struct node *n, const struct tmpl **t)
{
	const char *indent = n->indent ? n->indent : "";
	struct pcache *c;
	const char *src;
	char *isrc = NULL, cerr[200];

	if (!*indent && r->parts->compiled && (*t = r->parts->compiled(r->parts->arg, n->name)))
		return 0; /* compiled at load, owned by the caller */
	for (c = r->cache; c; c = c->next)
		if (!strcmp(c->name, n->name) && !strcmp(c->indent, indent)) {
			*t = c->t;
			return 0;
		}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(n->name)) || !(c->indent = strdup(indent)))
		goto oom;
	c->next = r->cache;
	r->cache = c;
	src = r->parts->lookup(r->parts->arg, n->name);
	if (src) {
		if (*indent) {
			isrc = indent_source(src, indent);
			if (!isrc)
				goto oom;
			src = isrc;
		}
		c->t = tmpl_compile(src, strlen(src), cerr, sizeof(cerr));
		free(isrc);
		if (!c->t) {
			errf(r->err, r->errlen, "partial '%s': %s", n->name, cerr);
			return -1;
		}
	}
	*t = c->t;
	return 0;
oom:
	if (c && c != r->cache) {
		free(c->name);
		free(c);
	}
	errf(r->err, r->errlen, "out of memory");
	return -1;
}

static int render_nodes(struct render *r, const struct nodes *ns);

/* One unit of work: a node visited or a list item entered. */
static int step(struct render *r)
{
	if (++r->steps <= TMPL_MAX_STEPS)
		return 0;
	errf(r->err, r->errlen, "render takes more than %lu steps", TMPL_MAX_STEPS);
	return -1;
}

static int render_section(struct render *r, const struct node *n)
{
	const json_t *v = lookup(r, n);
	int rc = 0;

	if (truthy(v) == (n->type == N_INVERTED))
		return 0;
	if (r->depth >= TMPL_MAX_DEPTH) {
		errf(r->err, r->errlen, "line %d: sections and partials nested deeper than %d",
		     n->line, TMPL_MAX_DEPTH);
		return -1;
	}
	r->depth++;
	if (n->type == N_INVERTED) {
		rc = render_nodes(r, &n->kids);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
			if (step(r) < 0) {
				rc = -1;
				break;
			}
			r->stack[r->sp++] = json_array_get(v, i);
			rc = render_nodes(r, &n->kids);
			r->sp--;
		}
	} else {
		r->stack[r->sp++] = v;
		rc = render_nodes(r, &n->kids);
		r->sp--;
	}
	r->depth--;
	return rc;
}

static int render_partial(struct render *r, const struct node *n)
{
	const struct tmpl *t;
	int rc;

	if (!r->parts || !r->parts->lookup)
		return 0;
	if (r->pdepth >= TMPL_MAX_PARTIAL_DEPTH || r->depth >= TMPL_MAX_DEPTH) {
		errf(r->err, r->errlen, "line %d: partial '%s' nested deeper than %d", n->line,
		     n->name,
		     r->pdepth >= TMPL_MAX_PARTIAL_DEPTH ? TMPL_MAX_PARTIAL_DEPTH : TMPL_MAX_DEPTH);
		return -1;
	}
	if (partial_get(r, n, &t) < 0)
		return -1;
	if (!t)
		return 0;
	r->pdepth++;
	r->depth++;
	rc = render_nodes(r, &t->root);
	r->pdepth--;
	r->depth--;
	return rc;
}

static int render_nodes(struct render *r, const struct nodes *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		const struct node *n = &ns->v[i];
		int rc = 0;

		if (step(r) < 0)
			return -1;
		switch (n->type) {
		case N_TEXT: rc = out_put(r, n->text, n->len); break;
		case N_VAR: rc = interpolate(r, lookup(r, n), r->html); break;
		case N_RAW: rc = interpolate(r, lookup(r, n), 0); break;
		case N_SECTION:
		case N_INVERTED: rc = render_section(r, n); break;
		case N_PARTIAL: rc = render_partial(r, n); break;
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

char *tmpl_render(const struct tmpl *t, const json_t *data, const struct tmpl_partials *partials,
		  int html_escape, size_t *outlen, char *err, size_t errlen)
{
	struct render r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.parts = partials;
	r.html = html_escape;
	r.err = err;
	r.errlen = errlen;
	r.stack[r.sp++] = data;
	if (!t) {
		errf(err, errlen, "no template");
		return NULL;
	}
	rc = render_nodes(&r, &t->root);
	if (rc == 0 && !r.out.data)
		rc = out_put(&r, "", 0);
	while (r.cache) {
		struct pcache *c = r.cache;

		r.cache = c->next;
		tmpl_free(&c->t);
		free(c->name);
		free(c->indent);
		free(c);
	}
	if (rc < 0) {
		buf_free(&r.out);
		return NULL;
	}
	if (outlen)
		*outlen = r.out.len;
	return r.out.data;
}

void tmpl_top_names(const struct tmpl *t, void (*fn)(void *arg, const char *name), void *arg)
{
	for (size_t i = 0; t && i < t->root.n; i++) {
		const struct node *n = &t->root.v[i];

		if ((n->type == N_VAR || n->type == N_RAW) && n->nparts > 0)
			fn(arg, n->path); /* the first part: path is NUL-separated */
	}
}
