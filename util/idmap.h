/* idmap.h - open-addressing hash map from a non-zero uint64 id to a pointer.
 * Used for the router's in-flight messages (msg_id -> message). */
#ifndef HERALD_IDMAP_H
#define HERALD_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap;
struct idmap *idmap_new(void);
void idmap_free(struct idmap **m);
/* 0 on success, -1 out of memory. id must be non-zero; replaces. */
int idmap_put(struct idmap *m, uint64_t id, void *val);
void *idmap_get(const struct idmap *m, uint64_t id);
/* Remove and return the value (NULL if absent). */
void *idmap_del(struct idmap *m, uint64_t id);
size_t idmap_len(const struct idmap *m);
/* Visit every entry (do not modify the map from fn). */
void idmap_each(const struct idmap *m, void (*fn)(uint64_t id, void *val, void *arg), void *arg);

#endif
