/* idmap.c - linear probing with backward-shift deletion (no tombstones). */
#include "idmap.h"

#include <stdlib.h>

struct slot {
	uint64_t id; /* 0 = empty */
	void *val;
};

struct idmap {
	struct slot *s;
	size_t cap, len; /* cap is a power of two */
};

static size_t slot_of(uint64_t id, size_t cap)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdULL;
	id ^= id >> 33;
	return (size_t)id & (cap - 1);
}

struct idmap *idmap_new(void)
{
	struct idmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = 64;
	m->s = calloc(m->cap, sizeof(*m->s));
	if (!m->s) {
		free(m);
		return NULL;
	}
	return m;
}

void idmap_free(struct idmap **mp)
{
	if (!*mp)
		return;
	free((*mp)->s);
	free(*mp);
	*mp = NULL;
}

static int grow(struct idmap *m)
{
	size_t ncap = m->cap * 2;
	struct slot *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->s[i].id)
			continue;
		size_t j = slot_of(m->s[i].id, ncap);
		while (ns[j].id)
			j = (j + 1) & (ncap - 1);
		ns[j] = m->s[i];
	}
	free(m->s);
	m->s = ns;
	m->cap = ncap;
	return 0;
}

int idmap_put(struct idmap *m, uint64_t id, void *val)
{
	size_t i;

	if (!id)
		return -1;
	if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != 0)
		return -1;
	i = slot_of(id, m->cap);
	while (m->s[i].id && m->s[i].id != id)
		i = (i + 1) & (m->cap - 1);
	if (!m->s[i].id)
		m->len++;
	m->s[i].id = id;
	m->s[i].val = val;
	return 0;
}

void *idmap_get(const struct idmap *m, uint64_t id)
{
	size_t i = slot_of(id, m->cap);

	while (m->s[i].id) {
		if (m->s[i].id == id)
			return m->s[i].val;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

void *idmap_del(struct idmap *m, uint64_t id)
{
	size_t i = slot_of(id, m->cap), j;
	void *val;

	while (m->s[i].id && m->s[i].id != id)
		i = (i + 1) & (m->cap - 1);
	if (!m->s[i].id)
		return NULL;
	val = m->s[i].val;
	/* Backward shift: pull later members of the cluster into the hole. */
	j = i;
	for (;;) {
		size_t k;
		j = (j + 1) & (m->cap - 1);
		if (!m->s[j].id)
			break;
		k = slot_of(m->s[j].id, m->cap);
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->s[i].id = 0;
	m->s[i].val = NULL;
	m->len--;
	return val;
}

size_t idmap_len(const struct idmap *m)
{
	return m->len;
}

void idmap_each(const struct idmap *m, void (*fn)(uint64_t id, void *val, void *arg), void *arg)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].id)
			fn(m->s[i].id, m->s[i].val, arg);
}
