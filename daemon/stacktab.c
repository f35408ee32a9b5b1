#include "stacktab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t id_hash(uint32_t id)
{
	return id * UINT32_C(2654435761);
}

void stacktab_init(struct stacktab *t)
{
	memset(t, 0, sizeof(*t));
}

void stacktab_destroy(struct stacktab *t)
{
	for (uint32_t i = 0; i < t->count; i++)
		free(t->stacks[i]);
	free(t->stacks);
	free(t->index);
	memset(t, 0, sizeof(*t));
}

/* Position + 1 of id's stack in t->stacks, or 0. */
static uint32_t find(const struct stacktab *t, uint32_t id)
{
	if (!t->index_cap)
		return 0;
	for (uint32_t j = id_hash(id) & (t->index_cap - 1); t->index[j];
	     j = (j + 1) & (t->index_cap - 1))
		if (t->stacks[t->index[j] - 1]->id == id)
			return t->index[j];
	return 0;
}

static int index_grow(struct stacktab *t)
{
	uint32_t cap = t->index_cap ? t->index_cap * 2 : 64;
	uint32_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->count; i++) {
		uint32_t j = id_hash(t->stacks[i]->id) & (cap - 1);

		while (index[j])
			j = (j + 1) & (cap - 1);
		index[j] = i + 1;
	}
	free(t->index);
	t->index = index;
	t->index_cap = cap;
	return 0;
}

/* A copy of s after *p, advancing *p. */
static struct mevi_str copy_str(struct mevi_str s, char **p)
{
	struct mevi_str out = {*p, s.len};

	if (!s.ptr)
		return (struct mevi_str){NULL, 0};
	if (s.len)
		memcpy(*p, s.ptr, s.len);
	*p += s.len;
	return out;
}

int stacktab_put(struct stacktab *t, uint32_t id, const struct mevi_frame *frames, uint32_t nframes)
{
	size_t bytes = sizeof(struct stack) + (size_t)nframes * sizeof(struct mevi_frame);
	uint32_t pos = find(t, id);
	size_t freed = pos ? t->stacks[pos - 1]->bytes : 0;
	struct stack *st;
	char *p;

	for (uint32_t i = 0; i < nframes; i++)
		bytes += (size_t)frames[i].func.len + frames[i].module.len + frames[i].source.len;
	if ((!pos && t->count >= STACKTAB_MAX_STACKS) ||
	    t->bytes - freed + bytes > STACKTAB_MAX_BYTES)
		return 1;
	if (!pos) {
		if ((t->count + 1) * 2 > t->index_cap && index_grow(t))
			return -ENOMEM;
		if (t->count == t->cap) {
			uint32_t cap = t->cap ? t->cap * 2 : 16;
			struct stack **stacks = realloc(t->stacks, cap * sizeof(*stacks));

			if (!stacks)
				return -ENOMEM;
			t->stacks = stacks;
			t->cap = cap;
		}
	}
	st = malloc(bytes);
	if (!st)
		return -ENOMEM;
	st->id = id;
	st->nframes = nframes;
	st->bytes = bytes;
	p = (char *)&st->frames[nframes];
	for (uint32_t i = 0; i < nframes; i++) {
		st->frames[i].pc = frames[i].pc;
		st->frames[i].func = copy_str(frames[i].func, &p);
		st->frames[i].module = copy_str(frames[i].module, &p);
		st->frames[i].source = copy_str(frames[i].source, &p);
		if (!st->frames[i].func.ptr)
			st->frames[i].func.ptr = "";
		if (!st->frames[i].module.ptr)
			st->frames[i].module.ptr = "";
	}
	t->bytes = t->bytes - freed + bytes;
	if (pos) {
		free(t->stacks[pos - 1]);
		t->stacks[pos - 1] = st;
		return 0;
	}
	t->stacks[t->count] = st;
	{
		uint32_t j = id_hash(id) & (t->index_cap - 1);

		while (t->index[j])
			j = (j + 1) & (t->index_cap - 1);
		t->index[j] = t->count + 1;
	}
	t->count++;
	return 0;
}

const struct stack *stacktab_get(const struct stacktab *t, uint32_t id)
{
	uint32_t pos = find(t, id);

	return pos ? t->stacks[pos - 1] : NULL;
}
