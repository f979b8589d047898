/*
 * loadgen.c - a pipelined publisher for benchmarks: N events over one ZMQ
 * DEALER with at most WINDOW requests outstanding, each sent as heraldd's
 * wire expects from a DEALER: [8-byte sequence][event JSON]; the reply is
 * [sequence][ack JSON]. Event ids are unique per run (PREFIX-<n>), citizens
 * rotate over c-1 .. c-CITIZENS. Acks are counted by status.
 *
 *   loadgen [-e ENDPOINT] [-n COUNT] [-w WINDOW] [-c CITIZENS] [-p PREFIX]
 *           [-T TEMPLATE] [-t TIMEOUT_S] [-r RATE [-d SECONDS]]
 *           [-k SECRET_KEY_FILE -s SERVER_KEY_FILE]
 *
 * -k/-s: CURVE, as heraldd's `[ingest] auth = curve` wants: the service's
 * secret key and heraldd's public key, each file one Z85 key (40
 * characters) on a line as `heraldctl keygen` writes them; the public half
 * of the client's key is derived from the secret. The events still name
 * "service":"bench", so the key must be that of services.d/bench.conf.
 * -r RATE: paced, an open-loop publisher: event i is sent at start + i/RATE
 * whatever the acks (no window), COUNT = RATE x SECONDS when -d is given.
 * Ack latency is then taken from the time each event was due, not from
 * when it went out, so a publisher that fell behind does not hide the
 * wait (no coordinated omission); the machine line adds
 *   paced: rate=<RATE> sent_late_max_ms=<worst send behind schedule>
 *          ack_p50_ms=.. ack_p99_ms=.. ack_p999_ms=.. ack_max_ms=..
 *
 * Prints a human line, the ack latency (send -> ack) and one machine line:
 *   loadgen: start_ms=<epoch ms of the first send> end_ms=<last ack>
 *            accepted=<n> accepted_per_s=<rate> cpu_ms=<own user+system CPU>
 * Exit 0 when every event was accepted, 1 when any was not (or no ack came
 * within TIMEOUT_S of the previous one), 2 on a usage or setup error.
 * No retries: a benchmark that needs them has already failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <poll.h>
#include <time.h>
#include <zmq.h>

enum { ST_ACCEPTED, ST_DUPLICATE, ST_REJECTED, ST_ERROR, ST_OTHER, ST_N };
static const char *const st_names[ST_N] = {"accepted", "duplicate", "rejected", "error", "other"};

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int status_of(const char *ack)
{
	const char *p = strstr(ack, "\"status\":\"");

	if (!p)
		return ST_OTHER;
	p += strlen("\"status\":\"");
	for (int i = 0; i < ST_OTHER; i++) {
		size_t n = strlen(st_names[i]);
		if (!strncmp(p, st_names[i], n) && p[n] == '"')
			return i;
	}
	return ST_OTHER;
}

/* This process's own CPU time (user + system), so the benchmark can say how
 * much of the machine the publisher took from what it measures. */
static long cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static double pct_ms(const int64_t *sorted, long n, double p)
{
	long k = (long)(p * (double)n + 0.999999) - 1;

	if (n <= 0)
		return 0.0;
	k = k < 0 ? 0 : k >= n ? n - 1 : k;
	return (double)sorted[k] / 1000.0;
}

static void report(long sent, long acked, const long *counts, int64_t *lat_us, long window,
		   int64_t start_real_us, int64_t elapsed_us)
{
	double secs = (double)elapsed_us / 1e6;
	double rate = secs > 0 ? (double)counts[ST_ACCEPTED] / secs : 0.0;

	printf("loadgen: %ld sent, %ld accepted, %ld duplicate, %ld rejected, %ld error, %ld other "
	       "in %.3f s = %.0f accepted/s (window %ld)\n",
	       sent, counts[ST_ACCEPTED], counts[ST_DUPLICATE], counts[ST_REJECTED],
	       counts[ST_ERROR], counts[ST_OTHER], secs, rate, window);
	if (acked > 0) {
		qsort(lat_us, (size_t)acked, sizeof(*lat_us), cmp_i64);
		printf("loadgen: ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       (double)lat_us[(acked - 1) / 2] / 1000.0,
		       (double)lat_us[(acked - 1) * 99 / 100] / 1000.0,
		       (double)lat_us[acked - 1] / 1000.0);
		printf(
		    "loadgen: ack_p50_ms=%.3f ack_p99_ms=%.3f ack_p999_ms=%.3f ack_max_ms=%.3f\n",
		    pct_ms(lat_us, acked, 0.50), pct_ms(lat_us, acked, 0.99),
		    pct_ms(lat_us, acked, 0.999), (double)lat_us[acked - 1] / 1000.0);
	}
	printf("loadgen: start_ms=%" PRId64 " end_ms=%" PRId64
	       " accepted=%ld accepted_per_s=%.0f cpu_ms=%ld\n",
	       start_real_us / 1000, (start_real_us + elapsed_us) / 1000, counts[ST_ACCEPTED], rate,
	       cpu_ms());
}

/* Paced: wait until an ack is waiting or the next event is due, to the
 * microsecond (zmq_poll counts milliseconds, too coarse at 10,000/s): ppoll
 * on the socket's ZMQ_FD, which signals edges, so ZMQ_EVENTS is checked
 * first. Returns 1 when an ack may be waiting, 0 when it is time to send,
 * -1 on error. */
static int paced_wait(void *sock, int64_t start_us, long next, double rate)
{
	int64_t due = start_us + (int64_t)((double)next * 1e6 / rate), left;
	int events = 0, fd = -1;
	size_t len = sizeof(events);

	for (;;) {
		len = sizeof(events);
		if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) != 0)
			return -1;
		if (events & ZMQ_POLLIN)
			return 1;
		left = due - clock_us(CLOCK_MONOTONIC);
		if (left <= 0)
			return 0;
		len = sizeof(fd);
		if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
			return -1;
		struct pollfd pfd = {fd, POLLIN, 0};
		struct timespec ts = {left / 1000000, (left % 1000000) * 1000};
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			return -1;
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: loadgen [-e ENDPOINT] [-n COUNT] [-w WINDOW] [-c CITIZENS] "
			"[-p PREFIX] [-T TEMPLATE] [-t TIMEOUT_S] [-r RATE [-d SECONDS]] "
			"[-k SECRET_KEY_FILE -s SERVER_KEY_FILE]\n");
	return 2;
}

/* One Z85 key (40 characters, surrounding white space ignored) from a file,
 * decoded into out[32]. 0 on success, -1 (said on stderr) otherwise. */
static int read_z85_key(const char *path, uint8_t out[32])
{
	char line[128], *p, *e;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (p) {
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
	}
	if (!p || strlen(p) != 40 || !zmq_z85_decode(out, p)) {
		fprintf(stderr, "loadgen: %s: not one Z85 key of 40 characters\n", path);
		return -1;
	}
	return 0;
}

/* CURVE client keys on sock from the -k and -s files: 0 on success. */
static int curve_setup(void *sock, const char *secret_file, const char *server_file)
{
	uint8_t sec[32], srv[32], pub[32];
	char sec_z[41], pub_z[41];
	int rc = -1;

	if (read_z85_key(secret_file, sec) != 0 || read_z85_key(server_file, srv) != 0)
		goto out;
	zmq_z85_encode(sec_z, sec, sizeof(sec));
	if (zmq_curve_public(pub_z, sec_z) != 0 || !zmq_z85_decode(pub, pub_z)) {
		fprintf(stderr, "loadgen: %s: not a CURVE secret key (libzmq without CURVE?)\n",
			secret_file);
		goto out;
	}
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, srv, sizeof(srv)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, sizeof(pub)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, sizeof(sec)) != 0) {
		fprintf(stderr, "loadgen: CURVE: %s\n", zmq_strerror(zmq_errno()));
		goto out;
	}
	rc = 0;
out:
	memset(sec, 0, sizeof(sec));
	memset(sec_z, 0, sizeof(sec_z));
	return rc;
}

int main(int argc, char **argv)
{
	const char *endpoint = "tcp://127.0.0.1:7400", *tmpl = "appointment-reminder";
	const char *secret_file = NULL, *server_file = NULL;
	char prefix[64];
	long count = 100000, window = 256, citizens = 8, timeout_s = 30, secs = 0;
	double rate = 0, late_max_us = 0;
	long sent = 0, acked = 0, counts[ST_N] = {0};
	int64_t *sent_us = NULL, *lat_us = NULL, start_real_us = 0, start_us = 0, end_us = 0;
	int64_t last_progress_us;
	void *ctx = NULL, *sock = NULL;
	int opt, rc = 2, linger = 0, hwm = 0;
	char ev[1024], reply[4096];

	snprintf(prefix, sizeof(prefix), "b%lld", (long long)(clock_us(CLOCK_REALTIME) / 1000));
	while ((opt = getopt(argc, argv, "e:n:w:c:p:T:t:r:d:k:s:h")) != -1) {
		switch (opt) {
		case 'e': endpoint = optarg; break;
		case 'n': count = atol(optarg); break;
		case 'w': window = atol(optarg); break;
		case 'c': citizens = atol(optarg); break;
		case 'p': snprintf(prefix, sizeof(prefix), "%s", optarg); break;
		case 'T': tmpl = optarg; break;
		case 't': timeout_s = atol(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'd': secs = atol(optarg); break;
		case 'k': secret_file = optarg; break;
		case 's': server_file = optarg; break;
		default: return usage();
		}
	}
	if (rate > 0 && secs > 0)
		count = (long)(rate * (double)secs);
	if (optind != argc || count <= 0 || window <= 0 || citizens <= 0 || timeout_s <= 0 ||
	    rate < 0 || secs < 0 || (secs > 0 && rate <= 0) ||
	    (secret_file == NULL) != (server_file == NULL))
		return usage();
	if (rate > 0)
		window = count; /* open loop: acks do not hold a send back */
	sent_us = calloc((size_t)count, sizeof(*sent_us));
	lat_us = calloc((size_t)count, sizeof(*lat_us));
	ctx = zmq_ctx_new();
	if (!sent_us || !lat_us || !ctx || !(sock = zmq_socket(ctx, ZMQ_DEALER))) {
		fprintf(stderr, "loadgen: setup failed: %s\n", zmq_strerror(zmq_errno()));
		goto out;
	}
	/* The window bounds what is in flight; no high-water mark below it. */
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (secret_file && curve_setup(sock, secret_file, server_file) != 0)
		goto out;
	if (zmq_connect(sock, endpoint) != 0) {
		fprintf(stderr, "loadgen: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		goto out;
	}
	rc = 1;
	start_real_us = clock_us(CLOCK_REALTIME);
	start_us = last_progress_us = clock_us(CLOCK_MONOTONIC);
	while (acked < count) {
		/* fill the window */
		long due = count;
		if (rate > 0) {
			double el = (double)(clock_us(CLOCK_MONOTONIC) - start_us);
			due = (long)(el * rate / 1e6) + 1;
			due = due > count ? count : due;
		}
		while (sent < count && sent - acked < window && sent < due) {
			uint64_t seq = (uint64_t)sent + 1;
			int n =
			    snprintf(ev, sizeof(ev),
				     "{\"event_id\":\"%s-%ld\",\"service\":\"bench\","
				     "\"citizen_id\":\"c-%ld\",\"template\":\"%s\","
				     "\"personalisation\":{\"name\":\"Ada\",\"date\":\"1 December "
				     "2026\",\"time\":\"10:00\",\"location\":\"Swansea\"}}",
				     prefix, sent + 1, sent % citizens + 1, tmpl);
			if (n < 0 || (size_t)n >= sizeof(ev)) {
				fprintf(stderr, "loadgen: event too long\n");
				goto out;
			}
			sent_us[sent] = clock_us(CLOCK_MONOTONIC);
			if (rate > 0) { /* latency from when it was due */
				int64_t at = start_us + (int64_t)((double)sent * 1e6 / rate);
				if ((double)(sent_us[sent] - at) > late_max_us)
					late_max_us = (double)(sent_us[sent] - at);
				sent_us[sent] = at;
			}
			if (zmq_send(sock, &seq, sizeof(seq), ZMQ_SNDMORE) < 0 ||
			    zmq_send(sock, ev, (size_t)n, 0) < 0) {
				fprintf(stderr, "loadgen: send: %s\n", zmq_strerror(zmq_errno()));
				goto out;
			}
			sent++;
		}
		/* wait for acks, then take every one that is waiting */
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		int pr = rate > 0 && sent < count ? paced_wait(sock, start_us, sent, rate)
						  : zmq_poll(&it, 1, 1000);
		if (pr < 0 && zmq_errno() != EINTR) {
			fprintf(stderr, "loadgen: poll: %s\n", zmq_strerror(zmq_errno()));
			goto out;
		}
		if (pr <= 0) {
			if (clock_us(CLOCK_MONOTONIC) - last_progress_us > timeout_s * 1000000) {
				fprintf(stderr, "loadgen: no ack for %ld s (%ld of %ld acked)\n",
					timeout_s, acked, count);
				goto report;
			}
			continue;
		}
		for (;;) {
			uint64_t seq = 0;
			int more = 0, n, st;
			size_t ms = sizeof(more);

			n = zmq_recv(sock, &seq, sizeof(seq), ZMQ_DONTWAIT);
			if (n < 0)
				break; /* EAGAIN: nothing more waiting */
			zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
			if (n != sizeof(seq) || !more || seq == 0 || seq > (uint64_t)sent ||
			    sent_us[seq - 1] < 0) {
				while (more) { /* not one of ours: drain it */
					zmq_recv(sock, reply, sizeof(reply), 0);
					zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
				}
				counts[ST_OTHER]++;
				continue;
			}
			n = zmq_recv(sock, reply, sizeof(reply) - 1, 0);
			if (n < 0)
				break;
			reply[(size_t)n < sizeof(reply) ? (size_t)n : sizeof(reply) - 1] = '\0';
			end_us = last_progress_us = clock_us(CLOCK_MONOTONIC);
			lat_us[acked] = end_us - sent_us[seq - 1];
			sent_us[seq - 1] = -1; /* answered: a second ack counts as other */
			st = status_of(reply);
			if (st != ST_ACCEPTED && counts[st] == 0)
				fprintf(stderr, "loadgen: first %s ack: %s\n", st_names[st], reply);
			counts[st]++;
			acked++;
		}
	}
report:
	report(sent, acked, counts, lat_us, window, start_real_us,
	       end_us > start_us ? end_us - start_us : 0);
	if (rate > 0)
		printf("loadgen: paced: rate=%.0f sent_late_max_ms=%.3f\n", rate,
		       late_max_us / 1000.0);
	if (acked == count && counts[ST_ACCEPTED] == count)
		rc = 0;
out:
	fflush(stdout);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	free(sent_us);
	free(lat_us);
	return rc;
}
