/* metrics.h - counters for /metrics (Prometheus text format). Updated by
 * the router thread, read by the HTTP thread. */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>

void metrics_status(const char *channel, const char *status); /* service "-" */
/* herald_messages_total{service,channel,status}: at most 64 service labels
 * (later ones count as "other") and 256 series. */
void metrics_message(const char *service, const char *channel, const char *status);
void metrics_ingest(const char *outcome); /* accepted, duplicate, rejected, unavailable */
void metrics_fulfilled(double seconds);
/* a message queued or scheduled whose hash was gone (expired, purged) */
void metrics_missing_record(void);
void metrics_redis_lost(void);	     /* a Redis connection broke */
void metrics_ingest_throttled(void); /* a loop turn took fewer new events (backlog) */
void metrics_gauge(const char *name, double value); /* queue_depth, inflight, ... */
/* Add n to the counter herald_<name>_total, labelled {channel="..."} when
 * channel is not NULL (receipts_unmatched, possible_duplicates), else
 * without labels (stream_leases_lost, ...). */
void metrics_count(const char *name, const char *channel, unsigned long long n);
/* The same labelled {service="..."} (email bounces and complaints). */
void metrics_count_service(const char *name, const char *service, unsigned long long n);
/* A service's status callbacks (the callback sender thread, every second):
 * records waiting, age of the oldest, failed POSTs so far (this process),
 * records in the dead stream. */
void metrics_callback(const char *service, double backlog, double oldest_age_s,
		      unsigned long long failures, double dead);
/* A gauge herald_<name>{channel="..."} (channel_suspended). */
void metrics_channel_gauge(const char *name, const char *channel, double value);
/* The loop's timings (issue #15): one turn's length in microseconds; one
 * pipeline send's commands and bytes (lone: nothing was outstanding
 * before it); the events of one herald_accept call. */
void metrics_loop_turn(long long us);
void metrics_redis_send(size_t cmds, size_t bytes, int lone);
void metrics_accept_batch(int events);
void metrics_redis_pipe(size_t batches, size_t cmds); /* herald_pipe scripts sent */
void metrics_redis_held(void); /* a send waited for the replies outstanding */
/* How the loop's wait for work ended (main.c wait_for_work), counted as
 * herald_loop_wakes_total{by=...}: a descriptor became ready, the poll
 * timed out, a signal cut it short, or there was work already (no wait). */
enum loop_wake { WAKE_FD, WAKE_TIMEOUT, WAKE_SIGNAL, WAKE_READY, WAKE_N };
void metrics_loop_wake(enum loop_wake by);
/* Render everything; returns a malloc'd string. */
char *metrics_render(void);

#endif
