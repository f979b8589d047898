/*
 * heldwrite.c - the Redis writes of state_step, held back until the
 * pipeline goes out (held_flush, from rdb_send's hook): a message's hash
 * fields and journey entries of one loop turn as one HSET and one RPUSH
 * (typically "sending" then "delivered"), and the turn's XACKs as one
 * command per stream, after every state write of the turn. The buffers of
 * emptied ones are kept for the next turns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heldwrite.h"
#include "jlane.h"
#include "log.h"
#include "policy.h"
#include "text.h"

/* ---- XACK, one command per stream and loop turn --------------------- */

static const char *const ack_streams[PRIO_N] = KEY_STREAMS;

/* Acknowledge a stream entry with the others of this loop turn: queued
 * after every state write of the turn, so still after the message's own. */
void held_ack(struct router *r, const char *stream, const char *id)
{
	size_t n = strlen(id) + 1;

	for (int p = 0; p < PRIO_N; p++) {
		struct ackq *q = &r->acks[p];
		if (strcmp(stream, ack_streams[p]) != 0)
			continue;
		if (q->len + n > q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 8192;
			char *b;
			while (cap < q->len + n)
				cap *= 2;
			b = realloc(q->ids, cap);
			if (!b)
				break; /* out of memory: acknowledge it on its own */
			q->ids = b;
			q->cap = cap;
		}
		memcpy(q->ids + q->len, id, n);
		q->len += n;
		q->n++;
		return;
	}
	rdb_cmdf(r->rdb, NULL, NULL, "XACK %s " GROUP " %s", stream, id);
}

static void flush_writes(struct router *r);
static void writes_free(struct held_writes *w);
/* emptied held_writes kept for reuse: enough for a few loop turns' messages */
#define HELD_SPARE_MAX 1024

int held_xack(struct router *r, int p, const struct ackq *q)
{
	const char **argv = malloc((q->n + 3) * sizeof(*argv));
	const char *id = q->ids;
	size_t argc = 0;

	if (!argv)
		return -1;
	argv[argc++] = "XACK";
	argv[argc++] = ack_streams[p];
	argv[argc++] = GROUP;
	for (size_t i = 0; i < q->n; i++) {
		argv[argc++] = id;
		id += strlen(id) + 1;
	}
	rdb_cmd(r->rdb, NULL, NULL, (int)argc, argv, NULL);
	free(argv);
	return 0;
}

void held_flush(struct router *r)
{
	flush_writes(r);   /* before the XACKs */
	if (jlane_gate(r)) /* the XACKs wait for the state writes (jlane.h) */
		return;
	for (int p = 0; p < PRIO_N; p++) {
		struct ackq *q = &r->acks[p];
		if (!q->n)
			continue;
		if (held_xack(r, p, q) != 0)
			return; /* out of memory: stays queued for the next turn */
		q->n = q->len = 0;
	}
}

void held_free_all(struct router *r)
{
	while (r->held_head) { /* sent by the last held_flush; anything left is lost */
		struct held_writes *w = r->held_head;
		r->held_head = w->next;
		writes_free(w);
	}
	r->held_tail = NULL;
	while (r->held_spare) {
		struct held_writes *w = r->held_spare;
		r->held_spare = w->next;
		writes_free(w);
	}
	r->held_nspare = 0;
	for (int p = 0; p < PRIO_N; p++) {
		free(r->acks[p].ids);
		memset(&r->acks[p], 0, sizeof(r->acks[p]));
	}
}

/* ---- held-back hash and journey writes ------------------------------ */

static int held_str(struct held_writes *w, const char *s, size_t n, size_t *off)
{
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 2048;
		char *b;
		while (cap < w->len + n + 1)
			cap *= 2;
		if (!(b = realloc(w->buf, cap)))
			return -1;
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->buf[w->len + n] = '\0';
	*off = w->len;
	w->len += n + 1;
	return 0;
}

static int held_item(struct held_writes *w, int kind, const char *s)
{
	size_t off;

	if (w->n == w->ncap) {
		size_t cap = w->ncap ? w->ncap * 2 : 32;
		size_t *o = realloc(w->off, cap * sizeof(*o));
		unsigned char *k;
		if (!o)
			return -1;
		w->off = o;
		if (!(k = realloc(w->kind, cap)))
			return -1;
		w->kind = k;
		w->ncap = cap;
	}
	if (held_str(w, s, strlen(s), &off) != 0)
		return -1;
	w->off[w->n] = off;
	w->kind[w->n++] = (unsigned char)kind;
	return 0;
}

/* Index of field k among the held hash fields, or w->n. */
static size_t held_field(const struct held_writes *w, const char *k)
{
	for (size_t i = 0; i + 1 < w->n; i++) {
		if (w->kind[i] != 0)
			continue;
		if (!strcmp(w->buf + w->off[i], k))
			return i;
		i++; /* skip the value */
	}
	return w->n;
}

static void writes_free(struct held_writes *w)
{
	free(w->buf);
	free(w->off);
	free(w->kind);
	free(w);
}

/* The message's held-back writes of this loop turn (created if none). */
struct held_writes *held_get(struct router *r, struct msg *m)
{
	struct held_writes *w;
	char key[160];

	if (m->held && m->held_gen == r->held_gen)
		return m->held;
	if (r->held_spare) { /* buffers of an earlier turn: no malloc per message */
		w = r->held_spare;
		r->held_spare = w->next;
		r->held_nspare--;
		w->next = NULL;
	} else if (!(w = calloc(1, sizeof(*w)))) {
		return NULL;
	}
	key_of(key, sizeof(key), KEY_MSG, strlen(KEY_MSG), m->event_id);
	if (held_str(w, key, strlen(key), &w->msgkey) != 0)
		goto fail;
	key_of(key, sizeof(key), KEY_TX, strlen(KEY_TX), m->tx);
	if (held_str(w, key, strlen(key), &w->txkey) != 0)
		goto fail;
	if (r->held_tail)
		r->held_tail->next = w;
	else
		r->held_head = w;
	r->held_tail = w;
	m->held = w;
	m->held_gen = r->held_gen;
	return w;
fail:
	writes_free(w);
	return NULL;
}

/* Add one transition (after pre, the journey's "accepted" entry, if not
 * NULL); on failure nothing of it was added. */
int held_add(struct held_writes *w, const char *const *fk, const char *const *fv, int nf,
	     const char *pre, const char *json)
{
	size_t n0 = w->n, len0 = w->len, redone[48][2];
	int nre = 0;

	for (int i = 0; i < nf && i < 48; i++) {
		size_t j = held_field(w, fk[i]);
		if (j < n0) { /* set earlier this turn: the later value wins */
			size_t off;
			if (held_str(w, fv[i], strlen(fv[i]), &off) != 0)
				goto fail;
			redone[nre][0] = j + 1, redone[nre++][1] = w->off[j + 1];
			w->off[j + 1] = off;
		} else if (held_item(w, 0, fk[i]) != 0 || held_item(w, 0, fv[i]) != 0) {
			goto fail;
		}
	}
	if (pre && held_item(w, 1, pre) != 0)
		goto fail;
	if (held_item(w, 1, json) != 0)
		goto fail;
	return 0;
fail:
	while (nre-- > 0)
		w->off[redone[nre][0]] = redone[nre][1];
	w->n = n0;
	w->len = len0;
	return -1;
}

/* CMD key item... of the held items of one kind (0 hash fields, 1 journey
 * entries), on the transaction's connection; argv has room for them all. */
static void emit_kind(struct router *r, const struct held_writes *w, const char **argv,
		      const char *cmd, size_t key, unsigned char kind)
{
	size_t argc = 0;

	argv[argc++] = cmd;
	argv[argc++] = w->buf + key;
	for (size_t i = 0; i < w->n; i++)
		if (w->kind[i] == kind)
			argv[argc++] = w->buf + w->off[i];
	jlane_cmd(r, w->buf + w->txkey, (int)argc, argv);
}

/* Queue the writes held so far: one RPUSH of every entry, then one HSET
 * (later fields win, as Redis applies them in order). The journey first:
 * a write cut between the two (the connection lost, Redis killed between
 * two of its reads) leaves records of a step the hash does not show yet,
 * which the step taken again repeats, never a hash that says "delivered"
 * without its record. */
void held_emit(struct router *r, struct held_writes *w)
{
	const char **argv;
	size_t nh = 0;

	if (!w->n)
		return;
	argv = malloc((w->n + 2) * sizeof(*argv));
	if (!argv) {
		log_warnx("out of memory: state writes of one message not sent to Redis");
		return;
	}
	for (size_t i = 0; i < w->n; i++)
		nh += w->kind[i] == 0;
	if (nh < w->n)
		emit_kind(r, w, argv, "RPUSH", w->txkey, 1);
	if (nh)
		emit_kind(r, w, argv, "HSET", w->msgkey, 0);
	if (w->expire_msg > 0)
		jlane_expire(r, w->buf + w->msgkey, w->buf + w->txkey, w->expire_msg, NULL);
	w->expire_msg = 0;
	if (w->expire_tx > 0)
		jlane_expire(r, w->buf + w->txkey, w->buf + w->txkey, w->expire_tx, "NX");
	w->expire_tx = 0;
	free(argv);
	w->n = 0; /* the strings stay until held_flush frees w */
}

/* Out of memory for holding back: the commands as they are. */
void held_write_direct(struct router *r, const struct msg *m, const char *const *fk,
		       const char *const *fv, int nf, const char *pre, const char *json, int first)
{
	char msgkey[160], txkey[160];

	key_of(msgkey, sizeof(msgkey), KEY_MSG, strlen(KEY_MSG), m->event_id);
	key_of(txkey, sizeof(txkey), KEY_TX, strlen(KEY_TX), m->tx);
	if (m->held && m->held_gen == r->held_gen)
		held_emit(r, m->held); /* keep this message's order */
	if (nf) {
		const char *argv[2 + 2 * 48];
		int argc = 0;
		argv[argc++] = "HSET";
		argv[argc++] = msgkey;
		for (int i = 0; i < nf; i++) {
			argv[argc++] = fk[i];
			argv[argc++] = fv[i];
		}
		jlane_cmd(r, txkey, argc, argv);
	}
	const char *argv[4] = {"RPUSH", txkey, pre ? pre : json, json};
	jlane_cmd(r, txkey, pre ? 4 : 3, argv);
	if (first) { /* the service's retention (policy.h) */
		long long ttl = (long long)policy_ttl_s(r, m->service);
		jlane_expire(r, msgkey, txkey, ttl, NULL);
		jlane_expire(r, txkey, txkey, ttl, "NX");
	}
}

static void flush_writes(struct router *r)
{
	struct held_writes *w = r->held_head, *next;

	r->held_head = r->held_tail = NULL;
	r->held_gen++;
	for (; w; w = next) {
		next = w->next;
		held_emit(r, w);
		if (r->held_nspare < HELD_SPARE_MAX) { /* emitted: the strings are copied */
			w->len = w->n = 0;
			w->next = r->held_spare;
			r->held_spare = w;
			r->held_nspare++;
		} else {
			writes_free(w);
		}
	}
}
