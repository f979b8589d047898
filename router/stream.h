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
/* Prepare every batch whose records have all arrived; returns the count. */
int stream_prepare_ready(struct router *r);
/* Queue the trimming of acknowledged entries. */
void stream_trim(struct router *r);
/* At start: take again what this consumer read but never finished. */
void stream_recover(struct router *r);
/* Take over entries another (dead) consumer left pending too long. */
void stream_claim(struct router *r);
/* Queue the move of due scheduled messages back onto their streams. */
void stream_due(struct router *r);

#endif
