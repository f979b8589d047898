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
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "heraldctl.h"
#include "mustache.h"

#define RENDER_MAX_FILE (16 * 1024 * 1024)

static const char render_usage[] =
    "usage: heraldctl render TEMPLATE_FILE DATA_JSON_FILE [--partials DIR] [--raw]\n"
    "\n"
    "Render one Mustache template with JSON data to stdout (exactly the rendered\n"
    "bytes). {{x}} is HTML-escaped by default, as the Mustache spec says.\n"
    "  --partials DIR  {{> name}} reads DIR/<name>.mustache (missing: empty)\n"
    "  --raw           no HTML escaping (what SMS and text email get)\n"
    "  --html          HTML escaping (the default)\n";

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

int cmd_render(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"partials", required_argument, NULL, 'p'},
	    {"raw", no_argument, NULL, 'r'},
	    {"html", no_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rpartials rp = {NULL, NULL};
	struct tmpl_partials parts = {partial_lookup, &rp, NULL};
	struct tmpl *t = NULL;
	json_t *data = NULL;
	json_error_t jerr;
	char err[512], *src = NULL, *out = NULL;
	size_t len = 0;
	int html = 1, opt, rc = 1;

	(void)c;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': rp.dir = optarg; break;
		case 'r': html = 0; break;
		case 'H': html = 1; break;
		case 'h': fputs(render_usage, stdout); return 0;
		default: fputs(render_usage, stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		fputs(render_usage, stderr);
		return 2;
	}
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
	t = tmpl_compile(src, len, err, sizeof(err));
	if (!t) {
		fprintf(stderr, "heraldctl render: %s: %s\n", argv[optind], err);
		goto fail;
	}
	out = tmpl_render(t, data, &parts, html, &len, err, sizeof(err));
	if (!out) {
		fprintf(stderr, "heraldctl render: %s: %s\n", argv[optind], err);
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
	tmpl_free(&t);
	json_decref(data);
	free(src);
	return rc;
}
