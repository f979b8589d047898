/* zap.c - the ZAP handler thread and heraldd's CURVE key (see zap.h). */
#include "zap.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "text.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "herald"
#define MONITOR_ENDPOINT "inproc://herald-ingest-monitor"
/* refused connections logged: at most this many a window, then a count */
#define REFUSED_LOG_MAX 5
#define REFUSED_WINDOW_MS 10000

struct zap {
	int curve;
	void *zctx;
	void *sock;		 /* the ZAP REP socket; the thread's once started */
	_Atomic(void *) monitor; /* ingest's handshake failures (zap_watch) */
	pthread_t thread;
	int running;
	atomic_int stop;
	pthread_mutex_t mu; /* guards svcs against the ZAP thread */
	struct services *svcs;
	char dir[4096];
	unsigned char secret[SERVICE_KEY_LEN];
	/* the ZAP thread's own: refused-connection log rate */
	int64_t window_start;
	int window_logged;
	long window_suppressed;
};

static void say_loaded(const struct zap *z, int missing)
{
	if (z->svcs->n == 0)
		log_warnx("services: no service in %s%s: every publisher key will be refused "
			  "(heraldctl keygen NAME writes one)",
			  z->dir, missing ? " (no such directory)" : "");
	else
		log_info("services: %zu from %s", z->svcs->n, z->dir);
}

/* ---- the handler thread ------------------------------------------------- */

static int recv_frames(void *s, zmq_msg_t *f, int max)
{
	int n = 0, more = 1;
	size_t ms = sizeof(more);

	while (more) {
		zmq_msg_t tmp;
		zmq_msg_init(&tmp);
		if (zmq_msg_recv(&tmp, s, 0) < 0) {
			zmq_msg_close(&tmp);
			break;
		}
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ms);
		if (n < max) {
			zmq_msg_init(&f[n]);
			zmq_msg_move(&f[n++], &tmp);
		}
		zmq_msg_close(&tmp);
	}
	return n;
}

static void send_str(void *s, const void *p, size_t len, int more)
{
	zmq_send(s, p, len, more ? ZMQ_SNDMORE : 0);
}

static int frame_is(zmq_msg_t *f, const char *s)
{
	return zmq_msg_size(f) == strlen(s) && !memcmp(zmq_msg_data(f), s, strlen(s));
}

/* key NULL: refused before ZAP (no key, or not ZMTP) on endpoint where;
 * else an unknown key from the peer address where. */
static void log_refused(struct zap *z, const unsigned char *key, const char *where)
{
	int64_t now = mono_ms();
	char z85[SERVICE_Z85_LEN + 1] = "?";

	if (now - z->window_start >= REFUSED_WINDOW_MS) {
		if (z->window_suppressed)
			log_msg(LOG_L_WARNING,
				"ingest: %ld more connections with unknown keys refused in the "
				"last %d s (not logged one by one)",
				z->window_suppressed, REFUSED_WINDOW_MS / 1000);
		z->window_start = now;
		z->window_logged = 0;
		z->window_suppressed = 0;
	}
	if (z->window_logged >= REFUSED_LOG_MAX) {
		z->window_suppressed++;
		return;
	}
	z->window_logged++;
	if (!key) {
		log_msg(LOG_L_WARNING,
			"ingest: connection refused on %s: no CURVE key (or not ZeroMQ) at the "
			"handshake",
			where);
		return;
	}
	zmq_z85_encode(z85, key, SERVICE_KEY_LEN);
	log_msg(LOG_L_WARNING,
		"ingest: connection refused: unknown key %s from %s (no services.d file has "
		"this public_key)",
		z85, where);
}

/* One request: frames version, request id, domain, address, routing id,
 * mechanism, credentials (CURVE: the client's 32-byte public key). */
static void handle(struct zap *z)
{
	zmq_msg_t f[8];
	int n = recv_frames(z->sock, f, 8);
	char user[SERVICE_NAME_MAX + 1] = "";
	const char *status = "400", *text = "unknown key";
	const unsigned char *key = NULL;

	if (n < 6 || !frame_is(&f[0], "1.0")) {
		/* not a ZAP request we can answer: a REP socket must still reply */
		send_str(z->sock, "1.0", 3, 1);
		send_str(z->sock, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ? zmq_msg_size(&f[1]) : 0,
			 1);
		send_str(z->sock, "500", 3, 1);
		send_str(z->sock, "malformed ZAP request", 21, 1);
		send_str(z->sock, "", 0, 1);
		send_str(z->sock, "", 0, 0);
		goto out;
	}
	if (!frame_is(&f[5], "CURVE")) {
		text = "CURVE only";
	} else if (n >= 7 && zmq_msg_size(&f[6]) == SERVICE_KEY_LEN) {
		key = zmq_msg_data(&f[6]);
		pthread_mutex_lock(&z->mu);
		const struct service *sv = services_by_key(z->svcs, key);
		if (sv)
			snprintf(user, sizeof(user), "%s", sv->name);
		pthread_mutex_unlock(&z->mu);
		if (user[0])
			status = "200", text = "OK";
	}
	if (strcmp(status, "200")) {
		char addr[64];
		snprintf(addr, sizeof(addr), "%.*s",
			 (int)(zmq_msg_size(&f[3]) < 63 ? zmq_msg_size(&f[3]) : 63),
			 (const char *)zmq_msg_data(&f[3]));
		static const unsigned char nokey[SERVICE_KEY_LEN];
		log_refused(z, key ? key : nokey, addr);
	} else
		log_debug("ingest: service %s connected from %.*s", user,
			  (int)(zmq_msg_size(&f[3]) < 64 ? zmq_msg_size(&f[3]) : 64),
			  (const char *)zmq_msg_data(&f[3]));
	send_str(z->sock, "1.0", 3, 1);
	send_str(z->sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), 1);
	send_str(z->sock, status, 3, 1);
	send_str(z->sock, text, strlen(text), 1);
	send_str(z->sock, user, strlen(user), 1);
	send_str(z->sock, "", 0, 0);
out:
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}

/* A handshake that failed before ZAP was asked (no CURVE key, or not
 * ZMTP at all): libzmq's monitor names the listening endpoint only. */
static void handle_monitor(struct zap *z, void *mon)
{
	zmq_msg_t f[2];
	int n = recv_frames(mon, f, 2);
	uint16_t event = 0;
	char endpoint[128] = "?";

	if (n == 2 && zmq_msg_size(&f[0]) >= 6) {
		memcpy(&event, zmq_msg_data(&f[0]), sizeof(event));
		snprintf(endpoint, sizeof(endpoint), "%.*s",
			 (int)(zmq_msg_size(&f[1]) < 120 ? zmq_msg_size(&f[1]) : 120),
			 (const char *)zmq_msg_data(&f[1]));
	}
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
	    event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		log_refused(z, NULL, endpoint);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}

static void *zap_main(void *arg)
{
	struct zap *z = arg;

	while (!atomic_load(&z->stop)) {
		void *mon = atomic_load(&z->monitor);
		zmq_pollitem_t it[2] = {{z->sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
		int rc = zmq_poll(it, mon ? 2 : 1, 200);
		if (rc < 0 && zmq_errno() == ETERM)
			break;
		if (rc > 0 && (it[0].revents & ZMQ_POLLIN))
			handle(z);
		if (rc > 0 && mon && (it[1].revents & ZMQ_POLLIN))
			handle_monitor(z, mon);
	}
	return NULL;
}

/* ---- the router thread's side -------------------------------------------- */

struct zap *zap_open(const struct config *cfg, void *zctx, char *err, size_t errlen)
{
	struct zap *z = calloc(1, sizeof(*z));
	int missing = 0, linger = 0;

	if (!z) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&z->mu, NULL);
	z->curve = cfg->ingest_curve;
	z->zctx = zctx;
	snprintf(z->dir, sizeof(z->dir), "%s", cfg->services_dir);
	if (!z->curve) {
		log_warnx("INGEST IS NOT AUTHENTICATED ([ingest] auth = none): any process that "
			  "can reach %s may publish as any service, override quiet hours and "
			  "claim other services' event ids. For development only",
			  cfg->ingest_endpoint);
		return z;
	}
	if (!cfg->curve_secret_key_file) {
		snprintf(err, errlen,
			 "%s: [ingest] auth = curve needs curve_secret_key_file (heraldctl keygen "
			 "--server writes one)",
			 cfg->path);
		goto fail;
	}
	if (service_read_key(cfg->curve_secret_key_file, z->secret, err, errlen) != 0)
		goto fail;
	z->svcs = services_load(z->dir, &missing, err, errlen);
	if (!z->svcs)
		goto fail;
	say_loaded(z, missing);
	z->sock = zmq_socket(zctx, ZMQ_REP);
	if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
		snprintf(err, errlen, "ZAP handler %s: %s", ZAP_ENDPOINT,
			 zmq_strerror(zmq_errno()));
		goto fail;
	}
	/* signals are the router thread's */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	z->running = pthread_create(&z->thread, NULL, zap_main, z) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!z->running) {
		snprintf(err, errlen, "ZAP handler: cannot start its thread");
		goto fail;
	}
	return z;
fail:
	zap_close(&z);
	return NULL;
}

int zap_check(const struct config *cfg, size_t *n, struct services **keep, char *err, size_t errlen)
{
	unsigned char key[SERVICE_KEY_LEN];
	struct services *s;
	int missing = 0;

	*n = 0;
	if (keep)
		*keep = NULL;
	if (!cfg->ingest_curve)
		return 0;
	if (!cfg->curve_secret_key_file) {
		snprintf(err, errlen, "%s: [ingest] auth = curve needs curve_secret_key_file",
			 cfg->path);
		return -1;
	}
	if (service_read_key(cfg->curve_secret_key_file, key, err, errlen) != 0)
		return -1;
	memset(key, 0, sizeof(key));
	s = services_load(cfg->services_dir, &missing, err, errlen);
	if (!s)
		return -1;
	*n = s->n;
	if (keep)
		*keep = s;
	else
		services_free(&s);
	return 0;
}

void zap_close(struct zap **zp)
{
	struct zap *z = *zp;

	if (!z)
		return;
	if (z->running) {
		atomic_store(&z->stop, 1);
		pthread_join(z->thread, NULL);
	}
	if (z->sock)
		zmq_close(z->sock);
	if (atomic_load(&z->monitor))
		zmq_close(atomic_load(&z->monitor));
	services_free(&z->svcs);
	memset(z->secret, 0, sizeof(z->secret));
	pthread_mutex_destroy(&z->mu);
	free(z);
	*zp = NULL;
}

int zap_curve(const struct zap *z)
{
	return z && z->curve;
}

int zap_secure(struct zap *z, void *sock)
{
	int one = 1;

	if (!zap_curve(z))
		return 0;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, z->secret, SERVICE_KEY_LEN) != 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0)
		return -1;
	return 0;
}

void zap_watch(struct zap *z, void *sock)
{
	void *mon;
	int linger = 0;

	if (!zap_curve(z) || atomic_load(&z->monitor))
		return;
	if (zmq_socket_monitor(sock, MONITOR_ENDPOINT,
			       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
				   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
		log_warnx("ingest: handshake failures will not be logged: %s",
			  zmq_strerror(zmq_errno()));
		return;
	}
	mon = zmq_socket(z->zctx, ZMQ_PAIR);
	if (!mon || zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_connect(mon, MONITOR_ENDPOINT) != 0) {
		log_warnx("ingest: handshake failures will not be logged: %s",
			  zmq_strerror(zmq_errno()));
		if (mon)
			zmq_close(mon);
		return;
	}
	atomic_store(&z->monitor, mon); /* the ZAP thread's from here */
}

void zap_reload(struct zap *z)
{
	char err[512];
	int missing = 0;
	struct services *s, *old;

	if (!zap_curve(z))
		return;
	s = services_load(z->dir, &missing, err, sizeof(err));
	if (!s) {
		log_warnx("reload: services not reloaded, keeping the old ones: %s", err);
		return;
	}
	pthread_mutex_lock(&z->mu);
	old = z->svcs;
	z->svcs = s;
	pthread_mutex_unlock(&z->mu);
	services_free(&old);
	say_loaded(z, missing);
}

const struct service *zap_service(const struct zap *z, const char *name)
{
	return zap_curve(z) ? services_by_name(z->svcs, name) : NULL;
}

const struct services *zap_services(const struct zap *z)
{
	return zap_curve(z) ? z->svcs : NULL;
}
