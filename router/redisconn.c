/*
 * redisconn.c - heraldd's Redis connection: where it goes (a host, a Unix
 * socket, or the master that Redis Sentinel names, looked up again at every
 * connect so a failover is followed), connecting, and what an operator sees
 * when Redis goes away: one warning at the loss with its cause, a line at
 * most every 10 s while reconnecting fails, a notice with the outage's
 * length at recovery; the gauge herald_redis_up and the counter
 * herald_redis_disconnects_total. The pipeline is redis.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"
#include "redis_int.h"
#include "scripts.h"
#include "text.h"

#define IO_TIMEOUT_MS 5000
#define STILL_DOWN_EVERY_MS 10000

struct rdb *rdb_new(const char *host, int port, const char *sock, const char *password,
		    int select_db)
{
	struct rdb *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	db->host = strdup(host);
	db->sock = sock && *sock ? strdup(sock) : NULL;
	db->password = password ? strdup(password) : NULL;
	db->port = port;
	db->select_db = select_db;
	db->connect_timeout_ms = IO_TIMEOUT_MS;
	if (!db->host || (sock && *sock && !db->sock)) {
		rdb_free(&db);
		return NULL;
	}
	if (db->sock)
		snprintf(db->where, sizeof(db->where), "%s", db->sock);
	else
		snprintf(db->where, sizeof(db->where), "%s:%d", db->host, db->port);
	metrics_gauge("redis_up", 0);
	return db;
}

int rdb_set_sentinels(struct rdb *db, const char *list, const char *master_name,
		      const char *password, char *err, size_t errlen)
{
	if (sentinel_parse(list, &db->sentinels, err, errlen) != 0)
		return -1;
	free(db->master_name);
	free(db->sentinel_password);
	db->master_name = strdup(master_name);
	db->sentinel_password = password && *password ? strdup(password) : NULL;
	if (!db->master_name || (password && *password && !db->sentinel_password)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(db->where, sizeof(db->where), "master '%s' (from %d sentinels)", master_name,
		 db->sentinels.n);
	return 0;
}

void rdb_set_aux(struct rdb *db, const char *name)
{
	snprintf(db->aux, sizeof(db->aux), "%s", name);
}

void rdb_disconnect(struct rdb *db, const char *why)
{
	rdb_drop(db, "dropped", why);
}

void rdb_set_connect_timeout(struct rdb *db, int ms)
{
	db->connect_timeout_ms = ms;
}

const char *rdb_where(const struct rdb *db)
{
	return db->where;
}

int rdb_ok(const struct rdb *db)
{
	return db->ctx != NULL;
}

int rdb_ever_up(const struct rdb *db)
{
	return db->ever_up;
}

int64_t rdb_down_since(const struct rdb *db)
{
	return db->ctx ? 0 : db->down_since_ms;
}

int rdb_replicas(const struct rdb *db)
{
	return db->replicas;
}

const char *rdb_err(const struct rdb *db)
{
	return db->err;
}

int rdb_reply_demoted(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_ERROR && rep->str &&
	       (!strncmp(rep->str, "READONLY", 8) || !strncmp(rep->str, "LOADING", 7) ||
		!strncmp(rep->str, "MASTERDOWN", 10));
}

void rdb_drop(struct rdb *db, const char *what, const char *cause)
{
	if (!db->ctx)
		return;
	if (!cause)
		cause = db->ctx->errstr[0] ? db->ctx->errstr : "closed";
	snprintf(db->err, sizeof(db->err), "redis %s: %s: %s", db->where, what, cause);
	if (db->aux[0]) {
		log_info("redis %s: %s connection closed (%s: %s)", db->where, db->aux, what,
			 cause);
		redisFree(db->ctx);
		db->ctx = NULL;
		return;
	}
	log_warnx("redis %s: connection lost (%s: %s); new events are answered 'unavailable' "
		  "until it is back",
		  db->where, what, cause); /* before cause (maybe errstr) goes */
	redisFree(db->ctx);
	db->ctx = NULL;
	db->lost++;
	db->fails = 0;
	db->down_since_ms = mono_ms();
	metrics_gauge("redis_up", 0);
	metrics_redis_lost();
}

/* A connect failed (db->err says why): the first of an outage is logged
 * at once, then one line every STILL_DOWN_EVERY_MS. */
static void connect_failed(struct rdb *db)
{
	int64_t now = mono_ms();

	if (!db->down_since_ms)
		db->down_since_ms = now;
	if (db->fails++ == 0) {
		log_warnx("%s; retrying", db->err);
		db->fail_logged_ms = now;
	} else if (now - db->fail_logged_ms >= STILL_DOWN_EVERY_MS) {
		log_warnx("redis: still unreachable after %.0fs (%lu attempts): %s",
			  (double)(now - db->down_since_ms) / 1000.0, db->fails, db->err);
		db->fail_logged_ms = now;
	}
}

static void connected(struct rdb *db)
{
	double outage = db->down_since_ms ? (double)(mono_ms() - db->down_since_ms) / 1000.0 : 0;
	char how[160] = "";

	if (db->sentinels.n)
		snprintf(how, sizeof(how), " (master '%s' from sentinel %s:%d)", db->master_name,
			 db->sentinels.at[0].host, db->sentinels.at[0].port);
	if (db->ever_up)
		log_msg(LOG_L_NOTICE, "redis %s: reconnected after %.1fs%s", db->where, outage,
			how);
	else if (db->fails)
		log_msg(LOG_L_NOTICE, "redis %s: connected after %.1fs unreachable%s", db->where,
			outage, how);
	else
		log_info("redis %s: connected%s", db->where, how);
	db->ever_up = 1;
	db->down_since_ms = 0;
	db->fails = 0;
	metrics_gauge("redis_up", 1);
	if (db->replicas >= 0) /* -1: ROLE refused, unknown */
		metrics_gauge("redis_replicas", db->replicas);
}

/* What heraldd wants of its connection beyond the endpoint's: keepalive
 * or a bigger send buffer, and the function library. 0 or -1 (db->err). */
static int prepare_ctx(struct rdb *db)
{
	redisReply *rep;

	if (!db->sock || db->sentinels.n) { /* TCP keepalive (fails on a Unix socket) */
		redisEnableKeepAlive(db->ctx);
	} else {
		/* A Unix socket holds only the sender's buffer (208 KiB by
		 * default), less than one turn's pipeline: ask for 4 MiB, as
		 * TCP's autotuning gives on loopback (the kernel caps it at
		 * net.core.wmem_max). Measured: tests/bench/README.md. */
		int sz = 4 << 20;
		if (setsockopt(db->ctx->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)) != 0)
			log_warn("redis %s: SO_SNDBUF", db->where);
	}
	if (db->aux[0]) {
		rep = redisCommand(db->ctx, "CLIENT SETNAME %s", db->aux);
		if (!rep || reply_is_error(rep)) {
			snprintf(db->err, sizeof(db->err), "redis %s: CLIENT SETNAME failed: %s",
				 db->where, rep ? rep->str : db->ctx->errstr);
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
		return 0;
	}
	return scripts_load(db->ctx, db->where, db->err, sizeof(db->err));
}

int rdb_connect(struct rdb *db)
{
	struct redis_endpoint ep = {.host = db->host,
				    .port = db->port,
				    .socket = db->sock,
				    .sentinels = &db->sentinels,
				    .master_name = db->master_name,
				    .sentinel_password = db->sentinel_password,
				    .password = db->password,
				    .db = db->select_db,
				    .connect_timeout_ms = db->connect_timeout_ms,
				    .io_timeout_ms = IO_TIMEOUT_MS};
	char where[300] = "", why[200];

	if (db->ctx)
		return 0;
	db->replicas = 0;
	db->group = 0; /* until this server's appendfsync is known */
	db->ctx =
	    redis_endpoint_connect(&ep, where, sizeof(where), &db->replicas, why, sizeof(why));
	if (db->ctx && db->sentinels.n)
		snprintf(db->where, sizeof(db->where), "%s", where);
	if (!db->ctx && !where[0] && db->sentinels.n)
		snprintf(where, sizeof(where), "master '%s'", db->master_name);
	if (!db->ctx)
		snprintf(db->err, sizeof(db->err), "redis %.300s: %.200s",
			 where[0] ? where : db->where, why);
	if (db->ctx && prepare_ctx(db) != 0) {
		redisFree(db->ctx);
		db->ctx = NULL;
	}
	if (!db->ctx) {
		if (db->aux[0]) {
			log_info("%s (%s connection)", db->err, db->aux);
			return -1;
		}
		connect_failed(db);
		return -1;
	}
	if (db->aux[0])
		log_debug("redis %s: %s connection up", db->where, db->aux);
	else
		connected(db);
	return 0;
}
