/* workq.c - a bounded job queue between threads (mutex + condvar) and an
 * unbounded item queue with an fd to poll (mutex + eventfd, so the router
 * can wait for it in zmq_poll). */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct jobq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void **ring;
	size_t cap, head, len;
	int closed;
	int waiting; /* consumers asleep on cv: only then is a push signalled */
};

struct jobq *jobq_new(size_t capacity)
{
	struct jobq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ring = calloc(capacity ? capacity : 1, sizeof(void *));
	if (!q->ring) {
		free(q);
		return NULL;
	}
	q->cap = capacity ? capacity : 1;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

int jobq_push(struct jobq *q, void *job)
{
	int rc = -1;

	pthread_mutex_lock(&q->mu);
	if (!q->closed && q->len < q->cap) {
		q->ring[(q->head + q->len) % q->cap] = job;
		q->len++;
		rc = 0;
		/* one wake-up per sleeping consumer: a woken one takes what
		 * queues meanwhile */
		if (q->waiting && q->len <= (size_t)q->waiting)
			pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

size_t jobq_pop_many(struct jobq *q, void **out, size_t max, int timeout_ms)
{
	struct timespec ts;
	size_t n = 0;

	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&q->mu);
	while (q->len == 0 && !q->closed && timeout_ms != 0) {
		int rc = 0;
		q->waiting++;
		if (timeout_ms < 0)
			pthread_cond_wait(&q->cv, &q->mu);
		else
			rc = pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		q->waiting--;
		if (rc == ETIMEDOUT)
			break;
	}
	while (n < max && q->len > 0) {
		out[n++] = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

void *jobq_pop(struct jobq *q, int timeout_ms)
{
	void *job = NULL;

	return jobq_pop_many(q, &job, 1, timeout_ms) ? job : NULL;
}

size_t jobq_len(struct jobq *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void jobq_close(struct jobq *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void jobq_free(struct jobq **qp)
{
	struct jobq *q = *qp;

	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->ring);
	free(q);
	*qp = NULL;
}

struct itemq {
	pthread_mutex_t mu;
	unsigned char *items; /* items[head..len) wait, item_size bytes each */
	size_t item_size, head, len, cap;
	size_t limit; /* 0: none */
	int efd;      /* readable while items wait: written when len leaves 0 */
};

struct itemq *itemq_new(size_t item_size)
{
	struct itemq *q = calloc(1, sizeof(*q));

	if (!q || item_size == 0) {
		free(q);
		return NULL;
	}
	q->item_size = item_size;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	return q;
}

/* Room for n more items at the end (items[head..] moved to the front
 * first when that is enough); 0, or -1 out of memory. */
static int itemq_room(struct itemq *q, size_t n)
{
	size_t cap;
	unsigned char *items;

	if (q->head > 0 && q->len + n > q->cap) {
		memmove(q->items, q->items + q->head * q->item_size,
			(q->len - q->head) * q->item_size);
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len + n <= q->cap)
		return 0;
	cap = q->cap ? q->cap * 2 : 64;
	while (cap < q->len + n)
		cap *= 2;
	items = realloc(q->items, cap * q->item_size);
	if (!items)
		return -1;
	q->items = items;
	q->cap = cap;
	return 0;
}

int itemq_push_many(struct itemq *q, const void *items, size_t n)
{
	uint64_t one = 1;
	int rc = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&q->mu);
	if (q->limit && q->len - q->head + n > q->limit) {
		rc = ITEMQ_FULL;
		goto out;
	}
	if (itemq_room(q, n) != 0) {
		rc = -1;
		goto out;
	}
	/* wake the reader only when the queue was empty: otherwise the fd is
	 * readable already */
	if (q->len == q->head && write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rc = -1;
	memcpy(q->items + q->len * q->item_size, items, n * q->item_size);
	q->len += n;
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void itemq_set_limit(struct itemq *q, size_t max)
{
	pthread_mutex_lock(&q->mu);
	q->limit = max;
	pthread_mutex_unlock(&q->mu);
}

int itemq_push(struct itemq *q, const void *item)
{
	return itemq_push_many(q, item, 1);
}

int itemq_pop(struct itemq *q, void *out, int max)
{
	uint64_t v;
	int n = 0;

	pthread_mutex_lock(&q->mu);
	if (max > 0 && q->head < q->len) {
		size_t take = q->len - q->head;
		if (take > (size_t)max)
			take = (size_t)max;
		memcpy(out, q->items + q->head * q->item_size, take * q->item_size);
		q->head += take;
		n = (int)take;
	}
	if (q->head == q->len) {
		q->head = q->len = 0;
		/* empty: clear the fd (EAGAIN when it was clear already) */
		if (read(q->efd, &v, sizeof(v)) < 0) {
		}
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

int itemq_fd(struct itemq *q)
{
	return q->efd;
}

void itemq_free(struct itemq **qp)
{
	struct itemq *q = *qp;

	if (!q)
		return;
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	free(q->items);
	free(q);
	*qp = NULL;
}
