/*
 * jlane.h - the state connections (issue #15): [redis] state_connections
 * more connections to the same Redis, beside the main one, that carry the
 * writes of each transaction's state: its messages' hashes (HSET, HDEL,
 * EXPIRE) and its journey (RPUSH, EXPIRE). A transaction always goes on
 * the same one (by a hash of its journey key), so its writes reach Redis
 * in the order heraldd made them, as on one connection: a connection cut
 * mid-way leaves a prefix of them, never a hash that says "delivered"
 * without the journey record written before it.
 *
 * Why: Redis reads at most 16 KiB of one client's input per event-loop
 * iteration and, under appendfsync always, fsyncs once per iteration. The
 * state writes are most of the bytes heraldd writes per event; on their
 * own connections Redis takes that many more events per iteration, and
 * per fsync.
 *
 * What keeps the rest in order: the main connection keeps the stream
 * (accept, read, XACK), the schedule, the dead letters, the citizens and
 * every other key. What there depends on the state writes waits for them
 * (a gate): a loop turn's XACKs, and every jlane_after command (reads of a
 * message hash, herald_due, the schedule's ZADD and the dead letters'
 * LPUSH, which others read as pointing at a hash), are released onto the
 * main connection once every state write queued before them has its reply,
 * gate after gate in turn order. A synchronous call on the main connection
 * (rdb_call) first waits for every state write sent (rdb_on_call). A state
 * connection that fails drops the main one too: heraldd goes through its
 * usual outage and recovery (entries not acknowledged are taken again),
 * and all connect again together; a gate that was waiting fails (its
 * XACKs dropped, its reads' callbacks told the connection failed). If one
 * does not connect, everything goes on the main connection until the next
 * reconnect.
 */
#ifndef HERALD_JLANE_H
#define HERALD_JLANE_H

#include <stddef.h>

#include "redis.h"
#include "router.h"

/* Make the connections (not connected yet): 0, or -1 (logged). */
int jlane_open(struct router *r, char *err, size_t errlen);
/* (Re)connect every one, after the main connection came up and before its
 * recovery: all up, or none used until the next reconnect (logged). */
void jlane_connect(struct router *r);
/* Queue a state write of the transaction whose journey key is txkey on its
 * connection (or the main one when they are off). */
void jlane_cmd(struct router *r, const char *txkey, int argc, const char **argv);
/* The same for message m's transaction, printf-style (hiredis format). */
void jlane_msgf(struct router *r, const struct msg *m, const char *fmt, ...);
/* EXPIRE key ttl [how] ("NX", "GT", or NULL), key being the transaction's
 * journey (txkey) or one of its messages' hashes. */
void jlane_expire(struct router *r, const char *key, const char *txkey, long long ttl,
		  const char *how);
/* A main-connection command that must come after every state write queued
 * so far (hiredis format): queued now when the connections are off, else
 * held by this turn's gate. cb gets NULL if a state connection failed
 * first. */
void jlane_after(struct router *r, rdb_cb cb, void *arg, const char *fmt, ...);
/* At held_flush, after the turn's writes: close this turn's gate with the
 * turn's XACKs (r->acks' ids move into it). 1 if it took them, 0 when
 * nothing waits and they are to go now. */
int jlane_gate(struct router *r);
/* Once a turn: send what is queued, take the replies that arrived; a
 * connection lost drops the main one. */
void jlane_turn(struct router *r);
/* At exit: every reply in (then what they release is queued). */
void jlane_flush(struct router *r);
void jlane_free(struct router *r);

#endif
