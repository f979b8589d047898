/*
 * statuspage.c - the status page put together and written out
 * (statuspage.h).
 */
#include "statuspage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static long long num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return 0;
}

static void add(json_t *o, const char *k, long long n)
{
	json_object_set_new(o, k, json_integer(num(o, k) + n));
}

static json_t *chan_entry(json_t *chans, const char *name)
{
	json_t *c = json_object_get(chans, name);

	if (!c) {
		c = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "state", "up",
			      "suspended", "", "failing_since_ms", (json_int_t)0, "inflight",
			      (json_int_t)0, "sent_1m", (json_int_t)0, "failed_1m", (json_int_t)0,
			      "sent_1h", (json_int_t)0, "failed_1h", (json_int_t)0, "oldest_age_s",
			      0.0);
		json_object_set_new(chans, name, c);
	}
	return c;
}

/* One instance's per-channel counters into the sums. */
static void merge_channels(json_t *chans, const char *text)
{
	json_t *in = text ? json_loads(text, 0, NULL) : NULL;
	const char *name;
	json_t *v;

	json_object_foreach(in, name, v)
	{
		json_t *c = chan_entry(chans, name);
		long long since = num(v, "failing_since_ms"), have = num(c, "failing_since_ms");
		long long waits = num(v, "oldest_ms"), waited = num(c, "oldest_ms");
		static const char *const sums[] = {"inflight", "sent_1m", "failed_1m", "sent_1h",
						   "failed_1h"};
		for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
			add(c, sums[i], num(v, sums[i]));
		if (since > 0 && (have == 0 || since < have))
			json_object_set_new(c, "failing_since_ms", json_integer(since));
		if (waits > 0 && (waited == 0 || waits < waited))
			json_object_set_new(c, "oldest_ms", json_integer(waits));
	}
	json_decref(in);
}

/* The longest wait at a channel, over the instances: oldest_ms (when it
 * began) as oldest_age_s (seconds, at now). */
static void oldest_age(json_t *c, int64_t now)
{
	long long since = num(c, "oldest_ms");

	if (since > 0)
		json_object_set_new(c, "oldest_age_s",
				    json_real(since < now ? (double)(now - since) / 1000.0 : 0.0));
	json_object_del(c, "oldest_ms");
}

/* Each service's callbacks as an instance's sender read them (every
 * sender reads the same stream: the last instance read wins). */
static void merge_callbacks(json_t *cbs, const char *text)
{
	json_t *in = text ? json_loads(text, 0, NULL) : NULL;
	const char *name;
	json_t *v;

	json_object_foreach(in, name, v)
	{
		json_object_set(cbs, name, v);
	}
	json_decref(in);
}

static json_t *instance_row(const json_t *h, int64_t now)
{
	long long started = num(h, INST_F_STARTED), beat = num(h, INST_F_HEARTBEAT);
	const char *ver = json_string_value(json_object_get(h, INST_F_VERSION));
	const char *name = json_string_value(json_object_get(h, "name"));

	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:I}", "name", name ? name : "-",
			 "version", ver ? ver : "-", "pid", (json_int_t)num(h, INST_F_PID),
			 "started_ms", (json_int_t)started, "heartbeat_ms", (json_int_t)beat,
			 "uptime_s", (json_int_t)(started ? (now - started) / 1000 : 0),
			 "heartbeat_age_s", beat ? (double)(now - beat) / 1000.0 : -1.0, "inflight",
			 (json_int_t)num(h, INST_F_INFLIGHT));
}

json_t *statuspage_build(const json_t *instances, const json_t *suspended,
			 const struct statuspage_counts *n, int64_t now_ms)
{
	static const char *const streams[] = KEY_STREAMS;
	json_t *page = json_object(), *insts = json_array(), *chans = json_object(),
	       *queues = json_object(), *cbs = json_object();
	const char *name;
	json_t *v;
	size_t i;

	json_array_foreach(instances, i, v)
	{
		json_array_append_new(insts, instance_row(v, now_ms));
		merge_channels(chans, json_string_value(json_object_get(v, INST_F_CHANNELS)));
		merge_callbacks(cbs, json_string_value(json_object_get(v, INST_F_CALLBACKS)));
	}
	json_object_foreach((json_t *)suspended, name, v)
	{
		json_t *c = chan_entry(chans, name);
		json_object_set(c, "suspended", v);
	}
	json_object_foreach(chans, name, v)
	{
		const char *susp = json_string_value(json_object_get(v, "suspended"));
		oldest_age(v, now_ms);
		json_object_set_new(v, "state",
				    json_string(susp && *susp			 ? "suspended"
						: num(v, "failing_since_ms") > 0 ? "failing"
										 : "up"));
	}
	for (i = 0; i < 3; i++)
		json_object_set_new(queues, streams[i], json_integer(n->queue[i]));
	json_object_set_new(page, "now_ms", json_integer(now_ms));
	json_object_set_new(page, "version", json_string(HERALD_VERSION));
	json_object_set_new(page, "instances", insts);
	json_object_set_new(page, "channels", chans);
	json_object_set_new(page, "queues", queues);
	json_object_set_new(page, "scheduled", json_integer(n->scheduled));
	json_object_set_new(page, "dead", json_integer(n->dead));
	json_object_set_new(page, "held", json_integer(n->held));
	json_object_set_new(page, "callbacks", cbs);
	return page;
}

static void text_instances(FILE *fp, const json_t *page)
{
	size_t i;
	json_t *v;

	fprintf(fp, "instances (%zu)\n", json_array_size(json_object_get(page, "instances")));
	json_array_foreach(json_object_get(page, "instances"), i, v)
	{
		fprintf(
		    fp,
		    "  %-20s version %s, pid %lld, up %llds, heartbeat %.1fs ago, %lld in flight\n",
		    json_string_value(json_object_get(v, "name")),
		    json_string_value(json_object_get(v, "version")), num(v, "pid"),
		    num(v, "uptime_s"), json_real_value(json_object_get(v, "heartbeat_age_s")),
		    num(v, "inflight"));
	}
}

static void text_channels(FILE *fp, const json_t *page)
{
	int64_t now = num(page, "now_ms");
	const char *name;
	json_t *v;

	fprintf(fp, "channels\n  %-10s %-22s %8s %8s %8s %8s %8s %8s %10s\n", "CHANNEL", "STATE",
		"INFLIGHT", "SENT/1m", "FAIL/1m", "SENT/1h", "FAIL/1h", "WAITING", "OLDEST");
	json_object_foreach(json_object_get(page, "channels"), name, v)
	{
		char state[64], oldest[24] = "-", waiting[24] = "-";
		double wait_s = json_number_value(json_object_get(v, "oldest_age_s"));
		const char *st = json_string_value(json_object_get(v, "state"));
		if (!strcmp(st, "suspended"))
			snprintf(state, sizeof(state), "suspended (%s)",
				 json_string_value(json_object_get(v, "suspended")));
		else if (!strcmp(st, "failing"))
			snprintf(state, sizeof(state), "failing since %llds",
				 (long long)(now - num(v, "failing_since_ms")) / 1000);
		else
			snprintf(state, sizeof(state), "up");
		if (json_object_get(v, "oldest_queued_age_s"))
			snprintf(oldest, sizeof(oldest), "%llds", num(v, "oldest_queued_age_s"));
		if (wait_s > 0)
			snprintf(waiting, sizeof(waiting), "%.1fs", wait_s);
		fprintf(fp, "  %-10s %-22s %8lld %8lld %8lld %8lld %8lld %8s %10s\n", name, state,
			num(v, "inflight"), num(v, "sent_1m"), num(v, "failed_1m"),
			num(v, "sent_1h"), num(v, "failed_1h"), waiting, oldest);
	}
}

char *statuspage_text(const json_t *page)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	const char *name;
	json_t *v;

	if (!fp)
		return NULL;
	fprintf(fp, "Herald status (%s)\n", json_string_value(json_object_get(page, "version")));
	text_instances(fp, page);
	text_channels(fp, page);
	fprintf(fp, "queues\n");
	json_object_foreach(json_object_get(page, "queues"), name, v)
	{
		fprintf(fp, "  %-20s %lld\n", name, (long long)json_integer_value(v));
	}
	fprintf(fp, "  %-20s %lld\n  %-20s %lld\n  %-20s %lld\n", "scheduled",
		num(page, "scheduled"), "dead", num(page, "dead"), "held", num(page, "held"));
	fprintf(fp, "callbacks\n");
	if (!json_object_size(json_object_get(page, "callbacks")))
		fprintf(fp, "  -\n");
	json_object_foreach(json_object_get(page, "callbacks"), name, v)
	{
		fprintf(fp, "  %-20s %lld waiting, oldest %.1fs\n", name, num(v, "backlog"),
			json_number_value(json_object_get(v, "oldest_age_s")));
	}
	fclose(fp);
	return buf;
}
