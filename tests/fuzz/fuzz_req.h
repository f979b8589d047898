/*
 * fuzz_req.h - a herald_http_req from fuzzer bytes, for the receipt
 * parsers: byte 0 picks the method, the path (from paths[]) and the
 * content type; the rest is "query\nbody". arg() looks a name up in the
 * query and then in the body, both decoded by util/form.c as heraldd's
 * HTTP listener does.
 */
#ifndef HERALD_FUZZ_REQ_H
#define HERALD_FUZZ_REQ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <herald/channel.h>

#include "form.h"

struct fuzz_req {
	struct herald_http_req req;
	struct form query, body;
	char *q, *b;
};

static const char *fuzz_arg(const struct herald_http_req *req, const char *name)
{
	const struct fuzz_req *f = req->priv;
	const char *v = form_get(&f->query, name);
	return v ? v : form_get(&f->body, name);
}

/* 0, or -1 when the bytes make no request (too short, out of memory). */
static inline int fuzz_req_make(struct fuzz_req *f, const uint8_t *buf, size_t len,
				const char *const *paths, size_t npaths)
{
	static const char *const ctypes[] = {NULL, "application/json",
					     "application/x-www-form-urlencoded", "text/plain"};
	const uint8_t *nl;
	size_t qlen;

	memset(f, 0, sizeof(*f));
	if (len < 1)
		return -1;
	nl = memchr(buf + 1, '\n', len - 1);
	qlen = nl ? (size_t)(nl - (buf + 1)) : len - 1;
	f->q = strndup((const char *)buf + 1, qlen);
	f->b = nl ? strndup((const char *)nl + 1, len - 1 - qlen - 1) : strdup("");
	if (!f->q || !f->b || form_parse(&f->query, f->q) != 0 || form_parse(&f->body, f->b) != 0)
		return -1;
	f->req.version = 1;
	f->req.method = buf[0] & 1 ? "POST" : "GET";
	f->req.path = paths[(buf[0] >> 1) % npaths];
	f->req.content_type = ctypes[(buf[0] >> 5) & 3];
	f->req.body = f->b;
	f->req.body_len = strlen(f->b);
	f->req.arg = fuzz_arg;
	f->req.priv = f;
	return 0;
}

static inline void fuzz_req_free(struct fuzz_req *f)
{
	form_free(&f->query);
	form_free(&f->body);
	free(f->q);
	free(f->b);
}

#endif
