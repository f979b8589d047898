/* http.c - the HTTP listener: health, metrics, receipts. The receipt
 * parsing runs here (plugin receipt() is pure); applying a receipt to a
 * message is the router thread's job, so parsed receipts are queued. */
#include "http.h"

#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http_int.h"
#include "workq.h"
#include "form.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "unsubscribe.h"

#define MAX_BODY 65536

static void parse_form(struct req *q)
{
	if (form_parse(&q->form, q->body) != 0)
		log_warnx("http: out of memory decoding a form body");
}

static const char *req_arg(const struct herald_http_req *hr, const char *name)
{
	struct req *q = hr->priv;
	const char *v = MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);

	if (v)
		return v;
	return form_get(&q->form, name);
}

static const char *req_header(const struct herald_http_req *hr, const char *name)
{
	struct req *q = hr->priv;
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

void http_req_fill(struct req *q, const char *method, const char *path, struct herald_http_req *hr)
{
	const char *ctype = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Type");

	if (ctype && !strncasecmp(ctype, "application/x-www-form-urlencoded", 33))
		parse_form(q);
	memset(hr, 0, sizeof(*hr));
	hr->version = HERALD_HTTP_REQ_VERSION;
	hr->method = method;
	hr->path = path;
	hr->content_type = ctype;
	hr->body = q->body ? q->body : "";
	hr->body_len = q->len;
	hr->arg = req_arg;
	hr->header = req_header;
	hr->priv = q;
}

enum MHD_Result http_reply_with(struct MHD_Connection *c, unsigned code, const char *type,
				const char *body, const char *const *headers)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	for (; headers && headers[0] && headers[1]; headers += 2)
		MHD_add_response_header(resp, headers[0], headers[1]);
	rc = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return rc;
}

enum MHD_Result http_reply(struct MHD_Connection *c, unsigned code, const char *type,
			   const char *body)
{
	return http_reply_with(c, code, type, body, NULL);
}

static enum MHD_Result healthz(struct http *h, struct MHD_Connection *conn)
{
	const char *note = atomic_load(&h->note);
	char body[512];

	if (!atomic_load(&h->healthy))
		return http_reply(conn, 503, "text/plain", "redis unavailable\n");
	snprintf(body, sizeof(body), "ok\n%s", note ? note : "");
	return http_reply(conn, 200, "text/plain", body);
}

static enum MHD_Result receipt(struct http *h, struct req *q, const char *url, const char *method)
{
	const char *rest = url + strlen("/receipts/");
	const char *slash = strchr(rest, '/');
	size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
	char name[33], resp[512] = "";
	struct chan *c = NULL;
	struct herald_http_req hr;
	struct herald_result res;
	int idx = -1, rc;

	if (nlen == 0 || nlen >= sizeof(name))
		return http_reply(q->conn, 404, "text/plain", "unknown channel\n");
	memcpy(name, rest, nlen);
	name[nlen] = '\0';
	for (int i = 0; i < h->cs->n; i++)
		if (!strcmp(h->cs->ch[i].name, name)) {
			c = &h->cs->ch[i];
			idx = i;
		}
	if (!c || !c->desc->receipt)
		return http_reply(q->conn, 404, "text/plain", "no receipts for this channel\n");
	if (q->too_big)
		return http_reply(q->conn, 413, "text/plain", "body too large\n");
	http_req_fill(q, method, slash ? slash : "", &hr);
	memset(&res, 0, sizeof(res));
	res.version = HERALD_RESULT_VERSION;
	rc = c->desc->receipt(&hr, &res, resp, sizeof(resp));
	if (rc < 0) {
		log_msg(LOG_L_NOTICE, "receipt for %s: malformed request (%s %s)", name, method,
			hr.path);
		return http_reply(q->conn, 400, "text/plain",
				  resp[0] ? resp : "malformed receipt\n");
	}
	if (rc > 0) {
		res.msg_id = (uint64_t)idx + 1;
		if (itemq_push(h->q, &res) != 0) { /* full (or no memory): the provider retries */
			metrics_status(name, "receipt-busy");
			log_msg(LOG_L_WARNING,
				"receipt for %s: queue full (%d waiting): answered 503", name,
				HTTP_RCPT_QUEUE_MAX);
			return http_reply(q->conn, 503, "text/plain", "busy, try again later\n");
		}
	}
	metrics_status(name, rc > 0 ? "receipt" : "receipt-ignored");
	return http_reply(q->conn, 200, "text/plain", resp[0] ? resp : "ok\n");
}

/* url starts with the receipt prefix; compared in time independent of
 * where it differs, as the prefix is a secret. */
static int under_prefix(const struct http *h, const char *url)
{
	unsigned char diff = 0;

	if (strnlen(url, h->plen) < h->plen)
		return 0;
	for (size_t i = 0; i < h->plen; i++)
		diff |= (unsigned char)(url[i] ^ h->prefix[i]);
	return diff == 0;
}

/* The path of a base URL, without its trailing slashes: "" for none. */
static char *url_path(const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t n;

	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		return strdup("");
	n = strcspn(p, "?#");
	while (n > 0 && p[n - 1] == '/')
		n--;
	return strndup(p, n);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	struct req *q = *con_cls;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		q->conn = conn;
		*con_cls = q;
		return MHD_YES;
	}
	if (*upload_size) {
		if (q->len + *upload_size > MAX_BODY) {
			q->too_big = 1;
		} else {
			char *b = realloc(q->body, q->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + q->len, upload, *upload_size);
			q->len += *upload_size;
			b[q->len] = '\0';
			q->body = b;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/healthz"))
		return healthz(h, conn);
	if (!strcmp(url, "/status")) {
		const char *f = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format");
		int json = f && !strcmp(f, "json");
		char *page = status_render(json);
		enum MHD_Result rc = http_reply(
		    conn, page ? 200 : 500, json ? "application/json" : "text/plain; charset=utf-8",
		    page ? page : "out of memory\n");
		free(page);
		return rc;
	}
	if (!strcmp(url, "/metrics")) {
		char *m = metrics_render();
		enum MHD_Result rc = http_reply(conn, 200, "text/plain; version=0.0.4", m ? m : "");
		free(m);
		return rc;
	}
	if (h->unsub && unsub_match(h->unsub, url))
		return unsub_http(h->unsub, q, url, method);
	if (!strcmp(method, "GET") || !strcmp(method, "POST")) {
		if (h->plen && under_prefix(h, url) && !strncmp(url + h->plen, "/receipts/", 10))
			return receipt(h, q, url + h->plen, method);
		if (!h->plen && !strncmp(url, "/receipts/", 10))
			return receipt(h, q, url, method);
		/* messages citizens send back (http_inbound.c): same rules */
		if (h->plen && under_prefix(h, url) && !strncmp(url + h->plen, "/inbound/", 9))
			return http_inbound(h, q, url + h->plen, method);
		if (!h->plen && !strncmp(url, "/inbound/", 9))
			return http_inbound(h, q, url, method);
		if (h->plen &&
		    strstr(url, "/receipts/")) /* never the URL: it may hold the secret */
			log_msg(LOG_L_NOTICE,
				"http: receipt refused: not under the path of "
				"[http] public_url (%s)",
				method);
	}
	return http_reply(conn, 404, "text/plain", "not found\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *q = *con_cls;

	if (q) {
		free(q->body);
		form_free(&q->form);
		free(q);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_msg(LOG_L_NOTICE, "http: %s", buf);
}

struct http *http_start(const char *listen, const char *public_url, struct chanset *cs, char *err,
			size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));
	struct addrinfo hints, *ai = NULL;
	char host[256];
	const char *port;
	int grc;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->cs = cs;
	atomic_store(&h->healthy, 0); /* 503 until Redis has answered (http_set_healthy) */
	h->prefix = url_path(public_url);
	if (!h->prefix) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	h->plen = strlen(h->prefix);
	if (public_url && !h->plen)
		log_warnx("http: [http] public_url has no path: receipts at /receipts/ are not "
			  "authenticated; anyone who reaches %s can post one (give public_url a "
			  "secret path, e.g. %s/hook/<random>)",
			  listen, public_url);
	/* "127.0.0.1:7402" or "[::1]:7402" */
	port = strrchr(listen, ':');
	if (!port || port == listen || (size_t)(port - listen) >= sizeof(host)) {
		snprintf(err, errlen, "[http] listen = '%s': expected host:port", listen);
		goto fail;
	}
	memcpy(host, listen, (size_t)(port - listen));
	host[port - listen] = '\0';
	port++;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	grc = getaddrinfo(host, port, &hints, &ai);
	if (grc != 0) {
		snprintf(err, errlen, "[http] listen = '%s': %s", listen, gai_strerror(grc));
		goto fail;
	}
	h->q = itemq_new(sizeof(struct herald_result));
	if (h->q)
		itemq_set_limit(h->q, HTTP_RCPT_QUEUE_MAX);
	h->inq = itemq_new(sizeof(struct http_inbound_item));
	if (h->inq)
		itemq_set_limit(h->inq, HTTP_INBOUND_QUEUE_MAX);
	if (!h->q || !h->inq) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	h->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
		(ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0),
	    0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	    MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s (port in use?)", listen);
		goto fail;
	}
	freeaddrinfo(ai);
	return h;
fail:
	if (ai)
		freeaddrinfo(ai);
	http_stop(&h);
	return NULL;
}

void http_stop(struct http **hp)
{
	struct http *h = *hp;

	if (!h)
		return;
	if (h->d && h->inq)
		http_inbound_drain(h);
	if (h->d)
		unsub_drain(h->unsub);
	if (h->d)
		MHD_stop_daemon(h->d);
	itemq_free(&h->q);
	itemq_free(&h->inq);
	free(h->prefix);
	free(h);
	*hp = NULL;
}

int http_fd(struct http *h)
{
	return itemq_fd(h->q);
}

int http_pop(struct http *h, struct herald_result *out, struct chan **chan, int max)
{
	int n = itemq_pop(h->q, out, max);

	for (int i = 0; i < n; i++) {
		size_t idx = (size_t)out[i].msg_id - 1;
		chan[i] = idx < (size_t)h->cs->n ? &h->cs->ch[idx] : NULL;
		out[i].msg_id = 0;
	}
	return n;
}

void http_set_note(struct http *h, const char *note)
{
	atomic_store(&h->note, note);
}

void http_set_unsub(struct http *h, struct unsub *u)
{
	h->unsub = u;
}

void http_set_healthy(struct http *h, int ok)
{
	if (h) /* NULL: no listener ([http] listen empty) */
		atomic_store(&h->healthy, ok);
}
