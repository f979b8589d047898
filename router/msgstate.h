/*
 * msgstate.h - one message's state on the router thread: reading its Redis
 * record into struct msg, the transitions it is given (struct step), and
 * freeing it. Used by every step of the worker (stream.c, prepare.c,
 * submit.c, failover.c, outcome.c, receipt.c) and by what citizens and
 * providers send back (bounce.c, inbound_sms.c, unsubscribe.c).
 */
#ifndef HERALD_MSGSTATE_H
#define HERALD_MSGSTATE_H

#include <jansson.h>
#include <stdlib.h>

#include "router.h"

/* A string field of a record read with HGETALL (reply_to_object): NULL
 * when absent. */
static inline const char *field_str(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key));
}

/* An integer field of such a record; def when absent or empty. */
static inline long long field_int(const json_t *rec, const char *key, long long def)
{
	const char *v = field_str(rec, key);
	return v && *v ? atoll(v) : def;
}

/* field_str as the lookup msgrec_read_meta and msgrec_read_at take. */
static inline const char *state_field(const char *name, void *rec)
{
	return field_str(rec, name);
}

void msg_free(struct msg *m);
/* Free what render left (body, subject, front matter, meta) once the
 * plugin has taken the message. */
void msg_release_rendered(struct msg *m);
/* Fill the message from its Redis record (m->state); returns the status. */
const char *msg_load_state(struct router *r, struct msg *m);
/* Acknowledge a stream entry that needs no transition. */
void msg_ack_only(struct router *r, struct msg *m);
/* A step with status and reason, everything else unset. */
struct step step_of(const char *status, const char *reason);
/* The citizen's record (HGETALL of m->citizen) into m->citizen_rec (NULL
 * when Redis does not answer), replacing what was there. */
void msg_load_citizen(struct router *r, struct msg *m);
/* A record that changes nothing of the message (s->journal_only is set
 * here): step s (step_of and what else the caller sets) on channel chan,
 * to to_masked (NULL: m->to_masked as it is) in the journey, the delivery
 * log and the callback; m->chan and m->to_masked are as they were after. */
void msg_journal(struct router *r, struct msg *m, struct chan *chan, const char *to_masked,
		 struct step *s);
/* msg_journal's journey entry, made (JSON, s->at_us stamped) for a caller
 * that writes it in one Redis call with what it records (optout_add); once
 * that is in Redis, msg_journal with s->log_only gives the delivery log and
 * the callback the same record. */
#define MSG_JOURNEY_JSON_MAX 4096
void msg_journey_json(struct msg *m, struct chan *chan, const char *to_masked, struct step *s,
		      char *json, size_t jlen);
/* delivered, exhausted, permanent-failure or rejected: nothing follows. */
int status_is_terminal(const char *status);

#endif
