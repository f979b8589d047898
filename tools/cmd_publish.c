/*
 * cmd_publish.c - heraldctl publish [-e ENDPOINT] [-t TIMEOUT_MS] [-r RETRIES]
 *                 [-w WINDOW] [FILE|-]
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
#include "text.h"

struct req {
	uint64_t seq;
	char *line;
	size_t len;
	int retries;
	int64_t deadline;
};

static void *connect_socket(void *ctx, const char *endpoint)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0;

	if (!s)
		return NULL;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
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
	const char *endpoint = NULL, *file = "-";
	int timeout_ms = 3000, max_retries = 5, window = 1, opt, rc = 0;
	void *ctx = NULL, *sock = NULL;
	FILE *in = stdin;
	struct req *out = NULL; /* outstanding, at most window */
	int nout = 0, eof = 0;
	uint64_t seq = 0;
	char *line = NULL;
	size_t cap = 0;
	int rejected = 0, unreachable = 0;

	while ((opt = getopt(argc, argv, "e:t:r:w:h")) != -1) {
		switch (opt) {
		case 'e': endpoint = optarg; break;
		case 't': timeout_ms = atoi(optarg); break;
		case 'r': max_retries = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: heraldctl publish [-e ENDPOINT] [-t TIMEOUT_MS] "
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
	if (strcmp(file, "-") != 0 && !(in = fopen(file, "r"))) {
		fprintf(stderr, "heraldctl publish: %s: %s\n", file, strerror(errno));
		return 2;
	}
	out = calloc((size_t)window, sizeof(*out));
	ctx = zmq_ctx_new();
	if (!out || !ctx || !(sock = connect_socket(ctx, endpoint))) {
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
		sock = connect_socket(ctx, endpoint);
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
	if (rc)
		return rc;
	return unreachable ? 2 : rejected ? 1 : 0;
}
