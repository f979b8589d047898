/*
 * jlane.h - the journey connections (issue #15): [redis]
 * journey_connections more connections to the same Redis, beside the main
 * one, that carry the journeys' writes (the RPUSH of a transaction's
 * records and the journey's EXPIREs), each transaction always on the same
 * one (by a hash of its key), so its records stay in order.
 *
 * Why: Redis reads at most 16 KiB of one client's input per event-loop
 * iteration and, under appendfsync always, fsyncs once per iteration. The
 * journey is over half of the bytes heraldd writes per event; on their
 * own connections Redis takes that many more events per iteration, and
 * per fsync.
 *
 * What keeps it safe: a loop turn's XACKs wait until every journey write
 * of that turn has its reply (jlane_gate), so an entry is never
 * acknowledged before its records are in Redis; the message hash, the
 * schedule, the dead letters and every read stay on the main connection,
 * in their order. A journey connection that fails drops the main one too:
 * heraldd goes through its usual outage and recovery (entries not
 * acknowledged are taken again), and all connect again together. If one
 * does not connect, the journeys go on the main connection until the next
 * reconnect.
 *
 * The cost, why it is off by default: a journey connection cut after Redis
 * ran the message's HSET on the main one but before its RPUSH leaves that
 * message's journey without those records (its entry is taken again, finds
 * the message finished and is acknowledged). One connection narrows that
 * window to a cut inside one write; t_journey_lanes measures it.
 */
#ifndef HERALD_JLANE_H
#define HERALD_JLANE_H

#include <stddef.h>

#include "router.h"

/* Make the connections (not connected yet): 0, or -1 (logged). */
int jlane_open(struct router *r, char *err, size_t errlen);
/* (Re)connect every one, after the main connection came up and before its
 * recovery: all up, or none used until the next reconnect (logged). */
void jlane_connect(struct router *r);
/* Queue a journey command of the transaction whose journey key is txkey
 * on its connection (or the main one when they are off). */
void jlane_cmd(struct router *r, const char *txkey, int argc, const char **argv);
/* EXPIRE txkey ttl how ("NX", "GT"), on the journey's connection, after
 * its records. */
void jlane_expire(struct router *r, const char *txkey, long long ttl, const char *how);
/* The XACKs of this turn wait for the journey writes queued since the
 * last jlane_gate: takes r->acks' ids into a gate that queues them on the
 * main connection once every reply is in (dropped, with a warning, if a
 * connection failed: the entries stay pending and are taken again). */
void jlane_gate(struct router *r);
/* Once a turn: send what is queued, take the replies that arrived; a
 * connection lost drops the main one. */
void jlane_turn(struct router *r);
/* At exit: every reply in (then the XACKs they release are queued). */
void jlane_flush(struct router *r);
void jlane_free(struct router *r);

#endif
