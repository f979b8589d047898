/*
 * cmd_purge.c - heraldctl purge [-c FILE] --citizen ID [--yes]
 *
 * Delete a citizen's data everywhere Herald keeps it in Redis:
 *   herald:citizen:<id>                  the citizen record (contact details)
 *   herald:msg:<event>                   every message whose citizen is <id>
 *                                        (SCAN; the event JSON goes with it)
 *   herald:tx:<tx>                       their journeys (also a journey whose
 *                                        records are this citizen's but whose
 *                                        messages expired); in a journey shared
 *                                        with another citizen only this
 *                                        citizen's records are removed
 *   herald:ref:<channel>:<ref>           provider references to those messages
 *   herald:sched, herald:dead            their entries
 *   herald:engaged:<tx>                  engagement of their transactions
 *   herald:mo:<number>                   their entries in the SMS reply index
 *                                        (SCAN; the key goes when all are
 *                                        theirs, else only their members)
 *   herald:q:urgent|normal|bulk          their queue entries (heraldd acks a
 *                                        deleted entry away)
 * and outside Redis (tools/purge_extra.c): their lines in the file
 * channel's output and their letters in the print spool. With --yes a
 * deletion record (when, by whom, a keyed hash of the id, the counts; no
 * personal data) goes on herald:purges; heraldctl purge --record [--citizen
 * ID] shows them.
 * Without --yes nothing is deleted: the keys that would go are listed. Only
 * key names and counts are printed, never contents.
 *
 * Exit 0 when done (also when there was nothing to delete), 2 when Redis
 * cannot be reached or fails part-way (run it again: it is idempotent).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_redis.h"
#include "heraldctl.h"
#include "event.h"
#include "purge_extra.h"
#include "schema.h"

#define PURGE_USAGE                                                                                \
	"usage: heraldctl purge [-c FILE] --citizen ID [--yes]\n"                                  \
	"       heraldctl purge [-c FILE] --record [--citizen ID]\n"
#define PURGE_SCAN_COUNT "1000"
#define PURGE_XRANGE_COUNT 1000

static const char *const purge_streams[] = {KEY_Q_URGENT, KEY_Q_NORMAL, KEY_Q_BULK, NULL};

/* What one citizen has in Redis. JSON objects serve as ordered sets. */
struct purge {
	const char *citizen;
	int citizen_key;  /* herald:citizen:<id> exists */
	json_t *msgs;	  /* event id -> [tx, channel, ref] */
	json_t *ids;	  /* every event id of the citizen (messages and journeys) */
	json_t *txs;	  /* tx -> true: a journey to look at */
	json_t *journeys; /* tx -> null (delete it) or [records to remove] */
	size_t nrecords;  /* records removed from shared journeys */
	json_t *refs;	  /* ref key -> true */
	json_t *sched;	  /* event id -> true */
	json_t *dead;	  /* event id -> true */
	json_t *engaged;  /* engaged key -> true */
	json_t *entries;  /* stream -> [entry ids] */
	size_t nentries;
	json_t *mo;	 /* herald:mo:<number> -> null (delete it) or [members to remove] */
	size_t nmo;	 /* index members of this citizen */
	size_t nlines;	 /* lines in the file channel's output */
	size_t nletters; /* letters in the print spool */
};

static const char *astr(const redisReply *r, size_t i)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[i]->str;
}

static void set_add(json_t *set, const char *k)
{
	if (k && *k)
		json_object_set_new(set, k, json_true());
}

/* Iterate keys matching pattern, one batch at a time. 0 or -1. */
static int scan_keys(redisContext *rc, const char *pattern,
		     int (*fn)(redisContext *, const redisReply *, struct purge *), struct purge *p)
{
	char cursor[32] = "0";

	do {
		redisReply *r = ctl_redis_cmd(
		    rc, "purge", "SCAN %s MATCH %s COUNT " PURGE_SCAN_COUNT, cursor, pattern);
		int bad;

		if (!r)
			return -1;
		bad = r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !astr(r, 0) ||
		      r->element[1]->type != REDIS_REPLY_ARRAY;
		if (bad || fn(rc, r->element[1], p) != 0) {
			if (bad)
				fprintf(stderr, "heraldctl purge: redis: unexpected SCAN reply\n");
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", astr(r, 0));
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

/* A batch of herald:msg:* keys: keep those whose citizen is ours (in
 * "meta", or the single field of an older hash). */
static int on_msg_keys(redisContext *rc, const redisReply *keys, struct purge *p)
{
	static const char *const names[] = {"citizen", "tx", "channel", "ref", "meta", "at", NULL};

	for (size_t i = 0; i < keys->elements; i++)
		redisAppendCommand(rc, "HMGET %b citizen tx channel ref meta at",
				   keys->element[i]->str, keys->element[i]->len);
	for (size_t i = 0; i < keys->elements; i++) {
		redisReply *r = ctl_redis_reply(rc, "purge");
		const char *id = keys->element[i]->str + strlen(KEY_MSG), *tx, *cit;
		json_t *h;

		if (!r || !(h = ctl_msg_fields(r, names))) {
			freeReplyObject(r);
			while (++i < keys->elements)
				freeReplyObject(ctl_redis_reply(rc, "purge"));
			return -1;
		}
		freeReplyObject(r);
		cit = json_string_value(json_object_get(h, "citizen"));
		if (cit && !strcmp(cit, p->citizen)) {
			tx = strcmp(ctl_field(h, "tx"), "-") ? ctl_field(h, "tx") : id;
			json_object_set_new(
			    p->msgs, id,
			    json_pack("[s, s?, s?]", tx,
				      json_string_value(json_object_get(h, "channel")),
				      json_string_value(json_object_get(h, "ref"))));
			set_add(p->ids, id);
			set_add(p->txs, tx);
		}
		json_decref(h);
	}
	return 0;
}

/* A batch of herald:mo:* keys (the SMS reply index): members
 * "<service> <tx> <event_id> <citizen>" of ours. */
static int on_mo_keys(redisContext *rc, const redisReply *keys, struct purge *p)
{
	size_t clen = strlen(p->citizen);

	for (size_t i = 0; i < keys->elements; i++)
		redisAppendCommand(rc, "ZRANGE %b 0 -1", keys->element[i]->str,
				   keys->element[i]->len);
	for (size_t i = 0; i < keys->elements; i++) {
		redisReply *r = ctl_redis_reply(rc, "purge");
		json_t *mine = json_array();
		size_t n = 0;

		if (!r || !mine) {
			freeReplyObject(r);
			json_decref(mine);
			while (++i < keys->elements)
				freeReplyObject(ctl_redis_reply(rc, "purge"));
			return -1;
		}
		for (size_t j = 0; r->type == REDIS_REPLY_ARRAY && j < r->elements; j++) {
			const char *m = astr(r, j);
			size_t ml = m ? strlen(m) : 0;
			n++;
			if (ml > clen && m[ml - clen - 1] == ' ' &&
			    !strcmp(m + ml - clen, p->citizen))
				json_array_append_new(mine, json_string(m));
		}
		p->nmo += json_array_size(mine);
		if (json_array_size(mine) == 0)
			json_decref(mine);
		else if (json_array_size(mine) == n)
			json_object_set_new(p->mo, keys->element[i]->str,
					    (json_decref(mine), json_null()));
		else
			json_object_set_new(p->mo, keys->element[i]->str, mine);
		freeReplyObject(r);
	}
	return 0;
}

/* A batch of herald:tx:* keys: a journey whose first record is ours is
 * ours (its messages may have expired before it). */
static int on_tx_keys(redisContext *rc, const redisReply *keys, struct purge *p)
{
	for (size_t i = 0; i < keys->elements; i++)
		redisAppendCommand(rc, "LINDEX %b 0", keys->element[i]->str, keys->element[i]->len);
	for (size_t i = 0; i < keys->elements; i++) {
		redisReply *r = ctl_redis_reply(rc, "purge");
		json_t *rec;
		const char *who;

		if (!r) {
			while (++i < keys->elements)
				freeReplyObject(ctl_redis_reply(rc, "purge"));
			return -1;
		}
		rec = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
		who = json_string_value(json_object_get(rec, "citizen"));
		if (who && !strcmp(who, p->citizen))
			set_add(p->txs, keys->element[i]->str + strlen(KEY_TX));
		json_decref(rec);
		freeReplyObject(r);
	}
	return 0;
}

/* Read each candidate journey: all ours -> delete it (and its engagement
 * key); shared -> remove our records. Collect event ids and provider
 * references on the way. */
static int read_journeys(redisContext *rc, struct purge *p, json_t *refcand, json_t *whole)
{
	const char *tx;
	json_t *v;

	json_object_foreach(p->txs, tx, v)
	{
		redisAppendCommand(rc, "LRANGE " KEY_TX "%s 0 -1", tx);
	}
	json_object_foreach(p->txs, tx, v)
	{
		redisReply *r = ctl_redis_reply(rc, "purge");
		json_t *ours = json_array();
		size_t foreign = 0, n = 0;

		if (!r || !ours) {
			json_decref(ours);
			freeReplyObject(r);
			return -1; /* unread replies: the caller drops the connection */
		}
		for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
			const redisReply *e = r->element[i];
			json_t *rec = json_loadb(e->str, e->len, 0, NULL);
			const char *who = json_string_value(json_object_get(rec, "citizen"));
			const char *eid = json_string_value(json_object_get(rec, "event_id"));
			const char *ch = json_string_value(json_object_get(rec, "channel"));
			const char *ref = json_string_value(json_object_get(rec, "ref"));

			n++;
			if ((who && !strcmp(who, p->citizen)) ||
			    (eid && json_object_get(p->ids, eid))) {
				json_array_append_new(ours, json_stringn(e->str, e->len));
				set_add(p->ids, eid);
				if (ch && ref && *ch && *ref) {
					char key[512];
					snprintf(key, sizeof(key), KEY_REF "%s:%s", ch, ref);
					set_add(refcand, key);
				}
			} else {
				foreign++;
			}
			json_decref(rec);
		}
		if (foreign == 0) {
			if (n > 0)
				json_object_set_new(p->journeys, tx, json_null());
			set_add(whole, tx);
			json_decref(ours);
		} else if (json_array_size(ours) > 0) {
			p->nrecords += json_array_size(ours);
			json_object_set_new(p->journeys, tx, ours);
		} else {
			json_decref(ours);
		}
		freeReplyObject(r);
	}
	return 0;
}

/* herald:engaged:<tx> of the transactions that are wholly this citizen's. */
static int find_engaged(redisContext *rc, struct purge *p, json_t *whole)
{
	char key[EVENT_MAX_ID + 32];
	const char *tx;
	json_t *v;

	json_object_foreach(whole, tx, v)
	{
		redisAppendCommand(rc, "EXISTS " KEY_ENGAGED "%s", tx);
	}
	json_object_foreach(whole, tx, v)
	{
		redisReply *r = ctl_redis_reply(rc, "purge");
		if (!r)
			return -1;
		snprintf(key, sizeof(key), KEY_ENGAGED "%s", tx);
		if (ctl_reply_ll(r, 0) > 0)
			set_add(p->engaged, key);
		freeReplyObject(r);
	}
	return 0;
}

/* Provider references (only those that point at one of our messages),
 * schedule and dead-letter entries. */
static int find_pointers(redisContext *rc, struct purge *p, json_t *refcand)
{
	const char *k;
	json_t *v;

	json_object_foreach(p->msgs, k, v)
	{
		const char *ch = json_string_value(json_array_get(v, 1));
		const char *ref = json_string_value(json_array_get(v, 2));
		if (ch && ref && *ch && *ref) {
			char key[512];
			snprintf(key, sizeof(key), KEY_REF "%s:%s", ch, ref);
			set_add(refcand, key);
		}
	}
	json_object_foreach(refcand, k, v)
	{
		redisAppendCommand(rc, "GET %s", k);
	}
	json_object_foreach(p->ids, k, v)
	{
		redisAppendCommand(rc, "ZSCORE " KEY_SCHED " %s", k);
		redisAppendCommand(rc, "LPOS " KEY_DEAD " %s", k);
	}
	json_object_foreach(refcand, k, v)
	{
		redisReply *r = ctl_redis_reply(rc, "purge");
		if (!r)
			return -1;
		if (r->type == REDIS_REPLY_STRING && json_object_get(p->ids, r->str))
			set_add(p->refs, k);
		freeReplyObject(r);
	}
	json_object_foreach(p->ids, k, v)
	{
		redisReply *s = ctl_redis_reply(rc, "purge"), *d;
		if (!s)
			return -1;
		d = ctl_redis_reply(rc, "purge");
		if (!d) {
			freeReplyObject(s);
			return -1;
		}
		if (s->type == REDIS_REPLY_STRING)
			set_add(p->sched, k);
		if (d->type == REDIS_REPLY_INTEGER)
			set_add(p->dead, k);
		freeReplyObject(s);
		freeReplyObject(d);
	}
	return 0;
}

/* Queue entries naming the citizen (field c) or one of its messages. */
static int find_entries(redisContext *rc, struct purge *p)
{
	for (int s = 0; purge_streams[s]; s++) {
		char start[64] = "-";
		json_t *list = json_array();
		size_t got;

		if (!list)
			return -1;
		do {
			redisReply *r = ctl_redis_cmd(rc, "purge", "XRANGE %s %s + COUNT %d",
						      purge_streams[s], start, PURGE_XRANGE_COUNT);
			if (!r) {
				json_decref(list);
				return -1;
			}
			got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
			for (size_t i = 0; i < got; i++) {
				const redisReply *e = r->element[i], *kv;
				int mine = 0;

				if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || !astr(e, 0))
					continue;
				kv = e->element[1];
				for (size_t j = 0;
				     kv->type == REDIS_REPLY_ARRAY && j + 1 < kv->elements;
				     j += 2) {
					const char *f = astr(kv, j), *val = astr(kv, j + 1);
					if (!f || !val)
						continue;
					if ((!strcmp(f, "c") && !strcmp(val, p->citizen)) ||
					    (!strcmp(f, "id") && json_object_get(p->ids, val)))
						mine = 1;
				}
				if (mine)
					json_array_append_new(list, json_string(astr(e, 0)));
				snprintf(start, sizeof(start), "(%s", astr(e, 0));
			}
			freeReplyObject(r);
		} while (got == PURGE_XRANGE_COUNT);
		p->nentries += json_array_size(list);
		if (json_array_size(list))
			json_object_set_new(p->entries, purge_streams[s], list);
		else
			json_decref(list);
	}
	return 0;
}

static void print_keys(const struct purge *p)
{
	const char *k;
	json_t *v;
	size_t i;

	if (p->citizen_key)
		printf("  citizen record    " KEY_CITIZEN "%s\n", p->citizen);
	json_object_foreach(p->msgs, k, v)
	{
		printf("  message           " KEY_MSG "%s\n", k);
	}
	json_object_foreach(p->journeys, k, v)
	{
		if (json_is_null(v))
			printf("  journey           " KEY_TX "%s\n", k);
		else
			printf("  journey records   " KEY_TX "%s (%zu records of this citizen; "
			       "the rest kept)\n",
			       k, json_array_size(v));
	}
	json_object_foreach(p->refs, k, v)
	{
		printf("  provider ref      %s\n", k);
	}
	json_object_foreach(p->sched, k, v)
	{
		printf("  schedule entry    " KEY_SCHED " %s\n", k);
	}
	json_object_foreach(p->dead, k, v)
	{
		printf("  dead letter       " KEY_DEAD " %s\n", k);
	}
	json_object_foreach(p->engaged, k, v)
	{
		printf("  engagement        %s\n", k);
	}
	json_object_foreach(p->entries, k, v)
	{
		json_t *e;
		json_array_foreach(v, i, e)
		{
			printf("  queue entry       %s %s\n", k, json_string_value(e));
		}
	}
	json_object_foreach(p->mo, k, v)
	{
		if (json_is_null(v))
			printf("  SMS reply index   %s\n", k);
		else
			printf(
			    "  SMS reply index   %s (%zu entries of this citizen; the rest kept)\n",
			    k, json_array_size(v));
	}
}

static void print_counts(const struct purge *p, const char *verb)
{
	size_t whole = 0;
	const char *k;
	json_t *v;

	json_object_foreach(p->journeys, k, v)
	{
		whole += json_is_null(v);
	}
	printf("%s: %d citizen record, %zu messages, %zu journeys, %zu records from shared "
	       "journeys, %zu provider references, %zu schedule entries, %zu dead letters, %zu "
	       "engagements, %zu queue entries, %zu file channel lines, %zu spooled letters, %zu "
	       "SMS reply index entries\n",
	       verb, p->citizen_key, json_object_size(p->msgs), whole, p->nrecords,
	       json_object_size(p->refs), json_object_size(p->sched), json_object_size(p->dead),
	       json_object_size(p->engaged), p->nentries, p->nlines, p->nletters, p->nmo);
}

/* The counts of the deletion record (no names, no contents). */
static json_t *purge_counts(const struct purge *p)
{
	size_t whole = 0;
	const char *k;
	json_t *v;

	json_object_foreach(p->journeys, k, v)
	{
		whole += json_is_null(v);
	}
	return json_pack(
	    "{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "citizen_record",
	    p->citizen_key, "messages", (json_int_t)json_object_size(p->msgs), "journeys",
	    (json_int_t)whole, "journey_records", (json_int_t)p->nrecords, "provider_refs",
	    (json_int_t)json_object_size(p->refs), "schedule",
	    (json_int_t)json_object_size(p->sched), "dead_letters",
	    (json_int_t)json_object_size(p->dead), "engagements",
	    (json_int_t)json_object_size(p->engaged), "queue_entries", (json_int_t)p->nentries,
	    "file_lines", (json_int_t)p->nlines, "print_letters", (json_int_t)p->nletters,
	    "sms_reply_index", (json_int_t)p->nmo);
}

/* Delete (yes) or count what lies outside Redis; with yes, after the
 * Redis deletions, the deletion record. 0 or -1. */
static int purge_outside(struct ctl *c, redisContext *rc, struct purge *p, int yes)
{
	json_t *counts;
	int ret;

	if (purge_file_lines(c, p->citizen, yes, &p->nlines) != 0 ||
	    purge_spool(c, p->citizen, yes, &p->nletters) != 0)
		return -1;
	if (!yes)
		return 0;
	counts = purge_counts(p);
	ret = counts ? purge_record_write(c, rc, p->citizen, counts) : -1;
	json_decref(counts);
	return ret;
}

/* Delete everything found, one pipeline. 0 or -1. */
static int delete_all(redisContext *rc, const struct purge *p)
{
	const char *k;
	json_t *v, *e;
	size_t n = 0, i, failed = 0;

	if (p->citizen_key) {
		redisAppendCommand(rc, "DEL " KEY_CITIZEN "%s", p->citizen);
		n++;
	}
	json_object_foreach(p->msgs, k, v)
	{
		redisAppendCommand(rc, "DEL " KEY_MSG "%s", k);
		n++;
	}
	json_object_foreach(p->journeys, k, v)
	{
		if (json_is_null(v)) {
			redisAppendCommand(rc, "DEL " KEY_TX "%s", k);
			n++;
			continue;
		}
		json_array_foreach(v, i, e)
		{
			redisAppendCommand(rc, "LREM " KEY_TX "%s 0 %s", k, json_string_value(e));
			n++;
		}
	}
	json_object_foreach(p->refs, k, v)
	{
		redisAppendCommand(rc, "DEL %s", k);
		n++;
	}
	json_object_foreach(p->sched, k, v)
	{
		redisAppendCommand(rc, "ZREM " KEY_SCHED " %s", k);
		n++;
	}
	json_object_foreach(p->dead, k, v)
	{
		redisAppendCommand(rc, "LREM " KEY_DEAD " 0 %s", k);
		n++;
	}
	json_object_foreach(p->engaged, k, v)
	{
		redisAppendCommand(rc, "DEL %s", k);
		n++;
	}
	json_object_foreach(p->entries, k, v)
	{
		json_array_foreach(v, i, e)
		{
			redisAppendCommand(rc, "XDEL %s %s", k, json_string_value(e));
			n++;
		}
	}
	json_object_foreach(p->mo, k, v)
	{
		if (json_is_null(v)) {
			redisAppendCommand(rc, "DEL %s", k);
			n++;
			continue;
		}
		json_array_foreach(v, i, e)
		{
			redisAppendCommand(rc, "ZREM %s %s", k, json_string_value(e));
			n++;
		}
	}
	for (i = 0; i < n; i++) {
		redisReply *r = ctl_redis_reply(rc, "purge");
		if (!r) {
			if (rc->err) /* the connection is gone: no more replies */
				return -1;
			failed++;
		}
		freeReplyObject(r);
	}
	return failed ? -1 : 0;
}

static void purge_free(struct purge *p)
{
	json_decref(p->msgs);
	json_decref(p->ids);
	json_decref(p->txs);
	json_decref(p->journeys);
	json_decref(p->refs);
	json_decref(p->sched);
	json_decref(p->dead);
	json_decref(p->engaged);
	json_decref(p->entries);
	json_decref(p->mo);
}

static int purge_alloc(struct purge *p)
{
	json_t **sets[] = {&p->msgs,  &p->ids,	&p->txs,     &p->journeys, &p->refs,
			   &p->sched, &p->dead, &p->engaged, &p->entries,  &p->mo};

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		if (!(*sets[i] = json_object()))
			return -1;
	return 0;
}

/* heraldctl purge --record [--citizen ID] */
static int show_records(struct ctl *c, const char *citizen)
{
	redisContext *rc = ctl_redis_open(c, "purge");
	int ret;

	if (!rc)
		return 2;
	ret = purge_record_show(c, rc, citizen);
	ctl_redis_close(&rc);
	return ret;
}

int cmd_purge(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"citizen", required_argument, NULL, 'C'},
					     {"yes", no_argument, NULL, 'y'},
					     {"record", no_argument, NULL, 'R'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct purge p = {0};
	redisContext *rc = NULL;
	redisReply *r;
	json_t *refcand = NULL, *whole = NULL;
	int yes = 0, record = 0, opt, ret = 2;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'C': p.citizen = optarg; break;
		case 'y': yes = 1; break;
		case 'R': record = 1; break;
		case 'h': printf(PURGE_USAGE); return 0;
		default: fprintf(stderr, PURGE_USAGE); return 2;
		}
	}
	if (record && optind == argc && !yes)
		return show_records(c, p.citizen);
	if (record || optind != argc || !p.citizen || !*p.citizen || strchr(p.citizen, '*')) {
		fprintf(stderr, PURGE_USAGE);
		return 2;
	}
	refcand = json_object();
	whole = json_object();
	if (!whole || !refcand || purge_alloc(&p) != 0) {
		fprintf(stderr, "heraldctl purge: out of memory\n");
		goto out;
	}
	rc = ctl_redis_open(c, "purge");
	if (!rc)
		goto out;
	r = ctl_redis_cmd(rc, "purge", "EXISTS " KEY_CITIZEN "%s", p.citizen);
	if (!r)
		goto out;
	p.citizen_key = ctl_reply_ll(r, 0) > 0;
	freeReplyObject(r);
	if (scan_keys(rc, KEY_MSG "*", on_msg_keys, &p) != 0 ||
	    scan_keys(rc, KEY_TX "*", on_tx_keys, &p) != 0 ||
	    scan_keys(rc, KEY_MO "*", on_mo_keys, &p) != 0 ||
	    read_journeys(rc, &p, refcand, whole) != 0 || find_engaged(rc, &p, whole) != 0 ||
	    find_pointers(rc, &p, refcand) != 0 || find_entries(rc, &p) != 0 ||
	    purge_outside(c, rc, &p, 0) != 0)
		goto out;

	if (!p.citizen_key && json_object_size(p.msgs) == 0 && json_object_size(p.journeys) == 0 &&
	    json_object_size(p.refs) == 0 && json_object_size(p.sched) == 0 &&
	    json_object_size(p.dead) == 0 && json_object_size(p.engaged) == 0 && p.nentries == 0 &&
	    p.nmo == 0 && p.nlines == 0 && p.nletters == 0) {
		printf("purge citizen %s: Herald holds nothing for this citizen\n", p.citizen);
		ret = 0;
		goto out;
	}
	if (!yes) {
		printf("purge citizen %s: dry run, nothing deleted (add --yes to delete):\n",
		       p.citizen);
		print_keys(&p);
		print_counts(&p, "would delete");
		ret = 0;
		goto out;
	}
	printf("purge citizen %s:\n", p.citizen);
	print_keys(&p);
	if (delete_all(rc, &p) != 0 || purge_outside(c, rc, &p, 1) != 0) {
		fprintf(stderr,
			"heraldctl purge: some deletions failed; nothing was rolled back; run "
			"the purge again\n");
		goto out;
	}
	print_counts(&p, "deleted");
	ret = 0;
out:
	json_decref(refcand);
	json_decref(whole);
	purge_free(&p);
	ctl_redis_close(&rc);
	return ret;
}
