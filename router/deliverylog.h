/*
 * deliverylog.h - heraldd's delivery log: each record (lib/dlogrec.h)
 * written three ways: the text line to one file, the JSON to another, and
 * the same JSON on a ZMQ PUB socket for `heraldctl tail`.
 * The files are reopened on SIGHUP/SIGUSR1 (logrotate's postrotate).
 */
#ifndef HERALD_DELIVERYLOG_H
#define HERALD_DELIVERYLOG_H

#include <stddef.h>

#include "dlogrec.h"

struct dlog;

/* Any path may be NULL or "" to disable that output. zctx is a ZMQ
 * context for the PUB socket. NULL with err on failure. */
struct dlog *dlog_open(const char *text_path, const char *json_path, const char *pub_endpoint,
		       void *zctx, char *err, size_t errlen);
void dlog_close(struct dlog **d);
/* Reopen both files (after rotation). 0 or -1 (keeps the old ones). */
int dlog_reopen(struct dlog *d);
/* Write one record given as its text line and JSON text. */
void dlog_write(struct dlog *d, const char *text, const char *json);
/* Flush buffered lines (once per event-loop turn) and take the PUB
 * socket's (un)subscriptions. */
void dlog_flush(struct dlog *d);
/* Flush buffered lines only (before each Redis send: main.c). */
void dlog_flush_files(struct dlog *d);

#endif
