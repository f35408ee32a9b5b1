/*
 * slotindex — the open-addressing hash index of the daemon's intern tables:
 * reserve, put, find, clear (contract: slotindex.h).
 */
#include "slotindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int slotindex_reserve(struct slotindex *x, uint32_t count, slotindex_hash_fn hash,
		      const void *table)
{
	uint32_t cap, *slot;

	if ((count + 1) * 2 <= x->cap)
		return 0;
	cap = x->cap ? x->cap * 2 : 64;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (uint32_t pos = 0; pos < count; pos++) {
		uint32_t j = hash(table, pos) & (cap - 1);

		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = pos + 1;
	}
	free(x->slot);
	x->slot = slot;
	x->cap = cap;
	return 0;
}

void slotindex_put(struct slotindex *x, uint32_t h, uint32_t pos)
{
	uint32_t j = h & (x->cap - 1);

	while (x->slot[j])
		j = (j + 1) & (x->cap - 1);
	x->slot[j] = pos + 1;
}

uint32_t slotindex_find(const struct slotindex *x, uint32_t h, slotindex_match_fn match,
			const void *table, const void *key)
{
	if (!x->cap)
		return 0;
	for (uint32_t j = h & (x->cap - 1); x->slot[j]; j = (j + 1) & (x->cap - 1))
		if (match(table, x->slot[j] - 1, key))
			return x->slot[j];
	return 0;
}

void slotindex_clear(struct slotindex *x)
{
	if (x->cap)
		memset(x->slot, 0, x->cap * sizeof(*x->slot));
}

void slotindex_free(struct slotindex *x)
{
	free(x->slot);
	x->slot = NULL;
	x->cap = 0;
}
