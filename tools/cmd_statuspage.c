/*
 * cmd_statuspage.c - heraldctl status [--json] without an id: the status
 * page of every heraldd sharing the Redis (lib/statuspage.h), read
 * directly, plus the age of each channel's oldest message not yet final
 * (a walk of the queue, tools/ctl_queue.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_queue.h"
#include "ctl_redis.h"
#include "schema.h"
#include "statuspage.h"

static json_t *read_instances(redisContext *rc)
{
	redisReply *m = ctl_redis_cmd(rc, "status", "SMEMBERS " KEY_INSTANCES);
	json_t *arr;

	if (!m)
		return NULL;
	arr = json_array();
	for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements; i++)
		redisAppendCommand(rc, "HGETALL " KEY_INSTANCE "%s", m->element[i]->str);
	for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements; i++) {
		redisReply *h = ctl_redis_reply(rc, "status");
		json_t *o;
		if (!h) {
			json_decref(arr);
			arr = NULL;
			break;
		}
		if (h->type == REDIS_REPLY_ARRAY && h->elements > 0) {
			o = ctl_reply_object(h);
			json_object_set_new(o, "name", json_string(m->element[i]->str));
			json_array_append_new(arr, o);
		}
		freeReplyObject(h);
	}
	freeReplyObject(m);
	return arr;
}

static int read_counts(redisContext *rc, struct statuspage_counts *n, json_t **suspended)
{
	static const char *const streams[] = KEY_STREAMS;
	long long *slots[] = {&n->queue[0],  &n->queue[1], &n->queue[2],
			      &n->scheduled, &n->dead,	   &n->held};
	redisReply *r;

	for (int i = 0; i < 3; i++)
		redisAppendCommand(rc, "XLEN %s", streams[i]);
	redisAppendCommand(rc, "ZCARD " KEY_SCHED);
	redisAppendCommand(rc, "LLEN " KEY_DEAD);
	redisAppendCommand(rc, "SCARD " KEY_HELD);
	redisAppendCommand(rc, "HGETALL " KEY_SUSPENDED);
	for (int i = 0; i < 6; i++) {
		if (!(r = ctl_redis_reply(rc, "status")))
			return 2;
		*slots[i] = ctl_reply_ll(r, -1);
		freeReplyObject(r);
	}
	if (!(r = ctl_redis_reply(rc, "status")))
		return 2;
	*suspended = ctl_reply_object(r);
	freeReplyObject(r);
	return 0;
}

/* Each channel's oldest message not yet final. */
static int add_oldest(redisContext *rc, json_t *page)
{
	struct qlist q = {0};
	json_t *chans = json_object_get(page, "channels");

	if (ctl_queue_load(rc, "status", &q) != 0)
		return 2;
	for (size_t i = 0; i < q.n; i++) {
		const struct qmsg *m = &q.v[i];
		json_t *c, *have;
		long long age;
		if (!m->channel[0] || !m->accepted_ms || !(c = json_object_get(chans, m->channel)))
			continue;
		age = (long long)(q.now_ms - m->accepted_ms) / 1000;
		have = json_object_get(c, "oldest_queued_age_s");
		if (!have || json_integer_value(have) < age)
			json_object_set_new(c, "oldest_queued_age_s", json_integer(age));
	}
	ctl_queue_free(&q);
	return 0;
}

int ctl_status_page(struct ctl *c, int json)
{
	redisContext *rc = ctl_redis_open(c, "status");
	struct statuspage_counts n;
	json_t *inst = NULL, *susp = NULL, *page = NULL;
	char *out = NULL;
	int ret = 2;

	if (!rc)
		return 2;
	if (!(inst = read_instances(rc)) || read_counts(rc, &n, &susp) != 0)
		goto done;
	page = statuspage_build(inst, susp, &n, ctl_now_ms());
	if (!page || add_oldest(rc, page) != 0)
		goto done;
	out = json ? json_dumps(page, JSON_INDENT(2)) : statuspage_text(page);
	if (out) {
		fputs(out, stdout);
		if (json)
			putchar('\n');
		ret = 0;
	}
done:
	free(out);
	json_decref(page);
	json_decref(inst);
	json_decref(susp);
	ctl_redis_close(&rc);
	return ret;
}
