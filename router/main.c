/*
 * main.c - heraldd: set-up, the event loop, signals.
 *
 *   heraldd -c /etc/herald/herald.conf [-t]
 *
 * One router thread runs everything that touches Redis and the delivery
 * log; channel plugins and the HTTP listener have threads of their own and
 * talk to it through file descriptors polled here.
 *
 * Signals: SIGHUP reloads templates and reopens the delivery logs; SIGUSR1
 * reopens the logs only (logrotate); SIGTERM/SIGINT stop taking events,
 * drain what the channels have in flight (up to [queue] drain_timeout
 * seconds), then exit. Under systemd (Type=notify) READY=1 is sent once
 * the ingest socket is bound, and WATCHDOG=1 from the loop.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include <zmq.h>

#include "callback.h"
#include "confcheck.h"
#include "control.h"
#include "heldwrite.h"
#include "jlane.h"
#include "http.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "msgstate.h"
#include "ops.h"
#include "outcome.h"
#include "bounce.h"
#include "inbound_sms.h"
#include "receipt.h"
#include "router.h"
#include "status.h"
#include "stream.h"
#include "submit.h"
#include "text.h"
#include "unsubscribe.h"
#include "zap.h"

static volatile sig_atomic_t sig_term, sig_hup, sig_usr1, sig_usr2;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sig_hup = 1;
	else if (sig == SIGUSR1)
		sig_usr1 = 1;
	else if (sig == SIGUSR2)
		sig_usr2 = 1;
	else
		sig_term = 1;
}

/* Held-back state writes and XACKs go out with every pipeline send; the
 * delivery log's buffered records before them: once Redis has a
 * transition (a message final and acknowledged, never taken again), its
 * record must be out of stdio's buffer, or a kill -9 loses it for good,
 * and with it a re-sent message's "dup=possible" mark. */
static void on_rdb_send(void *arg)
{
	struct router *r = arg;

	held_flush(r);
	dlog_flush_files(r->dlog);
}

/* The provider references' secret: [herald] secret_file (read at start,
 * before Redis), else the one in Redis, read at the first connection
 * before anything is recovered (the first instance to start puts a new
 * one there, SET NX). */
static int load_ref_secret(struct router *r)
{
	char err[512], hex[2 * PROVREF_KEY_LEN + 1];
	redisReply *rep;
	int rc = -1;

	if (r->ref_key_ok)
		return 0;
	if (r->cfg->secret_file) {
		if (provref_secret_file(r->cfg->secret_file, r->ref_key, err, sizeof(err)) == 0)
			return r->ref_key_ok = 1, 0;
		log_msg(LOG_L_ERR, "[herald] %s", err);
		return -1;
	}
	if (provref_secret_new(hex) != 0) {
		log_msg(LOG_L_ERR, "no random bytes for the provider reference secret");
		return -1;
	}
	freeReplyObject(rdb_call(r->rdb, "SET " KEY_SECRET " %s NX", hex));
	rep = rdb_call(r->rdb, "GET " KEY_SECRET);
	if (rep && rep->type == REDIS_REPLY_STRING &&
	    provref_secret_parse(rep->str, r->ref_key) == 0)
		rc = 0, r->ref_key_ok = 1;
	else
		log_msg(LOG_L_ERR, "redis: cannot read %s (64 hex digits)", KEY_SECRET);
	freeReplyObject(rep);
	return rc;
}

/* After every connect to Redis, the first and each one after a loss (a
 * failover may have put another master behind the same name): the checks
 * and the recovery of what this consumer left pending.
 * -1 when the provider references' secret cannot be had. */
static int redis_on_reconnect(struct router *r)
{
	redisReply *rep = rdb_call(r->rdb, "CONFIG GET appendonly");

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    strcmp(rep->element[1]->str, "yes") != 0)
		log_warnx("REDIS HAS appendonly=%s: an accepted event is NOT durable and can be "
			  "lost if Redis restarts. Set 'appendonly yes' (and appendfsync always "
			  "for power-loss safety)",
			  rep->element[1]->str);
	freeReplyObject(rep);
	rdb_check_group(r->rdb); /* group commit under appendfsync always */
	if (load_ref_secret(r) != 0)
		return -1;
	if (rdb_replicas(r->rdb) >= 0 && r->cfg->redis_replicas_ack > rdb_replicas(r->rdb))
		log_warnx("redis %s: the master lists %d replicas, fewer than [redis] "
			  "replicas_ack = %d: events are answered 'unavailable' until enough "
			  "replicas are connected",
			  rdb_where(r->rdb), rdb_replicas(r->rdb), r->cfg->redis_replicas_ack);
	stream_on_reconnect(r);
	return 0;
}

/* One attempt to reach Redis (logged by redis.c). 0 when connected. */
static int connect_redis(struct router *r)
{
	if (rdb_connect(r->rdb) != 0)
		return -1;
	jlane_connect(r); /* before the recovery writes journeys */
	if (redis_on_reconnect(r) != 0)
		return -1;
	if (!rdb_ok(r->rdb)) /* lost again during the recovery */
		return -1;
	http_set_healthy(r->http, 1);
	return 0;
}

static void reload(struct router *r)
{
	char err[512];
	struct tstore *t = tstore_load(r->cfg->templates_dir, err, sizeof(err));

	if (!t) {
		log_warnx("reload: templates not reloaded, keeping the old ones: %s", err);
	} else {
		tstore_free(&r->templates);
		r->templates = t;
		log_info("reload: %zu templates from %s", tstore_count(t), r->cfg->templates_dir);
		ops_check_templates(r);
	}
	zap_reload(r->zap);
	callbacks_reload(&r->callbacks, r->rdb, r->cfg, zap_services(r->zap));
	dlog_reopen(r->dlog);
}

/* What the loop keeps from one turn to the next. */
struct loop_state {
	int max_inflight;     /* [queue] max_inflight: no read beyond that many in flight */
	int drain_timeout_ms; /* [queue] drain_timeout */
	uint64_t watchdog_us; /* systemd's WatchdogSec, 0 when off */
	int64_t drain_until, last_watchdog, last_retry;
};

/* SIGTERM starts draining, SIGHUP reloads, SIGUSR1 reopens the logs.
 * Returns 1 when the loop is to end: drained, or out of time. */
static int on_signals(struct router *r, struct loop_state *ls)
{
	if (sig_term && !r->draining) {
		r->draining = 1;
		ls->drain_until = mono_ms() + ls->drain_timeout_ms;
		ingest_close(r);
		submit_stop(r); /* plugins start nothing more; the backlog waits */
		sd_notify(0, "STOPPING=1");
		log_info("stopping: draining %zu in-flight messages", idmap_len(r->inflight));
	}
	if (r->draining && (idmap_len(r->inflight) == 0 || mono_ms() > ls->drain_until))
		return 1;
	if (sig_hup) {
		sig_hup = 0;
		sd_notify(0, "RELOADING=1");
		reload(r);
		sd_notify(0, "READY=1");
	}
	if (sig_usr1) {
		sig_usr1 = 0;
		dlog_reopen(r->dlog);
		log_info("delivery logs reopened");
	}
	if (sig_usr2) {
		sig_usr2 = 0;
		ops_cycle_log_level();
	}
	return 0;
}

static void poll_fd(struct pollfd *fds, int *n, int fd)
{
	fds[*n].fd = fd;
	fds[*n].events = POLLIN;
	fds[(*n)++].revents = 0;
}

/* Whether the ingest socket has an event to take now. Also re-arms its
 * ZMQ_FD: once ZMQ_EVENTS says nothing is readable, the next event to
 * arrive makes the descriptor readable (zmq_getsockopt(3)); any recv or
 * send on the socket since may have consumed that signal, hence asked
 * right before sleeping. */
static int ingest_readable(struct router *r, int *fd)
{
	uint32_t ev = 0;
	size_t len = sizeof(ev), flen = sizeof(*fd);

	if (zmq_getsockopt(r->ingest, ZMQ_FD, fd, &flen) != 0 ||
	    zmq_getsockopt(r->ingest, ZMQ_EVENTS, &ev, &len) != 0)
		return 1; /* cannot tell: do not sleep on it */
	return (ev & ZMQ_POLLIN) != 0;
}

/* Sleep until there is something to do: an event on the ingest socket, a
 * plugin's result, a receipt, Redis replies; not at all while work is
 * ready, a few ms while the backlog waits or a plugin has no fd. The turn
 * polls everything whatever woke it, so nothing is asked of the kernel
 * when there is work already (zmq_poll would poll with no timeout, then
 * ask ZMQ_EVENTS: four system calls for nothing), and the ingest socket
 * is waited on through its ZMQ_FD after one ZMQ_EVENTS. */
static void wait_for_work(struct router *r)
{
	struct pollfd fds[CHAN_MAX + 5 + JLANE_MAX];
	int n = 0, timeout = 100, zfd = -1, ready;

	if (r->backlog)
		timeout = 5;
	if ((r->want_read && !r->read_inflight) || r->ready) {
		metrics_loop_wake(WAKE_READY);
		return; /* timeout 0: the turn runs now */
	}
	/* without Redis the plugins' results wait (turn_without_redis) */
	for (int i = 0; rdb_ok(r->rdb) && i < r->chans.n; i++) {
		struct chan *c = &r->chans.ch[i];
		int fd = c->desc->fd ? c->desc->fd(c->state) : -1;
		if (fd < 0) {
			timeout = 5; /* plugin without an fd: poll it often */
			continue;
		}
		poll_fd(fds, &n, fd);
	}
	if (r->http) {
		poll_fd(fds, &n, http_fd(r->http));
		poll_fd(fds, &n, http_inbound_fd(r->http));
	}
	if (r->unsub)
		poll_fd(fds, &n, unsub_fd(r->unsub));
	if (rdb_outstanding(r->rdb) && rdb_fd(r->rdb) >= 0)
		poll_fd(fds, &n, rdb_fd(r->rdb));
	for (int i = 0; r->jlane_up && i < r->njlane; i++) /* jlane.h */
		if (rdb_outstanding(r->jlane[i]) && rdb_fd(r->jlane[i]) >= 0)
			poll_fd(fds, &n, rdb_fd(r->jlane[i]));
	/* with Redis or without: every event is answered */
	if (r->ingest) {
		if (ingest_readable(r, &zfd)) {
			metrics_loop_wake(WAKE_READY);
			return;
		}
		poll_fd(fds, &n, zfd);
	}
	ready = poll(fds, (nfds_t)n, timeout);
	if (ready < 0 && errno != EINTR)
		log_warn("poll");
	/* /metrics herald_loop_wakes_total: a lone event wakes the loop by its
	 * descriptor, never by the timeout (t_lone_wake) */
	metrics_loop_wake(ready > 0 ? WAKE_FD : ready == 0 ? WAKE_TIMEOUT : WAKE_SIGNAL);
}

/* A turn while Redis is down: every event waiting is answered
 * "unavailable" (before and after the attempt, which may take up to
 * [redis] connect_timeout per server asked); connect again at once after a
 * loss, then once a second. The plugins' results are not taken: their
 * state writes would fail, the messages would be freed, and after the
 * reconnect stream_recover would take their entries again (no longer
 * held) and send them a second time (marked, but sent). Left in the
 * plugin's queue, each message stays in flight and held, and its result
 * is recorded by the first turn with Redis. */
static void turn_without_redis(struct router *r, struct loop_state *ls, int64_t now)
{
	http_set_healthy(r->http, 0);
	metrics_gauge("redis_up", 0);
	r->read_inflight = 0;
	ingest_unavailable(r, 4096);
	if (now - ls->last_retry >= 1000 || ls->last_retry < rdb_down_since(r->rdb)) {
		ls->last_retry = now;
		connect_redis(r);
		ingest_unavailable(r, 4096);
	}
	inbound_sms_poll(r); /* answered 503: the gateways send them again */
	unsub_poll(r);
	held_flush(r);
	rdb_send(r->rdb);
	rdb_recv(r->rdb);
}

/* New events from publishers. Back-pressure: while the last read came
 * back full (a backlog in the streams), take fewer new events a turn, so
 * the work queued gets done (and its events are still in the cache)
 * instead of the queue growing; publishers wait for their acks meanwhile. */
static void take_events(struct router *r)
{
	int backlog;

	if (!r->ingest)
		return;
	backlog = r->last_read_n >= r->cfg->batch;
	if (backlog)
		metrics_ingest_throttled();
	ingest_drain(r, backlog ? r->cfg->batch / 4 + 1 : 512);
}

/* What runs every so often: due messages, claims, reads, trims, gauges. */
static void timed_work(struct router *r, const struct loop_state *ls, int64_t now)
{
	if (now - r->last_due_ms >= 100) {
		r->last_due_ms = now;
		stream_due(r);
	}
	if (now - r->last_claim_ms >= r->cfg->claim_idle_ms / 2) {
		r->last_claim_ms = now;
		stream_claim(r);
	}
	if ((r->want_read || now - r->last_read_ms >= 200) && !r->read_inflight &&
	    (int)idmap_len(r->inflight) < ls->max_inflight && !r->backlog) {
		r->want_read = 0;
		r->last_read_ms = now;
		stream_read(r);
	}
	if (now - r->last_trim_ms >= r->cfg->trim_interval_ms) {
		r->last_trim_ms = now;
		stream_trim(r);
	}
	control_tick(r, now);
	status_tick(r, now);
	bounce_poll(r, now);
	if (now - r->last_depth_ms >= 5000) {
		r->last_depth_ms = now;
		ops_update_gauges(r);
	}
}

static void watchdog(struct loop_state *ls, int64_t now)
{
	if (ls->watchdog_us && now - ls->last_watchdog >= (int64_t)(ls->watchdog_us / 2000)) {
		ls->last_watchdog = now;
		sd_notify(0, "WATCHDOG=1");
	}
}

static void loop(struct router *r)
{
	struct loop_state ls = {.max_inflight = r->cfg->max_inflight,
				.drain_timeout_ms = r->cfg->drain_timeout_ms};

	if (sd_watchdog_enabled(0, &ls.watchdog_us) <= 0)
		ls.watchdog_us = 0;
	for (;;) {
		int64_t now, turn_us;

		if (on_signals(r, &ls))
			break;
		wait_for_work(r);
		turn_us = now_us();
		now = mono_ms();
		if (!rdb_ok(r->rdb)) {
			turn_without_redis(r, &ls, now);
			continue;
		}
		/* New work is parsed and queued while Redis still works on what
		 * was sent at the end of the last turn; then its replies. */
		take_events(r);
		outcome_poll(r);
		if (r->backlog && !r->draining)
			submit_backlog(r);
		rdb_poll(r->rdb);
		receipt_poll(r);
		unsub_poll(r);
		inbound_sms_poll(r);
		if (!r->draining)
			timed_work(r, &ls, now);
		stream_lease(r, now); /* draining too: what is in flight stays ours */
		held_flush(r);	      /* in turn order; sent now or grouped (redis.h) */
		rdb_send_grouped(r->rdb);
		jlane_turn(r); /* the journeys' connections (jlane.h) */
		/* prepare what arrived while Redis works on what was just sent */
		stream_prepare_ready(r);
		dlog_flush(r->dlog);
		watchdog(&ls, now);
		metrics_loop_turn(now_us() - turn_us);
	}
	/* Results that arrived while draining are recorded. */
	outcome_poll(r);
	held_flush(r);
	jlane_flush(r); /* their replies release the last XACKs */
	rdb_flush(r->rdb);
	dlog_flush(r->dlog);
	if (idmap_len(r->inflight))
		log_warnx("stopped with %zu messages in flight; they stay pending in Redis and "
			  "are taken again at the next start",
			  idmap_len(r->inflight));
}

static void free_inflight(uint64_t id, void *val, void *arg)
{
	msg_free(val);
}

/* The consumer name in the group: [queue] consumer, else the host name. */
static void set_consumer(struct router *r)
{
	char host[64];

	if (r->cfg->consumer) {
		snprintf(r->consumer, sizeof(r->consumer), "%s", r->cfg->consumer);
		return;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "heraldd");
	host[sizeof(host) - 1] = '\0';
	snprintf(r->consumer, sizeof(r->consumer), "%s", host);
}

static void set_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Everything but Redis and the ingest socket: ZMQ, the in-flight map, the
 * event cache, the delivery logs, callbacks, plugins, the HTTP listener.
 * -1 on failure (logged). */
static int open_all(struct router *r)
{
	char err[512];

	r->zctx = zmq_ctx_new();
	r->inflight = idmap_new();
	r->evcache = evcache_new(16384);
	r->rdb = rdb_new(r->cfg->redis_host, r->cfg->redis_port, r->cfg->redis_socket,
			 r->cfg->redis_password, r->cfg->redis_db);
	if (!r->zctx || !r->inflight || !r->rdb || !r->evcache) {
		log_msg(LOG_L_ERR, "out of memory");
		return -1;
	}
	rdb_on_send(r->rdb, on_rdb_send, r);
	rdb_set_connect_timeout(r->rdb, r->cfg->redis_connect_timeout_ms);
	rdb_set_pipe(r->rdb, (size_t)r->cfg->redis_script_batch);
	if (jlane_open(r, err, sizeof(err)) != 0) {
		log_msg(LOG_L_ERR, "[redis] journey connections: %s", err);
		return -1;
	}
	if (r->cfg->redis_sentinels &&
	    rdb_set_sentinels(r->rdb, r->cfg->redis_sentinels, r->cfg->redis_master_name,
			      r->cfg->redis_sentinel_password, err, sizeof(err)) != 0) {
		log_msg(LOG_L_ERR, "[redis] sentinels: %s", err);
		return -1;
	}
	r->zap = zap_open(r->cfg, r->zctx, err, sizeof(err)); /* before ingest binds */
	if (!r->zap) {
		log_msg(LOG_L_ERR, "%s", err);
		return -1;
	}
	r->dlog = dlog_open(r->cfg->log_file, r->cfg->log_json, r->cfg->log_publish, r->zctx, err,
			    sizeof(err));
	if (!r->dlog) {
		log_msg(LOG_L_ERR, "%s", err);
		return -1;
	}
	r->callbacks = callbacks_start_svc(r->cfg, zap_services(r->zap), err, sizeof(err));
	if (!r->callbacks) {
		log_msg(LOG_L_ERR, "%s", err);
		return -1;
	}
	if (chans_load(&r->chans, r->cfg) == 0 && !r->chans.failed)
		log_warnx("no channel is enabled: every message will fail with 'no usable "
			  "channel' (add a [channel.<name>] section)");
	if (r->chans.failed)
		return -1;
	ops_check_templates(r);
	if (r->cfg->http_listen[0]) {
		r->http = http_start(r->cfg->http_listen, r->cfg->http_public_url, &r->chans, err,
				     sizeof(err));
		if (!r->http) {
			log_msg(LOG_L_ERR, "http: %s", err);
			return -1;
		}
		if (r->cfg->unsub_url) {
			r->unsub = unsub_new(r->cfg->unsub_url);
			if (!r->unsub) {
				log_msg(LOG_L_ERR, "unsubscribe: out of memory");
				return -1;
			}
			http_set_unsub(r->http, r->unsub);
		}
		if (!zap_curve(r->zap))
			http_set_note(r->http, "warning: ingest is not authenticated ([ingest] "
					       "auth = none): any local process may publish as "
					       "any service\n");
	}
	return 0;
}

/* Connect to Redis, once a second until it answers (redis.c logs the
 * failures); meanwhile every event is answered "unavailable". -1 on
 * SIGTERM. */
static int wait_for_redis(struct router *r)
{
	while (connect_redis(r) != 0) {
		for (int i = 0; i < 10 && !sig_term; i++) {
			zmq_pollitem_t it = {r->ingest, 0, ZMQ_POLLIN, 0};
			zmq_poll(&it, 1, 100);
			ingest_unavailable(r, 4096);
		}
		if (sig_term)
			return -1;
	}
	return 0;
}

static void close_all(struct router *r)
{
	ingest_close(r);
	zap_close(&r->zap); /* after ingest: no socket may outlive the handler */
	http_stop(&r->http);
	unsub_free(&r->unsub); /* after the listener: its thread used it */
	chans_close(&r->chans);
	while (r->backlog) {
		struct msg *m = r->backlog;
		r->backlog = m->next;
		msg_free(m);
	}
	if (r->inflight) {
		idmap_each(r->inflight, free_inflight, NULL);
		idmap_free(&r->inflight);
	}
	jlane_free(r);
	held_free_all(r);
	receipt_close(r);
	leases_free(&r->leases);
	evcache_free(&r->evcache);
	dlog_close(&r->dlog);
	rdb_free(&r->rdb); /* fails pending XADDs to cb_on_xadd: before the table goes */
	callbacks_stop(&r->callbacks);
	tstore_free(&r->templates);
	if (r->zctx)
		zmq_ctx_term(r->zctx);
	config_free(&r->cfg);
}

int main(int argc, char **argv)
{
	const char *conf_path = "/etc/herald/herald.conf";
	struct router r;
	char err[512];
	int check_only = 0, cfg_errors, rc;

	if ((rc = ops_parse_args(argc, argv, &conf_path, &check_only)) >= 0)
		return rc;
	rc = 1;
	log_init("heraldd", LOG_L_INFO);
	log_detect_journal();
	memset(&r, 0, sizeof(r));
	r.cfg = config_load(conf_path, err, sizeof(err));
	if (!r.cfg) {
		log_msg(LOG_L_ERR, "%s", err);
		return 1;
	}
	cfg_errors = confcheck_sections(r.cfg);
	if (cfg_errors > 0 && !check_only)
		goto out;
	log_set_level(r.cfg->log_level);
	r.ttl_s = (int64_t)r.cfg->retention_days * 86400;
	r.templates = tstore_load(r.cfg->templates_dir, err, sizeof(err));
	if (!r.templates) {
		log_msg(LOG_L_ERR, "templates: %s", err);
		goto out;
	}
	if (check_only) {
		if (ops_check_config(&r, conf_path, cfg_errors) == 0)
			rc = 0;
		goto out;
	}
	set_consumer(&r);
	set_signals();
	srandom((unsigned)(now_ms() ^ getpid()));
	if ((r.cfg->secret_file && load_ref_secret(&r) != 0) || open_all(&r) != 0)
		goto out;
	/* bound first, so that publishers hear "unavailable" while Redis is not there */
	if (ingest_open(&r, err, sizeof(err)) != 0) {
		log_msg(LOG_L_ERR, "%s", err);
		goto out;
	}
	if (wait_for_redis(&r) != 0)
		goto out;
	log_info("heraldd: ready: ingest %s, redis %s, %zu templates, %d channels, consumer %s",
		 r.cfg->ingest_endpoint, rdb_where(r.rdb), tstore_count(r.templates), r.chans.n,
		 r.consumer);
	sd_notify(0, "READY=1");
	loop(&r);
	rc = 0;
out:
	close_all(&r);
	log_info("heraldd: stopped");
	return rc;
}
