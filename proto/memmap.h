/*
 * memmap — the memory-map model of one address space.
 *
 * A memmap is an interval map from half-open page-aligned address ranges
 * [start, end) to a page state. Ranges never overlap, are kept sorted by
 * address, and adjacent ranges of equal state are always merged, so the
 * representation of a given map is unique. Addresses that are in no range are
 * "unmapped" (as far as mevi tracks).
 *
 * Every mutating operation is O(log n + k) where n is the number of ranges and
 * k the number of ranges it touches; a map of 1,000,000 ranges stays fast.
 * rss and vsz are maintained incrementally and are O(1) to read.
 *
 * Addresses are plain byte offsets: the model itself does not require page
 * alignment (the decoder enforces it on the wire). Any range with
 * start < end <= UINT64_MAX is accepted.
 *
 * Errors: a mutating function returns 0 or a negative errno. On any error the
 * map is left exactly as it was (nodes an operation may need are allocated
 * before anything changes), so a caller may drop the offending input and go on.
 *
 * The same semantics are implemented in TypeScript in frontend/src/memmap.ts;
 * both are checked against the shared vectors, tests/vectors/<topic>.json.
 *
 * Thread safety: none; a memmap belongs to one owner.
 */
#ifndef MEVI_PROTO_MEMMAP_H
#define MEVI_PROTO_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

/* Page states. Values are part of the wire format (see proto/PROTOCOL.md). */
enum mevi_state {
	MEVI_STATE_NOT_RESIDENT = 0, /* mapped and tracked, no page behind it */
	MEVI_STATE_RESIDENT = 1,     /* the kernel has a page there */
	MEVI_STATE_UNTRACKED = 2,    /* mapped, but mevi cannot observe it */
	MEVI_STATE_SWAPPED = 3,	     /* the page is in swap (sampled mode; since version 2) */
};
#define MEVI_STATE_COUNT 4

/* Returns "resident", "not_resident", "untracked", "swapped", or "?" if out of range
 * (never NULL, so that it can always be printed). */
const char *mevi_state_name(unsigned state);

struct memmap;

/* One range as seen by iteration. */
struct memmap_range {
	uint64_t start;
	uint64_t end;
	uint8_t state;
};

/* Allocates an empty map. Returns NULL on out-of-memory. Caller frees with
 * memmap_free(). */
struct memmap *memmap_new(void);

/* Frees the map and all its ranges. NULL is allowed. */
void memmap_free(struct memmap *m);

/* Returns a deep copy of m (used when a process forks), or NULL on OOM. The
 * copy is independent of m; the caller frees it with memmap_free(). */
struct memmap *memmap_clone(const struct memmap *m);

/*
 * Sets [start, end) to state, inserting the range where nothing was mapped and
 * overwriting whatever was there. This is what a new mapping does.
 * Returns 0, or -EINVAL if start >= end or state is not a valid state,
 * or -ENOMEM.
 */
int memmap_set(struct memmap *m, uint64_t start, uint64_t end, uint8_t state);

/*
 * Changes the state of the mapped parts of [start, end) to state; unmapped
 * holes inside the range stay unmapped. This is what a page-in or a
 * MADV_DONTNEED does. Returns 0, -EINVAL (as memmap_set) or -ENOMEM.
 */
int memmap_update(struct memmap *m, uint64_t start, uint64_t end, uint8_t state);

/* Removes [start, end) (munmap). Removing nothing is not an error.
 * Returns 0, -EINVAL if start >= end, or -ENOMEM (a split needs a node). */
int memmap_remove(struct memmap *m, uint64_t start, uint64_t end);

/*
 * Applies mremap semantics. The contents of [old_start, old_end) (its ranges
 * and their states, holes included) are removed and placed at new_start,
 * overwriting whatever was mapped in [new_start, new_end):
 *  - the first min(old_len, new_len) bytes keep their page states;
 *  - when growing, the new tail [new_start + old_len, new_end) is
 *    MEVI_STATE_NOT_RESIDENT;
 *  - when shrinking, the old tail beyond new_len is dropped.
 * Grow or shrink in place is new_start == old_start. Old and new ranges may
 * overlap. Returns 0, -EINVAL if either range is empty/inverted, or -ENOMEM.
 */
int memmap_remap(struct memmap *m, uint64_t old_start, uint64_t old_end, uint64_t new_start,
		 uint64_t new_end);

/* Removes every range (exec). Cannot fail. */
void memmap_clear(struct memmap *m);

/* Bytes in MEVI_STATE_RESIDENT ranges. */
uint64_t memmap_rss(const struct memmap *m);

/* Bytes in all ranges. */
uint64_t memmap_vsz(const struct memmap *m);

/* Number of ranges (after merging). */
size_t memmap_count(const struct memmap *m);

/*
 * Calls fn for every range in address order. If fn returns non-zero the walk
 * stops and that value is returned; otherwise returns 0. fn must not modify m.
 */
typedef int (*memmap_walk_fn)(const struct memmap_range *r, void *ctx);
int memmap_walk(const struct memmap *m, memmap_walk_fn fn, void *ctx);

/*
 * Like memmap_walk, restricted to ranges intersecting [start, end); the ranges
 * passed to fn are clipped to [start, end). If start >= end nothing is walked
 * and 0 is returned.
 */
int memmap_walk_range(const struct memmap *m, uint64_t start, uint64_t end, memmap_walk_fn fn,
		      void *ctx);

/*
 * Looks up the range containing addr. Returns 1 and fills *out (unless out is
 * NULL) if found, 0 if addr is unmapped.
 */
int memmap_lookup(const struct memmap *m, uint64_t addr, struct memmap_range *out);

#endif /* MEVI_PROTO_MEMMAP_H */
