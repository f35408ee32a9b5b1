/*
 * vmanames — interns a session's (kind, name) vma annotations into small ids,
 * bounded (contract: vmanames.h).
 */
#include "vmanames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"

static uint32_t name_hash(uint8_t kind, struct mevi_str s)
{
	return fnv1a32(FNV1A32_BASIS ^ kind, s.ptr, s.len);
}

void vmanames_init(struct vmanames *t)
{
	memset(t, 0, sizeof(*t));
}

void vmanames_destroy(struct vmanames *t)
{
	for (uint32_t i = 0; i < t->count; i++)
		free((void *)t->names[i].name.ptr);
	free(t->names);
	slotindex_free(&t->index);
	memset(t, 0, sizeof(*t));
}

static uint32_t name_at_hash(const void *table, uint32_t pos)
{
	return ((const struct vmanames *)table)->names[pos].hash;
}

struct name_key {
	uint32_t hash;
	uint8_t kind;
	struct mevi_str name;
};

static bool name_is(const void *table, uint32_t pos, const void *key)
{
	const struct vmaname *n = &((const struct vmanames *)table)->names[pos];
	const struct name_key *k = key;

	return n->hash == k->hash && n->kind == k->kind && n->name.len == k->name.len &&
	       memcmp(n->name.ptr, k->name.ptr, k->name.len) == 0;
}

int vmanames_intern(struct vmanames *t, uint8_t kind, struct mevi_str name, uint32_t *id)
{
	uint32_t h, pos;
	char *copy;

	if (name.len == 0) {
		*id = kind;
		return 0;
	}
	h = name_hash(kind, name);
	pos = slotindex_find(&t->index, h, name_is, t, &(struct name_key){h, kind, name});
	if (pos) {
		*id = MEVI_KIND_COUNT + pos - 1;
		return 0;
	}
	if (t->count >= VMANAMES_MAX_NAMES || name.len > VMANAMES_MAX_BYTES - t->bytes) {
		*id = kind;
		return 1;
	}
	if (slotindex_reserve(&t->index, t->count, name_at_hash, t))
		return -ENOMEM;
	if (t->count == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		struct vmaname *names = realloc(t->names, cap * sizeof(*names));

		if (!names)
			return -ENOMEM;
		t->names = names;
		t->cap = cap;
	}
	copy = malloc(name.len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name.ptr, name.len);
	t->names[t->count] = (struct vmaname){{copy, name.len}, h, kind};
	slotindex_put(&t->index, h, t->count);
	*id = MEVI_KIND_COUNT + t->count;
	t->count++;
	t->bytes += name.len;
	return 0;
}

bool vmanames_get(const struct vmanames *t, uint32_t id, uint8_t *kind, struct mevi_str *name)
{
	if (id < MEVI_KIND_COUNT) {
		*kind = (uint8_t)id;
		*name = (struct mevi_str){"", 0};
		return true;
	}
	if (id - MEVI_KIND_COUNT >= t->count)
		return false;
	*kind = t->names[id - MEVI_KIND_COUNT].kind;
	*name = t->names[id - MEVI_KIND_COUNT].name;
	return true;
}
