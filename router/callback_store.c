/*
 * callback_store.c - the Redis side of the callback sender thread, on a
 * connection of its own (synchronous hiredis; the router's pipeline is the
 * router thread's). Each service's records wait in a stream (KEY_CB) read
 * through the consumer group CB_GROUP; a record stays pending under our
 * consumer name while we hold it and is deleted after its 2xx. After a
 * restart we read our own pending records first; a dead instance's are
 * taken over with XAUTOCLAIM once idle for CB_CLAIM_IDLE_MS, and we touch
 * what we hold every CB_BEAT_MS so that no live instance loses its records.
 * An ordered service is sent by one instance at a time: the one holding its
 * lease (KEY_CBLOCK, CB_LEASE_MS, renewed with the beat); the instance that
 * takes a lease over claims every record the previous holder left pending.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "callback_internal.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "schema.h"
#include "text.h"

#define CB_CLAIM_IDLE_MS 60000 /* a record idle this long has lost its consumer */
#define CB_BEAT_MS 15000       /* touch what we hold, well within that */
#define CB_STATS_MS 1000       /* backlog, oldest age, dead for /metrics */
#define CB_RECONNECT_MS 1000
#define CB_LEASE_MS 45000 /* an ordered service's lease; renewed every CB_BEAT_MS */

/* Renew / give up a lease only if it is still ours. */
static const char cbs_renew_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
				    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
static const char cbs_release_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
				      "return redis.call('DEL', KEYS[1]) end return 0";

/* ---- connection ----------------------------------------------------------- */

/* The one place the sender's connection is made: the master of [redis]
 * (through the sentinels when there are), as the router's (util/sentinel.h).
 * NULL when Redis is not there. */
static redisContext *cbs_connect(struct callbacks *cb)
{
	struct redis_endpoint ep = {.host = cb->redis_host,
				    .port = cb->redis_port,
				    .socket = cb->redis_sock,
				    .sentinels = &cb->sentinels,
				    .master_name = cb->master_name,
				    .sentinel_password = cb->sentinel_password,
				    .password = cb->redis_password,
				    .db = cb->redis_db,
				    .connect_timeout_ms =
					cb->connect_timeout_ms > 0 ? cb->connect_timeout_ms : 2000,
				    .io_timeout_ms = 10000}; /* longer than any BLOCK we ask for */
	char where[300] = "", err[300] = "";
	redisContext *c = redis_endpoint_connect(&ep, where, sizeof(where), NULL, err, sizeof(err));

	if (c) {
		cb->redis_warned = 0;
		return c;
	}
	if (!cb->redis_warned)
		log_warnx("callbacks: cannot connect to Redis: %s; retrying", err);
	cb->redis_warned = 1;
	return NULL;
}

void cbs_close(struct callbacks *cb)
{
	if (cb->rc)
		redisFree(cb->rc);
	cb->rc = NULL;
}

int cbs_ready(struct callbacks *cb)
{
	int64_t now = mono_ms();

	if (cb->rc && !cb->rc->err)
		return 0;
	if (cb->rc) {
		log_warnx("callbacks: Redis connection lost (%s); reconnecting", cb->rc->errstr);
		cbs_close(cb);
	}
	if (now < cb->reconnect_ms)
		return -1;
	cb->reconnect_ms = now + CB_RECONNECT_MS;
	if (!(cb->rc = cbs_connect(cb)))
		return -1;
	for (size_t i = 0; i < cb->nsvc; i++) {
		struct cb_service *s = &cb->svc[i];
		redisReply *rep =
		    redisCommand(cb->rc, "XGROUP CREATE %s " CB_GROUP " 0 MKSTREAM", s->key);
		if (!rep || (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "BUSYGROUP", 9))) {
			log_warnx("callback %s: cannot create the group on %s: %s", s->name, s->key,
				  rep ? rep->str : cb->rc->errstr);
			freeReplyObject(rep);
			cbs_close(cb);
			return -1;
		}
		freeReplyObject(rep);
		s->pel_done = 0; /* read our own pending records again */
		snprintf(s->pel_cursor, sizeof(s->pel_cursor), "0");
	}
	if (cb->redis_warned)
		log_info("callbacks: connected to Redis");
	cb->redis_warned = 0;
	return 0;
}

/* A stream or group gone (deleted under us, FLUSHALL): drop the connection
 * so that the reconnect makes them again. */
static void cbs_check(struct callbacks *cb, const redisReply *rep)
{
	if (rep && rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOGROUP", 7)) {
		log_warnx("callbacks: %s; making the groups again", rep->str);
		cbs_close(cb);
	}
}

/* ---- records in hand -------------------------------------------------------- */

static size_t cbs_free_slots(const struct cb_service *s)
{
	size_t n = 0;

	for (size_t k = 0; k < s->nhand; k++)
		n += !s->hand[k];
	return n;
}

static int cbs_holds(const struct cb_service *s, const char *id)
{
	for (size_t k = 0; k < s->nhand; k++)
		if (s->hand[k] && !strcmp(s->hand[k]->id, id))
			return 1;
	return 0;
}

/* Acknowledge an entry that is gone (deleted while pending). */
static void cbs_ack_only(struct callbacks *cb, const struct cb_service *s, const char *id)
{
	freeReplyObject(redisCommand(cb->rc, "XACK %s " CB_GROUP " %s", s->key, id));
}

/* One stream entry [id, [field, value, ...]] into a free slot. */
static void cbs_take(struct callbacks *cb, struct cb_service *s, const redisReply *e)
{
	const redisReply *id, *f, *body = NULL;
	struct cb_rec *r;
	size_t k;

	if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
	    (id = e->element[0])->type != REDIS_REPLY_STRING || id->len >= CB_ID_MAX)
		return;
	f = e->element[1];
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2)
		if (!strcmp(f->element[i]->str, CB_F_REC))
			body = f->element[i + 1];
	if (!body || body->type != REDIS_REPLY_STRING) {
		cbs_ack_only(cb, s, id->str);
		return;
	}
	if (cbs_holds(s, id->str))
		return;
	for (k = 0; k < s->nhand && s->hand[k]; k++)
		;
	if (k == s->nhand)
		return;
	r = calloc(1, sizeof(*r));
	if (r)
		r->body = malloc(body->len + 1);
	if (!r || !r->body) { /* out of memory: it stays pending, read again later */
		cb_rec_free(r);
		return;
	}
	memcpy(r->body, body->str, body->len);
	r->body[body->len] = '\0';
	r->len = body->len;
	r->svc = s;
	snprintf(r->id, sizeof(r->id), "%s", id->str);
	r->added_ms = strtoll(id->str, NULL, 10);
	s->hand[k] = r;
}

static void cbs_take_all(struct callbacks *cb, struct cb_service *s, const redisReply *entries)
{
	for (size_t i = 0; entries && entries->type == REDIS_REPLY_ARRAY && i < entries->elements;
	     i++)
		cbs_take(cb, s, entries->element[i]);
}

/* XREADGROUP's reply for one stream: its entries, or NULL. */
static const redisReply *cbs_entries(const redisReply *rep)
{
	if (!rep || rep->type != REDIS_REPLY_ARRAY || !rep->elements ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements < 2)
		return NULL;
	return rep->element[0]->element[1];
}

/* Our own pending records (a restart, a reconnect), oldest first. */
static void cbs_fill_own(struct callbacks *cb, struct cb_service *s, size_t room)
{
	redisReply *rep =
	    redisCommand(cb->rc, "XREADGROUP GROUP " CB_GROUP " %s COUNT %d STREAMS %s %s",
			 cb->consumer, (int)room, s->key, s->pel_cursor);
	const redisReply *e = cbs_entries(rep);

	if (rep && rep->type != REDIS_REPLY_ERROR && (!e || !e->elements)) {
		s->pel_done = 1;
	} else if (e) {
		const redisReply *last = e->element[e->elements - 1];
		if (last->type == REDIS_REPLY_ARRAY && last->elements &&
		    last->element[0]->type == REDIS_REPLY_STRING)
			snprintf(s->pel_cursor, sizeof(s->pel_cursor), "%s", last->element[0]->str);
		cbs_take_all(cb, s, e);
	}
	cbs_check(cb, rep);
	freeReplyObject(rep);
}

/* ---- an ordered service's lease ------------------------------------------- */

/* May we read s's records? Always for an unordered service; for an ordered
 * one only with its lease (taken here, tried once a second). */
static int cbs_lease(struct callbacks *cb, struct cb_service *s, int64_t now)
{
	redisReply *rep;
	int got;

	if (!s->ordered || s->leased)
		return 1;
	if (now < s->lease_try_ms)
		return 0;
	s->lease_try_ms = now + 1000;
	rep = redisCommand(cb->rc, "SET %s %s NX PX %d", s->lockkey, cb->consumer, CB_LEASE_MS);
	got = rep && rep->type == REDIS_REPLY_STATUS;
	freeReplyObject(rep);
	if (!got) { /* ours from before a restart? */
		rep = redisCommand(cb->rc, "EVAL %s 1 %s %s %d", cbs_renew_lua, s->lockkey,
				   cb->consumer, CB_LEASE_MS);
		got = rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
		freeReplyObject(rep);
	}
	if (got) {
		s->leased = 1;
		s->claim_all = 1; /* whatever the last holder left pending, first */
		s->claim_ms = 0;
	}
	return got;
}

static void cbs_renew(struct callbacks *cb, struct cb_service *s)
{
	redisReply *rep;

	if (!s->leased)
		return;
	rep = redisCommand(cb->rc, "EVAL %s 1 %s %s %d", cbs_renew_lua, s->lockkey, cb->consumer,
			   CB_LEASE_MS);
	if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer != 1) {
		log_warnx("callback %s: lost the lease of this ordered service; another "
			  "instance sends it now",
			  s->name);
		s->leased = 0;
	}
	freeReplyObject(rep);
}

void cbs_release(struct callbacks *cb)
{
	for (size_t i = 0; i < cb->nsvc && cb->rc && !cb->rc->err; i++)
		if (cb->svc[i].leased) {
			freeReplyObject(redisCommand(cb->rc, "EVAL %s 1 %s %s", cbs_release_lua,
						     cb->svc[i].lockkey, cb->consumer));
			cb->svc[i].leased = 0;
		}
}

/* ---- reading ---------------------------------------------------------------- */

/* Records another consumer left pending: idle CB_CLAIM_IDLE_MS, or all of
 * them when an ordered service's lease was just taken (no one else may hold
 * them then). */
static void cbs_claim(struct callbacks *cb, struct cb_service *s, size_t room, int64_t now)
{
	redisReply *rep;
	size_t got = 0;

	s->claim_ms = now + (s->claim_all ? 0 : CB_CLAIM_IDLE_MS / 4);
	rep = redisCommand(cb->rc, "XAUTOCLAIM %s " CB_GROUP " %s %d 0-0 COUNT %d", s->key,
			   cb->consumer, s->claim_all ? 0 : CB_CLAIM_IDLE_MS, (int)room);
	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[1]->type == REDIS_REPLY_ARRAY) {
		got = rep->element[1]->elements;
		cbs_take_all(cb, s, rep->element[1]);
	}
	if (!got)
		s->claim_all = 0;
	cbs_check(cb, rep);
	freeReplyObject(rep);
}

void cbs_fill(struct callbacks *cb, struct cb_service *s)
{
	size_t room = cbs_free_slots(s);
	int64_t now = mono_ms();
	redisReply *rep;

	if (!room || !cb->rc || !cbs_lease(cb, s, now))
		return;
	if (!s->pel_done) {
		cbs_fill_own(cb, s, room);
		return;
	}
	if (now >= s->claim_ms) {
		cbs_claim(cb, s, room, now);
		if (!cb->rc || s->claim_all || !(room = cbs_free_slots(s)))
			return;
	}
	rep = redisCommand(cb->rc, "XREADGROUP GROUP " CB_GROUP " %s COUNT %d STREAMS %s >",
			   cb->consumer, (int)room, s->key);
	cbs_take_all(cb, s, cbs_entries(rep));
	cbs_check(cb, rep);
	freeReplyObject(rep);
}

void cbs_wait_new(struct callbacks *cb, int ms)
{
	const char *argv[9 + 2 * 64];
	char count[8] = "1", block[16];
	struct cb_service *who[64];
	int argc = 0, n = 0;
	redisReply *rep;

	snprintf(block, sizeof(block), "%d", ms);
	argv[argc++] = "XREADGROUP", argv[argc++] = "GROUP", argv[argc++] = CB_GROUP;
	argv[argc++] = cb->consumer, argv[argc++] = "COUNT", argv[argc++] = count;
	argv[argc++] = "BLOCK", argv[argc++] = block, argv[argc++] = "STREAMS";
	for (size_t i = 0; i < cb->nsvc && n < 64; i++)
		if (cb->svc[i].pel_done && cbs_free_slots(&cb->svc[i]) &&
		    (!cb->svc[i].ordered || cb->svc[i].leased))
			who[n++] = &cb->svc[i];
	if (!n || !cb->rc) {
		cmulti_wait(cb->http, ms);
		return;
	}
	for (int i = 0; i < n; i++)
		argv[argc++] = who[i]->key;
	for (int i = 0; i < n; i++)
		argv[argc++] = ">";
	rep = redisCommandArgv(cb->rc, argc, argv, NULL);
	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		const redisReply *st = rep->element[i];
		if (st->type != REDIS_REPLY_ARRAY || st->elements < 2)
			continue;
		for (int k = 0; k < n; k++)
			if (!strcmp(who[k]->key, st->element[0]->str))
				cbs_take_all(cb, who[k], st->element[1]);
	}
	cbs_check(cb, rep);
	freeReplyObject(rep);
}

/* ---- done, dead ---------------------------------------------------------------- */

/* Send what was appended; -1 if any reply failed (the connection is then
 * in error and is made again). */
static int cbs_replies(struct callbacks *cb, int n)
{
	int rc = 0;

	for (int i = 0; i < n; i++) {
		redisReply *rep = NULL;
		if (redisGetReply(cb->rc, (void **)&rep) != REDIS_OK)
			return -1;
		if (rep->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(rep);
	}
	return rc;
}

/* XACK or XDEL (cmd) of every answered record of s, appended; 1 if any. */
static int cbs_append_done(struct callbacks *cb, const struct cb_service *s, const char *cmd)
{
	const char *argv[3 + CB_MAX_IN_FLIGHT];
	int argc = 0;

	argv[argc++] = cmd;
	argv[argc++] = s->key;
	if (!strcmp(cmd, "XACK"))
		argv[argc++] = CB_GROUP;
	for (size_t k = 0; k < s->nhand; k++)
		if (s->hand[k] && s->hand[k]->settle == CB_SETTLE_DONE)
			argv[argc++] = s->hand[k]->id;
	if (argc == 2 || (argc == 3 && !strcmp(cmd, "XACK")))
		return 0;
	redisAppendCommandArgv(cb->rc, argc, argv, NULL);
	return 1;
}

int cbs_done_all(struct callbacks *cb)
{
	int n = 0;

	if (!cb->rc)
		return -1;
	for (size_t i = 0; i < cb->nsvc; i++) {
		n += cbs_append_done(cb, &cb->svc[i], "XACK");
		n += cbs_append_done(cb, &cb->svc[i], "XDEL");
	}
	if (!n)
		return 0;
	if (cbs_replies(cb, n) != 0) {
		log_warnx("callbacks: cannot acknowledge answered records yet: %s",
			  cb->rc->err ? cb->rc->errstr : "error reply");
		return -1;
	}
	for (size_t i = 0; i < cb->nsvc; i++) {
		struct cb_service *s = &cb->svc[i];
		for (size_t k = 0; k < s->nhand; k++)
			if (s->hand[k] && s->hand[k]->settle == CB_SETTLE_DONE) {
				cb_rec_free(s->hand[k]);
				s->hand[k] = NULL;
			}
	}
	return 0;
}

int cbs_dead(struct callbacks *cb, struct cb_rec *r)
{
	const struct cb_service *s = r->svc;
	char tries[16];

	if (!cb->rc)
		return -1;
	snprintf(tries, sizeof(tries), "%u", r->failures);
	redisAppendCommand(cb->rc, "MULTI");
	redisAppendCommand(cb->rc,
			   "XADD %s * " CBDEAD_F_ID " %s " CB_F_REC " %b " CBDEAD_F_ERR
			   " %s " CBDEAD_F_TRIES " %s",
			   s->deadkey, r->id, r->body, r->len, r->last_err, tries);
	redisAppendCommand(cb->rc, "XACK %s " CB_GROUP " %s", s->key, r->id);
	redisAppendCommand(cb->rc, "XDEL %s %s", s->key, r->id);
	/* dead records older than retention go (an SMS reply's text, citizen
	 * ids): the stream id is the time it was added */
	redisAppendCommand(
	    cb->rc, "XTRIM %s MINID %lld", s->deadkey,
	    (long long)(now_ms() -
			(cb->retention_ms > 0 ? cb->retention_ms : (int64_t)30 * 86400 * 1000)));
	redisAppendCommand(cb->rc, "EXEC");
	if (cbs_replies(cb, 6) != 0) {
		log_warnx("callback %s: cannot move %s to %s yet", s->name, r->id, s->deadkey);
		return -1;
	}
	log_warnx("callback %s: record %s given up after %u attempts in %" PRId64
		  " s (last: %s); moved to %s",
		  s->name, r->id, r->failures, (now_ms() - r->added_ms) / 1000, r->last_err,
		  s->deadkey);
	return 0;
}

/* ---- periodic -------------------------------------------------------------------- */

/* XCLAIM with no minimum idle time resets the idle time of what we hold. */
static void cbs_touch(struct callbacks *cb, const struct cb_service *s)
{
	const char *argv[7 + 16];
	int argc = 0;

	argv[argc++] = "XCLAIM", argv[argc++] = s->key, argv[argc++] = CB_GROUP;
	argv[argc++] = cb->consumer, argv[argc++] = "0";
	for (size_t k = 0; k < s->nhand && argc < 7 + 15; k++)
		if (s->hand[k])
			argv[argc++] = s->hand[k]->id;
	if (argc == 5)
		return;
	argv[argc++] = "JUSTID";
	freeReplyObject(redisCommandArgv(cb->rc, argc, argv, NULL));
}

static long long cbs_int(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
}

/* Backlog, oldest record's age, dead count of s for /metrics. */
static void cbs_stats(struct callbacks *cb, const struct cb_service *s)
{
	redisReply *len = NULL, *first = NULL, *dead = NULL;
	double age = 0;

	redisAppendCommand(cb->rc, "XLEN %s", s->key);
	redisAppendCommand(cb->rc, "XRANGE %s - + COUNT 1", s->key);
	redisAppendCommand(cb->rc, "XLEN %s", s->deadkey);
	if (redisGetReply(cb->rc, (void **)&len) != REDIS_OK ||
	    redisGetReply(cb->rc, (void **)&first) != REDIS_OK ||
	    redisGetReply(cb->rc, (void **)&dead) != REDIS_OK)
		goto out;
	if (first->type == REDIS_REPLY_ARRAY && first->elements &&
	    first->element[0]->type == REDIS_REPLY_ARRAY && first->element[0]->elements &&
	    first->element[0]->element[0]->type == REDIS_REPLY_STRING) {
		int64_t added = strtoll(first->element[0]->element[0]->str, NULL, 10);
		age = (double)(now_ms() - added) / 1000.0;
		if (age < 0)
			age = 0;
	}
	metrics_callback(s->name, (double)cbs_int(len), age, s->failures_total,
			 (double)cbs_int(dead));
	status_callback(s->name, cbs_int(len), age);
out:
	freeReplyObject(len);
	freeReplyObject(first);
	freeReplyObject(dead);
}

void cbs_periodic(struct callbacks *cb, int64_t now)
{
	int beat = now >= cb->beat_ms, stats = now >= cb->stats_ms;

	if (!cb->rc || (!beat && !stats))
		return;
	if (beat)
		cb->beat_ms = now + CB_BEAT_MS;
	if (stats)
		cb->stats_ms = now + CB_STATS_MS;
	for (size_t i = 0; i < cb->nsvc && cb->rc && !cb->rc->err; i++) {
		if (beat) {
			cbs_renew(cb, &cb->svc[i]);
			cbs_touch(cb, &cb->svc[i]);
		}
		if (stats)
			cbs_stats(cb, &cb->svc[i]);
	}
}
