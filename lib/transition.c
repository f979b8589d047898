/* transition.c - the records and fields of a message's transition (see
 * transition.h). */
#include "transition.h"
#include "msgrec.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

/* Seconds from one time to another; -1 (shown "-") when either is unknown. */
static double secs(int64_t from, int64_t to)
{
	return from > 0 && to >= from ? (double)(to - from) / 1000.0 : -1.0;
}

static int fmt_delay(char *buf, size_t len, double v)
{
	if (v < 0) {
		memcpy(buf, "-", 2);
		return 1;
	}
	return (int)fmt_fixed3(v, buf, len);
}

/* Microseconds of a time given as us (0: unknown) or ms (0: not reached). */
static int64_t us_of(int64_t us, int64_t ms)
{
	return us > 0 ? us : ms > 0 ? ms * 1000 : 0;
}

static double secs_us(int64_t from, int64_t to)
{
	return from > 0 && to >= from ? (double)(to - from) / 1e6 : -1.0;
}

static int fmt_delay_us(char *buf, size_t len, double v)
{
	if (v < 0) {
		memcpy(buf, "-", 2);
		return 1;
	}
	return (int)fmt_fixed6(v, buf, len);
}

/* queue / prepare / channel from the times in microseconds: the JSON form's
 * (b->delays_fine) and, in milliseconds, the text form's (b->delays), so
 * heraldctl tail's text from the JSON is the text line */
static void delays_of(const struct transition_msg *m, int64_t now, struct transition_buf *b)
{
	int64_t acc = us_of(m->accepted_us, m->accepted_ms),
		pick = us_of(m->picked_us, m->picked_ms),
		prep = us_of(m->prepared_us, m->prepared_ms),
		sub = us_of(m->submitted_us, m->submitted_ms), nw = us_of(m->now_us, now);
	double v[3] = {secs_us(acc, pick), secs_us(pick, prep), secs_us(sub, sub ? nw : 0)};
	size_t n = 0, f = 0;

	for (int i = 0; i < 3; i++) {
		if (i) {
			b->delays[n++] = '/';
			b->delays_fine[f++] = '/';
		}
		n += (size_t)fmt_delay(b->delays + n, sizeof(b->delays) - n, v[i]);
		f += (size_t)fmt_delay_us(b->delays_fine + f, sizeof(b->delays_fine) - f, v[i]);
	}
}

void transition_record(struct dlog_rec *rec, const struct transition_msg *m,
		       const struct transition_step *s, int64_t now, struct transition_buf *b)
{
	rfc3339_format(now, b->ts, sizeof(b->ts));
	memset(rec, 0, sizeof(*rec));
	rec->ts = b->ts;
	rec->event_id = m->event_id;
	rec->tx = m->tx;
	rec->citizen = m->citizen;
	rec->service = m->service;
	rec->channel = m->channel;
	rec->to = m->to && *m->to ? m->to : "-";
	rec->attempt = (int)m->attempt;
	rec->possible_dup = m->possible_dup;
	if (m->accepted_ms > 0) {
		double d = secs_us(us_of(m->accepted_us, m->accepted_ms), us_of(m->now_us, now));
		rec->delay = d >= 0 ? d : secs(m->accepted_ms, now);
	} else {
		rec->delay = 0.0;
	}
	delays_of(m, now, b);
	rec->delays = b->delays;
	rec->delays_fine = b->delays_fine;
	rec->dsn = s->dsn;
	rec->status = s->status;
	rec->reason = s->reason ? s->reason : "";
	rec->ref = s->ref;
	rec->fulfilled_in = s->fulfilled_ms >= 0 ? (double)s->fulfilled_ms / 1000.0 : -1.0;
}

void transition_accepted(const struct event *ev, const char *tx, int64_t now, char *text,
			 size_t tlen, char *json, size_t jlen)
{
	struct transition_msg m = {.event_id = ev->event_id,
				   .tx = tx,
				   .citizen = ev->citizen_id,
				   .service = ev->service,
				   .accepted_ms = now};
	struct transition_step s = {.status = "accepted", .fulfilled_ms = -1};
	struct transition_buf b;
	struct dlog_rec rec;
	char reason[96];

	snprintf(reason, sizeof(reason), "template %s, priority %s", ev->template_name,
		 prio_name(ev->priority));
	s.reason = reason;
	transition_record(&rec, &m, &s, now, &b);
	dlog_rec_text(&rec, text, tlen);
	dlog_rec_json(&rec, json, jlen);
}

void transition_replay_record(const struct transition_msg *m, int64_t now, char *json, size_t jlen)
{
	struct transition_msg r = *m;
	struct transition_step s = {
	    .status = "accepted", .reason = TRANSITION_REPLAY_REASON, .fulfilled_ms = -1};
	struct transition_buf b;
	struct dlog_rec rec;

	/* accepted again: no channel, address or attempt yet, no stage timed */
	r.channel = NULL;
	r.to = NULL;
	r.attempt = 0;
	r.picked_ms = r.prepared_ms = r.submitted_ms = 0;
	transition_record(&rec, &r, &s, now, &b);
	dlog_rec_json(&rec, json, jlen);
}

void transition_replay_at(const char *channel, const char *to, char *at, size_t len)
{
	struct msgrec_at pos = {.attempt = 0};

	snprintf(pos.channel, sizeof(pos.channel), "%s", channel ? channel : "");
	snprintf(pos.to, sizeof(pos.to), "%s", to ? to : "");
	if (msgrec_at_format(at, len, &pos) != 0)
		snprintf(at, len, "- 0 0 - -");
}

void transition_operator_record(const struct transition_msg *m, const char *status,
				const char *reason, int64_t now, char *json, size_t jlen)
{
	struct transition_step s = {.status = status, .reason = reason, .fulfilled_ms = -1};
	struct transition_buf b;
	struct dlog_rec rec;

	transition_record(&rec, m, &s, now, &b);
	dlog_rec_json(&rec, json, jlen);
}
