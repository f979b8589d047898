/*
 * lease.h - the stream entries this instance holds, and their leases.
 *
 * An entry is held from the moment a read (XREADGROUP, recover, claim)
 * turns it into a struct msg until that message is freed: while its records
 * are read, while it is prepared, waits in the backlog or a plugin queue,
 * or awaits its result. Held entries are never taken a second time by this
 * instance (claim, recover after a reconnect), and their idle time in the
 * group's pending list is kept fresh by a heartbeat (lease_renew: one
 * FCALL herald_lease per stream, on the pipeline), so that only the entries
 * of an instance that stopped heart-beating (crashed, cut off) are claimed
 * by XAUTOCLAIM, by any instance.
 */
#ifndef HERALD_LEASE_H
#define HERALD_LEASE_H

#include <stddef.h>

#include "router.h"

struct leases *leases_new(void);
/* Every message must have been freed (lease_release) before. */
void leases_free(struct leases **lsp);
/* Hold m's entry (m->stream, m->stream_id): 0, 1 when this instance
 * holds it already (m not registered: take it no second time), -1 out of
 * memory. */
int lease_take(struct leases *ls, struct msg *m);
/* Stop holding m's entry; nothing when it holds none (msg_free calls it). */
void lease_release(struct msg *m);
/* Whether this instance holds the entry. */
int lease_held(const struct leases *ls, const char *stream, const char *id);
size_t leases_count(const struct leases *ls);
/* Queue the heartbeat of every held entry still pending: one command per
 * stream (in chunks of a few thousand ids). Entries another consumer took
 * meanwhile are logged ("lease lost") and counted; acknowledged ones are
 * dropped from the heartbeat. */
void lease_renew(struct router *r);
/* How often lease_renew runs, from [queue] claim_idle: a third of it. */
int lease_interval_ms(int claim_idle_ms);

#endif
