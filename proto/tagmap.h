/*
 * tagmap — an annotation map: half-open address ranges [start, end) mapped
 * to a uint32 value (proto/PROTOCOL.md section 3, "annotation maps").
 *
 * Promises, after every operation:
 *  - ranges are sorted by address and never overlap;
 *  - adjacent ranges ([a, b) and [b, c)) of equal value are merged, so the
 *    representation of a given map is unique;
 *  - every value 0..UINT32_MAX is a valid value (there is no "empty" value:
 *    an address in no range has no annotation).
 *
 * Representation: one sorted array of ranges. Lookups are binary searches,
 * O(log n); set and remove are O(log n + k) to find the k ranges they touch,
 * plus a memmove of the array's tail, O(n) in the worst case; remap rebuilds
 * the array, O(n). Per-process annotation maps hold a few to tens of
 * thousands of ranges (one per mapping or per first-touch run), where a
 * memmove of the tail costs microseconds; memmap.h is the B+tree for maps of
 * millions of ranges.
 *
 * Addresses are plain byte offsets: any range with start < end <= UINT64_MAX
 * is accepted (the decoder enforces page alignment on the wire).
 *
 * Errors: a mutating function returns 0, -EINVAL (start >= end) or -ENOMEM.
 * On any error the map is left exactly as it was (memory is reserved before
 * anything changes), so a caller may drop the offending input and go on.
 *
 * The same semantics are implemented in TypeScript (frontend/src/tagmap.ts);
 * both run the shared vectors, tests/vectors/tagmap/<topic>.json.
 *
 * Ownership: tagmap_new() and tagmap_clone() allocate, tagmap_free() frees.
 * Thread safety: none; a tagmap belongs to one owner.
 */
#ifndef MEVI_PROTO_TAGMAP_H
#define MEVI_PROTO_TAGMAP_H

#include <stddef.h>
#include <stdint.h>

struct tagmap;

/* One range as seen by iteration and lookup. */
struct tagmap_range {
	uint64_t start;
	uint64_t end;
	uint32_t value;
};

/* Allocates an empty map. NULL on out-of-memory. */
struct tagmap *tagmap_new(void);

/* Frees the map. NULL is allowed. */
void tagmap_free(struct tagmap *m);

/* Returns an independent deep copy of m (a fork), or NULL on OOM. */
struct tagmap *tagmap_clone(const struct tagmap *m);

/* Sets [start, end) to value, replacing whatever was there.
 * Returns 0, -EINVAL if start >= end, or -ENOMEM. */
int tagmap_set(struct tagmap *m, uint64_t start, uint64_t end, uint32_t value);

/* Removes [start, end); removing nothing is not an error.
 * Returns 0, -EINVAL if start >= end, or -ENOMEM (a split needs room). */
int tagmap_remove(struct tagmap *m, uint64_t start, uint64_t end);

/*
 * mremap semantics: the contents of [old_start, old_end) (ranges and holes)
 * are removed and placed at new_start, replacing whatever was in
 * [new_start, new_end). The first min(old_len, new_len) bytes keep their
 * values; a grown tail [new_start + old_len, new_end) has no value; a shrunk
 * tail is dropped. The two ranges may overlap. Returns 0, -EINVAL if either
 * range is empty or inverted, or -ENOMEM.
 */
int tagmap_remap(struct tagmap *m, uint64_t old_start, uint64_t old_end, uint64_t new_start,
		 uint64_t new_end);

/* Removes every range (exec). Cannot fail; keeps the allocation. */
void tagmap_clear(struct tagmap *m);

/* Number of ranges (after merging). */
size_t tagmap_count(const struct tagmap *m);

/*
 * Calls fn for every range in address order. A non-zero return of fn stops
 * the walk and is returned; otherwise returns 0. fn must not modify m.
 */
typedef int (*tagmap_walk_fn)(const struct tagmap_range *r, void *ctx);
int tagmap_walk(const struct tagmap *m, tagmap_walk_fn fn, void *ctx);

/* Like tagmap_walk, restricted to the ranges intersecting [start, end),
 * clipped to it. Nothing is walked when start >= end. */
int tagmap_walk_range(const struct tagmap *m, uint64_t start, uint64_t end, tagmap_walk_fn fn,
		      void *ctx);

/* Finds the range containing addr: returns 1 and fills *out (unless NULL),
 * or 0 when addr has no value. */
int tagmap_lookup(const struct tagmap *m, uint64_t addr, struct tagmap_range *out);

#endif /* MEVI_PROTO_TAGMAP_H */
