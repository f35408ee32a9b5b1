/*
 * stacktab — one session's call stacks by id, each stack one allocation with
 * its strings, bounded (contract: stacktab.h).
 */
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
	slotindex_free(&t->index);
	memset(t, 0, sizeof(*t));
}

static uint32_t stack_hash(const void *table, uint32_t pos)
{
	return id_hash(((const struct stacktab *)table)->stacks[pos]->id);
}

static bool stack_is(const void *table, uint32_t pos, const void *id)
{
	return ((const struct stacktab *)table)->stacks[pos]->id == *(const uint32_t *)id;
}

/* Position + 1 of id's stack in t->stacks, or 0. */
static uint32_t find(const struct stacktab *t, uint32_t id)
{
	return slotindex_find(&t->index, id_hash(id), stack_is, t, &id);
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
		if (slotindex_reserve(&t->index, t->count, stack_hash, t))
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
	slotindex_put(&t->index, id_hash(id), t->count);
	t->count++;
	return 0;
}

const struct stack *stacktab_get(const struct stacktab *t, uint32_t id)
{
	uint32_t pos = find(t, id);

	return pos ? t->stacks[pos - 1] : NULL;
}
