/*
 * fuzz_event.c - libFuzzer target for the event parser heraldd runs on
 * every frame (lib/event.c, jansson underneath): event_parse, and for an
 * event it takes, event_clear; the error text must always be a string and
 * an accepted event must carry its id (the service may come from
 * the publisher's key).
 *
 *   make fuzz (FUZZ_SECONDS=60): builds it with clang's libFuzzer and runs it
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t len)
{
	struct event ev;
	char err[256];

	memset(&ev, 0, sizeof(ev));
	err[0] = '\0';
	if (event_parse((const char *)buf, len, &ev, err, sizeof(err)) == 0) {
		if (!ev.event_id)
			abort();
		event_clear(&ev);
	} else if (!memchr(err, '\0', sizeof(err))) {
		abort();
	}
	return 0;
}
