/*
 * ipp.c - the print channel's CUPS client: submit a PDF as a job over IPP
 * (Create-Job, then Send-Document streamed with cupsSendRequest /
 * cupsWriteRequestData / cupsGetResponse) and ask for a job's state
 * (Get-Job-Attributes). The requests are built here with printer-uri
 * ipp://<server>/printers/<queue>: cupsCreateJob() would first look the
 * queue up as a destination of the local client configuration, which knows
 * nothing of a remote server given as host:port. One connection, used by one
 * thread, reopened after any transport error. Every wait is bounded: a
 * connect gives up after 5 s, a request after 30 s without progress, and
 * both sooner once *cancel is set (plugin closing).
 */
#include <cups/cups.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "print.h"

#define PIPP_CONNECT_MS 5000
#define PIPP_IO_WAIT_S 30

struct pipp {
	char host[256];
	int port;
	char queue[128];
	int *cancel;
	int waited; /* seconds waited in the current request */
	http_t *http;
};

struct pipp *pipp_new(const char *host, int port, const char *queue, int *cancel)
{
	struct pipp *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	snprintf(p->host, sizeof(p->host), "%s", host);
	snprintf(p->queue, sizeof(p->queue), "%s", queue);
	p->port = port;
	p->cancel = cancel;
	return p;
}

static void pipp_disconnect(struct pipp *p)
{
	if (p->http) {
		httpClose(p->http);
		p->http = NULL;
	}
}

void pipp_free(struct pipp **pp)
{
	if (!pp || !*pp)
		return;
	pipp_disconnect(*pp);
	free(*pp);
	*pp = NULL;
}

/* libcups calls this every second a read or write waits: keep waiting (1)
 * until the limit or until the plugin closes. */
static int pipp_wait_cb(http_t *http, void *data)
{
	struct pipp *p = data;

	(void)http;
	return !__atomic_load_n(p->cancel, __ATOMIC_RELAXED) && ++p->waited < PIPP_IO_WAIT_S;
}

static int pipp_connect(struct pipp *p, char *err, size_t errlen)
{
	if (p->http)
		return 0;
	p->http = httpConnect2(p->host, p->port, NULL, AF_UNSPEC, HTTP_ENCRYPTION_IF_REQUESTED, 1,
			       PIPP_CONNECT_MS, p->cancel);
	if (!p->http) {
		snprintf(err, errlen, "CUPS at %s:%d unreachable: %s", p->host, p->port,
			 cupsLastErrorString());
		return -1;
	}
	httpSetTimeout(p->http, 1.0, pipp_wait_cb, p);
	return 0;
}

/* Errors that another attempt cannot fix: the server refuses this document
 * or request as such. Everything else (server down, busy, queue stopped or
 * missing, not accepting jobs) is worth retrying. */
static int pipp_permanent(ipp_status_t st)
{
	switch (st) {
	case IPP_STATUS_ERROR_BAD_REQUEST:
	case IPP_STATUS_ERROR_REQUEST_ENTITY:
	case IPP_STATUS_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED:
	case IPP_STATUS_ERROR_ATTRIBUTES_OR_VALUES:
	case IPP_STATUS_ERROR_CONFLICTING:
	case IPP_STATUS_ERROR_DOCUMENT_ACCESS:
	case IPP_STATUS_ERROR_DOCUMENT_PERMISSION:
	case IPP_STATUS_ERROR_DOCUMENT_FORMAT_ERROR:
	case IPP_STATUS_ERROR_DOCUMENT_UNPRINTABLE: return 1;
	default: return 0;
	}
}

/* printer-uri and the HTTP resource for the queue. */
static void pipp_uris(const struct pipp *p, char *uri, size_t urilen, char *res, size_t reslen)
{
	httpAssembleURIf(HTTP_URI_CODING_ALL, uri, (int)urilen, "ipp", NULL, p->host, p->port,
			 "/printers/%s", p->queue);
	snprintf(res, reslen, "/printers/%s", p->queue);
}

/* Create-Job named name; the job id or 0. */
static int pipp_create(struct pipp *p, const char *name)
{
	char uri[1024], res[256];
	ipp_t *req = ippNewRequest(IPP_OP_CREATE_JOB), *resp;
	ipp_attribute_t *a;
	int job = 0;

	pipp_uris(p, uri, sizeof(uri), res, sizeof(res));
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, uri);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
		     cupsUser());
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", NULL, name);
	p->waited = 0;
	resp = cupsDoRequest(p->http, req, res); /* frees req */
	if (resp && cupsLastError() <= IPP_STATUS_OK_CONFLICTING &&
	    (a = ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER)) != NULL)
		job = ippGetInteger(a, 0);
	ippDelete(resp);
	return job;
}

/* Send-Document (the last one) streamed in 64 KiB pieces; IPP status. */
static ipp_status_t pipp_send(struct pipp *p, int job, const char *name, const unsigned char *pdf,
			      size_t len)
{
	char uri[1024], res[256];
	ipp_t *req = ippNewRequest(IPP_OP_SEND_DOCUMENT), *resp;
	ipp_status_t st = IPP_STATUS_ERROR_INTERNAL;
	size_t off = 0;

	pipp_uris(p, uri, sizeof(uri), res, sizeof(res));
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, uri);
	ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
		     cupsUser());
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "document-name", NULL, name);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", NULL,
		     "application/pdf");
	ippAddBoolean(req, IPP_TAG_OPERATION, "last-document", 1);
	p->waited = 0;
	if (cupsSendRequest(p->http, req, res, CUPS_LENGTH_VARIABLE) != HTTP_STATUS_CONTINUE)
		goto done;
	while (off < len) {
		size_t n = len - off > 65536 ? 65536 : len - off;
		p->waited = 0;
		if (cupsWriteRequestData(p->http, (const char *)pdf + off, n) !=
		    HTTP_STATUS_CONTINUE)
			goto done;
		off += n;
	}
	p->waited = 0;
	resp = cupsGetResponse(p->http, res);
	st = cupsLastError();
	ippDelete(resp);
done:
	ippDelete(req);
	return st == IPP_STATUS_OK ? st : (st ? st : IPP_STATUS_ERROR_INTERNAL);
}

int pipp_submit(struct pipp *p, const char *name, const unsigned char *pdf, size_t len,
		int *permanent, char *err, size_t errlen)
{
	int job;
	ipp_status_t st;
	char scratch[256];

	*permanent = 0;
	if (pipp_connect(p, err, errlen) != 0)
		return 0;
	job = pipp_create(p, name);
	if (job <= 0) {
		st = cupsLastError();
		*permanent = pipp_permanent(st);
		snprintf(err, errlen, "CUPS Create-Job on %s: %s (0x%04x)", p->queue,
			 cupsLastErrorString(), (unsigned)st);
		pipp_disconnect(p);
		return 0;
	}
	st = pipp_send(p, job, name, pdf, len);
	if (st <= IPP_STATUS_OK_CONFLICTING)
		return job;
	*permanent = pipp_permanent(st);
	snprintf(err, errlen, "CUPS Send-Document job %d: %s (0x%04x)", job, cupsLastErrorString(),
		 (unsigned)st);
	/* a half-sent job must not print later: cancel it (best effort, on a
	 * fresh connection since this one may be mid-request) */
	pipp_disconnect(p);
	if (pipp_connect(p, scratch, sizeof(scratch)) == 0) {
		char uri[1024], res[256];
		ipp_t *req = ippNewRequest(IPP_OP_CANCEL_JOB);
		pipp_uris(p, uri, sizeof(uri), res, sizeof(res));
		ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, uri);
		ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job);
		ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
			     cupsUser());
		p->waited = 0;
		ippDelete(cupsDoRequest(p->http, req, res));
	}
	return 0;
}

enum pipp_state pipp_job_state(struct pipp *p, int job_id, char *msg, size_t msglen)
{
	static const char *const want[] = {"job-state", "job-state-reasons", "job-state-message"};
	char uri[1024];
	ipp_t *req, *resp;
	ipp_attribute_t *a;
	ipp_status_t st;
	enum pipp_state out = PIPP_UNREACHABLE;
	int state;
	const char *reasons = NULL, *text = NULL;

	if (pipp_connect(p, msg, msglen) != 0)
		return PIPP_UNREACHABLE;
	httpAssembleURIf(HTTP_URI_CODING_ALL, uri, sizeof(uri), "ipp", NULL, p->host, p->port,
			 "/jobs/%d", job_id);
	req = ippNewRequest(IPP_OP_GET_JOB_ATTRIBUTES);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "job-uri", NULL, uri);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
		     cupsUser());
	ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
		      (int)(sizeof(want) / sizeof(want[0])), NULL, want);
	p->waited = 0;
	resp = cupsDoRequest(p->http, req, "/jobs/");
	st = cupsLastError();
	if (st == IPP_STATUS_ERROR_NOT_FOUND) {
		snprintf(msg, msglen, "CUPS no longer knows job %d", job_id);
		out = PIPP_UNKNOWN;
		goto done;
	}
	if (!resp || st > IPP_STATUS_OK_CONFLICTING) {
		snprintf(msg, msglen, "CUPS Get-Job-Attributes job %d: %s", job_id,
			 cupsLastErrorString());
		pipp_disconnect(p);
		goto done;
	}
	a = ippFindAttribute(resp, "job-state", IPP_TAG_ENUM);
	state = a ? ippGetInteger(a, 0) : 0;
	a = ippFindAttribute(resp, "job-state-reasons", IPP_TAG_KEYWORD);
	reasons = a ? ippGetString(a, 0, NULL) : NULL;
	a = ippFindAttribute(resp, "job-state-message", IPP_TAG_TEXT);
	text = a ? ippGetString(a, 0, NULL) : NULL;
	snprintf(msg, msglen, "job %d %s%s%s%s%s%s", job_id,
		 state ? ippEnumString("job-state", state) : "state unknown", reasons ? " (" : "",
		 reasons ? reasons : "", reasons ? ")" : "", text && *text ? ": " : "",
		 text && *text ? text : "");
	switch (state) {
	case IPP_JSTATE_COMPLETED: out = PIPP_COMPLETED; break;
	case IPP_JSTATE_ABORTED:
	case IPP_JSTATE_CANCELED: out = PIPP_ABORTED; break;
	case 0: out = PIPP_UNREACHABLE; break;
	default: out = PIPP_PENDING; break;
	}
done:
	ippDelete(resp);
	return out;
}
