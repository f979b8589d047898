/*
 * ingest_int.h - what ingest.c (taking events off the socket, sending them
 * to Redis) and ingest_answer.c (answering each event once Redis has
 * replied) share: one drain's pending events and its batch. Internal to
 * heraldd's ingest; the rest of the router sees router.h's ingest_* only.
 */
#ifndef HERALD_INGEST_INT_H
#define HERALD_INGEST_INT_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <zmq.h>

#include "router.h"

#define MAX_ENVELOPE 4
/* ZMQ's own limit, well above the 64 KiB rule (EVENT_MAX_FRAME) so that the
 * rule, not the socket, refuses a big frame, and answers it "rejected".
 * Beyond this libzmq still drops the peer without an answer (README). */
#define HARD_MAX_FRAME (16 * 1024 * 1024)
#define UNAVAILABLE "queue unavailable, retry later"
#define UNCONFIRMED "not confirmed by enough Redis replicas, retry later"

struct pending {
	zmq_msg_t env[MAX_ENVELOPE];
	int nenv;
	struct event ev;
	int valid;
	char err[320];
	char *text, *json;		/* the "accepted" record */
	char *body;			/* the event as stored when policy_check changed it */
	const char *answer;		/* "accepted" or "duplicate", held for the WAIT */
	char held_id[EVENT_MAX_ID + 1]; /* ... for the event (p->ev may be gone) */
	char limits[1024];		/* herald_accept's: policy_limits */
};

/* The events of one drain, answered when Redis replies. */
struct batch {
	struct router *r;
	int64_t now, now_us; /* ms, and the same in microseconds */
	int cap;	     /* of ps */
	struct pending *ps;
	int n;
	int wait;	 /* replicas_ack: answers held until WAIT's reply (on_waited) */
	int read_behind; /* a read of the streams follows herald_accept */
};

/* ingest.c: free a batch whose events are all answered. */
void ingest_batch_free(const struct router *r, struct batch *b);

/* ingest_answer.c */
/* Answer p: status and, for a rejection or an unavailable, the error. */
void ingest_reply(struct router *r, struct pending *p, const char *status, const char *error);
/* The operator log line of a rejected event: id, service, peer, reason. */
void ingest_log_rejected(const struct pending *p, const char *key_service, const char *peer,
			 const char *why);
/* Redis answered a batch's herald_accept (arg: the batch). */
void ingest_on_accepted(redisReply *rep, void *arg);
/* WAIT answered (replicas_ack): the held answers go out (arg: the batch). */
void ingest_on_waited(redisReply *rep, void *arg);
/* An engagement event: recorded at once (herald_engage) and answered. */
void ingest_engagement(struct router *r, struct pending *p, const char *ttl);

#endif
