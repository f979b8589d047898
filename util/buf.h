/*
 * buf.h - a growable byte buffer, always NUL-terminated once anything was
 * added. Errors are sticky: after a failed allocation every add is a no-op
 * and b->oom stays set, so a builder checks once at the end; the storage
 * kept so far is still the buffer's (free it with buf_free).
 * Knows nothing of Herald.
 */
#ifndef HERALD_BUF_H
#define HERALD_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NULL until the first add */
	size_t len, cap;
	int oom;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		NULL, 0, 0, 0                                                                      \
	}

void buf_add(struct buf *b, const void *p, size_t n);
/* Room for n more bytes and the NUL: where they go (b->data + b->len), for a
 * writer that fills them in place and then sets b->len and the NUL itself;
 * NULL after an allocation failure (oom set). */
char *buf_reserve(struct buf *b, size_t n);
void buf_str(struct buf *b, const char *s);
void buf_ch(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty it, keeping the storage; clears oom. */
void buf_reset(struct buf *b);
/* The contents as a malloc'd string ("" when empty), the buffer emptied
 * and its storage handed over; NULL (storage freed) after an oom. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

#endif
