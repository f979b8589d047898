/*
 * cmd_bounce.c - heraldctl bounce [-c FILE] [RECIPIENT]: one message on
 * standard input, as a Postfix pipe(8) transport delivers mail for the
 * [channel.email] bounce_domain (README "Bounces"). A delivery status
 * notification or complaint report for a token Herald issued is recorded
 * in herald:inbound, where heraldd applies it (router/bounce.c).
 *
 * Exit status, as pipe(8) reads it (sysexits.h):
 *   0   recorded, or deliberately ignored (not a report, a 2.x.x, a token
 *       Herald never issued: still unknown after 2 s, see token_known)
 *   65  EX_DATAERR: not a message, or a report without its status
 *   75  EX_TEMPFAIL: Redis unreachable (or the config unreadable):
 *       Postfix keeps the message and tries again
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bounce_read.h"
#include "ctl_redis.h"
#include "heraldctl.h"
#include "schema.h"
#include "text.h"

#define EX_OK_ 0
#define EX_DATAERR_ 65
#define EX_TEMPFAIL_ 75
#define BOUNCE_MAX_INPUT (16u << 20) /* a DSN with its returned message */
#define INBOUND_MAXLEN 100000	     /* herald:inbound is trimmed to about this */

static char *read_stdin(size_t *len)
{
	size_t cap = 65536, n = 0, k;
	char *b = malloc(cap);

	while (b && (k = fread(b + n, 1, cap - n, stdin)) > 0) {
		n += k;
		if (n == cap) {
			char *nb = cap < BOUNCE_MAX_INPUT ? realloc(b, cap * 2) : NULL;
			if (!nb) {
				free(b);
				return NULL;
			}
			b = nb;
			cap *= 2;
		}
	}
	*len = n;
	return b;
}

static const char *kind_name(enum bounce_kind k)
{
	return k == BOUNCE_PERMANENT ? INB_BOUNCE : k == BOUNCE_DELAY ? INB_DELAY : INB_COMPLAINT;
}

/* Is the token's reference in Redis: 1 yes, 0 no, -1 no answer. heraldd
 * writes it on its pipeline at the end of the turn that handed the message
 * to the email plugin, while the plugin is already talking to the relay: a
 * relay that bounces at once (Postfix, its next hop refusing) can pipe the
 * DSN here before that write lands. A token not there yet is looked up
 * again, every BOUNCE_RECHECK_MS for up to BOUNCE_RECHECK_N times, before
 * it counts as none of ours. */
#define BOUNCE_RECHECK_MS 100
#define BOUNCE_RECHECK_N 20
static int token_known(redisContext *rc, const char *token)
{
	for (int i = 0;; i++) {
		redisReply *r = ctl_redis_cmd(rc, "bounce", "EXISTS " KEY_REF "email:%s", token);
		int known;

		if (!r)
			return -1;
		known = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
		freeReplyObject(r);
		if (known || i == BOUNCE_RECHECK_N)
			return known;
		struct timespec ts = {0, BOUNCE_RECHECK_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Record the report; EX_TEMPFAIL_ when Redis does not take it. */
static int record(struct ctl *c, const struct bounce_report *br)
{
	redisContext *rc = ctl_redis_open(c, "bounce");
	redisReply *r;
	char at[24];
	int known;

	if (!rc)
		return EX_TEMPFAIL_;
	known = token_known(rc, br->token);
	if (known < 0) {
		ctl_redis_close(&rc);
		return EX_TEMPFAIL_;
	}
	if (!known) { /* forged, or long expired: nothing of ours */
		fprintf(stderr, "heraldctl bounce: token %s: not a message of Herald's; ignored\n",
			br->token);
		ctl_redis_close(&rc);
		return EX_OK_;
	}
	snprintf(at, sizeof(at), "%lld", (long long)now_ms());
	r = ctl_redis_cmd(rc, "bounce",
			  "XADD " KEY_INBOUND " MAXLEN ~ %d * " INB_F_KIND " %s " INB_F_TOKEN
			  " %s " INB_F_STATUS " %s " INB_F_DIAG " %s " INB_F_AT " %s",
			  INBOUND_MAXLEN, kind_name(br->kind), br->token, br->status, br->diag, at);
	ctl_redis_close(&rc);
	if (!r)
		return EX_TEMPFAIL_;
	freeReplyObject(r);
	fprintf(stderr, "heraldctl bounce: %s %s for %s recorded\n", kind_name(br->kind),
		br->status, br->token);
	return EX_OK_;
}

int cmd_bounce(struct ctl *c, int argc, char **argv)
{
	struct bounce_report br;
	size_t len = 0;
	char *buf;
	int rc;

	if (argc > 2) {
		fprintf(stderr, "usage: heraldctl bounce [-c FILE] [RECIPIENT] < MESSAGE\n");
		return EX_DATAERR_;
	}
	buf = read_stdin(&len);
	if (!buf) {
		fprintf(stderr, "heraldctl bounce: cannot read the message: %s\n",
			errno ? strerror(errno) : "too large");
		return EX_TEMPFAIL_;
	}
	rc = bounce_read(buf, len, argc == 2 ? argv[1] : NULL, &br);
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "heraldctl bounce: not a message, or a report without a status\n");
		return EX_DATAERR_;
	}
	if (br.kind == BOUNCE_NONE || !br.token[0]) {
		fprintf(stderr, "heraldctl bounce: %s; ignored\n",
			br.kind == BOUNCE_NONE ? "no failure or complaint reported"
					       : "no Herald token in the report");
		return EX_OK_;
	}
	return record(c, &br);
}
