/*
 * chanjob.h - what every threaded channel plugin did for itself: pack a job
 * (a struct plus copies of the message's strings) in one allocation, and
 * the shutdown sequence (wake and join the workers, free the jobs they left).
 * Plugin-side only; builds on chanq.h.
 */
#ifndef HERALD_CHANJOB_H
#define HERALD_CHANJOB_H

#include <pthread.h>
#include <stddef.h>

#include "chanq.h"

/* One allocation of head_size bytes (zeroed) followed by copies of the n
 * strings src[i]; the const char * member at byte offset field_off[i] of
 * the head points at the copy of src[i] (NULL for a NULL string). Free
 * with free(). NULL when out of memory. */
void *chan_job_pack(size_t head_size, size_t n, const char *const src[], const size_t field_off[]);

/* Stop n worker threads (the caller has raised its own stop flag): close
 * jobs (NULL: none) so that workers blocked in jobq_pop return and later
 * pushes fail, call wake(arg) when given (workers asleep elsewhere, e.g. in
 * cmulti_wait), and join the threads. */
void chan_workers_join(struct jobq *jobs, pthread_t *threads, size_t n, void (*wake)(void *),
		       void *arg);

/* The host is stopping (herald_channel.drain): every job still queued
 * (not started) is taken out, answered HERALD_ABANDONED and freed with
 * free_job; the workers find nothing more to start. The jobs must begin
 * with their uint64_t msg_id (CHANJOB_ID_FIRST). Returns how many. */
size_t chan_jobs_abandon(struct jobq *q, struct resq *results, void (*free_job)(void *));
#define CHANJOB_ID_FIRST(type)                                                                     \
	_Static_assert(offsetof(type, msg_id) == 0,                                                \
		       #type ": msg_id must be the first member (chan_jobs_abandon)")

/* Free every job left in *q with free_job, then the queue; *q = NULL. */
void jobq_drain_free(struct jobq **q, void (*free_job)(void *));

#endif
