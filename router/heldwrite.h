/*
 * heldwrite.h - state_step's Redis writes held back to the end of the loop
 * turn (heldwrite.c), and the small string helpers state.c shares with it.
 */
#ifndef HERALD_HELDWRITE_H
#define HERALD_HELDWRITE_H

#include <stdint.h>
#include <string.h>

#include "router.h"

/* prefix + s into out (size outlen), cut to fit. */
static inline void key_of(char *out, size_t outlen, const char *prefix, size_t plen, const char *s)
{
	size_t n = strlen(s);

	if (plen + n >= outlen)
		n = outlen - plen - 1;
	memcpy(out, prefix, plen);
	memcpy(out + plen, s, n);
	out[plen + n] = '\0';
}

/* snprintf("%s") into a fixed field, cut to fit. */
static inline void copy_to(char *out, size_t outlen, const char *s)
{
	key_of(out, outlen, "", 0, s);
}

/* One message's hash fields and journey entries of this loop turn. */
struct held_writes {
	struct held_writes *next;
	char *buf; /* every string, NUL-terminated */
	size_t len, cap;
	size_t *off; /* offsets: HSET field/value pairs (kind 0), entries (1) */
	unsigned char *kind;
	size_t n, ncap;
	size_t msgkey, txkey;
	int64_t expire_tx;  /* > 0: EXPIRE the journey (NX) after the RPUSH */
	int64_t expire_msg; /* > 0: EXPIRE the message hash after the HSET */
};

/* Send what this turn held back: every message's writes, then the XACKs.
 * Before rdb_send (its on-send hook). */
void held_flush(struct router *r);
/* Free the held writes and XACK queues (at exit; unsent ones are lost). */
void held_free_all(struct router *r);

/* The message's held-back writes of this loop turn (created if none);
 * NULL when out of memory. */
struct held_writes *held_get(struct router *r, struct msg *m);
/* Add one transition's hash fields (nf key/value pairs) and journey entry
 * (after pre, the journey's "accepted" entry, if not NULL); -1 when out of
 * memory, nothing of it added. */
int held_add(struct held_writes *w, const char *const *fk, const char *const *fv, int nf,
	     const char *pre, const char *json);
/* Queue the writes held so far now (what follows must come after them). */
void held_emit(struct router *r, struct held_writes *w);
/* Out of memory for holding back: the commands as they are, in order. */
void held_write_direct(struct router *r, const struct msg *m, const char *const *fk,
		       const char *const *fv, int nf, const char *pre, const char *json, int first);
/* Queue the XACK of q's ids on stream p's (one command; q unchanged): 0,
 * or -1 out of memory (nothing queued). */
int held_xack(struct router *r, int p, const struct ackq *q);
/* Acknowledge a stream entry with the others of this loop turn. */
void held_ack(struct router *r, const char *stream, const char *id);

#endif
