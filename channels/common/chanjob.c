/* chanjob.c - job packing and worker shutdown for channel plugins. */
#include "chanjob.h"

#include <stdlib.h>
#include <string.h>

void *chan_job_pack(size_t head_size, size_t n, const char *const src[], const size_t field_off[])
{
	size_t total = head_size;
	char *job, *p;

	for (size_t i = 0; i < n; i++)
		total += src[i] ? strlen(src[i]) + 1 : 0;
	job = malloc(total);
	if (!job)
		return NULL;
	memset(job, 0, head_size);
	p = job + head_size;
	for (size_t i = 0; i < n; i++) {
		const char *copy = NULL;
		if (src[i]) {
			size_t len = strlen(src[i]) + 1;
			memcpy(p, src[i], len);
			copy = p;
			p += len;
		}
		memcpy(job + field_off[i], &copy, sizeof(copy));
	}
	return job;
}

void chan_workers_join(struct jobq *jobs, pthread_t *threads, size_t n, void (*wake)(void *),
		       void *arg)
{
	if (jobs)
		jobq_close(jobs);
	if (wake)
		wake(arg);
	for (size_t i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

void jobq_drain_free(struct jobq **q, void (*free_job)(void *))
{
	void *job;

	if (!q || !*q)
		return;
	jobq_close(*q);
	while ((job = jobq_pop(*q, 0)) != NULL)
		if (free_job)
			free_job(job);
	jobq_free(q);
}

size_t chan_jobs_abandon(struct jobq *q, struct resq *results, void (*free_job)(void *))
{
	void *job;
	size_t n = 0;

	if (!q)
		return 0;
	while ((job = jobq_pop(q, 0)) != NULL) {
		uint64_t id;
		memcpy(&id, job, sizeof(id));
		resq_pushf(results, id, HERALD_ABANDONED, 0, NULL, NULL,
			   "not started: heraldd is stopping");
		if (free_job)
			free_job(job);
		n++;
	}
	return n;
}
