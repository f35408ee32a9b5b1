/*
 * vmanames — one session's table of interned vma annotations: (kind, name)
 * pairs (the `vma` event of proto/PROTOCOL.md), each given a small id that
 * the per-process vma maps (proto/tagmap.h) store as their value, so that a
 * name repeated by a thousand mappings is kept once.
 *
 * Ids: 0..MEVI_KIND_COUNT-1 are the kinds with an empty name (always known,
 * never allocated); interned names get MEVI_KIND_COUNT, MEVI_KIND_COUNT+1, ...
 * in the order they were first seen. Interning the same pairs in the same
 * order therefore gives the same ids (checkpoints rely on it).
 *
 * Bound: at most VMANAMES_MAX_NAMES names and VMANAMES_MAX_BYTES bytes of
 * names per session. Beyond that a new name is not kept: the pair gets the
 * id of its kind with an empty name (vmanames_intern returns 1; the caller
 * logs it once).
 *
 * Ownership: the table owns copies of the names; vmanames_destroy frees
 * them. Thread safety: none.
 */
#ifndef MEVI_DAEMON_VMANAMES_H
#define MEVI_DAEMON_VMANAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "slotindex.h"

#define VMANAMES_MAX_NAMES 65536u
#define VMANAMES_MAX_BYTES (4u << 20)

struct vmaname {
	struct mevi_str name; /* owned */
	uint32_t hash;
	uint8_t kind;
};

struct vmanames {
	struct vmaname *names; /* names[i] has id MEVI_KIND_COUNT + i */
	uint32_t count, cap;
	struct slotindex index; /* the names by key */
	size_t bytes;
	bool full_logged; /* the caller's "once" flag for the bound */
};

void vmanames_init(struct vmanames *t);
void vmanames_destroy(struct vmanames *t);

/*
 * Sets *id to the id of (kind, name). kind must be < MEVI_KIND_COUNT.
 * Returns 0, 1 when the name was not kept (over the bound: *id is the empty
 * name of kind), or -ENOMEM (*id untouched).
 */
int vmanames_intern(struct vmanames *t, uint8_t kind, struct mevi_str name, uint32_t *id);

/* The pair with that id: returns true and fills *kind and *name (which
 * stays valid until the table is destroyed), or false for an unknown id. */
bool vmanames_get(const struct vmanames *t, uint32_t id, uint8_t *kind, struct mevi_str *name);

#endif /* MEVI_DAEMON_VMANAMES_H */
