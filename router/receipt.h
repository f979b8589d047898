/*
 * receipt.h - delivery receipts for "sent" messages, matched by the
 * provider's reference: from the HTTP listener, or a plugin's later result
 * (receipt.c).
 */
#ifndef HERALD_RECEIPT_H
#define HERALD_RECEIPT_H

#include "router.h"

/* Apply one receipt of channel c (res->ref names the message). */
void receipt_apply(struct router *r, struct chan *c, const struct herald_result *res);
/* Apply the receipts the HTTP listener has queued. */
void receipt_poll(struct router *r);

#endif
