/*
 * fnv.h - FNV-1a hashes (Fowler/Noll/Vo): fast, stable across builds and
 * machines, for keys and short references. Not for anything secret.
 * Knows nothing of Herald.
 */
#ifndef HERALD_FNV_H
#define HERALD_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A32_INIT 2166136261u
#define FNV1A64_INIT 14695981039346656037ULL
/* The 64-bit basis Herald's first hashes used, a digit short of the real
 * one. Transaction references and fax refs are derived with it and people
 * and gateways already hold them, so those keep it: fnv1a64_add(
 * FNV1A64_HERALD_V1, ...). Equally well spread; new code uses fnv1a64(). */
#define FNV1A64_HERALD_V1 1469598103934665603ULL

/* Continue hash h over p[0..n): fnv1a32_add(FNV1A32_INIT, p, n) is the hash. */
static inline uint32_t fnv1a32_add(uint32_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

static inline uint64_t fnv1a64_add(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

static inline uint32_t fnv1a32(const void *p, size_t n)
{
	return fnv1a32_add(FNV1A32_INIT, p, n);
}

static inline uint64_t fnv1a64(const void *p, size_t n)
{
	return fnv1a64_add(FNV1A64_INIT, p, n);
}

#endif
