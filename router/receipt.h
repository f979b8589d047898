/*
 * receipt.h - delivery receipts for "sent" messages, matched by the
 * provider's reference: from the HTTP listener, or a plugin's later result
 * (receipt.c).
 */
#ifndef HERALD_RECEIPT_H
#define HERALD_RECEIPT_H

#include "router.h"

/* How long a receipt that finds no "sent" message is held and tried
 * again, and how often. */
#define RCPT_HOLD_MS 10000
#define RCPT_RETRY_MS 250
#define RCPT_HOLD_MAX 1024

struct rcpt_hold {
	struct herald_result res;
	struct chan *c;
	int64_t until_ms;
};

/* Apply one receipt of channel c (res->ref names the message). */
void receipt_apply(struct router *r, struct chan *c, const struct herald_result *res);
/* Apply the receipts the HTTP listener has queued. */
void receipt_poll(struct router *r);
/* Free the held receipts (at exit: they are lost, as unanswered ones). */
void receipt_close(struct router *r);

#endif
