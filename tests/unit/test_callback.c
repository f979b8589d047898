/* test_callback.c - status callbacks: the HMAC signature, configuration
 * errors, pushes that must be no-ops, records kept in Redis (nothing dropped,
 * not even at a stop), a stop that does not hang on a service that is down
 * or on Redis being down, and one signed POST to a loopback peer. The Redis
 * tests start their own redis-server on a free loopback port and stop it by
 * pid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "callback.h"
#include "callback_internal.h"
#include "config.h"
#include "log.h"
#include "redis.h"
#include "schema.h"
#include "text.h"
#include "redis_srv.h"

/* Write text to a temporary INI file and load it as heraldd would. */
static struct config *load(const char *text, char *path, size_t pathlen)
{
	char err[256];
	struct config *c;
	FILE *fp;
	int fd;

	snprintf(path, pathlen, "%s/herald-cb-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	c = config_load(path, err, (int)sizeof(err));
	if (!c)
		fail_msg("config_load: %s", err);
	return c;
}

/* A config text with [redis] pointing at port, then rest. */
static void conf_with_redis(char *out, size_t outlen, int port, const char *rest)
{
	snprintf(out, outlen, "[redis]\nhost = 127.0.0.1\nport = %d\n%s", port, rest);
}

static void test_sign(void **state)
{
	/* RFC 4231 test cases 1 and 2, and an empty body. */
	static const struct {
		const char *name, *key, *data, *hex;
	} t[] = {
	    {"rfc4231-1",
	     "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b",
	     "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	    {"rfc4231-2", "Jefe", "what do ya want for nothing?",
	     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	    {"empty body", "key", "",
	     "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"},
	};
	char out[65];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(callback_sign(t[i].key, t[i].data, strlen(t[i].data), out), 0);
		if (strcmp(out, t[i].hex))
			fail_msg("%s: got %s, expected %s", t[i].name, out, t[i].hex);
	}
}

static void test_config_errors(void **state)
{
	static const struct {
		const char *name, *ini, *want;
	} t[] = {
	    {"missing secret", "[service.dvla]\ncallback_url = https://dvla.example/cb\n",
	     "[service.dvla] callback_url is set but callback_secret is missing"},
	    {"empty secret",
	     "[service.dvla]\ncallback_url = https://dvla.example/cb\ncallback_secret =\n",
	     "[service.dvla] callback_url is set but callback_secret is missing"},
	    {"ftp url",
	     "[service.hmrc]\ncallback_url = ftp://hmrc.example/x\ncallback_secret = "
	     "s3cr3t-value\n",
	     "[service.hmrc] callback_url = 'ftp://hmrc.example/x': expected an http:// or "
	     "https://"},
	    {"no scheme",
	     "[service.hmrc]\ncallback_url = hmrc.example/x\ncallback_secret = s3cr3t-value\n",
	     "expected an http:// or https:// URL"},
	    {"no host", "[service.hmrc]\ncallback_url = http://\ncallback_secret = s3cr3t-value\n",
	     "[service.hmrc] callback_url = 'http://': not a valid URL"},
	    {"space in url",
	     "[service.hmrc]\ncallback_url = http://a b/\ncallback_secret = s3cr3t-value\n",
	     "not a valid URL"},
	    {"bad timeout",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "callback_timeout = soon\n",
	     "[service.dwp] callback_timeout = 'soon': expected a duration 1s..1h"},
	    {"timeout over an hour",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "callback_timeout = 2h\n",
	     "[service.dwp] callback_timeout = '2h': expected a duration 1s..1h"},
	    {"retry_max junk",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "callback_retry_max = 10x\n",
	     "[service.dwp] callback_retry_max = '10x': expected a duration 1s..1d"},
	    {"bad ordered",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "ordered = perhaps\n",
	     "[service.dwp] ordered = 'perhaps': expected yes or no"},
	    {"concurrency while ordered",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "concurrency = 4\n",
	     "[service.dwp] concurrency = 4 needs ordered = no"},
	    {"concurrency zero",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "ordered = no\nconcurrency = 0\n",
	     "[service.dwp] concurrency = '0': expected an integer"},
	    {"max_age junk",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "callback_max_age = forever\n",
	     "[service.dwp] callback_max_age = 'forever': expected a duration"},
	    {"zero queue",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "callback_queue = 0\n",
	     "[service.dwp] callback_queue = '0': expected an integer"},
	    {"unknown key",
	     "[service.dwp]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "callback_retries = 3\n",
	     "[service.dwp] unknown key 'callback_retries'"},
	    {"second service bad",
	     "[service.ok]\ncallback_url = http://127.0.0.1:9/cb\ncallback_secret = s3cr3t-value\n"
	     "[service.bad]\ncallback_url = http://127.0.0.1:9/cb\n",
	     "[service.bad] callback_url is set but callback_secret is missing"},
	};
	char path[256], err[512];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct config *c = load(t[i].ini, path, sizeof(path));
		struct callbacks *cb;

		err[0] = '\0';
		cb = callbacks_start(c, err, sizeof(err));
		if (cb) {
			callbacks_stop(&cb);
			fail_msg("%s: accepted", t[i].name);
		}
		if (!strstr(err, t[i].want))
			fail_msg("%s: error '%s' lacks '%s'", t[i].name, err, t[i].want);
		if (!strstr(err, path))
			fail_msg("%s: error '%s' does not name the file", t[i].name, err);
		if (strstr(err, "s3cr3t"))
			fail_msg("%s: error shows the secret: %s", t[i].name, err);
		config_free(&c);
		unlink(path);
	}
}

static void test_no_callbacks(void **state)
{
	char path[256], err[256];
	struct config *c =
	    load("[redis]\nport = 6379\n[service.dvla]\nname = DVLA\n", path, sizeof(path));
	struct callbacks *cb = callbacks_start(c, err, sizeof(err));
	struct rdb *db = rdb_new("127.0.0.1", 1, NULL, NULL, 0); /* never connected */

	assert_non_null(cb);
	callbacks_push(cb, db, "dvla", "{\"event_id\":\"e1\"}");
	callbacks_push(cb, db, "nobody", "{\"event_id\":\"e1\"}");
	callbacks_push(NULL, db, "dvla", "{}");
	callbacks_push(cb, NULL, "dvla", "{}");
	assert_int_equal(callbacks_pending(cb, db, "dvla"), 0);
	callbacks_stop(&cb);
	assert_null(cb);
	callbacks_stop(&cb); /* twice is fine */
	callbacks_stop(NULL);
	rdb_free(&db);
	config_free(&c);
	unlink(path);
}

/* A service that is down: pushes for other names are no-ops, every record
 * waits in Redis (none dropped, however many), stop gives up on the one in
 * flight after about a second, and the records are still there after it. */
static void test_down_service(void **state)
{
	char ini[512], path[256], err[256], rec[64];
	struct redis_srv rs;
	struct config *c;
	struct callbacks *cb;
	redisReply *rep;
	int64_t t0;

	redis_srv_up(&rs, NULL);
	conf_with_redis(ini, sizeof(ini), rs.port,
			"[service.dvla]\n"
			"callback_url = http://127.0.0.1:1/cb\n"
			"callback_secret = k\n"
			"[service.quiet]\nname = no callbacks\n");
	c = load(ini, path, sizeof(path));
	cb = callbacks_start(c, err, sizeof(err));
	if (!cb)
		fail_msg("callbacks_start: %s", err);
	callbacks_push(cb, rs.db, "quiet", "{}");
	callbacks_push(cb, rs.db, "DVLA", "{}"); /* names are exact */
	for (int i = 0; i < 10; i++) {
		snprintf(rec, sizeof(rec), "{\"event_id\":\"e%d\"}", i);
		callbacks_push(cb, rs.db, "dvla", rec);
	}
	assert_int_equal(rdb_flush(rs.db), 10); /* one XADD per record of dvla, none else */
	assert_int_equal(callbacks_pending(cb, rs.db, "quiet"), 0);
	assert_int_equal(callbacks_pending(cb, rs.db, "DVLA"), 0);
	assert_int_equal(callbacks_pending(cb, rs.db, "dvla"), 10);
	usleep(300000); /* the sender takes the first and fails */
	t0 = mono_ms();
	callbacks_stop(&cb);
	assert_null(cb);
	if (mono_ms() - t0 > 2500)
		fail_msg("stop took %lld ms", (long long)(mono_ms() - t0));
	rep = rdb_call(rs.db, "XLEN " KEY_CB "dvla");
	assert_non_null(rep);
	assert_int_equal(rep->integer, 10); /* nothing dropped at the stop */
	freeReplyObject(rep);
	redis_srv_down(&rs);
	config_free(&c);
	unlink(path);
}

/* Redis down: start works (the sender retries), stop does not hang. */
static void test_redis_down(void **state)
{
	char ini[512], path[256], err[256];
	struct config *c;
	struct callbacks *cb;
	int64_t t0;

	conf_with_redis(ini, sizeof(ini), free_port(),
			"[service.dvla]\ncallback_url = http://127.0.0.1:1/cb\n"
			"callback_secret = k\n");
	c = load(ini, path, sizeof(path));
	cb = callbacks_start(c, err, sizeof(err));
	if (!cb)
		fail_msg("callbacks_start: %s", err);
	usleep(300000);
	t0 = mono_ms();
	callbacks_stop(&cb);
	if (mono_ms() - t0 > 1500)
		fail_msg("stop took %lld ms", (long long)(mono_ms() - t0));
	config_free(&c);
	unlink(path);
}

/* ---- one POST to a loopback peer ------------------------------------------- */

struct peer {
	int lfd;
	char req[8192];
	size_t len;
};

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	static const char ok[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	int fd = accept(p->lfd, NULL, NULL);
	char *hdr_end, *cl;
	ssize_t r;

	if (fd < 0)
		return NULL;
	for (;;) {
		r = read(fd, p->req + p->len, sizeof(p->req) - 1 - p->len);
		if (r <= 0)
			break;
		p->len += (size_t)r;
		p->req[p->len] = '\0';
		hdr_end = strstr(p->req, "\r\n\r\n");
		cl = strcasestr(p->req, "\r\nContent-Length:");
		if (hdr_end && cl &&
		    p->len >= (size_t)(hdr_end + 4 - p->req) + strtoul(cl + 17, NULL, 10))
			break;
	}
	if (write(fd, ok, sizeof(ok) - 1) < 0)
		perror("write");
	close(fd);
	return NULL;
}

static void test_signed_post(void **state)
{
	static const char body[] =
	    "{\"event_id\":\"dvla-2026-000123\",\"status\":\"delivered\",\"channel\":\"sms\"}";
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t salen = sizeof(sa);
	struct peer p = {0};
	pthread_t th;
	char ini[512], rest[256], path[256], err[256], sig[65], want[128];
	struct redis_srv rs;
	struct config *c;
	struct callbacks *cb;
	int64_t t0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(p.lfd >= 0);
	assert_int_equal(bind(p.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(p.lfd, 4), 0);
	assert_int_equal(getsockname(p.lfd, (struct sockaddr *)&sa, &salen), 0);
	assert_int_equal(pthread_create(&th, NULL, peer_run, &p), 0);

	redis_srv_up(&rs, NULL);
	snprintf(rest, sizeof(rest),
		 "[service.dvla]\ncallback_url = http://127.0.0.1:%d/herald/status?token=x\n"
		 "callback_secret = Jefe\n",
		 ntohs(sa.sin_port));
	conf_with_redis(ini, sizeof(ini), rs.port, rest);
	c = load(ini, path, sizeof(path));
	cb = callbacks_start(c, err, sizeof(err));
	if (!cb)
		fail_msg("callbacks_start: %s", err);
	callbacks_push(cb, rs.db, "dvla", body);
	rdb_flush(rs.db);
	t0 = mono_ms();
	while (callbacks_pending(cb, rs.db, "dvla") && mono_ms() - t0 < 5000)
		usleep(10000);
	assert_int_equal(callbacks_pending(cb, rs.db, "dvla"), 0);
	callbacks_stop(&cb);
	redis_srv_down(&rs);
	pthread_join(th, NULL);
	close(p.lfd);

	assert_non_null(strstr(p.req, "POST /herald/status?token=x HTTP/1.1\r\n"));
	assert_non_null(strcasestr(p.req, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strcasestr(p.req, "\r\nX-Herald-Event: dvla-2026-000123\r\n"));
	assert_int_equal(callback_sign("Jefe", body, strlen(body), sig), 0);
	snprintf(want, sizeof(want), "\r\nX-Herald-Signature: sha256=%s\r\n", sig);
	assert_non_null(strcasestr(p.req, want));
	assert_non_null(strstr(p.req, "\r\n\r\n"));
	assert_string_equal(strstr(p.req, "\r\n\r\n") + 4, body);
	config_free(&c);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign),	 cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_no_callbacks), cmocka_unit_test(test_down_service),
	    cmocka_unit_test(test_redis_down),	 cmocka_unit_test(test_signed_post),
	};

	log_init("test_callback", LOG_L_WARNING);
	return cmocka_run_group_tests_name("callback", tests, NULL, NULL);
}
