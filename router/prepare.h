/*
 * prepare.h - from a stream entry with its records to a message handed to
 * its plugin: resolve the plan, quiet hours, render, submit (prepare.c).
 */
#ifndef HERALD_PREPARE_H
#define HERALD_PREPARE_H

#include "router.h"

/* Take m (read from a stream, records in) to its next state; m is freed or
 * handed on (to a plugin or the backlog). */
void prepare_msg(struct router *r, struct msg *m);

#endif
