/*
 * router.h - the state shared by heraldd's modules, all owned by the one
 * router thread (the HTTP thread only touches metrics and the receipt
 * queue). The flow is: ingest.c -> queue (Redis stream) -> stream.c (read
 * with the records) -> prepare.c (resolve, render) -> submit.c (plugin) ->
 * outcome.c / receipt.c (results; failover.c: retry, hop, dead letter) ->
 * state.c (transitions: Redis, delivery log).
 *
 * This header holds what every step shares (struct msg, struct router) and
 * the modules not split by step; each step's own interface is in its header
 * (stream.h, prepare.h, submit.h, outcome.h, receipt.h, failover.h,
 * msgstate.h), so a file's #includes say which steps it calls.
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
#include "plan.h"
#include "provref.h"
#include "redis.h"
#include "reference.h"
#include "schema.h"
#include "tmplstore.h"

struct http;
struct callbacks;
struct read_batch;
struct held_writes;
struct rcpt_hold;
struct lease_node;
struct leases;
struct unsub;

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
	/* the same in microseconds, for the JSON log's delays (0: unknown;
	 * accepted_us only when this instance accepted it) */
	int64_t accepted_us, picked_us, prepared_us, submitted_us;
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
	json_t *front_matter; /* the template's front matter, as rendered */
	json_t *front_meta;   /* the same keyed fm.<key>: what meta points into */
	const char **meta;
	char reference[24];
	char pref[PROVREF_LEN]; /* provider reference of the current attempt ("" none) */
	int retaken;		/* taken from the stream again (recovered, claimed, redelivered) */
	int possible_dup;	/* this attempt may have reached the provider already */
	char engaged[33];	/* channel the citizen engaged on in this transaction */
	char note[160];		/* said in the "sending" record instead of template and locale */
	struct read_batch *batch; /* the read it arrived with, until prepared */
	int fresh;		  /* read as herald_accept queued it: no hash read */
	int first_touch;	  /* no transition of it written yet: the next one
				     completes the hash and journeys "accepted" */
	int ev_in_hash;		  /* the message hash holds the event */
	char *entry_ev;		  /* the event as the stream entry carries it */
	struct msg *cit_next;	  /* same citizen in the same read: one HGETALL */
	struct lease_node *lease; /* its stream entry, held by this instance (lease.h) */
	int read_failed;	  /* a record's read got no reply or an error: decide
				     nothing, the entry stays pending (prepare.c) */
	struct held_writes *held; /* this turn's held-back hash and journey writes */
	uint64_t held_gen;	  /* ... valid while equal to the router's held_gen */
	/* what the message hash's "at" holds (msgrec.h; "" unknown): state_step
	 * does not rewrite it when it did not change */
	char hash_at[512];
};

/* XACKs of one loop turn, one command per stream (held_flush, heldwrite.c). */
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
	int64_t last_bounce_ms; /* bounce.c */
	int inbound_group;	/* herald:inbound's group: 0 not made, 1 made (own pending
				   entries next), 2 reading new entries, 3 new entries
				   next, then the pending ones again (bounce.c) */
	int64_t last_lease_ms, last_control_ms;
	struct leases *leases; /* stream entries held here (lease.h) */
	int want_read, read_inflight, last_read_n, need_groups, due_inflight;
	struct read_batch *ready, *ready_tail; /* read batches with every record in */
	struct ackq acks[PRIO_N];
	/* the state connections (jlane.c): used while jlane_up */
	struct rdb *jlane[JLANE_MAX];
	int njlane, jlane_up;
	struct jgate *jgate; /* the gate state writes since the last held_flush join */
	struct jgate *jgates, *jgates_tail; /* closed gates waiting, in turn order */
	struct jreplay *replay;		    /* state writes a lost connection did not confirm */
	size_t nreplay, capreplay;
	struct held_writes *held_head, *held_tail; /* held-back writes, in order */
	struct held_writes *held_spare;		   /* emptied ones, buffers kept, for reuse */
	size_t held_nspare;
	uint64_t held_gen;
	struct evcache *evcache;     /* parsed events accepted here, for the worker */
	struct rcpt_hold *rcpt_held; /* receipts waiting for their message (receipt.c) */
	int rcpt_nheld;
	int64_t rcpt_next_ms;
	unsigned char ref_key[PROVREF_KEY_LEN]; /* provider references' secret */
	int ref_key_ok;				/* ... loaded */
	struct zap *zap;			/* who publishers are (zap.h) */
	struct unsub *unsub; /* one-click unsubscribe links (unsubscribe.h), or NULL */
};

/* resolve.c: the ordered plan of channels for a citizen (see resolve.c). */
int resolve_plan(const json_t *citizen, const char *service, const json_t *event_channels,
		 struct chanset *cs, char *plan, size_t planlen, char *why, size_t whylen);

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
	int keep_event;	  /* ... unless a bounce may still undo it (bounce.c) */
	/* The service's callback record only (never the logs or Redis) gets
	 * "text": what the citizen wrote (an SMS reply, inbound_sms.c) */
	const char *cb_text;
	/* > 0: the record's time (us), as state_journey_json stamped it, so
	 * that the logs get the record the caller wrote to the journey */
	int64_t at_us;
};
void state_step(struct router *r, struct msg *m, const struct step *s);
/* The journey entry (JSON) step s makes of m, for a caller that writes it
 * to Redis itself in one call with what it records (optout.c); s->at_us is
 * stamped. state_step with s->log_only then gives the logs the same. */
void state_journey_json(const struct msg *m, struct step *s, char *json, size_t jlen);
void state_accepted_record(const struct event *ev, const char *tx, int64_t now, char *text,
			   size_t tlen, char *json, size_t jlen);

/* ingest.c */
int ingest_open(struct router *r, char *err, size_t errlen);
int ingest_drain(struct router *r, int max);
/* Redis is down: answer up to max waiting events "unavailable" at once. */
int ingest_unavailable(struct router *r, int max);
void ingest_close(struct router *r);

#endif
