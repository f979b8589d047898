/*
 * pirate.c - the chaos suite's publisher: the ZeroMQ guide's Lazy Pirate,
 * pipelined. N events over a DEALER with at most WINDOW unanswered; an
 * event not answered within RETRY_MS (or answered "error": Redis down) is
 * sent again, with the same event_id, on a fresh socket (the old one is
 * closed with linger 0, so a reply that comes late is never matched to the
 * wrong send). It keeps going until every event is acknowledged
 * ("accepted" or "duplicate") or GIVE_UP_S pass without any answer.
 *
 *   pirate -e ENDPOINT -n COUNT -o ACKFILE [-w WINDOW] [-c CITIZENS]
 *          [-C CITIZEN_PREFIX] [-p ID_PREFIX] [-T TEMPLATE] [-x EXTRA_JSON]
 *          [-r RETRY_MS] [-g GIVE_UP_S]
 *
 * ENDPOINT may list several, comma-separated (instances sharing one Redis):
 * the DEALER spreads events over those connected. Event i (1..N) is
 * "<ID_PREFIX>-<i>" for citizen "<CITIZEN_PREFIX><i % CITIZENS + 1>";
 * EXTRA_JSON (e.g. ,"deliver_within":30) is appended to the event object.
 * ACKFILE gets one line per acknowledged event, as it comes:
 * "<event_id> <status> <epoch ms>", flushed at least every 100 ms, so the
 * harness can inject its fault once half the load is acked. The last line
 * of stdout: "pirate: acked=<n> duplicate=<n> retries=<n> reconnects=<n>
 * rejected=<n> seconds=<s>". Exit 0 when all were acked, 1 otherwise, 2 on
 * a usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int64_t now_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct pirate {
	const char *endpoint, *id_prefix, *citizen_prefix, *tmpl, *extra;
	long count, window, citizens, retry_ms, give_up_s;
	void *ctx, *sock;
	/* per event (index i = event i+1): 0 never sent, 1 in flight, 2 done */
	unsigned char *state;
	int64_t *sent_at; /* monotonic ms of the last send */
	uint32_t *gen;	  /* socket generation of the last send */
	uint32_t sock_gen;
	long next, in_flight, done, dup, rejected, retries, reconnects;
	long low; /* every event below it is done */
	FILE *acks;
};

static int open_socket(struct pirate *p)
{
	int linger = 0, hwm = 0, immediate = 1;
	char eps[1024], *save = NULL;

	if (p->sock)
		zmq_close(p->sock);
	p->sock = zmq_socket(p->ctx, ZMQ_DEALER);
	if (!p->sock)
		return -1;
	zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(p->sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	/* several endpoints: only connected peers get events, so a dead
	 * instance does not swallow them until the retry */
	zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
	p->sock_gen++;
	snprintf(eps, sizeof(eps), "%s", p->endpoint);
	for (char *ep = strtok_r(eps, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
		if (zmq_connect(p->sock, ep) != 0)
			return -1;
	return 0;
}

static int send_event(struct pirate *p, long i)
{
	char ev[2048];
	/* envelope: 4-byte socket generation, 4-byte event index */
	uint32_t env[2] = {p->sock_gen, (uint32_t)i};
	int n = snprintf(ev, sizeof(ev),
			 "{\"event_id\":\"%s-%ld\",\"service\":\"chaos\",\"citizen_id\":\"%s%ld\","
			 "\"template\":\"%s\",\"personalisation\":{\"name\":\"Ada\",\"date\":\"1 "
			 "December 2026\",\"time\":\"10:00\",\"location\":\"Swansea\"}%s}",
			 p->id_prefix, i + 1, p->citizen_prefix, i % p->citizens + 1, p->tmpl,
			 p->extra);

	if (n < 0 || (size_t)n >= sizeof(ev))
		return -1;
	if (zmq_send(p->sock, env, sizeof(env), ZMQ_SNDMORE) < 0 ||
	    zmq_send(p->sock, ev, (size_t)n, 0) < 0)
		return -1;
	p->sent_at[i] = now_ms(CLOCK_MONOTONIC);
	p->gen[i] = p->sock_gen;
	return 0;
}

/* Every event in flight goes again on a fresh socket. */
static int reconnect_and_resend(struct pirate *p)
{
	if (open_socket(p) != 0)
		return -1;
	p->reconnects++;
	for (long i = p->low; i < p->next; i++) {
		if (p->state[i] != 1)
			continue;
		if (send_event(p, i) != 0)
			return -1;
		p->retries++;
	}
	return 0;
}

static void take_reply(struct pirate *p, const uint32_t *env, const char *reply, size_t len)
{
	long i = (long)env[1];
	const char *st;

	if (env[0] != p->sock_gen || i < 0 || i >= p->next || p->state[i] != 1)
		return; /* an answer for an older send: ignored */
	st = memmem(reply, len, "\"status\":\"", 10);
	if (!st)
		return;
	st += 10;
	if (!strncmp(st, "accepted\"", 9) || !strncmp(st, "duplicate\"", 10)) {
		p->state[i] = 2;
		p->in_flight--;
		p->done++;
		if (st[0] == 'd')
			p->dup++;
		fprintf(p->acks, "%s-%ld %s %" PRId64 "\n", p->id_prefix, i + 1,
			st[0] == 'd' ? "duplicate" : "accepted", now_ms(CLOCK_REALTIME));
	} else if (!strncmp(st, "rejected\"", 9)) {
		p->state[i] = 2;
		p->in_flight--;
		p->rejected++;
		fprintf(stderr, "pirate: %s-%ld rejected: %.*s\n", p->id_prefix, i + 1, (int)len,
			reply);
	} else {
		/* "error" (queue unavailable): retried when its timer runs out */
		p->sent_at[i] = now_ms(CLOCK_MONOTONIC) - p->retry_ms + 200;
	}
}

static int drain_replies(struct pirate *p)
{
	for (;;) {
		uint32_t env[2] = {0, 0};
		char reply[4096];
		int more = 0, n, r;
		size_t ms = sizeof(more);

		n = zmq_recv(p->sock, env, sizeof(env), ZMQ_DONTWAIT);
		if (n < 0)
			return zmq_errno() == EAGAIN || zmq_errno() == EINTR ? 0 : -1;
		zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &ms);
		if (!more)
			continue;
		r = zmq_recv(p->sock, reply, sizeof(reply) - 1, 0);
		zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &ms);
		while (more) {
			char junk[256];
			zmq_recv(p->sock, junk, sizeof(junk), 0);
			zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &ms);
		}
		if (n == (int)sizeof(env) && r > 0) {
			if (r > (int)sizeof(reply) - 1)
				r = (int)sizeof(reply) - 1;
			reply[r] = '\0';
			take_reply(p, env, reply, (size_t)r);
		}
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: pirate -e ENDPOINT -n COUNT -o ACKFILE [-w WINDOW] [-c CITIZENS] "
			"[-C CITIZEN_PREFIX] [-p ID_PREFIX] [-T TEMPLATE] [-x EXTRA_JSON] "
			"[-r RETRY_MS] [-g GIVE_UP_S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct pirate p = {.endpoint = NULL,
			   .id_prefix = "ev",
			   .citizen_prefix = "c-",
			   .tmpl = "appointment-reminder",
			   .extra = "",
			   .count = 0,
			   .window = 200,
			   .citizens = 8,
			   .retry_ms = 2500,
			   .give_up_s = 120};
	const char *ackpath = NULL;
	int opt, rc = 2;
	int64_t start, last_progress, last_flush;

	while ((opt = getopt(argc, argv, "e:n:o:w:c:C:p:T:x:r:g:")) != -1) {
		switch (opt) {
		case 'e': p.endpoint = optarg; break;
		case 'n': p.count = atol(optarg); break;
		case 'o': ackpath = optarg; break;
		case 'w': p.window = atol(optarg); break;
		case 'c': p.citizens = atol(optarg); break;
		case 'C': p.citizen_prefix = optarg; break;
		case 'p': p.id_prefix = optarg; break;
		case 'T': p.tmpl = optarg; break;
		case 'x': p.extra = optarg; break;
		case 'r': p.retry_ms = atol(optarg); break;
		case 'g': p.give_up_s = atol(optarg); break;
		default: return usage();
		}
	}
	if (optind != argc || !p.endpoint || !ackpath || p.count <= 0 || p.window <= 0 ||
	    p.citizens <= 0 || p.retry_ms <= 0 || p.give_up_s <= 0)
		return usage();
	p.acks = fopen(ackpath, "w");
	p.state = calloc((size_t)p.count, 1);
	p.sent_at = calloc((size_t)p.count, sizeof(*p.sent_at));
	p.gen = calloc((size_t)p.count, sizeof(*p.gen));
	p.ctx = zmq_ctx_new();
	if (!p.acks || !p.state || !p.sent_at || !p.gen || !p.ctx || open_socket(&p) != 0) {
		fprintf(stderr, "pirate: setup failed: %s\n", strerror(errno));
		return 2;
	}
	rc = 1;
	start = last_progress = last_flush = now_ms(CLOCK_MONOTONIC);
	while (p.done + p.rejected < p.count) {
		long before = p.done + p.rejected;
		int64_t t;

		while (p.next < p.count && p.in_flight < p.window) {
			if (send_event(&p, p.next) != 0)
				goto out;
			p.state[p.next++] = 1;
			p.in_flight++;
		}
		zmq_pollitem_t it = {p.sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&it, 1, 100) < 0 && zmq_errno() != EINTR)
			goto out;
		if (drain_replies(&p) != 0)
			goto out;
		t = now_ms(CLOCK_MONOTONIC);
		if (p.done + p.rejected > before)
			last_progress = t;
		if (t - last_flush >= 100) {
			fflush(p.acks);
			last_flush = t;
		}
		if (t - last_progress > p.give_up_s * 1000) {
			fprintf(stderr, "pirate: no answer for %ld s, giving up\n", p.give_up_s);
			goto out;
		}
		/* the oldest unanswered send decides: Lazy Pirate's timeout */
		while (p.low < p.next && p.state[p.low] == 2)
			p.low++;
		for (long i = p.low; i < p.next; i++) {
			if (p.state[i] == 1 && t - p.sent_at[i] >= p.retry_ms) {
				if (reconnect_and_resend(&p) != 0)
					goto out;
				break;
			}
		}
	}
	rc = p.rejected ? 1 : 0;
out:
	fflush(p.acks);
	printf("pirate: acked=%ld duplicate=%ld retries=%ld reconnects=%ld rejected=%ld "
	       "seconds=%.1f\n",
	       p.done, p.dup, p.retries, p.reconnects, p.rejected,
	       (double)(now_ms(CLOCK_MONOTONIC) - start) / 1000.0);
	fclose(p.acks);
	zmq_close(p.sock);
	zmq_ctx_term(p.ctx);
	free(p.state);
	free(p.sent_at);
	free(p.gen);
	return rc;
}
