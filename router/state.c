/*
 * state.c - every transition of a message, written once and everywhere:
 * the message hash and the transaction journey in Redis (one atomic
 * herald_step call, pipelined), and the delivery log (text, JSON, PUB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "router.h"
#include "text.h"

static double secs(int64_t from, int64_t to)
{
	return from > 0 && to >= from ? (double)(to - from) / 1000.0 : -1.0;
}

static void fmt_delay(char *buf, size_t len, double v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3f", v);
}

static json_t *make_record(struct msg *m, const struct step *s, int64_t now)
{
	char ts[40], d1[16], d2[16], d3[16], delays[64];
	json_t *rec;

	rfc3339_format(now, ts, sizeof(ts));
	fmt_delay(d1, sizeof(d1), secs(m->accepted_ms, m->picked_ms));
	fmt_delay(d2, sizeof(d2), secs(m->picked_ms, m->prepared_ms));
	fmt_delay(d3, sizeof(d3), secs(m->submitted_ms, m->submitted_ms ? now : 0));
	snprintf(delays, sizeof(delays), "%s/%s/%s", d1, d2, d3);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:i, s:f, s:s, s:s, s:s, s:s}", "ts",
			ts, "event_id", m->event_id, "tx", m->tx, "citizen", m->citizen, "service",
			m->service, "channel", (m->chan && !s->no_channel) ? m->chan->name : NULL,
			"to", m->to_masked[0] && !s->no_channel ? m->to_masked : "-", "attempt",
			(int)m->attempt, "delay",
			m->accepted_ms > 0 ? secs(m->accepted_ms, now) : 0.0, "delays", delays,
			"dsn", s->dsn && *s->dsn ? s->dsn : "-", "status", s->status, "reason",
			s->reason ? s->reason : "");
	if (rec && s->ref && *s->ref)
		json_object_set_new(rec, "ref", json_string(s->ref));
	if (rec && s->fulfilled_ms >= 0)
		json_object_set_new(rec, "fulfilled_in",
				    json_real((double)s->fulfilled_ms / 1000.0));
	return rec;
}

void state_step(struct router *r, struct msg *m, const struct step *s)
{
	int64_t now = now_ms();
	json_t *rec = make_record(m, s, now);
	char *js = NULL;
	const char *argv[64];
	char nowbuf[24], ttl[24], sched[24], attempt[16], fulfilled[24], msgkey[160], txkey[160];
	int argc = 0, nf_idx;
	const char *k;
	json_t *v;

	if (!rec) {
		log_warnx("%s: out of memory recording status %s", m->event_id, s->status);
		return;
	}
	js = json_dumps(rec, JSON_COMPACT | JSON_ENSURE_ASCII);
	dlog_write(r->dlog, rec, js);
	if (!s->journal_only)
		metrics_status(m->chan && !s->no_channel ? m->chan->name : "-", s->status);
	if (s->fulfilled_ms >= 0)
		metrics_fulfilled((double)s->fulfilled_ms / 1000.0);

	snprintf(msgkey, sizeof(msgkey), KEY_MSG "%s", m->event_id);
	snprintf(txkey, sizeof(txkey), KEY_TX "%s", m->tx);
	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)r->ttl_s);
	snprintf(sched, sizeof(sched), "%lld", (long long)s->sched_ms);
	snprintf(attempt, sizeof(attempt), "%u", m->attempt);

	argv[argc++] = "FCALL";
	argv[argc++] = "herald_step";
	argv[argc++] = "5";
	argv[argc++] = msgkey;
	argv[argc++] = txkey;
	argv[argc++] = m->stream[0] ? m->stream : "herald:q:normal";
	argv[argc++] = KEY_SCHED;
	argv[argc++] = KEY_DEAD;
	argv[argc++] = nowbuf;
	argv[argc++] = ttl;
	argv[argc++] = js ? js : "";
	argv[argc++] = s->ack && m->stream_id[0] ? m->stream_id : "";
	argv[argc++] = s->sched_ms > 0 ? sched : "";
	argv[argc++] = s->dead ? "1" : "";
	nf_idx = argc++;
	if (s->journal_only)
		goto send;
	argv[argc++] = "status";
	argv[argc++] = s->status;
	argv[argc++] = "updated_ms";
	argv[argc++] = nowbuf;
	argv[argc++] = "reason";
	argv[argc++] = s->reason ? s->reason : "";
	argv[argc++] = "attempt";
	argv[argc++] = attempt;
	if (m->chan && !s->no_channel) {
		argv[argc++] = "channel";
		argv[argc++] = m->chan->name;
		argv[argc++] = "to";
		argv[argc++] = m->to_masked;
	}
	if (s->ref && *s->ref) {
		argv[argc++] = "ref";
		argv[argc++] = s->ref;
	}
	if (s->fulfilled_ms >= 0) {
		snprintf(fulfilled, sizeof(fulfilled), "%lld", (long long)s->fulfilled_ms);
		argv[argc++] = "fulfilled_ms";
		argv[argc++] = fulfilled;
	}
	if (s->fields)
		json_object_foreach(s->fields, k, v)
		{
			if (argc + 2 >= (int)(sizeof(argv) / sizeof(argv[0])))
				break;
			if (!json_is_string(v))
				continue;
			argv[argc++] = k;
			argv[argc++] = json_string_value(v);
		}
send:;
	char nf[16];
	snprintf(nf, sizeof(nf), "%d", (argc - nf_idx - 1) / 2);
	argv[nf_idx] = nf;
	rdb_cmd(r->rdb, NULL, NULL, argc, argv, NULL);
	if (s->ack && m->stream_id[0])
		m->stream_id[0] = '\0'; /* acked once */
	free(js);
	json_decref(rec);
}

/* The "accepted" record, before the event is queued: ingest puts its JSON in
 * the journey (herald_accept) and writes it to the delivery log once Redis
 * has said yes. */
json_t *state_accepted_record(const struct event *ev, const char *tx, int64_t now)
{
	struct msg m;
	struct step s = {.status = "accepted", .fulfilled_ms = -1, .no_channel = 1};
	char reason[96];

	memset(&m, 0, sizeof(m));
	snprintf(m.event_id, sizeof(m.event_id), "%s", ev->event_id);
	snprintf(m.tx, sizeof(m.tx), "%s", tx);
	snprintf(m.citizen, sizeof(m.citizen), "%s", ev->citizen_id);
	snprintf(m.service, sizeof(m.service), "%s", ev->service);
	m.accepted_ms = now;
	snprintf(reason, sizeof(reason), "template %s, priority %s", ev->template_name,
		 prio_name(ev->priority));
	s.reason = reason;
	return make_record(&m, &s, now);
}
