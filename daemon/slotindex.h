/*
 * slotindex — an open-addressing hash index over a table the caller owns.
 *
 * The index stores positions (1 + the entry's position in the caller's table;
 * 0 is a free slot), the table stores the keys. It never holds more than half
 * its slots (the caller calls slotindex_reserve before each insertion), so a
 * probe sequence always ends at a free slot. Entries are never removed one by
 * one, only all at once, which is all the daemon's intern tables (stacks, vma
 * names, the event log's per-chunk strings) need.
 */
#ifndef MEVI_DAEMON_SLOTINDEX_H
#define MEVI_DAEMON_SLOTINDEX_H

#include <stdbool.h>
#include <stdint.h>

struct slotindex {
	uint32_t *slot; /* 1 + position, 0 = free */
	uint32_t cap;	/* a power of two, or 0 before the first reserve */
};

/* The hash of the table's entry at position pos, and whether it is the key a
 * lookup wants. */
typedef uint32_t (*slotindex_hash_fn)(const void *table, uint32_t pos);
typedef bool (*slotindex_match_fn)(const void *table, uint32_t pos, const void *key);

/* Makes room for the (count + 1)-th entry: doubles the index (rehashing the
 * count existing entries) when it would be more than half full. Returns 0 or
 * -ENOMEM (the index unchanged). */
int slotindex_reserve(struct slotindex *x, uint32_t count, slotindex_hash_fn hash,
		      const void *table);

/* Records the entry at position pos, whose hash is h (room reserved). */
void slotindex_put(struct slotindex *x, uint32_t h, uint32_t pos);

/* 1 + the position of the entry of hash h that match() accepts, or 0. */
uint32_t slotindex_find(const struct slotindex *x, uint32_t h, slotindex_match_fn match,
			const void *table, const void *key);

/* Forgets every entry, keeping the slots. */
void slotindex_clear(struct slotindex *x);

void slotindex_free(struct slotindex *x);

#endif /* MEVI_DAEMON_SLOTINDEX_H */
