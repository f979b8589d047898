/*
 * preview.h - a channel plugin's own rendering of a message, without
 * sending it (struct herald_channel version >= 2 `preview`): what
 * `heraldctl render --pdf` writes is the letter the print channel would
 * send. The plugin reads its [channel.<name>] keys from conf.
 */
#ifndef HERALD_PREVIEW_H
#define HERALD_PREVIEW_H

#include <stddef.h>

#include "conf.h"

/* What goes in the message (strings may be NULL). */
struct preview_msg {
	const char *body, *subject, *name, *address, *locale, *reference;
};

/* Load DIR/<channel>.so and call its preview. 0 with *out (free() it) and
 * *len, or -1 with a reason in err. */
int preview_render(const char *dir, const char *channel, const struct conf *conf,
		   const struct preview_msg *pm, unsigned char **out, size_t *len, char *err,
		   size_t errlen);

#endif
