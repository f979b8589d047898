/* chanq.c - job and result queues for channel plugins (mutex + condvar for
 * jobs, mutex + eventfd for results, so the router can wait in zmq_poll). */
#include "chanq.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
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

struct resq {
	pthread_mutex_t mu;
	struct herald_result *items; /* items[head..len) wait */
	size_t head, len, cap;
	int efd; /* readable while results wait: written when len leaves 0 */
};

struct resq *resq_new(void)
{
	struct resq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->mu, NULL);
	return q;
}

int resq_push_many(struct resq *q, const struct herald_result *r, size_t n)
{
	uint64_t one = 1;
	int rc = 0;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&q->mu);
	if (q->head > 0 && q->len + n > q->cap) {
		memmove(q->items, q->items + q->head, (q->len - q->head) * sizeof(*q->items));
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len + n > q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		while (cap < q->len + n)
			cap *= 2;
		struct herald_result *items = realloc(q->items, cap * sizeof(*items));
		if (!items) {
			rc = -1;
			goto out;
		}
		q->items = items;
		q->cap = cap;
	}
	/* wake the reader only when the queue was empty: otherwise the fd is
	 * readable already */
	if (q->len == q->head && write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		rc = -1;
	memcpy(q->items + q->len, r, n * sizeof(*r));
	q->len += n;
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int resq_push(struct resq *q, const struct herald_result *r)
{
	return resq_push_many(q, r, 1);
}

int resq_pushf(struct resq *q, uint64_t msg_id, enum herald_status st, unsigned flags,
	       const char *ref, const char *dsn, const char *fmt, ...)
{
	struct herald_result r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.version = HERALD_RESULT_VERSION;
	r.msg_id = msg_id;
	r.status = st;
	r.flags = flags;
	snprintf(r.ref, sizeof(r.ref), "%s", ref ? ref : "");
	snprintf(r.dsn, sizeof(r.dsn), "%s", dsn ? dsn : "");
	va_start(ap, fmt);
	vsnprintf(r.reason, sizeof(r.reason), fmt, ap);
	va_end(ap);
	return resq_push(q, &r);
}

int resq_pop(struct resq *q, struct herald_result *out, int max)
{
	uint64_t v;
	int n = 0;

	pthread_mutex_lock(&q->mu);
	while (n < max && q->head < q->len)
		out[n++] = q->items[q->head++];
	if (q->head == q->len) {
		q->head = q->len = 0;
		/* empty: clear the fd (EAGAIN when it was clear already) */
		if (read(q->efd, &v, sizeof(v)) < 0) {
		}
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

int resq_fd(struct resq *q)
{
	return q->efd;
}

void resq_free(struct resq **qp)
{
	struct resq *q = *qp;

	if (!q)
		return;
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	free(q->items);
	free(q);
	*qp = NULL;
}

int chanq_state_poll(void *state, struct herald_result *out, int max)
{
	return resq_pop(*(struct resq **)state, out, max);
}

int chanq_state_fd(void *state)
{
	return resq_fd(*(struct resq **)state);
}
