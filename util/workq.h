/* workq.h - two queues between threads: a bounded queue of opaque jobs
 * (workers block on it) and an unbounded queue of fixed-size items with an
 * fd to poll (a poll loop drains it). Knows nothing of Herald: the channel
 * plugins' result queue (channels/common/chanq.h) and heraldd's receipt
 * queue are item queues of struct herald_result. */
#ifndef HERALD_WORKQ_H
#define HERALD_WORKQ_H

#include <stddef.h>

/* Bounded multi-producer multi-consumer queue of opaque jobs. */
struct jobq;
struct jobq *jobq_new(size_t capacity);
/* Non-blocking: 0 queued, -1 full or closed. */
int jobq_push(struct jobq *q, void *job);
/* Blocks up to timeout_ms (-1 forever). NULL on timeout or when closed and
 * empty. */
void *jobq_pop(struct jobq *q, int timeout_ms);
/* Take up to max jobs at once, waiting up to timeout_ms (0: do not wait,
 * -1 forever) for the first. Returns how many. */
size_t jobq_pop_many(struct jobq *q, void **out, size_t max, int timeout_ms);
size_t jobq_len(struct jobq *q);
/* Wake every waiter; later pushes fail, pops drain what is left. */
void jobq_close(struct jobq *q);
/* Free the queue (not the jobs left in it: pop them first). */
void jobq_free(struct jobq **q);

/* Queue of fixed-size items (copied in and out), unbounded unless
 * itemq_set_limit says otherwise, with an fd that is readable while items
 * wait: many producer threads, one consumer that polls the fd. */
struct itemq;
struct itemq *itemq_new(size_t item_size);
/* At most max items waiting (0: no limit, the default). */
void itemq_set_limit(struct itemq *q, size_t max);
/* 0, -1 out of memory, ITEMQ_FULL past the limit (nothing queued). */
#define ITEMQ_FULL (-2)
int itemq_push(struct itemq *q, const void *item);
/* Push n items under one lock and at most one wake-up. */
int itemq_push_many(struct itemq *q, const void *items, size_t n);
/* Copy up to max items into out; how many. */
int itemq_pop(struct itemq *q, void *out, int max);
int itemq_fd(struct itemq *q);
void itemq_free(struct itemq **q);

#endif
