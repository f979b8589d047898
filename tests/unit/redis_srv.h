/*
 * redis_srv.h - a private redis-server for the unit tests that need a real
 * one (test_callback, test_redispipe): on a free loopback port the kernel
 * picks, in its own directory when it keeps an AOF, with a router-style
 * connection (router/redis.h) to it; stopped by pid. Include after
 * cmocka.h and redis.h.
 */
#ifndef HERALD_TEST_REDIS_SRV_H
#define HERALD_TEST_REDIS_SRV_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "text.h"

struct redis_srv {
	pid_t pid;
	int port;
	struct rdb *db;
	char dir[64]; /* "" without an AOF */
};

/* A free loopback port (the kernel picks). */
static inline int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* redis-server on a free port: without persistence when fsync is NULL,
 * else with the AOF under "appendfsync fsync" in a fresh directory; and a
 * connection to it, connected. */
static inline void redis_srv_up(struct redis_srv *r, const char *fsync)
{
	char port[16];
	int64_t t0 = mono_ms();

	r->port = free_port();
	r->dir[0] = '\0';
	if (fsync) {
		snprintf(r->dir, sizeof(r->dir), "/tmp/herald-unit-redis-XXXXXX");
		assert_non_null(mkdtemp(r->dir));
	}
	snprintf(port, sizeof(port), "%d", r->port);
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(126);
		if (fsync)
			execlp("redis-server", "redis-server", "--port", port, "--bind",
			       "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync",
			       fsync, "--dir", r->dir, "--loglevel", "warning", (char *)NULL);
		else
			execlp("redis-server", "redis-server", "--port", port, "--bind",
			       "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel",
			       "warning", (char *)NULL);
		_exit(127);
	}
	r->db = rdb_new("127.0.0.1", r->port, NULL, NULL, 0);
	assert_non_null(r->db);
	while (rdb_connect(r->db) != 0) {
		if (mono_ms() - t0 > 10000)
			fail_msg("redis-server did not start on port %d", r->port);
		usleep(20000);
	}
}

/* Close the connection, stop the server by pid, remove its directory. */
static inline void redis_srv_down(struct redis_srv *r)
{
	char cmd[128];

	rdb_free(&r->db);
	kill(r->pid, SIGTERM);
	waitpid(r->pid, NULL, 0);
	if (r->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		assert_int_equal(system(cmd), 0);
	}
}

#endif
