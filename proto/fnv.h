/*
 * fnv — the FNV-1a hash (Fowler, Noll, Vo), 32 and 64 bits, the one copy
 * both binaries use for hash tables, "already sent" marks and ETags.
 *
 * Not a cryptographic hash: never key anything an outsider chooses on it
 * where collisions would cost more than a slower lookup.
 */
#ifndef MEVI_PROTO_FNV_H
#define MEVI_PROTO_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A32_BASIS 2166136261u
#define FNV1A32_PRIME 16777619u
#define FNV1A64_BASIS UINT64_C(14695981039346656037)
#define FNV1A64_PRIME UINT64_C(1099511628211)

/* Continues the 32-bit hash h (FNV1A32_BASIS to start) over the n bytes at p. */
static inline uint32_t fnv1a32(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV1A32_PRIME;
	return h;
}

/* Continues the 64-bit hash h (FNV1A64_BASIS to start) over the n bytes at p. */
static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV1A64_PRIME;
	return h;
}

#endif /* MEVI_PROTO_FNV_H */
