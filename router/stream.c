/*
 * stream.c - reading the priority streams (herald:q:urgent, normal, bulk) as
 * one consumer of the group "herald".
 *
 * A read brings up to [queue] batch entries; the records each needs (the
 * message hash unless the entry is fresh, the citizen once per read, the
 * transaction's engaged channel) are queued on the same pipeline, and the
 * batch is prepared (prepare.c) once every reply is in, after the pipeline
 * is sent, so Redis works on the next batch meanwhile. Also here: taking
 * back pending entries at start (recover) and idle ones of other consumers
 * (claim), moving due scheduled messages back (herald_due), and trimming
 * acknowledged entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "jlane.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "msgstate.h"
#include "prepare.h"
#include "stream.h"
#include "text.h"

static const char *const streams[PRIO_N] = KEY_STREAMS;

/* The entries of one read, waiting for their citizen records. */
struct read_batch {
	struct router *r;
	struct msg **ms;
	size_t n;
	int left; /* replies still to come */
	struct read_batch *next;
};

static void batch_tick(struct msg *m)
{
	struct read_batch *b = m->batch;

	if (--b->left > 0)
		return;
	/* complete: run it after the pipeline is sent (stream_prepare_ready), so
	 * Redis works on the next batch while this one is prepared */
	b->next = NULL;
	if (b->r->ready_tail)
		b->r->ready_tail->next = b;
	else
		b->r->ready = b;
	b->r->ready_tail = b;
}

/* A reply a decision depends on is missing (the connection broke) or an
 * error: nothing is decided on m (prepare.c releases it, its entry stays
 * pending). An empty array (no such record) is an answer. */
static int read_failed(const redisReply *rep)
{
	return !rep || rep->type == REDIS_REPLY_ERROR;
}

static void on_state(redisReply *rep, void *arg)
{
	struct msg *m = arg;

	json_decref(m->state);
	m->state = !read_failed(rep) ? reply_to_object(rep) : NULL;
	m->read_failed |= read_failed(rep);
	batch_tick(m);
}

/* One HGETALL serves every entry of the read for that citizen (a chain
 * through cit_next). */
static void on_citizen(redisReply *rep, void *arg)
{
	struct msg *m = arg, *next;
	json_t *rec = !read_failed(rep) ? reply_to_object(rep) : NULL;

	for (; m; m = next) {
		next = m->cit_next;
		m->cit_next = NULL;
		m->read_failed |= read_failed(rep);
		json_decref(m->citizen_rec);
		m->citizen_rec = json_incref(rec);
		batch_tick(m);
	}
	json_decref(rec);
}

static uint32_t str_hash(const char *s)
{
	return fnv1a32(s, strlen(s));
}

/* The channel the citizen engaged on in the transaction, if any. */
static void on_engaged(redisReply *rep, void *arg)
{
	struct msg *m = arg;

	if (rep && rep->type == REDIS_REPLY_STRING)
		snprintf(m->engaged, sizeof(m->engaged), "%s", rep->str);
	m->read_failed |= read_failed(rep);
	batch_tick(m);
}

/* A fresh entry (written by herald_accept: it has "a", the accepted time,
 * and "e", the event; read with ">", so no consumer had it before): its
 * state is as herald_accept left it, so the message hash need not be read.
 * The event comes parsed from the cache when this instance accepted it,
 * else from the entry. Returns 0 if taken fresh. */
static int take_fresh(struct router *r, struct msg *m, const char *accepted, const char *ev,
		      size_t evlen)
{
	int64_t accepted_ms = atoll(accepted);
	char err[320];

	if (!evcache_take(r->evcache, m->event_id, accepted_ms, &m->ev, &m->accepted_us) &&
	    (!ev || event_parse(ev, evlen, &m->ev, err, sizeof(err)) != 0))
		return -1; /* read the hash; an unreadable event fails there */
	m->fresh = 1;
	m->first_touch = 1;
	m->accepted_ms = accepted_ms;
	/* the entry names them only when written before "id a e" */
	if (!m->citizen[0])
		snprintf(m->citizen, sizeof(m->citizen), "%s", m->ev.citizen_id);
	if (!m->tx[0])
		snprintf(m->tx, sizeof(m->tx), "%s",
			 m->ev.transaction_id ? m->ev.transaction_id : m->event_id);
	m->hash_at[0] = '\0'; /* the hash holds the status only */
	return 0;
}

/* The citizen and transaction of an entry that names them only in its
 * event (herald_accept's "id a e"), taken again after a restart or a
 * claim: the citizen's record is read before the message hash arrives. An
 * unreadable event leaves them to the hash (msg_load_state), and fails there. */
static void entry_names(struct msg *m, const char *ev, size_t evlen)
{
	struct event e;
	char err[320];

	memset(&e, 0, sizeof(e));
	if (event_parse(ev, evlen, &e, err, sizeof(err)) == 0) {
		snprintf(m->citizen, sizeof(m->citizen), "%s", e.citizen_id);
		if (!m->tx[0])
			snprintf(m->tx, sizeof(m->tx), "%s",
				 e.transaction_id ? e.transaction_id : m->event_id);
	}
	event_clear(&e);
}

/* The citizens of one read, each read once: open addressing on the
 * citizen id, a slot holding the first entry of a chain through
 * cit_next. */
struct citizens {
	struct msg **slot;
	size_t cap;
};

static int citizens_init(struct citizens *cs, size_t entries)
{
	cs->cap = 16;
	while (cs->cap < 2 * entries)
		cs->cap *= 2;
	cs->slot = calloc(cs->cap, sizeof(*cs->slot));
	return cs->slot ? 0 : -1;
}

static void citizens_add(struct citizens *cs, struct msg *m)
{
	size_t h = str_hash(m->citizen) & (cs->cap - 1);

	while (cs->slot[h] && strcmp(cs->slot[h]->citizen, m->citizen) != 0)
		h = (h + 1) & (cs->cap - 1);
	if (cs->slot[h]) {
		m->cit_next = cs->slot[h]->cit_next;
		cs->slot[h]->cit_next = m;
	} else {
		cs->slot[h] = m;
	}
}

/* Queue one HGETALL per citizen, then free the table. Only once the chains
 * are complete: a failing command calls back at once. */
static void citizens_read(struct router *r, struct citizens *cs)
{
	for (size_t h = 0; h < cs->cap; h++)
		if (cs->slot[h])
			rdb_cmdf(r->rdb, on_citizen, cs->slot[h], "HGETALL " KEY_CITIZEN "%s",
				 cs->slot[h]->citizen);
	free(cs->slot);
}

/* The fields of a stream entry: id, c (citizen) and t (transaction) into
 * m; a (the accepted time) and e (the event) returned. */
static void entry_fields(struct msg *m, const redisReply *kv, const char **accepted,
			 const char **ev, size_t *evlen)
{
	if (kv->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t j = 0; j + 1 < kv->elements; j += 2) {
		const char *k = kv->element[j]->str, *v = kv->element[j + 1]->str;
		if (!k || !v)
			continue;
		if (!strcmp(k, "id"))
			snprintf(m->event_id, sizeof(m->event_id), "%s", v);
		else if (!strcmp(k, "c"))
			snprintf(m->citizen, sizeof(m->citizen), "%s", v);
		else if (!strcmp(k, "t"))
			snprintf(m->tx, sizeof(m->tx), "%s", v);
		else if (!strcmp(k, "a"))
			*accepted = v;
		else if (!strcmp(k, "e"))
			*ev = v, *evlen = kv->element[j + 1]->len;
	}
}

/* An entry that is not fresh: queue the read of its message hash (the
 * entry's event kept for when the hash has none). -1 when out of memory:
 * m is freed, its entry stays pending and is taken again. */
static int read_msg_hash(struct router *r, struct msg *m, const char *accepted, const char *ev,
			 size_t evlen)
{
	struct read_batch *b = m->batch;

	m->fresh = 0;
	if (accepted)
		m->accepted_ms = atoll(accepted);
	if (ev && !(m->entry_ev = strndup(ev, evlen))) {
		msg_free(m);
		return -1;
	}
	if (ev && !m->citizen[0])
		entry_names(m, ev, evlen);
	b->left++;
	jlane_after(r, on_state, m, "HGETALL " KEY_MSG "%s", m->event_id); /* jlane.h */
	return 0;
}

/* The message of one stream entry ([id, [k, v, ...]]), in batch b, held
 * (lease.h); NULL when the entry is not one or this instance holds it
 * already (skipped), or out of memory (*oom set). */
static struct msg *entry_msg(struct read_batch *b, const char *stream, const redisReply *e,
			     int64_t now, const char **accepted, const char **ev, size_t *evlen,
			     int *oom)
{
	struct msg *m;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m) {
		*oom = 1;
		return NULL;
	}
	snprintf(m->stream, sizeof(m->stream), "%s", stream);
	snprintf(m->stream_id, sizeof(m->stream_id), "%s", e->element[0]->str);
	switch (lease_take(b->r->leases, m)) {
	case 0: break;
	case 1: free(m); return NULL; /* in work here: never taken twice */
	default:
		free(m);
		*oom = 1;
		return NULL;
	}
	m->picked_us = now_us();
	m->picked_ms = m->picked_us / 1000;
	m->batch = b;
	entry_fields(m, e->element[1], accepted, ev, evlen);
	return m;
}

static struct read_batch *batch_new(struct router *r, size_t entries)
{
	struct read_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->r = r;
	b->ms = calloc(entries, sizeof(*b->ms));
	if (!b->ms) {
		free(b);
		return NULL;
	}
	b->left = 1; /* held until every command is queued */
	return b;
}

/* Every command of the batch is queued: release the hold, so the batch is
 * ready once its replies are in. Returns the number of entries taken. */
static int batch_release(struct read_batch *b)
{
	size_t taken = b->n;

	if (taken) {
		struct msg hold = {.batch = b};
		batch_tick(&hold);
	} else {
		free(b->ms);
		free(b);
	}
	return (int)taken;
}

/* Take a list of stream entries ([id, [k, v, ...]] ...) for processing:
 * queue the reads of citizen (and, unless the entry is fresh, message)
 * records; the batch is prepared once every reply is in. may_trust_fresh
 * is 0 for entries that may have been worked on before (recovered,
 * claimed): those always read the message hash. */
static int take_entries(struct router *r, const char *stream, const redisReply *entries,
			int may_trust_fresh)
{
	struct read_batch *b;
	struct citizens cits;
	int64_t now = now_ms();

	if (!entries || entries->type != REDIS_REPLY_ARRAY || entries->elements == 0)
		return 0;
	if (!r->leases && !(r->leases = leases_new()))
		return 0;
	if (!(b = batch_new(r, entries->elements)))
		return 0;
	if (citizens_init(&cits, entries->elements) != 0) {
		free(b->ms);
		free(b);
		return 0;
	}
	for (size_t i = 0; i < entries->elements; i++) {
		const char *accepted = NULL, *ev = NULL;
		size_t evlen = 0;
		int oom = 0;
		struct msg *m =
		    entry_msg(b, stream, entries->element[i], now, &accepted, &ev, &evlen, &oom);

		if (!m && oom)
			break;
		if (!m)
			continue;
		if (!m->event_id[0]) {
			/* deleted entry still pending, or foreign data: ack it away */
			log_warnx("%s: entry %s is deleted or not Herald's; acknowledged", stream,
				  m->stream_id);
			metrics_count("stream_entries_deleted", NULL, 1);
			msg_ack_only(r, m);
			msg_free(m);
			continue;
		}
		b->ms[b->n++] = m;
		m->retaken = !may_trust_fresh; /* recovered or claimed: submit.c marks it */
		if (!(may_trust_fresh && accepted && take_fresh(r, m, accepted, ev, evlen) == 0) &&
		    read_msg_hash(r, m, accepted, ev, evlen) != 0) {
			b->n--; /* freed */
			continue;
		}
		b->left++;
		citizens_add(&cits, m);
		/* a transaction of its own (tx is the event id): nobody can have
		 * engaged in it yet */
		if (m->tx[0] && strcmp(m->tx, m->event_id) != 0) {
			b->left++;
			rdb_cmdf(r->rdb, on_engaged, m, "GET " KEY_ENGAGED "%s", m->tx);
		}
	}
	citizens_read(r, &cits);
	return batch_release(b);
}

/* Prepare every batch whose records have all arrived. */
int stream_prepare_ready(struct router *r)
{
	int n = 0;

	while (r->ready) {
		struct read_batch *b = r->ready;
		r->ready = b->next;
		if (!r->ready)
			r->ready_tail = NULL;
		for (size_t i = 0; i < b->n; i++) {
			b->ms[i]->batch = NULL;
			prepare_msg(r, b->ms[i]);
		}
		n += (int)b->n;
		free(b->ms);
		free(b);
	}
	return n;
}

static void on_read(redisReply *rep, void *arg)
{
	struct router *r = arg;

	r->read_inflight = 0;
	r->last_read_n = 0;
	if (!rep)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		if (strstr(rep->str, "NOGROUP"))
			r->need_groups = 1;
		else
			log_warnx("redis: XREADGROUP: %s", rep->str);
		return;
	}
	if (rep->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i < rep->elements; i++) {
			const redisReply *s = rep->element[i];
			if (s->type == REDIS_REPLY_ARRAY && s->elements == 2 &&
			    s->element[0]->type == REDIS_REPLY_STRING)
				r->last_read_n +=
				    take_entries(r, s->element[0]->str, s->element[1], 1);
		}
	if (r->last_read_n >= r->cfg->batch)
		r->want_read = 1; /* more waiting */
}

static void ensure_groups(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		redisReply *rep =
		    rdb_call(r->rdb, "XGROUP CREATE %s " GROUP " 0 MKSTREAM", streams[p]);
		if (rep && rep->type == REDIS_REPLY_ERROR && !strstr(rep->str, "BUSYGROUP"))
			log_warnx("redis: XGROUP CREATE %s: %s", streams[p], rep->str);
		freeReplyObject(rep);
	}
	r->need_groups = 0;
}

/* Queue a read of new entries (one at a time). */
void stream_read(struct router *r)
{
	if (r->need_groups)
		ensure_groups(r);
	if (r->read_inflight)
		return;
	r->read_inflight = 1;
	rdb_cmdf(r->rdb, on_read, r,
		 "XREADGROUP GROUP " GROUP " %s COUNT %d STREAMS %s %s %s > > >", r->consumer,
		 r->cfg->batch, streams[0], streams[1], streams[2]);
}

int stream_read_behind_accept(struct router *r)
{
	if (r->read_inflight || r->draining || r->backlog || r->need_groups ||
	    (int)idmap_len(r->inflight) >= r->cfg->max_inflight)
		return 0;
	r->want_read = 0;
	r->last_read_ms = mono_ms();
	stream_read(r);
	return 1;
}

/* Trim what the group is done with (herald_trim: the look at the pending
 * list and the trim are one atomic step, so a read by another instance
 * cannot come between them), one command per stream on the pipeline. */
static void on_trim(redisReply *rep, void *arg)
{
	(void)arg;
	if (rep && rep->type == REDIS_REPLY_ERROR)
		log_warnx("redis: herald_trim: %s", rep->str);
}

void stream_trim(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++)
		rdb_cmdf(r->rdb, on_trim, NULL, "FCALL herald_trim 1 %s", streams[p]);
}

/* Entries this consumer read but is not working on (a crash, a restart, a
 * read cut by a lost connection) are taken again, oldest first; the ones
 * it holds (lease.h) are skipped. */
void stream_recover(struct router *r)
{
	ensure_groups(r);
	/* reads the lost connection cut are released first (prepare_msg:
	 * read_failed), so they are no longer held and are taken again here */
	stream_prepare_ready(r);
	for (int p = 0; p < PRIO_N; p++) {
		char last[64] = "0";
		for (;;) {
			redisReply *rep =
			    rdb_call(r->rdb, "XREADGROUP GROUP " GROUP " %s COUNT %d STREAMS %s %s",
				     r->consumer, r->cfg->batch, streams[p], last);
			const redisReply *entries;
			int n;
			if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
				freeReplyObject(rep);
				break;
			}
			entries = rep->element[0]->element[1];
			if (entries->elements == 0) {
				freeReplyObject(rep);
				break;
			}
			snprintf(last, sizeof(last), "%s",
				 entries->element[entries->elements - 1]->element[0]->str);
			n = take_entries(r, streams[p], entries, 0);
			log_info("recovered %d pending entries from %s", n, streams[p]);
			freeReplyObject(rep);
			rdb_flush(r->rdb);
			stream_prepare_ready(r);
			rdb_flush(r->rdb);
		}
	}
}

void stream_on_reconnect(struct router *r)
{
	stream_recover(r);
}

/* XAUTOCLAIM's third element (Redis 7): pending entries that were deleted
 * from the stream; they left the pending list, their events are lost. */
static void claim_deleted(const char *stream, const redisReply *ids)
{
	if (!ids || ids->type != REDIS_REPLY_ARRAY || ids->elements == 0)
		return;
	for (size_t i = 0; i < ids->elements; i++)
		if (ids->element[i]->type == REDIS_REPLY_STRING)
			log_warnx("%s: pending entry %s was deleted from the stream; dropped from "
				  "the pending list",
				  stream, ids->element[i]->str);
	metrics_count("stream_entries_deleted", NULL, ids->elements);
}

/* Take over entries whose owner stopped renewing their lease (crashed, cut
 * off) for claim_idle: any consumer's, this one's included; entries this
 * instance holds are skipped (take_entries). */
void stream_claim(struct router *r)
{
	for (int p = 0; p < PRIO_N; p++) {
		redisReply *rep =
		    rdb_call(r->rdb, "XAUTOCLAIM %s " GROUP " %s %d 0-0 COUNT %d", streams[p],
			     r->consumer, r->cfg->claim_idle_ms, r->cfg->batch);
		if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
			int n = take_entries(r, streams[p], rep->element[1], 0);
			if (rep->elements >= 3)
				claim_deleted(streams[p], rep->element[2]);
			if (n > 0)
				log_msg(LOG_L_NOTICE, "claimed %d entries idle > %d ms from %s", n,
					r->cfg->claim_idle_ms, streams[p]);
		}
		freeReplyObject(rep);
	}
}

void stream_lease(struct router *r, int64_t now)
{
	if (now - r->last_lease_ms < lease_interval_ms(r->cfg->claim_idle_ms))
		return;
	r->last_lease_ms = now;
	lease_renew(r);
}

/* herald_due's answer: {count moved, missing id...}. A scheduled message
 * whose record was gone is logged and counted, never dropped silently. */
static void on_due(redisReply *rep, void *arg)
{
	struct router *r = arg;

	r->due_inflight = 0;
	if (rep && rep->type == REDIS_REPLY_ERROR) {
		log_warnx("redis: herald_due: %s", rep->str);
		return;
	}
	if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
		r->want_read = 1; /* an older instance's library: the count alone */
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
		return;
	if (rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[0]->integer > 0)
		r->want_read = 1;
	for (size_t i = 1; i < rep->elements; i++) {
		if (rep->element[i]->type != REDIS_REPLY_STRING)
			continue;
		metrics_missing_record();
		log_warnx("%s: scheduled, but its record is gone (expired or purged); "
			  "dropped from the schedule",
			  rep->element[i]->str);
	}
}

/* Move due scheduled messages back onto their streams: on the pipeline, so
 * the loop never waits for Redis to get through a busy turn first. */
void stream_due(struct router *r)
{
	if (r->due_inflight)
		return;
	r->due_inflight = 1;
	/* after the state writes of what it moves (jlane.h) */
	jlane_after(r, on_due, r, "FCALL herald_due 1 " KEY_SCHED " %lld %d", (long long)now_ms(),
		    r->cfg->batch);
}
