/*
 * transition.h - what one transition of a message writes, computed in one
 * place for heraldd (router/state.c) and heraldctl dead replay
 * (tools/cmd_dead.c): its delivery/journey record (lib/dlogrec.h), the
 * "accepted" record an event starts its journey with, and the message-hash
 * fields and stream entry of a replay. Writing them (pipelines, MULTI) stays
 * with each program; the names are lib/schema.h's.
 */
#ifndef HERALD_TRANSITION_H
#define HERALD_TRANSITION_H

#include <stddef.h>
#include <stdint.h>

#include "dlogrec.h"
#include "event.h"

/* What a record says about the message. */
struct transition_msg {
	const char *event_id, *tx, *citizen, *service;
	const char *channel; /* NULL: none (JSON null) */
	const char *to;	     /* masked; NULL or "": "-" */
	unsigned attempt;
	int possible_dup; /* the attempt may be a duplicate (lib/dlogrec.h) */
	/* 0 when not reached: accepted, picked from the stream, rendered,
	 * handed to the channel */
	int64_t accepted_ms, picked_ms, prepared_ms, submitted_ms;
	/* the same at microsecond resolution, and the record's time, for the
	 * JSON form's delay and delays; 0: the _ms value (now: now) x 1000 */
	int64_t accepted_us, picked_us, prepared_us, submitted_us, now_us;
};

/* What it says about the step. */
struct transition_step {
	const char *status, *reason, *dsn, *ref; /* reason NULL: "" */
	int64_t fulfilled_ms;			 /* >= 0: accepted -> first delivered */
};

/* The buffers a record points into (the caller's, as long as the record). */
struct transition_buf {
	char ts[40], delays[64], delays_fine[96];
};

/* Fill rec for message m's step s at time now (ms). */
void transition_record(struct dlog_rec *rec, const struct transition_msg *m,
		       const struct transition_step *s, int64_t now, struct transition_buf *b);

/* The "accepted" record of an event: "template <name>, priority <p>", no
 * channel; text and JSON (lib/dlogrec.h) into the caller's buffers. */
void transition_accepted(const struct event *ev, const char *tx, int64_t now, char *text,
			 size_t tlen, char *json, size_t jlen);

/* ---- heraldctl dead replay ----------------------------------------------- */

/* The reason of the replay's journey record (the message hash's is
 * schema.h's REASON_REPLAYED). */
#define TRANSITION_REPLAY_REASON "replayed from the dead-letter list"
/* The message-hash fields a replay drops: left from the last journey they
 * would mislead the next one (and an older hash's single fields, which
 * "at" now stands for). */
#define TRANSITION_REPLAY_DROP "final sent_ms plan plan_idx attempt channel to"

/* The replay's journey record (JSON): accepted again, no channel yet. */
void transition_replay_record(const struct transition_msg *m, int64_t now, char *json, size_t jlen);
/* The replay's "at" (lib/msgrec.h): a fresh plan (none: heraldd resolves
 * one), attempt 0, the last channel and address kept for the record. */
void transition_replay_at(const char *channel, const char *to, char *at, size_t len);

/* ---- heraldctl hold, release, delete, flush -------------------------------- */

/* The journey record (JSON) of an operator's action on a message: status
 * (schema.h's STATUS_DELETED for a delete, else the message's own) and a
 * reason naming the operator. */
void transition_operator_record(const struct transition_msg *m, const char *status,
				const char *reason, int64_t now, char *json, size_t jlen);

#endif
