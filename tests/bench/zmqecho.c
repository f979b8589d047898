/*
 * zmqecho.c - the ZeroMQ ceiling for the core benchmark. A ROUTER that
 * answers every request at once, in the shape heraldd's ingest does: the
 * envelope frames come back unchanged, then an ack body of the same form
 * and size, {"event_id":"<id>","status":"accepted"}, with the id copied
 * from the request by a plain string scan (no JSON parse, no Redis). Loadgen
 * against it measures the round-trip rate of the socket pair alone.
 *
 *   zmqecho [-e ENDPOINT]      (default tcp://127.0.0.1:7400)
 *
 * Prints "zmqecho: ready" on stderr once bound; on SIGTERM/SIGINT prints how
 * many requests it answered and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_ENVELOPE 4

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Copy the value of "event_id" (a JSON string without escapes) into out. */
static void event_id_of(const char *body, size_t len, char *out, size_t outlen)
{
	static const char key[] = "\"event_id\":\"";
	const char *p = memmem(body, len, key, sizeof(key) - 1), *end = body + len;
	size_t n = 0;

	if (p)
		for (p += sizeof(key) - 1; p < end && *p != '"' && *p != '\\' && n + 1 < outlen;
		     p++)
			out[n++] = *p;
	out[n] = '\0';
}

/* Answer one waiting request. Returns 1 answered (or dropped a malformed
 * one), 0 nothing waiting. Frames after the first never block for long:
 * ZMQ delivers a multipart message whole. */
static int echo_one(void *sock)
{
	zmq_msg_t env[MAX_ENVELOPE], body;
	int nenv = 0, more = 1, ok = 1, deep = 0, first = 1;
	size_t ms = sizeof(more);
	char id[160], ack[256];

	/* envelope frames, then the body (the last frame) */
	zmq_msg_init(&body);
	while (more) {
		if (zmq_msg_recv(&body, sock, first ? ZMQ_DONTWAIT : 0) < 0) {
			ok = 0;
			break;
		}
		first = 0;
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ms);
		if (!more)
			break;
		if (nenv < MAX_ENVELOPE) {
			zmq_msg_init(&env[nenv]);
			zmq_msg_move(&env[nenv++], &body);
		} else {
			deep = 1; /* too deep: drop the whole message */
		}
	}
	if (ok && !deep && nenv > 0) {
		event_id_of(zmq_msg_data(&body), zmq_msg_size(&body), id, sizeof(id));
		int n =
		    snprintf(ack, sizeof(ack), "{\"event_id\":\"%s\",\"status\":\"accepted\"}", id);
		for (int i = 0; i < nenv; i++)
			zmq_msg_send(&env[i], sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
		zmq_send(sock, ack, (size_t)n, ZMQ_DONTWAIT);
	}
	for (int i = 0; i < nenv; i++)
		zmq_msg_close(&env[i]);
	zmq_msg_close(&body);
	return first ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *endpoint = "tcp://127.0.0.1:7400";
	void *ctx, *sock;
	int opt, linger = 0, hwm = 0;
	unsigned long answered = 0;
	struct sigaction sa;

	while ((opt = getopt(argc, argv, "e:h")) != -1) {
		if (opt != 'e') {
			fprintf(stderr, "usage: zmqecho [-e ENDPOINT]\n");
			return 2;
		}
		endpoint = optarg;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_ROUTER) : NULL;
	if (!sock) {
		fprintf(stderr, "zmqecho: %s\n", zmq_strerror(zmq_errno()));
		return 2;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_bind(sock, endpoint) != 0) {
		fprintf(stderr, "zmqecho: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		zmq_close(sock);
		zmq_ctx_term(ctx);
		return 2;
	}
	fprintf(stderr, "zmqecho: ready on %s\n", endpoint);
	while (!stop) {
		/* Poll with a timeout so a signal is noticed even when libzmq
		 * restarts an interrupted wait; then take everything waiting. */
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 200) <= 0)
			continue;
		while (echo_one(sock))
			answered++;
	}
	fprintf(stderr, "zmqecho: answered %lu requests\n", answered);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return 0;
}
