/* metrics.h - counters for /metrics (Prometheus text format). Updated by
 * the router thread, read by the HTTP thread. */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>

void metrics_status(const char *channel, const char *status);
void metrics_ingest(const char *outcome); /* accepted, duplicate, rejected */
void metrics_fulfilled(double seconds);
void metrics_ingest_throttled(void); /* a loop turn took fewer new events (backlog) */
void metrics_gauge(const char *name, double value); /* queue_depth, inflight, ... */
/* A service's status callbacks (the callback sender thread, every second):
 * records waiting, age of the oldest, failed POSTs so far (this process),
 * records in the dead stream. */
void metrics_callback(const char *service, double backlog, double oldest_age_s,
		      unsigned long long failures, double dead);
/* Render everything; returns a malloc'd string. */
char *metrics_render(void);

#endif
