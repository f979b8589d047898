/*
 * esmtploop.c - the bare-libesmtp figure for the email benchmark: N copies
 * of one ready-made message over S parallel libesmtp sessions, one thread
 * per session (libesmtp blocks), at most M messages per session before it
 * reconnects, with nothing else to do (no queue, no MIME building, no
 * results handed to anyone). What the email plugin does on top of this is
 * Herald's own cost; what this loop loses to smtp-source is libesmtp's.
 *
 *   esmtploop -n N -s S -m M [-T TIMEOUT_S] [-o] -f FROM -r TO MSGFILE HOST:PORT
 *
 * MSGFILE is the whole message (headers and body, CRLF line ends). Like the
 * plugin, every session gets TCP_NODELAY on its socket through libesmtp's
 * SMTP_EV_CONNECT event, and its threads run as SCHED_BATCH (as the
 * plugin's workers do) unless -o keeps them SCHED_OTHER, so that the two
 * differ by Herald's code only.
 *
 * Prints "esmtploop: N messages in T s = R/s" (N the messages the relay
 * accepted with a 2xx). Every failure is counted and the first one
 * explained on stderr; exit 1 if any message failed, 2 on bad usage.
 */
#include <stddef.h> /* libesmtp.h 1.1.0 uses size_t without including it */

#include <libesmtp.h>

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EL_MAX_ADDRS 8

struct el {
	const char *relay, *from, *to, *msg;
	long per_session, timeout_ms;
	int batch;
	struct sockaddr_storage addrs[EL_MAX_ADDRS]; /* the relay's, read-only */
	int naddrs;
	atomic_long left; /* messages not yet claimed by a session */
	atomic_long sent, failed;
	atomic_long nodelay_missed; /* connects where no socket was found */
	pthread_mutex_t why_mu;
	char why[300]; /* the first failure */
};

static double el_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Count failed messages; keep the first reason, on one line. */
static void el_fail(struct el *e, long count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void el_fail(struct el *e, long count, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&e->failed, count);
	pthread_mutex_lock(&e->why_mu);
	if (!e->why[0]) {
		va_start(ap, fmt);
		vsnprintf(e->why, sizeof(e->why), fmt, ap);
		va_end(ap);
		for (char *p = e->why; *p; p++)
			if (*p == '\r' || *p == '\n')
				*p = ' ';
		for (size_t n = strlen(e->why); n > 0 && e->why[n - 1] == ' '; n--)
			e->why[n - 1] = '\0';
	}
	pthread_mutex_unlock(&e->why_mu);
}

/* ---- TCP_NODELAY ---------------------------------------------------------
 * libesmtp 1.1.0 does not hand out its socket, but tells us through
 * SMTP_EV_CONNECT, on the session's own thread, that it has just connected
 * and written nothing yet. Then the socket is among this process's
 * descriptors, connected to the relay: set TCP_NODELAY on every such one
 * (the other sessions' sockets already have it; setting it again is
 * harmless). */

static int el_peer_is_relay(const struct el *e, int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0)
		return 0;
	for (int i = 0; i < e->naddrs; i++) {
		const struct sockaddr_storage *a = &e->addrs[i];
		if (a->ss_family != peer.ss_family)
			continue;
		if (a->ss_family == AF_INET) {
			const struct sockaddr_in *x = (const void *)a, *y = (const void *)&peer;
			if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
				return 1;
		} else if (a->ss_family == AF_INET6) {
			const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&peer;
			if (x->sin6_port == y->sin6_port &&
			    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0)
				return 1;
		}
	}
	return 0;
}

static void el_on_connect(struct el *e)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int one = 1, set = 0;

	while (d && (de = readdir(d)) != NULL) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d))
			continue;
		if (el_peer_is_relay(e, fd) &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
			set++;
	}
	if (d)
		closedir(d);
	if (!set)
		atomic_fetch_add(&e->nodelay_missed, 1);
}

static void el_event(smtp_session_t s, int event, void *arg, ...)
{
	if (event == SMTP_EV_CONNECT)
		el_on_connect(arg);
}

/* ---- sessions ------------------------------------------------------------ */

/* Claim up to the per-session count of the messages left; 0 when none. */
static long el_claim(struct el *e)
{
	long left = atomic_load(&e->left), k;

	do {
		k = left < e->per_session ? left : e->per_session;
		if (k <= 0)
			return 0;
	} while (!atomic_compare_exchange_weak(&e->left, &left, left - k));
	return k;
}

static const char *el_text(const smtp_status_t *st)
{
	return st && st->text ? st->text : "(no reply)";
}

/* One SMTP session of k messages; counts each one sent or failed. */
static void el_session(struct el *e, long k, smtp_message_t *msgs, smtp_recipient_t *rcpts)
{
	static const int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
				    Timeout_TRANSFER, Timeout_DATA2};
	smtp_session_t s = smtp_create_session();
	char eb[128];
	long i;

	if (!s || !smtp_set_server(s, e->relay) || !smtp_set_eventcb(s, el_event, e)) {
		el_fail(e, k, "cannot set up a session: %s",
			smtp_strerror(smtp_errno(), eb, sizeof(eb)));
		goto out;
	}
	for (size_t t = 0; t < sizeof(which) / sizeof(which[0]); t++)
		smtp_set_timeout(s, which[t] | Timeout_OVERRIDE_RFC2822_MINIMUM, e->timeout_ms);
	for (i = 0; i < k; i++) {
		msgs[i] = smtp_add_message(s);
		rcpts[i] = msgs[i] ? smtp_add_recipient(msgs[i], e->to) : NULL;
		if (!rcpts[i] || !smtp_set_reverse_path(msgs[i], e->from) ||
		    !smtp_set_messagecb(msgs[i], _smtp_message_str_cb, (void *)e->msg)) {
			el_fail(e, k, "cannot add a message: %s",
				smtp_strerror(smtp_errno(), eb, sizeof(eb)));
			goto out;
		}
	}
	if (!smtp_start_session(s)) {
		el_fail(e, k, "session to %s failed: %s", e->relay,
			smtp_strerror(smtp_errno(), eb, sizeof(eb)));
		goto out;
	}
	for (i = 0; i < k; i++) {
		const smtp_status_t *rs = smtp_recipient_status(rcpts[i]);
		const smtp_status_t *ms = smtp_message_transfer_status(msgs[i]);

		if (rs && rs->code / 100 == 2 && ms && ms->code / 100 == 2)
			atomic_fetch_add(&e->sent, 1);
		else if (!rs || rs->code / 100 != 2)
			el_fail(e, 1, "RCPT: %d %s", rs ? rs->code : 0, el_text(rs));
		else
			el_fail(e, 1, "end of data: %d %s", ms ? ms->code : 0, el_text(ms));
	}
out:
	if (s)
		smtp_destroy_session(s);
}

static void *el_thread(void *arg)
{
	struct el *e = arg;
	struct sched_param sp = {.sched_priority = 0};
	smtp_message_t *msgs = calloc((size_t)e->per_session, sizeof(*msgs));
	smtp_recipient_t *rcpts = calloc((size_t)e->per_session, sizeof(*rcpts));
	long k;

	if (e->batch)
		pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	while ((k = el_claim(e)) > 0) {
		if (msgs && rcpts)
			el_session(e, k, msgs, rcpts);
		else
			el_fail(e, k, "out of memory");
	}
	free(msgs);
	free(rcpts);
	return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static char *el_read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len + 1)) != NULL) {
		if (fread(buf, 1, (size_t)len, f) == (size_t)len &&
		    !memchr(buf, '\0', (size_t)len)) {
			buf[len] = '\0';
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static int el_resolve(struct el *e)
{
	char host[256];
	const char *colon = strrchr(e->relay, ':');
	struct addrinfo hints, *res = NULL;

	if (!colon || colon == e->relay || (size_t)(colon - e->relay) >= sizeof(host))
		return -1;
	memcpy(host, e->relay, (size_t)(colon - e->relay));
	host[colon - e->relay] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	for (const struct addrinfo *ai = res; ai && e->naddrs < EL_MAX_ADDRS; ai = ai->ai_next)
		if (ai->ai_addrlen <= sizeof(e->addrs[0]))
			memcpy(&e->addrs[e->naddrs++], ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(res);
	return e->naddrs > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct el e;
	long n = 1000, sessions = 4, started = 0;
	const char *msgfile;
	pthread_t *tids;
	double t0, dt;
	int opt, rc = 0;

	e.per_session = 100;
	e.timeout_ms = 30000;
	e.batch = 1;
	while ((opt = getopt(argc, argv, "n:s:m:T:of:r:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 's': sessions = atol(optarg); break;
		case 'm': e.per_session = atol(optarg); break;
		case 'T': e.timeout_ms = atol(optarg) * 1000; break;
		case 'o': e.batch = 0; break;
		case 'f': e.from = optarg; break;
		case 'r': e.to = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc - 2 || n < 1 || sessions < 1 || sessions > 256 || e.per_session < 1 ||
	    e.timeout_ms < 1000 || !e.from || !e.to)
		goto usage;
	msgfile = argv[optind];
	e.relay = argv[optind + 1];
	e.msg = el_read_file(msgfile);
	if (!e.msg) {
		fprintf(stderr, "esmtploop: cannot read %s (or it is empty or has a NUL)\n",
			msgfile);
		return 2;
	}
	if (el_resolve(&e) != 0) {
		fprintf(stderr, "esmtploop: %s: want a resolvable host:port\n", e.relay);
		return 2;
	}
	pthread_mutex_init(&e.why_mu, NULL);
	atomic_store(&e.left, n);
	/* A relay that hangs up must fail the session, not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	tids = calloc((size_t)sessions, sizeof(*tids));
	if (!tids)
		return 2;
	t0 = el_now();
	for (; started < sessions; started++)
		if (pthread_create(&tids[started], NULL, el_thread, &e) != 0)
			break;
	if (started == 0) {
		fprintf(stderr, "esmtploop: cannot start a thread\n");
		return 2;
	}
	for (long i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	dt = el_now() - t0;
	printf("esmtploop: %ld messages in %.3f s = %.1f/s\n", atomic_load(&e.sent), dt,
	       dt > 0 ? (double)atomic_load(&e.sent) / dt : 0.0);
	if (started < sessions)
		fprintf(stderr, "esmtploop: only %ld of %ld threads started\n", started, sessions);
	if (atomic_load(&e.nodelay_missed))
		fprintf(stderr,
			"esmtploop: could not find libesmtp's socket to set TCP_NODELAY "
			"(%ld connection(s)); expect about 40 ms per message\n",
			atomic_load(&e.nodelay_missed));
	if (atomic_load(&e.failed) || atomic_load(&e.sent) != n) {
		fprintf(stderr, "esmtploop: %ld of %ld message(s) failed; first: %s\n",
			n - atomic_load(&e.sent), n, e.why[0] ? e.why : "(no reason)");
		rc = 1;
	}
	free(tids);
	free((void *)e.msg);
	pthread_mutex_destroy(&e.why_mu);
	return rc;
usage:
	fprintf(stderr, "usage: esmtploop -n N -s S -m M [-T TIMEOUT_S] [-o] -f FROM -r TO "
			"MSGFILE HOST:PORT\n");
	return 2;
}
