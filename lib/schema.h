/*
 * schema.h - everything Herald keeps in Redis, named once: every key,
 * stream, consumer group and field, and where each record's format is
 * written down. heraldd (router/), heraldctl (tools/) and the Lua library
 * (router/scripts.c, whose text is put together from these macros) all
 * use these names; a literal "herald:..." anywhere else is a bug.
 *
 * Keys (prefix + id):
 *   herald:msg:<event_id>   hash, one message (fields MSG_F_* below), or
 *                           an engagement event's dedup record (status
 *                           STATUS_ENGAGED, svc, tx, meta)
 *   herald:msg:<service>:<event_id>
 *                           the same, for an event whose id another service
 *                           took first (herald_accept: the idempotency key
 *                           is service:event_id; the usual case keeps the
 *                           bare id; MSG_F_SVC says whose it is)
 *   herald:tx:<tx>          list, the transaction's journey: one delivery
 *                           record (lib/dlogrec.h, JSON) per transition
 *   herald:citizen:<id>     hash, a citizen's contact record (written by
 *                           the services; heraldd adds optout, optout@SVC,
 *                           invalid/invalid_<ch>: field names in citizen.h;
 *                           heraldctl optout edits them)
 *   herald:ref:<ch>:<ref>   string, a channel's reference -> event id (for
 *                           receipts), with a TTL; Herald's own reference
 *                           only where a lookup can come before the result
 *                           (router/submit.h submit_ref_early)
 *   herald:engaged:<tx>     string, the channel the citizen engaged on in a
 *                           transaction, with a TTL
 *   herald:mo:<number>      sorted set, the SMS sent to an E.164 number
 *                           lately: members "<service> <tx> <event_id>
 *                           <citizen>" scored by when (ms), the newest
 *                           MO_KEEP, expiring retention_days after the last
 *                           (herald_mo, written at each SMS hand-over); an
 *                           SMS reply from the number is matched to the
 *                           newest (router/inbound_sms.c)
 *   herald:sched            sorted set, event ids by due time (ms)
 *   herald:dead             list, dead-lettered event ids (newest first):
 *                           exhausted, unknown citizen, no usable channel
 *   herald:purges           list, heraldctl purge deletion records (JSON,
 *                           newest first, no personal data)
 *   herald:q:urgent|normal|bulk
 *                           streams, one per priority, consumer group
 *                           "herald" (entry fields STREAM_F_* below)
 *   herald:cb:<service>     stream, a service's status callbacks not yet
 *                           answered 2xx, oldest first; consumer group
 *                           "herald" (entry fields CB_F_* below); an entry
 *                           is deleted once its POST succeeded
 *   herald:cbdead:<service> stream, callbacks given up after
 *                           callback_max_age (fields CB_F_* and CBDEAD_F_*);
 *                           heraldctl callbacks dead list|replay; records
 *                           older than retention_days are trimmed when
 *                           another is added
 *   herald:cblock:<service> string with a TTL, the consumer name of the one
 *                           instance sending an ordered service's callbacks
 *   herald:held             set, event ids an operator holds (heraldctl
 *                           hold): herald_due puts a held message back in
 *                           herald:sched HOLD_RECHECK_MS later instead of
 *                           onto its stream, so no instance sends it until
 *                           heraldctl release (which makes it due now)
 *   herald:suspended        hash, channel -> "wait" | "hop": a channel an
 *                           operator suspended (heraldctl channel suspend);
 *                           every instance reads it every CONTROL_REFRESH_MS
 *                           and submits nothing to it: its messages wait
 *                           (rescheduled SUSPEND_RECHECK_MS later; channel
 *                           resume makes them due at once) or hop to the
 *                           next channel of their plan
 *   herald:instance:<consumer>
 *                           hash with a TTL (INSTANCE_TTL_MS), each heraldd's
 *                           heartbeat, written every STATUS_INTERVAL_MS
 *                           (fields INST_F_* below): the status page's
 *                           source (lib/statuspage.h)
 *   herald:instances        set, the consumers that wrote one (a member
 *                           whose hash expired is dropped by the readers)
 *   herald:oplog            list, the operators' actions (hold, release,
 *                           delete, flush, suspend, resume, optout-add,
 *                           optout-remove, optout-valid), newest first, one
 *                           JSON object each: ts, user, action, id (the
 *                           optout ones: the citizen id, and channel,
 *                           service); capped at OPLOG_MAX entries
 *   herald:inbound          stream, what citizens' channels said back that
 *                           heraldctl bounce recorded (DSNs, complaints),
 *                           consumer group "herald"; heraldd applies and
 *                           deletes each entry (router/bounce.c; fields
 *                           INB_F_* below)
 */
#ifndef HERALD_SCHEMA_H
#define HERALD_SCHEMA_H

/* ---- keys ------------------------------------------------------------ */
#define KEY_MSG "herald:msg:"
#define KEY_TX "herald:tx:"
#define KEY_CITIZEN "herald:citizen:"
#define KEY_REF "herald:ref:" /* + channel ":" reference */
/* the secret of provider references (lib/provref.h) when [herald]
 * secret_file is unset: 64 hex digits, shared by every instance */
#define KEY_SECRET "herald:secret"
#define KEY_ENGAGED "herald:engaged:"
#define KEY_MO "herald:mo:" /* + E.164 number */
#define MO_KEEP 8	    /* members kept per number */
#define MO_KEEP_STR "8"
/* The prefix of the dedup id an SMS reply gets in herald_engage
 * (KEY_MSG "mo-" + the gateway's id) */
#define MO_ID_PREFIX "mo-"
#define KEY_SCHED "herald:sched"
/* per-service admission (herald_accept): a token bucket (hash: tokens,
 * Redis TIME in microseconds) and a count of the UTC day's accepted events */
#define KEY_RATE "herald:rate:"	  /* + service */
#define KEY_DAILY "herald:daily:" /* + service ":" days since 1970 (UTC) */
/* ... and per channel (daily_limit.CHANNEL): events that might use it */
#define KEY_DAILY_CH "herald:dailych:" /* + service ":" channel ":" day */
#define RATE_F_TOKENS "t"
#define RATE_F_TS "ts"
#define KEY_DEAD "herald:dead"
/* heraldctl purge's deletion records, newest first: one JSON object each
 * (ts, by, citizen_hmac, deleted counts); no personal data */
#define KEY_PURGES "herald:purges"
/* operator log level for every heraldd (heraldctl log-level); unset: [log] level */
#define KEY_LOGLEVEL "herald:loglevel"

#define KEY_HELD "herald:held"
#define KEY_OPLOG "herald:oplog"
/* A counter heraldctl hold/release/delete increments: each instance reads
 * it every CONTROL_REFRESH_MS and its copy of herald:held when it moved,
 * so a held message still on a stream is held in prepare too. */
#define KEY_HELD_VER "herald:held:ver"
#define REASON_HELD "held by an operator"
#define KEY_SUSPENDED "herald:suspended"
#define KEY_INSTANCE "herald:instance:" /* + consumer */
#define KEY_INSTANCES "herald:instances"
#define STATUS_INTERVAL_MS 1000
#define INSTANCE_TTL_MS 5000
#define INST_F_VERSION "version"
#define INST_F_PID "pid"
#define INST_F_STARTED "started_ms"
#define INST_F_HEARTBEAT "heartbeat_ms"
#define INST_F_INFLIGHT "inflight"
/* JSON: {channel: {inflight, sent_1m, failed_1m, sent_1h, failed_1h,
 * failing_since_ms, oldest_ms}} as this instance counted them; oldest_ms:
 * when the longest wait at the channel began (a message in its plugin
 * without a result, since handed over, or in the backlog for it, since
 * rendered), 0 when none waits */
#define INST_F_CHANNELS "channels"
/* JSON: {service: {backlog, oldest_age_s}} as this instance's callback
 * sender last read them */
#define INST_F_CALLBACKS "callbacks"
#define SUSPEND_WAIT "wait"
#define SUSPEND_HOP "hop"
#define CONTROL_REFRESH_MS 500
#define SUSPEND_RECHECK_MS 30000
/* The reason a message waiting for a suspended channel is scheduled with
 * (its start: heraldctl channel resume looks for it). */
#define REASON_SUSPENDED "channel suspended by an operator"
#define OPLOG_MAX 10000
/* How long a held message waits in herald:sched before herald_due looks
 * at it again (release makes it due at once). */
#define HOLD_RECHECK_MS 60000
#define HOLD_RECHECK_MS_STR "60000"

/* ---- streams (one per priority, enum prio's order) and their group ---- */
#define KEY_STREAM_PREFIX "herald:q:"
#define KEY_Q_URGENT KEY_STREAM_PREFIX "urgent"
#define KEY_Q_NORMAL KEY_STREAM_PREFIX "normal"
#define KEY_Q_BULK KEY_STREAM_PREFIX "bulk"
/* An initialiser for a const char *[PRIO_N] indexed by enum prio. */
#define KEY_STREAMS                                                                                \
	{                                                                                          \
		KEY_Q_URGENT, KEY_Q_NORMAL, KEY_Q_BULK                                             \
	}
/* The stream of a message whose hash names none. */
#define KEY_Q_DEFAULT KEY_Q_NORMAL
#define GROUP "herald"

/* Stream entry fields: written by herald_accept ("id a e") and by
 * herald_due / heraldctl dead replay ("id c t"). */
#define STREAM_F_ID "id"      /* event id */
#define STREAM_F_ACCEPTED "a" /* accepted time, ms */
#define STREAM_F_EVENT "e"    /* the event as published (JSON) */
#define STREAM_F_CITIZEN "c"  /* citizen id (no event: the hash has it) */
#define STREAM_F_TX "t"	      /* transaction id */

/* ---- status callbacks (router/callback*.c, tools/cmd_callbacks.c) ---- */
#define KEY_CB "herald:cb:"	    /* + service */
#define KEY_CBDEAD "herald:cbdead:" /* + service */
#define KEY_CBLOCK "herald:cblock:" /* + service */
#define CB_GROUP "herald"
#define CB_F_REC "r"	   /* the record (JSON), POSTed as it is */
#define CBDEAD_F_ID "id"   /* its entry id in herald:cb:<service> */
#define CBDEAD_F_ERR "err" /* the last failure */
#define CBDEAD_F_TRIES "tries"

/* ---- inbound reports (tools/cmd_bounce.c -> router/bounce.c) ---------- */
#define KEY_INBOUND "herald:inbound"
#define INB_F_KIND "k"	 /* INB_BOUNCE, INB_DELAY or INB_COMPLAINT */
#define INB_F_TOKEN "t"	 /* the VERP token: the email provider reference */
#define INB_F_STATUS "s" /* the DSN's Status (5.1.1), or the feedback type */
#define INB_F_DIAG "d"	 /* the DSN's Diagnostic-Code, cleaned */
#define INB_F_AT "at"	 /* when heraldctl read it, ms */
#define INB_BOUNCE "bounce"
#define INB_DELAY "delay"
#define INB_COMPLAINT "complaint"

/* ---- message hash fields (herald:msg:<id>) ------------------------------ */
#define MSG_F_STATUS "status" /* last status (herald_accept sets "accepted") */
#define MSG_F_SVC "svc"	      /* the publishing service (herald_accept) */
#define KEY_MSG_SVC_SEP ":"   /* herald:msg:<service> ":" <event_id> */
#define MSG_F_UPDATED "updated_ms"
#define MSG_F_REASON "reason"
#define MSG_F_REF "ref"		       /* the channel's reference, if any */
#define MSG_F_FULFILLED "fulfilled_ms" /* accepted -> first delivered */
#define MSG_F_TX "tx"
#define MSG_F_META "meta"     /* packed: lib/msgrec.h */
#define MSG_F_AT "at"	      /* packed: lib/msgrec.h */
#define MSG_F_EVENT "event"   /* the event, while it may be needed again */
#define MSG_F_STREAM "stream" /* the stream it goes back onto */
#define MSG_F_FINAL "final"
#define MSG_F_SENT "sent_ms"
/* What meta and at stand for in hashes written before them (read by
 * msgrec_read_meta/msgrec_read_at only; never written). */
#define MSG_F_OLD_ACCEPTED "accepted_ms"
#define MSG_F_OLD_SERVICE "service"
#define MSG_F_OLD_CITIZEN "citizen"
#define MSG_F_OLD_CHANNEL "channel"
#define MSG_F_OLD_ATTEMPT "attempt"
#define MSG_F_OLD_PLAN_IDX "plan_idx"
#define MSG_F_OLD_PLAN "plan"
#define MSG_F_OLD_TO "to"

/* The status herald_engage gives an engagement event's hash (its id is
 * taken: a second one with that id is a duplicate). */
#define STATUS_ENGAGED "engaged"

/* The final status heraldctl delete gives a message (its reason names the
 * operator); heraldd treats it as terminal like "delivered". heraldctl
 * delete also puts an entry "id c t" on the message's stream: the heraldd
 * that reads it writes one "deleted" record to the delivery logs, the PUB
 * socket and the service's callback, then sets MSG_F_DELETED_REPORTED
 * (when, ms) in the hash, so that no later entry of the message (a
 * duplicate, a restart) tells it again. */
#define STATUS_DELETED "deleted"
#define MSG_F_DELETED_REPORTED "deleted_reported"

/* The message-hash reason heraldctl dead replay leaves (lib/transition.h). */
#define REASON_REPLAYED "replayed by operator"

/*
 * Record formats, each defined in one place:
 *   meta, at                     lib/msgrec.h (one parser: lib/msgrec.c;
 *                                the Lua's citizen-from-meta pattern is
 *                                MSGREC_META_LUA_CITIZEN beside it)
 *   journey / delivery records   lib/dlogrec.h (text and JSON)
 *   events                       lib/event.h
 */

#endif
