/*
 * inbound_sms.h - what citizens text back (inbound_sms.c): STOP opts them
 * out of SMS for the service that last texted them; any other reply is an
 * engagement on their latest SMS transaction and an `inbound` callback.
 */
#ifndef HERALD_INBOUND_SMS_H
#define HERALD_INBOUND_SMS_H

#include "router.h"

/* Apply what the HTTP listener queued (http_inbound_pop). */
void inbound_sms_poll(struct router *r);

#endif
