/*
 * stream.h - the priority streams (herald:q:*): read new entries, take
 * back what this consumer left pending (recover) or others left idle
 * (claim), move due scheduled messages back (due), trim what every consumer
 * has acknowledged. Entries come with their records in batches, prepared by
 * stream_prepare_ready.
 */
#ifndef HERALD_STREAM_H
#define HERALD_STREAM_H

#include "router.h"

/* Queue a read of new entries (one at a time). */
void stream_read(struct router *r);
/* Right behind a herald_accept on the pipeline (ingest.c): read the new
 * entries in the same round trip, so a lone event is read from its stream
 * as it is acknowledged instead of one round trip later; only when the
 * timed read would go (no read in flight, room in flight, no backlog, not
 * draining). Returns 1 when queued. */
int stream_read_behind_accept(struct router *r);
/* Prepare every batch whose records have all arrived; returns the count. */
int stream_prepare_ready(struct router *r);
/* Queue the trimming of acknowledged entries. */
void stream_trim(struct router *r);
/* At start (synchronous): take again the entries pending for this
 * consumer (read, never finished: a crash, a restart), except those it
 * holds (lease.h), which are in work here and must not be sent twice. */
void stream_recover(struct router *r);
/* After every reconnect to Redis (redis.c's hook): the same as
 * stream_recover: entries whose reads the lost connection cut are taken
 * again; those still in work here (plugin queues, backlog, awaiting a
 * result) are held and skipped. */
void stream_on_reconnect(struct router *r);
/* Take over entries whose owner stopped renewing their leases for [queue]
 * claim_idle (crashed, cut off): any consumer's, never one held here. */
void stream_claim(struct router *r);
/* The per-turn lease step: every lease_interval_ms, queue the heartbeat
 * of the entries held here (lease_renew). */
void stream_lease(struct router *r, int64_t now);
/* Queue the move of due scheduled messages back onto their streams. */
void stream_due(struct router *r);

#endif
