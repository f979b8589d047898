/*
 * submit.h - hand rendered messages to their plugins; what a busy plugin
 * did not take waits in the backlog (submit.c).
 */
#ifndef HERALD_SUBMIT_H
#define HERALD_SUBMIT_H

#include "router.h"

/* The attempt m is about to make, from the status Redis holds: the next
 * one, or, for an entry taken again (recovered, claimed) that was
 * "sending" (handed to the plugin, no answer recorded), the same one again
 * (same number, same provider reference). Every submission of an entry
 * taken again is marked possible_duplicate: Redis cannot prove that the
 * provider did not get it (heraldd hands a message over before the turn's
 * writes reach Redis). */
void submit_attempt(struct msg *m, const char *status);
/* The message hash's "dup" field for m's current attempt: "possible" (the
 * mark) or "abandoned" (given back unstarted at SIGTERM), with the plan
 * position and attempt it is about ("possible:0:1"), so that a later
 * attempt never reads an earlier one's. */
void submit_dup_tag(const struct msg *m, const char *kind, char *out, size_t len);
/* Whether m's hash (m->state) says kind about its current attempt. */
int submit_dup_is(const struct msg *m, const char *kind);
/* Whether a lookup by c's provider reference (herald:ref:) can come
 * before the plugin's result is recorded, so that submit writes the
 * reference: an HTTP receipt (the plugin has receipt(), which may overtake
 * the result) or an email bounce (bounce.c, by the VERP token). For the
 * others (file, print) only a later result of the plugin's own looks it
 * up, after a "sent" that waits for more (outcome.c writes it then); on
 * the common path (delivered, or sent and final) nothing is written. */
int submit_ref_early(const struct chan *c);
/* SIGTERM: tell every plugin to start nothing more (herald_channel.drain);
 * what it had not started comes back HERALD_ABANDONED. */
void submit_stop(struct router *r);
/* Submit m to its plugin, or queue it on the backlog when the plugin is busy. */
void submit_or_backlog(struct router *r, struct msg *m);
/* Submit the backlog again; what is still refused stays, in order. */
void submit_backlog(struct router *r);

#endif
