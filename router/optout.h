/*
 * optout.h - a citizen's refusals (optout.c).
 *
 * `optout` in the citizen's hash lists the channels refused for every
 * service (written by the services, and by heraldd on a complaint);
 * `optout@SERVICE` lists those refused for one service (written by heraldd
 * on a one-click unsubscribe or an SMS STOP), with `optout@SERVICE_at` =
 * when and why. resolve.c reads both. The names are in lib/citizen.h
 * (heraldctl optout edits them too).
 */
#ifndef HERALD_OPTOUT_H
#define HERALD_OPTOUT_H

#include "citizen.h"

struct router;
struct msg;

/* What is recorded with a refusal, in the same Redis call (optout_add):
 * the message's journey record (step on chan, to to_masked: as msg_journal
 * takes them) and, when ack_stream is set, the acknowledgement (XACK, XDEL)
 * of the stream entry that asked for it. Both land with the refusal or
 * neither does: a failure cannot leave a refusal without its record, nor a
 * request acknowledged that was not applied. */
struct optout_rec {
	struct chan *chan;
	const char *to_masked;
	struct step *step;
	int journey; /* the message's journey gets the record (else the logs only) */
	int always;  /* recorded even when already refused (or the list is full) */
	const char *ack_stream, *ack_id;
	int written; /* out: the record went to Redis (with the refusal) and the logs */
	int acked;   /* out: the stream entry was acknowledged with it */
};

/* Add channel to the citizen's opt-outs for service (NULL: every service),
 * with why kept beside it, in one Redis function call (a synchronous one:
 * these are rare paths); m->citizen_rec, when loaded, is updated with the
 * list Redis now holds. With rec (may be NULL), what it says goes in the
 * same call; once Redis has it the delivery log and the callback get the
 * record (msg_journal) and rec->written is set. 1 when added, 0 when it was
 * already there, -1 on a bad name (nothing written) or a list too long, -2
 * when Redis did not answer or refused the call (nothing known to be
 * written: the caller may try again, and a retry of a call that did land
 * finds the refusal there: 0). */
int optout_add(struct router *r, struct msg *m, const char *service, const char *channel,
	       const char *why, struct optout_rec *rec);

#endif
