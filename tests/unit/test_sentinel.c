/* test_sentinel.c - util/sentinel.c: the [redis] sentinels list, the
 * lookup when no sentinel answers (named, every one tried), a connect to
 * nothing. The lookup against real sentinels and a failover:
 * tests/integration/t_sentinel.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sentinel.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse(void **state)
{
	static const struct {
		const char *list;
		int ok, n;
		const char *host0;
		int port0;
		const char *err; /* part of the reason */
	} t[] = {
	    {"127.0.0.1:26379", 1, 1, "127.0.0.1", 26379, NULL},
	    {"a:1,b:2,c:3", 1, 3, "a", 1, NULL},
	    {" a:1 , b:2 ", 1, 2, "a", 1, NULL},
	    {"[::1]:26379,127.0.0.1:26380", 1, 2, "::1", 26379, NULL},
	    {"sentinel-1.example.org:26379", 1, 1, "sentinel-1.example.org", 26379, NULL},
	    {"", 0, 0, NULL, 0, "expected host:port"},
	    {"a:1,", 0, 0, NULL, 0, "expected host:port"},
	    {",a:1", 0, 0, NULL, 0, "expected host:port"},
	    {"127.0.0.1", 0, 0, NULL, 0, "expected host:port"},
	    {":26379", 0, 0, NULL, 0, "expected host:port"},
	    {"a:0", 0, 0, NULL, 0, "port"},
	    {"a:65536", 0, 0, NULL, 0, "port"},
	    {"a:12x", 0, 0, NULL, 0, "port"},
	    {"a:", 0, 0, NULL, 0, "port"},
	    {"a:1,a:2,a:3,a:4,a:5,a:6,a:7,a:8,a:9,a:10,a:11,a:12,a:13,a:14,a:15,a:16,a:17", 0, 0,
	     NULL, 0, "more than 16"},
	};
	struct sentinels s;
	char err[300];

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		int rc = sentinel_parse(t[i].list, &s, err, sizeof(err));
		if (t[i].ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(s.n, t[i].n);
			assert_string_equal(s.at[0].host, t[i].host0);
			assert_int_equal(s.at[0].port, t[i].port0);
		} else {
			if (rc != -1 || !strstr(err, t[i].err))
				fail_msg("'%s': rc %d err '%s', wanted '%s'", t[i].list, rc, err,
					 t[i].err);
		}
	}
}

/* A loopback port where nothing listens (bound, never listened on, so
 * nobody else gets it while the test runs). */
static int dead_port(int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void test_no_sentinel_answers(void **state)
{
	struct sentinels s;
	char list[64], err[600], host[64];
	int fd1, fd2, port = 0;
	int p1 = dead_port(&fd1), p2 = dead_port(&fd2);

	(void)state;
	snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", p1, p2);
	assert_int_equal(sentinel_parse(list, &s, err, sizeof(err)), 0);
	assert_int_equal(
	    sentinel_master(&s, "herald", NULL, 300, host, sizeof(host), &port, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "no sentinel of 2 named master 'herald'"));
	assert_non_null(strstr(err, "refused"));
	/* the order is kept when none answered */
	assert_int_equal(s.at[0].port, p1);
	close(fd1);
	close(fd2);
}

static void test_connect_nothing(void **state)
{
	int fd, port = dead_port(&fd);
	struct redis_endpoint ep = {
	    .host = "127.0.0.1", .port = port, .connect_timeout_ms = 300, .io_timeout_ms = 300};
	char where[300], err[300];

	(void)state;
	assert_null(redis_endpoint_connect(&ep, where, sizeof(where), NULL, err, sizeof(err)));
	assert_non_null(strstr(where, "127.0.0.1:"));
	assert_non_null(strstr(err, "refused"));
	ep.socket = "/nonexistent/redis.sock";
	assert_null(redis_endpoint_connect(&ep, where, sizeof(where), NULL, err, sizeof(err)));
	assert_string_equal(where, "/nonexistent/redis.sock");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_no_sentinel_answers),
	    cmocka_unit_test(test_connect_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
