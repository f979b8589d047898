/*
 * sentinel.h - reach a Redis master, directly or through Redis Sentinel,
 * as the Sentinel client spec describes: ask the sentinels in turn (short
 * timeouts) for the master's address with SENTINEL get-master-addr-by-name,
 * move the first that answers to the front of the list, connect, AUTH, and
 * check with ROLE that the server is a master (during a failover a sentinel
 * may still name a server that has just become a replica).
 *
 * One connect for every program that talks to Redis (heraldd's pipeline,
 * its callback sender, heraldctl): each adds its own options after.
 * Knows nothing of Herald.
 */
#ifndef HERALD_SENTINEL_H
#define HERALD_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#define SENTINEL_MAX 16

struct sentinels {
	struct {
		char host[256];
		int port;
	} at[SENTINEL_MAX];
	int n;
};

/* "host:port,host:port,[::1]:port" (spaces around commas allowed) into s.
 * 0, or -1 with the reason in err. */
int sentinel_parse(const char *list, struct sentinels *s, char *err, size_t errlen);

/* The address of master `name`: each sentinel in turn, connect and reply
 * bounded by timeout_ms; the first that knows the master moves to the
 * front of s. password: the sentinels' own (requirepass), NULL for none.
 * 0 with host and port, or -1 with the reason in err. */
int sentinel_master(struct sentinels *s, const char *name, const char *password, int timeout_ms,
		    char *host, size_t hostlen, int *port, char *err, size_t errlen);

/* ROLE on c: 1 a master (*replicas: how many replicas it lists, when not
 * NULL), 0 another role (err names it), -1 no usable answer (err). A
 * server that refuses ROLE (an ACL) counts as a master with *replicas -1
 * (unknown): a replica shows itself at the first write (READONLY). */
int redis_role_master(redisContext *c, int *replicas, char *err, size_t errlen);

/* Where to find a Redis master and how to log in. */
struct redis_endpoint {
	const char *host; /* host and port, when no sentinels and no socket */
	int port;
	const char *socket;	     /* a Unix socket path (no sentinels) */
	struct sentinels *sentinels; /* n > 0: ask them for master_name */
	const char *master_name;
	const char *sentinel_password; /* NULL: the sentinels want none */
	const char *password;	       /* the master's AUTH; NULL: none */
	int db;			       /* SELECT this one when not 0 */
	int connect_timeout_ms;	       /* each sentinel, and the master */
	int io_timeout_ms;	       /* replies of the returned connection */
};

/* Connect to the master of ep, AUTH, check ROLE, SELECT. The connection
 * (with io_timeout_ms set), or NULL with the reason in err. where gets
 * "host:port" or the socket path (the master found, with sentinels) and
 * *replicas the replicas ROLE listed (may be NULL). */
redisContext *redis_endpoint_connect(struct redis_endpoint *ep, char *where, size_t wherelen,
				     int *replicas, char *err, size_t errlen);

#endif
