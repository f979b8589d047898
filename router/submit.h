/*
 * submit.h - hand rendered messages to their plugins; what a busy plugin
 * did not take waits in the backlog (submit.c).
 */
#ifndef HERALD_SUBMIT_H
#define HERALD_SUBMIT_H

#include "router.h"

/* Submit m to its plugin, or queue it on the backlog when the plugin is busy. */
void submit_or_backlog(struct router *r, struct msg *m);
/* Submit the backlog again; what is still refused stays, in order. */
void submit_backlog(struct router *r);

#endif
