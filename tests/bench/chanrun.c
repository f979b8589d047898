/*
 * chanrun.c - drive one channel plugin without heraldd: load the .so, open it
 * with the [channel.<name>] section of an INI file, submit messages read as
 * JSON lines, wait for every result and print each as a JSON line. Used by
 * the channel integration tests and by the channel benchmarks.
 *
 *   chanrun [-t TIMEOUT_S] [-n COUNT] [-w WAIT_S] PLUGIN.so CONF.ini [MSGS.jsonl|-]
 *
 * A message line: {"event_id","to","subject","body","html","locale",
 * "citizen_id","transaction_id","reference","template","attempt","meta":{k:v}}.
 * With -n COUNT the first message is submitted COUNT times (event ids get a
 * suffix) and only a rate line is printed: "chanrun: N results in S s = R/s".
 * -w WAIT_S keeps polling that long after the last result, for receipts.
 * Exit 0 when every message got a result, 1 on timeout, 2 on setup errors.
 */
#include <dlfcn.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <herald/channel.h>

#include "conf.h"
#include "mask.h"

struct run {
	struct conf *conf;
	char section[128];
};

static const char *h_conf(void *ctx, const char *key)
{
	struct run *r = ctx;
	return conf_get(r->conf, r->section, key);
}

static const char *h_conf_section(void *ctx, const char *section, const char *key)
{
	struct run *r = ctx;
	return conf_get(r->conf, section, key);
}

static void h_log(void *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chanrun: <%d> ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void h_mask(void *ctx, const char *addr, char *out, size_t outlen)
{
	mask_contact(addr, out, outlen);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct item {
	json_t *j;
	char event_id[160];
	const char **meta;
	int done;
};

static const char *js(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void fill_msg(struct herald_msg *m, struct item *it, uint64_t id)
{
	json_t *o = it->j;

	memset(m, 0, sizeof(*m));
	m->version = HERALD_MSG_VERSION;
	m->msg_id = id;
	m->event_id = it->event_id;
	m->transaction_id = js(o, "transaction_id") ? js(o, "transaction_id") : it->event_id;
	m->reference = js(o, "reference") ? js(o, "reference") : "REF-TEST";
	m->service = js(o, "service") ? js(o, "service") : "test";
	m->citizen_id = js(o, "citizen_id") ? js(o, "citizen_id") : "c-test";
	m->template_name = js(o, "template") ? js(o, "template") : "test";
	m->locale = js(o, "locale") ? js(o, "locale") : "en";
	m->to = js(o, "to");
	m->subject = js(o, "subject");
	m->body = js(o, "body") ? js(o, "body") : "";
	m->html = js(o, "html");
	m->meta = it->meta;
	m->attempt = json_integer_value(json_object_get(o, "attempt"))
			 ? (unsigned)json_integer_value(json_object_get(o, "attempt"))
			 : 1;
	m->urgent = json_is_true(json_object_get(o, "urgent"));
}

static const char **build_meta(json_t *o)
{
	json_t *meta = json_object_get(o, "meta");
	const char *k;
	json_t *v;
	size_t n = json_is_object(meta) ? json_object_size(meta) : 0, i = 0;
	const char **arr = calloc(2 * n + 1, sizeof(*arr));

	if (!arr || !n)
		return arr;
	json_object_foreach(meta, k, v)
	{
		arr[i++] = k;
		arr[i++] = json_string_value(v) ? json_string_value(v) : "";
	}
	return arr;
}

static void print_result(const struct herald_result *r, const char *event_id)
{
	static const char *names[] = {"?", "sent", "delivered", "temporary-failure",
				      "permanent-failure"};
	json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b}", "event_id",
			      event_id ? event_id : "", "msg_id", (json_int_t)r->msg_id, "status",
			      r->status >= 1 && r->status <= 4 ? names[r->status] : "?", "ref",
			      r->ref, "dsn", r->dsn, "reason", r->reason, "bad_address",
			      (r->flags & HERALD_RF_BAD_ADDRESS) != 0, "final",
			      (r->flags & HERALD_RF_FINAL) != 0);
	char *s = json_dumps(o, JSON_COMPACT);
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	json_decref(o);
}

int main(int argc, char **argv)
{
	double timeout = 30, wait_after = 0;
	long count = 0;
	int opt, rc = 2;
	struct run run = {0};
	char err[512];
	void *dl = NULL, *state = NULL;
	const struct herald_channel *ch;
	struct herald_host host;
	struct item *items = NULL;
	size_t nitems = 0, cap = 0, total, submitted = 0, finished = 0, failed = 0;
	FILE *in = stdin;
	char *line = NULL;
	size_t linecap = 0;
	double t0, t_end;

	while ((opt = getopt(argc, argv, "t:n:w:")) != -1) {
		switch (opt) {
		case 't': timeout = atof(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'w': wait_after = atof(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind < 2)
		goto usage;
	run.conf = conf_load(argv[optind + 1], err, sizeof(err));
	if (!run.conf) {
		fprintf(stderr, "chanrun: %s\n", err);
		return 2;
	}
	dl = dlopen(argv[optind], RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "chanrun: %s\n", dlerror());
		goto out;
	}
	ch = dlsym(dl, HERALD_CHANNEL_SYMBOL);
	if (!ch || ch->abi != HERALD_CHANNEL_ABI) {
		fprintf(stderr, "chanrun: %s: no descriptor or wrong ABI\n", argv[optind]);
		goto out;
	}
	snprintf(run.section, sizeof(run.section), "channel.%s", ch->name);
	host =
	    (struct herald_host){HERALD_HOST_VERSION, &run, h_conf, h_conf_section, h_log, h_mask};
	if (argc - optind > 2 && strcmp(argv[optind + 2], "-") != 0) {
		in = fopen(argv[optind + 2], "r");
		if (!in) {
			perror(argv[optind + 2]);
			goto out;
		}
	}
	while (getline(&line, &linecap, in) > 0) {
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		if (!j) {
			fprintf(stderr, "chanrun: bad message line: %s\n", je.text);
			goto out;
		}
		if (nitems == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct item *grown = realloc(items, ncap * sizeof(*items));
			if (!grown) {
				fprintf(stderr, "chanrun: out of memory\n");
				json_decref(j);
				goto out;
			}
			items = grown;
			cap = ncap;
		}
		memset(&items[nitems], 0, sizeof(items[nitems]));
		items[nitems].j = j;
		snprintf(items[nitems].event_id, sizeof(items[nitems].event_id), "%s",
			 js(j, "event_id") ? js(j, "event_id") : "ev");
		items[nitems].meta = build_meta(j);
		nitems++;
	}
	if (nitems == 0) {
		fprintf(stderr, "chanrun: no messages\n");
		goto out;
	}
	if (ch->open(&host, &state) != 0) {
		fprintf(stderr, "chanrun: open failed\n");
		goto out;
	}
	total = count > 0 ? (size_t)count : nitems;
	t0 = now_s();
	t_end = t0 + timeout;
	while ((finished < total || wait_after != 0) && now_s() < t_end) {
		struct herald_result res[64];
		int n;

		while (submitted < total) {
			struct herald_msg m;
			struct item *it = &items[count > 0 ? 0 : submitted];
			char evbuf[200];
			fill_msg(&m, it, submitted + 1);
			if (count > 0) {
				snprintf(evbuf, sizeof(evbuf), "%s-%zu", it->event_id, submitted);
				m.event_id = evbuf;
			}
			if (ch->submit(state, &m) != 0)
				break;
			submitted++;
		}
		n = ch->poll(state, res, 64);
		for (int i = 0; i < n; i++) {
			size_t idx = (size_t)res[i].msg_id - 1;
			if (count == 0)
				print_result(&res[i], idx < nitems ? items[idx].event_id : NULL);
			if (res[i].msg_id >= 1 && res[i].msg_id <= total) {
				if (count > 0 && res[i].status != HERALD_SENT &&
				    res[i].status != HERALD_DELIVERED && failed++ == 0)
					fprintf(stderr, "chanrun: a message failed: %s\n",
						res[i].reason);
				if (count > 0 || !items[idx].done)
					finished++;
				if (count == 0)
					items[idx].done = 1;
			}
		}
		if (finished >= total && wait_after > 0) {
			t_end = now_s() + wait_after;
			wait_after = -1; /* from now on: just wait for t_end */
		}
		if (n == 0) {
			if (ch->fd) {
				struct pollfd p = {ch->fd(state), POLLIN, 0};
				poll(&p, 1, 20);
			} else {
				usleep(2000);
			}
		}
		if (wait_after < 0 && finished >= total && now_s() >= t_end)
			break;
	}
	if (count > 0) {
		/* the rate counts what the channel sent: a failure is no message */
		double dt = now_s() - t0;
		printf("chanrun: %zu results (%zu failed) in %.3f s = %.1f/s\n", finished, failed,
		       dt, dt > 0 ? (double)(finished - failed) / dt : 0.0);
	}
	rc = finished >= total && !failed ? 0 : 1;
	if (finished < total)
		fprintf(stderr, "chanrun: timeout: %zu of %zu results\n", finished, total);
	else if (failed)
		fprintf(stderr, "chanrun: %zu of %zu messages failed\n", failed, total);
	ch->close(state);
out:
	for (size_t i = 0; i < nitems; i++) {
		json_decref(items[i].j);
		free(items[i].meta);
	}
	free(items);
	free(line);
	if (in && in != stdin)
		fclose(in);
	if (dl)
		dlclose(dl);
	conf_free(&run.conf);
	return rc;
usage:
	fprintf(stderr, "usage: chanrun [-t TIMEOUT_S] [-n COUNT] [-w WAIT_S] PLUGIN.so CONF.ini "
			"[MSGS.jsonl|-]\n");
	return 2;
}
