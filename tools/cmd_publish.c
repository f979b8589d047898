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
 * a re-sent event that had been accepted is answered "duplicate"). An
 * "unavailable" (or "error") answer is retried the same way, sooner. WINDOW
 * events may be outstanding at once (default 1: strict request/reply).
 * Each request carries a sequence frame that heraldd echoes, so acks are
 * matched even for lines that are not valid JSON.
 *
 * Exit: 0 all accepted or duplicate, 1 some rejected or throttled (over the
 * service's rate or daily_limit: not retried here), 2 heraldd unreachable
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

/* One run of publish: options, sockets and what is outstanding. */
struct pub {
	const char *endpoint, *file, *key_file, *server_key_file;
	struct curve keys; /* -k, --server-key */
	int timeout_ms, max_retries, window;
	void *ctx, *sock;
	FILE *in;
	struct req *out; /* outstanding, at most window */
	int nout, eof;
	uint64_t seq;
	char *line;
	size_t cap;
	int rejected, unreachable;
};

/* Options into p: 0, or 2 (usage, said on stderr). */
static int pub_options(struct pub *p, struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {{"server-key", required_argument, NULL, 'S'},
						 {NULL, 0, NULL, 0}};
	int opt;

	while ((opt = getopt_long(argc, argv, "e:k:S:t:r:w:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'e': p->endpoint = optarg; break;
		case 'k': p->key_file = optarg; break;
		case 'S': p->server_key_file = optarg; break;
		case 't': p->timeout_ms = atoi(optarg); break;
		case 'r': p->max_retries = atoi(optarg); break;
		case 'w': p->window = atoi(optarg); break;
		default:
			fprintf(stderr,
				"usage: heraldctl publish [-e ENDPOINT] [-k SECRET_KEY_FILE "
				"--server-key PUBLIC_KEY_FILE] [-t TIMEOUT_MS] "
				"[-r RETRIES] [-w WINDOW] [FILE|-]\n");
			return 2;
		}
	}
	if (optind < argc)
		p->file = argv[optind];
	if (!p->endpoint)
		p->endpoint = conf_get_def(c->conf, "ingest", "endpoint", "tcp://127.0.0.1:7400");
	if (p->timeout_ms <= 0 || p->window <= 0 || p->max_retries < 0) {
		fprintf(stderr, "heraldctl publish: -t, -w must be positive, -r >= 0\n");
		return 2;
	}
	if (curve_load(&p->keys, p->key_file, p->server_key_file) != 0)
		return 2;
	return 0;
}

/* Read and send lines until the window is full or the input ends. 0, or
 * -1 without memory. */
static int pub_fill(struct pub *p)
{
	while (!p->eof && p->nout < p->window) {
		ssize_t n = getline(&p->line, &p->cap, p->in);
		if (n < 0) {
			p->eof = 1;
			break;
		}
		while (n > 0 && (p->line[n - 1] == '\n' || p->line[n - 1] == '\r'))
			p->line[--n] = '\0';
		if (n == 0)
			continue;
		struct req *q = &p->out[p->nout++];
		q->seq = ++p->seq;
		q->line = malloc((size_t)n);
		if (!q->line)
			return -1;
		memcpy(q->line, p->line, (size_t)n);
		q->len = (size_t)n;
		q->retries = 0;
		send_req(p->sock, q, p->timeout_ms);
	}
	return 0;
}

/* Until the earliest deadline of what is outstanding, at most the timeout. */
static long pub_wait_ms(const struct pub *p)
{
	int64_t now = mono_ms(), wait = p->timeout_ms;

	for (int i = 0; i < p->nout; i++)
		if (p->out[i].deadline - now < wait)
			wait = p->out[i].deadline - now;
	return wait > 0 ? (long)wait : 0;
}

/* One reply: print its ack and retire its request (or, when heraldd could
 * not queue it, try it again shortly while retries are left). */
static void pub_take_ack(struct pub *p)
{
	uint64_t got = 0;
	char buf[4096];
	int more = 0, n;
	size_t ms = sizeof(more);

	n = zmq_recv(p->sock, &got, sizeof(got), 0);
	zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &ms);
	if (n != sizeof(got) || !more) {
		/* not ours: drain */
		while (more) {
			zmq_recv(p->sock, buf, sizeof(buf), 0);
			zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &ms);
		}
		return;
	}
	n = zmq_recv(p->sock, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	buf[n] = '\0';
	for (int i = 0; i < p->nout; i++) {
		if (p->out[i].seq != got)
			continue;
		if ((strstr(buf, "\"status\":\"error\"") ||
		     strstr(buf, "\"status\":\"unavailable\"")) &&
		    p->out[i].retries < p->max_retries) {
			/* heraldd could not queue it (Redis unreachable, replicas
			 * short): try again shortly */
			p->out[i].retries++;
			p->out[i].deadline = mono_ms() + p->timeout_ms / 4;
			break;
		}
		printf("%s\n", buf);
		if (strstr(buf, "\"status\":\"rejected\"") || strstr(buf, "\"status\":\"error\"") ||
		    strstr(buf, "\"status\":\"throttled\"") ||
		    strstr(buf, "\"status\":\"unavailable\""))
			p->rejected = 1;
		free(p->out[i].line);
		p->out[i] = p->out[--p->nout];
		break;
	}
}

/* Lazy Pirate: when a request is past its deadline, a new socket and
 * everything outstanding sent again. 0, or -1 when one has used up its
 * retries or the socket cannot be made (p->unreachable). */
static int pub_resend_expired(struct pub *p)
{
	int64_t now = mono_ms();
	int expired = 0;

	for (int i = 0; i < p->nout; i++)
		if (p->out[i].deadline <= now)
			expired = 1;
	if (!expired)
		return 0;
	for (int i = 0; i < p->nout; i++) {
		if (p->out[i].deadline <= now && ++p->out[i].retries > p->max_retries) {
			fprintf(stderr,
				"heraldctl publish: no answer from %s after %d tries; "
				"giving up\n",
				p->endpoint, p->max_retries + 1);
			p->unreachable = 1;
			return -1;
		}
	}
	fprintf(stderr, "heraldctl publish: no answer from %s, retrying\n", p->endpoint);
	zmq_close(p->sock);
	p->sock = connect_socket(p->ctx, p->endpoint, &p->keys);
	if (!p->sock) {
		p->unreachable = 1;
		return -1;
	}
	for (int i = 0; i < p->nout; i++)
		send_req(p->sock, &p->out[i], p->timeout_ms);
	return 0;
}

/* Send, wait, take acks, resend, until the input is done and answered.
 * 0, or 2 (out of memory, a failed poll) ; p->unreachable says the rest. */
static int pub_run(struct pub *p)
{
	while (!p->eof || p->nout > 0) {
		if (pub_fill(p) != 0)
			return 2;
		if (p->nout == 0)
			break;
		zmq_pollitem_t it = {p->sock, 0, ZMQ_POLLIN, 0};
		int pr = zmq_poll(&it, 1, pub_wait_ms(p));
		if (pr < 0 && zmq_errno() != EINTR)
			return 2;
		if (pr > 0 && (it.revents & ZMQ_POLLIN))
			pub_take_ack(p);
		else if (pub_resend_expired(p) != 0)
			return 0;
	}
	return 0;
}

int cmd_publish(struct ctl *c, int argc, char **argv)
{
	struct pub p = {.file = "-", .timeout_ms = 3000, .max_retries = 5, .window = 1};
	int rc;

	if ((rc = pub_options(&p, c, argc, argv)) != 0)
		return rc;
	p.in = stdin;
	if (strcmp(p.file, "-") != 0 && !(p.in = fopen(p.file, "r"))) {
		fprintf(stderr, "heraldctl publish: %s: %s\n", p.file, strerror(errno));
		memset(&p.keys, 0, sizeof(p.keys));
		return 2;
	}
	p.out = calloc((size_t)p.window, sizeof(*p.out));
	p.ctx = zmq_ctx_new();
	if (!p.out || !p.ctx || !(p.sock = connect_socket(p.ctx, p.endpoint, &p.keys)))
		rc = 2;
	else
		rc = pub_run(&p);
	fflush(stdout);
	for (int i = 0; i < p.nout; i++)
		free(p.out[i].line);
	free(p.out);
	free(p.line);
	if (p.sock)
		zmq_close(p.sock);
	if (p.ctx)
		zmq_ctx_term(p.ctx);
	if (p.in && p.in != stdin)
		fclose(p.in);
	memset(&p.keys, 0, sizeof(p.keys));
	if (rc)
		return rc;
	return p.unreachable ? 2 : p.rejected ? 1 : 0;
}
