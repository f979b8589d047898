/*
 * redis.h - heraldd's one Redis connection (hiredis, synchronous) with
 * pipelining: commands are appended with a callback and sent together; one
 * flush costs one round trip however many commands it carries. The Lua
 * function library (router/scripts.c) is loaded at connect.
 *
 * The connection (redisconn.c) goes to a host, a Unix socket, or the master
 * Redis Sentinel names; it is looked up again at every connect, so after a
 * failover the next connect finds the new master. A reply that says the
 * server no longer takes writes (READONLY, LOADING, MASTERDOWN) drops the
 * connection. Losing it is logged once with the cause, failed reconnects
 * every 10 s, the recovery with the outage's length.
 */
#ifndef HERALD_REDIS_H
#define HERALD_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct rdb;
/* reply is NULL when the connection failed before the reply arrived. */
typedef void (*rdb_cb)(redisReply *reply, void *arg);

/* sock (a Unix socket path) when set, else host:port over TCP. */
struct rdb *rdb_new(const char *host, int port, const char *sock, const char *password,
		    int select_db);
void rdb_free(struct rdb **dbp);
/* Find the master through these sentinels ("host:port,...") instead. 0, or
 * -1 with the reason in err. */
int rdb_set_sentinels(struct rdb *db, const char *list, const char *master_name,
		      const char *password, char *err, size_t errlen);
/* An auxiliary connection beside heraldd's main one (router/jlane.c):
 * CLIENT SETNAME name at each connect, no function library, no metrics,
 * connects logged at debug level; a loss is logged at info level only,
 * the caller treats it as the main connection's. */
void rdb_set_aux(struct rdb *db, const char *name);
/* Drop the connection now (as a failed read would: pending callbacks get
 * NULL at the next rdb_recv/rdb_poll); why is logged. */
void rdb_disconnect(struct rdb *db, const char *why);
/* Bound on each connect (and each sentinel asked); 5 s unless set. */
void rdb_set_connect_timeout(struct rdb *db, int ms);
/* (Re)connect: find the master, AUTH, check ROLE, SELECT, load the
 * function library. 0 or -1 (reason in rdb_err; logged). */
int rdb_connect(struct rdb *db);
int rdb_ok(const struct rdb *db);
int rdb_ever_up(const struct rdb *db); /* Redis has answered since the start */
/* Monotonic ms when the current outage began; 0 while connected. */
int64_t rdb_down_since(const struct rdb *db);
/* Replicas the master listed at the last connect (ROLE); -1 unknown. */
int rdb_replicas(const struct rdb *db);
const char *rdb_err(const struct rdb *db);
/* Where the connection goes, for messages: "host:port" or the socket path. */
const char *rdb_where(const struct rdb *db);

/* Queue a command (argv form; lens may be NULL for C strings). */
void rdb_cmd(struct rdb *db, rdb_cb cb, void *arg, int argc, const char **argv, const size_t *lens);
/* A command in the Redis protocol: at most rdb_format_bound bytes, written
 * by rdb_format_argv into out (its length returned). */
size_t rdb_format_bound(int argc, const char **argv, const size_t *lens);
size_t rdb_format_argv(char *out, int argc, const char **argv, const size_t *lens);
/* Queue a command already in the Redis protocol (cmd, len bytes). */
void rdb_raw(struct rdb *db, rdb_cb cb, void *arg, const char *cmd, size_t len);
/* Queue a printf-style command (hiredis format: %s %b %d %lld). */
void rdb_cmdf(struct rdb *db, rdb_cb cb, void *arg, const char *fmt, ...);
/* Send what is queued, without waiting
 * for replies: Redis works while the caller does something else. */
int rdb_send(struct rdb *db);
/* Group commit (issue #15): rdb_send, unless replies to an earlier send
 * are still to come and less than one Redis read (16 KiB) is queued: then
 * what is queued waits, and goes out with what is queued next, in one
 * larger write, once those replies are in (the caller sends again when
 * they arrive). Redis then takes more commands per event-loop iteration,
 * and under appendfsync always commits them with one fsync instead of
 * one per small write. Nothing outstanding (a lone event): sent at once.
 * 1 sent, 0 held, -1 the connection broke. */
int rdb_send_grouped(struct rdb *db);
/* "A pipeline in a script" (redispipe.c): while grouping is on, each run
 * of plain writes of a grouped send that packs into at least bytes (0:
 * never) goes out as one FCALL herald_pipe, whose one argument Redis reads
 * whole in one read (a bulk of 32 KiB or more), where a plain pipeline
 * costs one event-loop iteration, and under always one fsync, per 16 KiB.
 * Callers see no difference: each command's callback gets its own reply. */
/* The value to turn it on with ([redis] script_batch, off by default:
 * README "A pipeline in a script"): Redis's PROTO_MBULK_BIG_ARG, the
 * smallest argument it reads whole. */
#define RDB_PIPE_BYTES 32768
void rdb_set_pipe(struct rdb *db, size_t bytes);
/* Grouping is on only while the server runs appendfsync always: under
 * everysec or no an iteration costs no fsync, and holding would only add a
 * round trip to the commands held. rdb_check_group queues a CONFIG GET
 * appendfsync whose reply turns it on or off (a server that refuses
 * CONFIG leaves it off: it is off from each connect until the reply). */
void rdb_check_group(struct rdb *db);
/* Called at the start of every rdb_send (also the one a synchronous call
 * makes), to queue commands held back until then. */
void rdb_on_send(struct rdb *db, void (*fn)(void *arg), void *arg);
/* Called at the start of every synchronous call (rdb_call), before the
 * pipeline is flushed: what other connections must have in Redis before
 * a synchronous read (router/jlane.c) is waited for there. */
void rdb_on_call(struct rdb *db, void (*fn)(void *arg), void *arg);
/* Wait for the replies of everything sent and call each callback in order.
 * Callbacks may queue commands (sent by the next rdb_send) but must not make
 * synchronous calls. Returns the number of replies, -1 if the connection
 * broke (callbacks got NULL). */
int rdb_recv(struct rdb *db);
/* Like rdb_recv, without waiting: the replies that have arrived (reads the
 * socket once if it is readable). The rest stay outstanding. */
int rdb_poll(struct rdb *db);
/* rdb_send + rdb_recv until nothing is queued. */
int rdb_flush(struct rdb *db);
size_t rdb_outstanding(const struct rdb *db); /* sent, replies not read */
int rdb_fd(const struct rdb *db);	      /* readable when replies arrive */

/* A synchronous command (for start-up and rare paths); flushes the pipeline
 * first so replies stay in order. Caller frees. */
redisReply *rdb_call(struct rdb *db, const char *fmt, ...);

/* Helpers on replies. */
int reply_is_error(const redisReply *rep);
/* Turn an HGETALL reply into a JSON object of strings (empty when missing). */
#include <jansson.h>
json_t *reply_to_object(const redisReply *rep);

#endif
