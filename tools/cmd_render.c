/*
 * cmd_render.c - heraldctl render: one Mustache template file rendered with
 * one JSON data file, to stdout, exactly the rendered bytes and nothing
 * added. A way to try a template, and to run the Mustache spec through the
 * same engine heraldd uses. No front matter handling: the file is the
 * template.
 *
 *   heraldctl render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR] [--raw]
 *
 * {{x}} is HTML-escaped by default, as the Mustache spec says; --raw
 * leaves values as they are (what SMS and text email get). {{> name}}
 * reads DIR/<name>.mustache; a partial that is not there renders as
 * nothing (spec behaviour). Exit 0, 1 on any error (message on stderr),
 * 2 on bad usage.
 *
 * --channel C renders as heraldd does for channel C: the front matter is
 * taken off, and values are HTML-escaped only for an HTML variant
 * (email-html); an SMS preview is the raw text. --pdf FILE writes the
 * letter the print channel (or --channel fax) would send, through that
 * plugin's own preview (channel ABI struct version 2), its subject from
 * the front matter, name and address from the data ("name", "address").
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "heraldctl.h"
#include "mustache.h"
#include "preview.h"

#define RENDER_MAX_FILE (16 * 1024 * 1024)

static const char render_usage[] =
    "usage: heraldctl render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR] [--raw]\n"
    "\n"
    "Render one Mustache template with JSON data to stdout (exactly the rendered\n"
    "bytes). {{x}} is HTML-escaped by default, as the Mustache spec says.\n"
    "  --partials DIR  {{> name}} reads DIR/<name>.mustache (missing: empty)\n"
    "  --raw           no HTML escaping (what SMS and text email get)\n"
    "  --html          HTML escaping (the default)\n"
    "  --channel C     as heraldd renders for channel C: front matter off, HTML\n"
    "                  escaping only for an HTML variant (email-html)\n"
    "  --pdf FILE      write the letter the print channel (or --channel fax)\n"
    "                  would send to FILE (name and address from the data)\n";

struct render_opts {
	const char *channel, *pdf;
	int html, html_set;
};

/* "---" front matter: *subject gets the "subject:" value (malloc'd, or
 * NULL); returns where the body starts. */
static const char *split_front(const char *src, char **subject)
{
	const char *p, *end;

	*subject = NULL;
	if (strncmp(src, "---\n", 4) != 0)
		return src;
	end = strstr(src + 3, "\n---");
	if (!end)
		return src;
	for (p = src + 4; p < end; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, "subject:", 8)) {
			const char *v = p + 8 + strspn(p + 8, " ");
			*subject = strndup(v, strcspn(v, "\n"));
		}
		if (!strchr(p, '\n'))
			break;
	}
	end += 4;
	return *end == '\n' ? end + 1 : end;
}

static const char *data_str(const json_t *data, const char *k)
{
	return json_string_value(json_object_get(data, k));
}

/* --pdf: the message the print (or fax) channel would get, to its preview. */
static int write_pdf(struct ctl *c, const struct render_opts *o, const char *body,
		     const char *subject, const json_t *data)
{
	const json_t *tx = json_object_get(data, "transaction");
	struct preview_msg m = {body,
				subject,
				data_str(data, "name"),
				data_str(data, "address"),
				data_str(data, "locale"),
				json_string_value(json_object_get(tx, "reference"))};
	unsigned char *pdf = NULL;
	size_t len = 0;
	char err[512];
	FILE *f;
	int rc = 1;

	if (preview_render(conf_get_def(c->conf, "channels", "dir", "/usr/lib/herald/channels"),
			   o->channel ? o->channel : "print", c->conf, &m, &pdf, &len, err,
			   sizeof(err)) != 0) {
		fprintf(stderr, "heraldctl render: --pdf: %s\n", err);
		return 1;
	}
	f = fopen(o->pdf, "wb");
	if (f) {
		int wrote = fwrite(pdf, 1, len, f) == len;

		if (fclose(f) == 0 && wrote)
			rc = 0;
	}
	if (rc == 0)
		fprintf(stderr, "heraldctl render: wrote %s (%zu bytes)\n", o->pdf, len);
	else
		fprintf(stderr, "heraldctl render: %s: %s\n", o->pdf, strerror(errno));
	free(pdf);
	return rc;
}

/* The subject line (front matter) rendered with data, raw; NULL if none. */
static char *render_subject(const char *subject, const json_t *data)
{
	char err[256], *out = NULL;
	struct tmpl *t;

	if (!subject)
		return NULL;
	t = tmpl_compile(subject, strlen(subject), err, sizeof(err));
	if (t)
		out = tmpl_render(t, data, NULL, 0, NULL, err, sizeof(err));
	tmpl_free(&t);
	return out;
}

/* Partials read on first use, kept for the rest of the render. */
struct rpartial {
	char *name;
	char *src; /* NULL: no such file */
	struct rpartial *next;
};

struct rpartials {
	const char *dir;
	struct rpartial *list;
};

/* Whole file into a NUL-terminated buffer; NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(RENDER_MAX_FILE + 1);
	if (!buf)
		goto fail;
	n = fread(buf, 1, RENDER_MAX_FILE + 1, f);
	if (ferror(f)) {
		errno = EIO;
		goto fail;
	}
	if (n > RENDER_MAX_FILE) {
		errno = EFBIG;
		goto fail;
	}
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = n;
	return buf;
fail:
	n = (size_t)errno;
	free(buf);
	fclose(f);
	errno = (int)n;
	return NULL;
}

static const char *partial_lookup(void *arg, const char *name)
{
	struct rpartials *rp = arg;
	struct rpartial *p;
	char *path = NULL;

	for (p = rp->list; p; p = p->next)
		if (!strcmp(p->name, name))
			return p->src;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(name))) {
		free(p);
		return NULL;
	}
	p->next = rp->list;
	rp->list = p;
	/* A name never leaves DIR. */
	if (!rp->dir || strchr(name, '/') || name[0] == '.')
		return NULL;
	if (asprintf(&path, "%s/%s.mustache", rp->dir, name) < 0)
		return NULL;
	p->src = read_file(path, NULL);
	if (!p->src && errno != ENOENT)
		fprintf(stderr, "heraldctl render: warning: %s: %s (rendered as empty)\n", path,
			strerror(errno));
	free(path);
	return p->src;
}

/* Options into o; 0 to go on, 1 after --help, 2 on bad usage (said). */
static int render_args(struct render_opts *o, struct rpartials *rp, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"partials", required_argument, NULL, 'p'},
	    {"raw", no_argument, NULL, 'r'},
	    {"html", no_argument, NULL, 'H'},
	    {"channel", required_argument, NULL, 'C'},
	    {"pdf", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': rp->dir = optarg; break;
		case 'r': o->html = 0, o->html_set = 1; break;
		case 'H': o->html = 1, o->html_set = 1; break;
		case 'C': o->channel = optarg; break;
		case 'P': o->pdf = optarg; break;
		case 'h': fputs(render_usage, stdout); return 1;
		default: fputs(render_usage, stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		fputs(render_usage, stderr);
		return 2;
	}
	if (!o->html_set && (o->channel || o->pdf))
		o->html = o->channel && strstr(o->channel, "html") != NULL;
	return 0;
}

int cmd_render(struct ctl *c, int argc, char **argv)
{
	struct render_opts o = {NULL, NULL, 1, 0};
	struct rpartials rp = {NULL, NULL};
	struct tmpl_partials parts = {partial_lookup, &rp, NULL};
	struct tmpl *t = NULL;
	json_t *data = NULL;
	json_error_t jerr;
	char err[512], *src = NULL, *out = NULL, *subject = NULL, *subj_out = NULL;
	const char *body;
	size_t len = 0;
	int rc;

	if ((rc = render_args(&o, &rp, argc, argv)) != 0)
		return rc == 1 ? 0 : rc;
	rc = 1;
	src = read_file(argv[optind], &len);
	if (!src) {
		fprintf(stderr, "heraldctl render: %s: %s\n", argv[optind], strerror(errno));
		goto fail;
	}
	data = json_load_file(argv[optind + 1], JSON_DECODE_ANY, &jerr);
	if (!data) {
		fprintf(stderr, "heraldctl render: %s: line %d: %s\n", argv[optind + 1], jerr.line,
			jerr.text);
		goto fail;
	}
	body = o.channel || o.pdf ? split_front(src, &subject) : src;
	t = tmpl_compile(body, len - (size_t)(body - src), err, sizeof(err));
	if (!t) {
		fprintf(stderr, "heraldctl render: %s: %s\n", argv[optind], err);
		goto fail;
	}
	out = tmpl_render(t, data, &parts, o.html, &len, err, sizeof(err));
	if (!out) {
		fprintf(stderr, "heraldctl render: %s: %s\n", argv[optind], err);
		goto fail;
	}
	if (o.pdf) {
		subj_out = render_subject(subject, data);
		rc = write_pdf(c, &o, out, subj_out, data);
		goto fail;
	}
	if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "heraldctl render: writing output: %s\n", strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	while (rp.list) {
		struct rpartial *p = rp.list;

		rp.list = p->next;
		free(p->name);
		free(p->src);
		free(p);
	}
	free(out);
	free(subject);
	free(subj_out);
	tmpl_free(&t);
	json_decref(data);
	free(src);
	return rc;
}
