/*
 * cmd_publish.c - heraldctl publish [-e ENDPOINT] [-k SECRET_KEY_FILE
 *                 --server-key PUBLIC_KEY_FILE] [-t TIMEOUT_MS] [-r RETRIES]
 *                 [-w WINDOW] [FILE|-]
 *
 * -k authenticates as the service whose services.d file holds the public
 * half of that key (CURVE; heraldctl keygen writes both); --server-key is
 * heraldd's public key. A key heraldd does not know is refused at the
 * handshake: no answer comes, as from an unreachable heraldd.
 *
 * One JSON event per input line; one ack JSON per line out. Lazy Pirate:
 * a request without an answer within TIMEOUT_MS is sent again on a fresh
 * socket, up to RETRIES times (heraldd's dedup on event_id makes that safe;
 * a re-sent event that had been accepted is answered "duplicate"). WINDOW
 * events may be outstanding at once (default 1: strict request/reply).
 * Each request carries a sequence frame that heraldd echoes, so acks are
 * matched even for lines that are not valid JSON.
 *
 * Exit: 0 all accepted or duplicate, 1 some rejected, 2 heraldd unreachable
 * (or a usage/config error).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "heraldctl.h"
#include "service.h"
#include "text.h"

struct req {
	uint64_t seq;
	char *line;
	size_t len;
	int retries;
	int64_t deadline;
};

/* The client's CURVE keys, binary; have = 0: no CURVE. */
struct curve {
	int have;
	unsigned char server[SERVICE_KEY_LEN], pub[SERVICE_KEY_LEN], sec[SERVICE_KEY_LEN];
};

static int curve_load(struct curve *k, const char *secret_file, const char *server_file)
{
	char err[512], sec[SERVICE_Z85_LEN + 1], pub[SERVICE_Z85_LEN + 1];

	if (!secret_file && !server_file)
		return 0;
	if (!secret_file || !server_file) {
		fprintf(stderr, "heraldctl publish: -k and --server-key go together\n");
		return -1;
	}
	if (service_read_key(secret_file, k->sec, err, sizeof(err)) != 0 ||
	    service_read_key(server_file, k->server, err, sizeof(err)) != 0) {
		fprintf(stderr, "heraldctl publish: %s\n", err);
		return -1;
	}
	zmq_z85_encode(sec, k->sec, SERVICE_KEY_LEN);
	if (zmq_curve_public(pub, sec) != 0 || !zmq_z85_decode(k->pub, pub)) {
		fprintf(stderr, "heraldctl publish: %s: not a CURVE secret key\n", secret_file);
		return -1;
	}
	memset(sec, 0, sizeof(sec));
	k->have = 1;
	return 0;
}

static void *connect_socket(void *ctx, const char *endpoint, const struct curve *k)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;

	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (k->have && (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, k->server, SERVICE_KEY_LEN) ||
			zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, SERVICE_KEY_LEN) ||
			zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, SERVICE_KEY_LEN))) {
		fprintf(stderr, "heraldctl: CURVE: %s\n", zmq_strerror(zmq_errno()));
		zmq_close(s);
		return NULL;
	}
	if (zmq_connect(s, endpoint) != 0) {
		fprintf(stderr, "heraldctl: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		zmq_close(s);
		return NULL;
	}
	return s;
}

static int send_req(void *s, struct req *q, int timeout_ms)
{
	q->deadline = mono_ms() + timeout_ms;
	if (zmq_send(s, &q->seq, sizeof(q->seq), ZMQ_SNDMORE) < 0)
		return -1;
	return zmq_send(s, q->line, q->len, 0) < 0 ? -1 : 0;
}

int cmd_publish(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {{"server-key", required_argument, NULL, 'S'},
						 {NULL, 0, NULL, 0}};
	const char *endpoint = NULL, *file = "-", *key_file = NULL, *server_key_file = NULL;
	struct curve keys;
	int timeout_ms = 3000, max_retries = 5, window = 1, opt, rc = 0;
	void *ctx = NULL, *sock = NULL;
	FILE *in = stdin;
	struct req *out = NULL; /* outstanding, at most window */
	int nout = 0, eof = 0;
	uint64_t seq = 0;
	char *line = NULL;
	size_t cap = 0;
	int rejected = 0, unreachable = 0;

	memset(&keys, 0, sizeof(keys));
	while ((opt = getopt_long(argc, argv, "e:k:S:t:r:w:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': endpoint = optarg; break;
		case 'k': key_file = optarg; break;
		case 'S': server_key_file = optarg; break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'r': max_retries = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		default:
			fprintf(stderr,
				"usage: heraldctl publish [-e ENDPOINT] [-k SECRET_KEY_FILE "
				"--server-key PUBLIC_KEY_FILE] [-t TIMEOUT_MS] "
				"[-r RETRIES] [-w WINDOW] [FILE|-]\n");
			return 2;
		}
	}
	if (optind < argc)
		file = argv[optind];
	if (!endpoint)
		endpoint = conf_get_def(c->conf, "ingest", "endpoint", "tcp://127.0.0.1:7400");
	if (timeout_ms <= 0 || window <= 0 || max_retries < 0) {
		fprintf(stderr, "heraldctl publish: -t, -w must be positive, -r >= 0\n");
		return 2;
	}
	if (curve_load(&keys, key_file, server_key_file) != 0)
		return 2;
	if (strcmp(file, "-") != 0 && !(in = fopen(file, "r"))) {
		fprintf(stderr, "heraldctl publish: %s: %s\n", file, strerror(errno));
		return 2;
	}
	out = calloc((size_t)window, sizeof(*out));
	ctx = zmq_ctx_new();
	if (!out || !ctx || !(sock = connect_socket(ctx, endpoint, &keys))) {
		rc = 2;
		goto done;
	}
	while (!eof || nout > 0) {
		/* fill the window */
		while (!eof && nout < window) {
			ssize_t n = getline(&line, &cap, in);
			if (n < 0) {
				eof = 1;
				break;
			}
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			if (n == 0)
				continue;
			struct req *q = &out[nout++];
			q->seq = ++seq;
			q->line = malloc((size_t)n);
			if (!q->line) {
				rc = 2;
				goto done;
			}
			memcpy(q->line, line, (size_t)n);
			q->len = (size_t)n;
			q->retries = 0;
			send_req(sock, q, timeout_ms);
		}
		if (nout == 0)
			break;
		/* wait for an ack or the earliest deadline */
		int64_t now = mono_ms(), wait = timeout_ms;
		for (int i = 0; i < nout; i++)
			if (out[i].deadline - now < wait)
				wait = out[i].deadline - now;
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		int pr = zmq_poll(&it, 1, wait > 0 ? (long)wait : 0);
		if (pr < 0 && zmq_errno() != EINTR) {
			rc = 2;
			goto done;
		}
		if (pr > 0 && (it.revents & ZMQ_POLLIN)) {
			uint64_t got = 0;
			char buf[4096];
			int more = 0, n;
			size_t ms = sizeof(more);

			n = zmq_recv(sock, &got, sizeof(got), 0);
			zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
			if (n != sizeof(got) || !more) {
				/* not ours: drain */
				while (more) {
					zmq_recv(sock, buf, sizeof(buf), 0);
					zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
				}
				continue;
			}
			n = zmq_recv(sock, buf, sizeof(buf) - 1, 0);
			if (n < 0)
				continue;
			if ((size_t)n > sizeof(buf) - 1)
				n = sizeof(buf) - 1;
			buf[n] = '\0';
			for (int i = 0; i < nout; i++) {
				if (out[i].seq != got)
					continue;
				if (strstr(buf, "\"status\":\"error\"") &&
				    out[i].retries < max_retries) {
					/* heraldd could not queue it: try again shortly */
					out[i].retries++;
					out[i].deadline = mono_ms() + timeout_ms / 4;
					break;
				}
				printf("%s\n", buf);
				if (strstr(buf, "\"status\":\"rejected\"") ||
				    strstr(buf, "\"status\":\"error\""))
					rejected = 1;
				free(out[i].line);
				out[i] = out[--nout];
				break;
			}
			continue;
		}
		/* timeouts: Lazy Pirate - new socket, resend everything outstanding */
		now = mono_ms();
		int expired = 0;
		for (int i = 0; i < nout; i++)
			if (out[i].deadline <= now)
				expired = 1;
		if (!expired)
			continue;
		for (int i = 0; i < nout; i++) {
			if (out[i].deadline <= now && ++out[i].retries > max_retries) {
				fprintf(stderr,
					"heraldctl publish: no answer from %s after %d tries; "
					"giving up\n",
					endpoint, max_retries + 1);
				unreachable = 1;
				goto done;
			}
		}
		fprintf(stderr, "heraldctl publish: no answer from %s, retrying\n", endpoint);
		zmq_close(sock);
		sock = connect_socket(ctx, endpoint, &keys);
		if (!sock) {
			unreachable = 1;
			goto done;
		}
		for (int i = 0; i < nout; i++)
			send_req(sock, &out[i], timeout_ms);
	}
done:
	fflush(stdout);
	for (int i = 0; i < nout; i++)
		free(out[i].line);
	free(out);
	free(line);
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	if (in && in != stdin)
		fclose(in);
	memset(&keys, 0, sizeof(keys));
	if (rc)
		return rc;
	return unreachable ? 2 : rejected ? 1 : 0;
}
