/*
 * router.h - the state shared by heraldd's modules, all owned by the one
 * router thread (the HTTP thread only touches metrics and the receipt
 * queue). The flow is: ingest -> queue (Redis stream) -> worker (resolve,
 * render, dispatch) -> results -> state transitions -> delivery log.
 */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "config.h"
#include "deliverylog.h"
#include "dispatch.h"
#include "event.h"
#include "idmap.h"
#include "redis.h"
#include "tmplstore.h"

#define KEY_MSG "herald:msg:"
#define KEY_TX "herald:tx:"
#define KEY_CITIZEN "herald:citizen:"
#define KEY_SCHED "herald:sched"
#define KEY_DEAD "herald:dead"
/* The message-hash reason heraldctl dead replay leaves (tools/cmd_dead.c). */
#define REASON_REPLAYED "replayed by operator"
#define KEY_REF "herald:ref:"
#define KEY_ENGAGED "herald:engaged:"
#define GROUP "herald"

struct http;
struct callbacks;
struct rbatch;
struct pwrite;

/* One message being worked on (read from the stream, or back from a
 * channel, or touched by a receipt). */
struct msg {
	uint64_t id;	  /* in-flight handle while a plugin has it, else 0 */
	struct msg *next; /* backlog link */
	char event_id[EVENT_MAX_ID + 1];
	char tx[EVENT_MAX_ID + 1];
	char citizen[EVENT_MAX_ID + 1];
	char service[EVENT_MAX_ID + 1];
	char stream[32];
	char stream_id[48]; /* stream entry to XACK; "" when none */
	int64_t accepted_ms, picked_ms, prepared_ms, submitted_ms;
	json_t *state;	     /* herald:msg:<id> as an object */
	json_t *citizen_rec; /* herald:citizen:<id> as an object */
	struct event ev;
	struct chan *chan;
	unsigned attempt; /* attempts on the current channel, this one included */
	int plan_idx;
	char plan[256]; /* "sms,email,print" */
	char to_masked[160];
	/* rendered, kept while the plugin has not yet accepted it (backlog) */
	char *subject, *body, *html, *locale;
	json_t *front;
	json_t *fm; /* front matter keyed fm.<key>, what meta points into */
	const char **meta;
	char reference[24];
	char engaged[33];     /* channel the citizen engaged on in this transaction */
	char note[160];	      /* said in the "sending" record instead of template and locale */
	struct rbatch *batch; /* the read it arrived with, until prepared */
	int fresh;	      /* read as herald_accept queued it: no hash read */
	int first_touch;      /* no transition of it written yet: the next one
				 completes the hash and journeys "accepted" */
	int ev_in_hash;	      /* the message hash holds the event */
	char *entry_ev;	      /* the event as the stream entry carries it */
	struct msg *cit_next; /* same citizen in the same read: one HGETALL */
	/* what the message hash's "at" holds (msgrec.h; "" unknown): state_step
	 * does not rewrite it when it did not change */
	struct pwrite *pw; /* this turn's held-back hash and journey writes */
	uint64_t pw_gen;   /* ... valid while equal to the router's pw_gen */
	char hw_at[512];
};

/* XACKs of one loop turn, one command per stream (state_flush). */
struct ackq {
	char *ids; /* NUL-separated entry ids */
	size_t len, cap, n;
};

struct router {
	struct config *cfg;
	void *zctx;
	void *ingest;
	struct rdb *rdb;
	struct tstore *templates;
	struct dlog *dlog;
	struct chanset chans;
	struct idmap *inflight;
	uint64_t next_id;
	struct msg *backlog, *backlog_tail; /* rendered, plugin was busy */
	struct http *http;
	struct callbacks *callbacks;
	char consumer[160];
	int64_t ttl_s;
	int draining;
	int64_t last_read_ms, last_due_ms, last_claim_ms, last_depth_ms, last_trim_ms;
	int want_read, read_inflight, last_read_n, need_groups, due_inflight;
	struct rbatch *ready, *ready_tail; /* read batches with every record in */
	struct ackq acks[PRIO_N];
	struct pwrite *pw_head, *pw_tail; /* held-back writes, in order */
	struct pwrite *pw_spare;	  /* emptied ones, buffers kept, for reuse */
	size_t pw_nspare;
	uint64_t pw_gen;
	struct evcache *evcache; /* parsed events accepted here, for the worker */
	struct zap *zap;	 /* who publishers are (zap.h) */
};

/* reference.c */
void tx_reference(const char *tx_id, char *out, size_t outlen);

/* resolve.c: the ordered plan of channels for a citizen (see resolve.c). */
int resolve_plan(const json_t *citizen, const json_t *event_channels, struct chanset *cs,
		 char *plan, size_t planlen, char *why, size_t whylen);
const char *plan_channel(const char *plan, int idx, char *out, size_t outlen);
int plan_len(const char *plan);
int resolve_in_list(const char *list, const char *name);

/* state.c: record one transition (Redis + delivery log). */
struct step {
	const char *status;
	const char *reason;
	const char *dsn, *ref;
	int ack;	       /* XACK the stream entry */
	int64_t sched_ms;      /* > 0: due time in herald:sched */
	int dead;	       /* push on herald:dead */
	int64_t fulfilled_ms;  /* >= 0: accepted -> first delivered */
	const char *const *kv; /* extra message-hash fields: nkv key, value pairs */
	int nkv;
	int no_channel;	  /* the record names no channel */
	int journal_only; /* log and journal it; the message state is unchanged */
	int log_only;	  /* the delivery logs, PUB and callbacks only: Redis has it */
	int finished_ok;  /* delivered (or sent, final): the event is not kept */
};
void state_step(struct router *r, struct msg *m, const struct step *s);
/* Queue what state_step batched per loop turn (the XACKs): before rdb_send. */
void state_flush(struct router *r);
void state_free(struct router *r);
void state_accepted_record(const struct event *ev, const char *tx, int64_t now, char *text,
			   size_t tlen, char *json, size_t jlen);

/* worker.c */
void worker_read(struct router *r);
int worker_run_ready(struct router *r);
void worker_trim(struct router *r);
void worker_results(struct router *r);
void worker_submit_backlog(struct router *r);
void worker_due(struct router *r);
void worker_claim(struct router *r);
void worker_recover(struct router *r);
void worker_receipts(struct router *r);
void msg_free(struct msg *m);

/* ingest.c */
int ingest_open(struct router *r, char *err, size_t errlen);
int ingest_drain(struct router *r, int max);
void ingest_close(struct router *r);

#endif
