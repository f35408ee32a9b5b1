#include "vmanames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t name_hash(uint8_t kind, struct mevi_str s)
{
	uint32_t h = 2166136261u ^ kind;

	for (uint32_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.ptr[i]) * 16777619u;
	return h;
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
	free(t->index);
	memset(t, 0, sizeof(*t));
}

/* Doubles the index. Returns 0 or -ENOMEM (t unchanged). */
static int index_grow(struct vmanames *t)
{
	uint32_t cap = t->index_cap ? t->index_cap * 2 : 64;
	uint32_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->count; i++) {
		uint32_t j = t->names[i].hash & (cap - 1);

		while (index[j])
			j = (j + 1) & (cap - 1);
		index[j] = i + 1;
	}
	free(t->index);
	t->index = index;
	t->index_cap = cap;
	return 0;
}

int vmanames_intern(struct vmanames *t, uint8_t kind, struct mevi_str name, uint32_t *id)
{
	uint32_t h, j;
	char *copy;

	if (name.len == 0) {
		*id = kind;
		return 0;
	}
	h = name_hash(kind, name);
	if (t->index_cap) {
		for (j = h & (t->index_cap - 1); t->index[j]; j = (j + 1) & (t->index_cap - 1)) {
			const struct vmaname *n = &t->names[t->index[j] - 1];

			if (n->hash == h && n->kind == kind && n->name.len == name.len &&
			    memcmp(n->name.ptr, name.ptr, name.len) == 0) {
				*id = MEVI_KIND_COUNT + t->index[j] - 1;
				return 0;
			}
		}
	}
	if (t->count >= VMANAMES_MAX_NAMES || name.len > VMANAMES_MAX_BYTES - t->bytes) {
		*id = kind;
		return 1;
	}
	if ((t->count + 1) * 2 > t->index_cap && index_grow(t))
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
	for (j = h & (t->index_cap - 1); t->index[j]; j = (j + 1) & (t->index_cap - 1))
		;
	t->index[j] = t->count + 1;
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
