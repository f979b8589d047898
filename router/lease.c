/*
 * lease.c - the stream entries this instance holds (lease.h): a hash on
 * (stream, entry id) for "is it held?", and a list per stream for the
 * heartbeat.
 *
 * The heartbeat is herald_lease (scripts.c): for each id, renew it (XCLAIM
 * JUSTID, min-idle 0, which resets its idle time) only while this consumer
 * owns it. A plain XCLAIM would also take back an entry another instance
 * claimed while this one was cut off from Redis, and both would then send
 * it; herald_lease reports those instead ("lease lost"). One command per
 * stream and interval, on the pipeline: never a round trip per event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"

#define LEASE_CHUNK 2000 /* ids per herald_lease call */

struct lease_node {
	struct lease_node *hnext;	/* hash chain */
	struct lease_node *prev, *next; /* the stream's list */
	struct leases *owner;
	struct msg *m;
	int prio;
	char id[48];
};

struct leases {
	struct lease_node **tab;
	size_t cap, n;
	struct lease_node *head[PRIO_N];
};

static const char *const streams[PRIO_N] = KEY_STREAMS;

static int prio_of(const char *stream)
{
	for (int p = 0; p < PRIO_N; p++)
		if (!strcmp(stream, streams[p]))
			return p;
	return -1;
}

static size_t slot_of(const struct leases *ls, int prio, const char *id)
{
	uint32_t h = fnv1a32_add(FNV1A32_INIT, id, strlen(id));

	return (size_t)fnv1a32_add(h, &prio, sizeof(prio)) & (ls->cap - 1);
}

struct leases *leases_new(void)
{
	struct leases *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return NULL;
	ls->cap = 1024;
	ls->tab = calloc(ls->cap, sizeof(*ls->tab));
	if (!ls->tab) {
		free(ls);
		return NULL;
	}
	return ls;
}

void leases_free(struct leases **lsp)
{
	struct leases *ls = *lsp;

	if (!ls)
		return;
	for (int p = 0; p < PRIO_N; p++)
		while (ls->head[p])
			lease_release(ls->head[p]->m);
	free(ls->tab);
	free(ls);
	*lsp = NULL;
}

static struct lease_node *find(const struct leases *ls, int prio, const char *id)
{
	struct lease_node *n = ls->tab[slot_of(ls, prio, id)];

	while (n && (n->prio != prio || strcmp(n->id, id) != 0))
		n = n->hnext;
	return n;
}

int lease_held(const struct leases *ls, const char *stream, const char *id)
{
	int p = prio_of(stream);

	return p >= 0 && find(ls, p, id) != NULL;
}

size_t leases_count(const struct leases *ls)
{
	return ls->n;
}

/* Double the table (chains re-hashed); on failure the old one stays. */
static void grow(struct leases *ls)
{
	size_t oldcap = ls->cap;
	struct lease_node **old = ls->tab, **tab = calloc(2 * oldcap, sizeof(*tab));

	if (!tab)
		return;
	ls->tab = tab;
	ls->cap = 2 * oldcap;
	for (size_t i = 0; i < oldcap; i++)
		while (old[i]) {
			struct lease_node *n = old[i];
			size_t s = slot_of(ls, n->prio, n->id);
			old[i] = n->hnext;
			n->hnext = tab[s];
			tab[s] = n;
		}
	free(old);
}

int lease_take(struct leases *ls, struct msg *m)
{
	int p = prio_of(m->stream);
	struct lease_node *n;
	size_t s;

	if (p < 0 || !m->stream_id[0] || strlen(m->stream_id) >= sizeof(n->id))
		return 0; /* not a stream entry of ours: nothing to hold */
	if (find(ls, p, m->stream_id))
		return 1;
	if (!(n = calloc(1, sizeof(*n))))
		return -1;
	if (ls->n >= ls->cap)
		grow(ls);
	memcpy(n->id, m->stream_id, strlen(m->stream_id) + 1);
	n->prio = p;
	n->owner = ls;
	n->m = m;
	s = slot_of(ls, p, n->id);
	n->hnext = ls->tab[s];
	ls->tab[s] = n;
	n->next = ls->head[p];
	if (n->next)
		n->next->prev = n;
	ls->head[p] = n;
	ls->n++;
	m->lease = n;
	return 0;
}

void lease_release(struct msg *m)
{
	struct lease_node *n = m ? m->lease : NULL, **pp;
	struct leases *ls;

	if (!n)
		return;
	ls = n->owner;
	for (pp = &ls->tab[slot_of(ls, n->prio, n->id)]; *pp != n; pp = &(*pp)->hnext)
		;
	*pp = n->hnext;
	if (n->prev)
		n->prev->next = n->next;
	else
		ls->head[n->prio] = n->next;
	if (n->next)
		n->next->prev = n->prev;
	ls->n--;
	m->lease = NULL;
	free(n);
}

int lease_interval_ms(int claim_idle_ms)
{
	int ms = claim_idle_ms / 3;

	return ms < 100 ? 100 : ms;
}

struct renewal {
	struct router *r;
	int prio;
};

/* herald_lease's answer: {lost ids, ids no longer pending}. */
static void on_lease(redisReply *rep, void *arg)
{
	struct renewal *rn = arg;
	struct leases *ls = rn->r->leases;

	if (rep && rep->type == REDIS_REPLY_ERROR)
		log_warnx("redis: herald_lease: %s", rep->str);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && ls)
		for (size_t k = 0; k < 2; k++) {
			const redisReply *ids = rep->element[k];
			for (size_t i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements;
			     i++) {
				struct lease_node *n;
				if (ids->element[i]->type != REDIS_REPLY_STRING ||
				    !(n = find(ls, rn->prio, ids->element[i]->str)))
					continue;
				if (k == 0) {
					log_warnx("%s: lease lost: entry %s of %s was claimed by "
						  "another consumer while this one held it",
						  n->m->event_id, n->id, streams[rn->prio]);
					metrics_count("stream_leases_lost", NULL, 1);
				}
				lease_release(n->m);
			}
		}
	free(rn);
}

static void renew_chunk(struct router *r, int p, const char **argv, int argc)
{
	struct renewal *rn = malloc(sizeof(*rn));

	if (!rn)
		return; /* renewed next time */
	rn->r = r;
	rn->prio = p;
	rdb_cmd(r->rdb, on_lease, rn, argc, argv, NULL);
}

void lease_renew(struct router *r)
{
	const char *argv[5 + LEASE_CHUNK];

	if (!r->leases)
		return;
	argv[0] = "FCALL";
	argv[1] = "herald_lease";
	argv[2] = "1";
	argv[4] = r->consumer;
	for (int p = 0; p < PRIO_N; p++) {
		int argc = 5;
		argv[3] = streams[p];
		for (const struct lease_node *n = r->leases->head[p]; n; n = n->next) {
			argv[argc++] = n->id;
			if (argc == 5 + LEASE_CHUNK) {
				renew_chunk(r, p, argv, argc);
				argc = 5;
			}
		}
		if (argc > 5)
			renew_chunk(r, p, argv, argc);
	}
}
