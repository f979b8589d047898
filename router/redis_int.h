/*
 * redis_int.h - struct rdb, shared by redis.c (the pipeline) and
 * redisconn.c (connect, Sentinel, loss and recovery). Nothing else
 * includes it.
 */
#ifndef HERALD_REDIS_INT_H
#define HERALD_REDIS_INT_H

#include <stdint.h>

#include "redis.h"
#include "sentinel.h"

struct pending {
	rdb_cb cb;
	void *arg;
	/* > 1: this command and the batch-1 after it went out as one FCALL
	 * herald_pipe (redispipe.c), whose one reply is theirs */
	size_t batch;
};
struct pcmd;

struct rdb {
	char *host, *sock, *password;
	char where[300];     /* "host:port" or the socket path, for messages */
	int port, select_db; /* SELECT this database when not 0 */
	/* Sentinel (redisconn.c): the master is looked up at every connect */
	struct sentinels sentinels;
	char *master_name, *sentinel_password;
	int connect_timeout_ms;
	int replicas; /* replicas the master listed at connect (ROLE) */
	redisContext *ctx;
	struct pending *q; /* FIFO: the first `sent` went out, the rest wait */
	size_t n, cap, sent;
	int in_recv, in_hook;
	int group; /* rdb_send_grouped holds (the server fsyncs always) */
	/* herald_pipe (redispipe.c): in a grouped send, each run of writes
	 * that packs into pipe_bytes or more goes as one script; 0 never */
	size_t pipe_bytes;
	int pipe_now; /* this rdb_send is a grouped one */
	struct pcmd *pcmd;
	size_t pcmd_cap;
	char *pipebuf, *pipeout; /* msgpack blob, the repacked output */
	size_t pipebuf_cap, pipeout_cap;
	void (*on_send)(void *arg);
	void *on_send_arg;
	void (*on_call)(void *arg);
	void *on_call_arg;
	char *cmdbuf; /* rdb_cmd's protocol buffer, kept between commands */
	size_t cmdbuf_cap;
	unsigned long errs; /* failed writes not yet reported */
	int64_t errs_logged_ms;
	char err[512];
	char demoted[160];	  /* a READONLY (...) reply seen in this batch */
	const char *demoted_what; /* what to drop the connection for */
	/* availability (redisconn.c) */
	int ever_up;		/* Redis has answered since the start */
	int64_t down_since_ms;	/* mono time the outage began; 0 while up */
	int64_t fail_logged_ms; /* last "still unreachable" line */
	unsigned long fails;	/* failed connects in this outage */
	unsigned long lost;	/* connections lost since the start */
	/* an auxiliary connection (rdb_set_aux): named, no library load, no
	 * metrics of its own; its loss is the caller's to report */
	char aux[32];
};

/* Close the connection after a failure (what: the step that failed; cause:
 * the reason, NULL for hiredis's errstr), logging the loss once; pending
 * callbacks are failed by the caller. */
void rdb_drop(struct rdb *db, const char *what, const char *cause);
/* A reply that says this server can no longer take writes (READONLY: it
 * became a replica; LOADING; MASTERDOWN): 1, and the connection is to be
 * dropped so the next connect asks the sentinels again. */
int rdb_reply_demoted(const redisReply *rep);
/* Repack what is about to be written (redispipe.c): each run of script-safe
 * writes as one FCALL herald_pipe, its first entry's batch set. Returns
 * the number of batches, 0 none (output unchanged), -1 out of memory
 * (unchanged too). */
int rdb_pipe_pack(struct rdb *db);

#endif
