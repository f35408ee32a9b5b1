/* threadtab — one process's thread names, sorted by tid, bounded (contract: threadtab.h). */
#include "threadtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void threadtab_init(struct threadtab *t)
{
	memset(t, 0, sizeof(*t));
}

void threadtab_destroy(struct threadtab *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->t[i].name.len)
			free((void *)t->t[i].name.ptr);
	free(t->t);
	memset(t, 0, sizeof(*t));
}

/* The first position whose tid is >= tid. */
static uint32_t lower_bound(const struct threadtab *t, int32_t tid)
{
	uint32_t lo = 0, hi = t->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (t->t[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int threadtab_set(struct threadtab *t, int32_t tid, struct mevi_str name)
{
	uint32_t i = lower_bound(t, tid);
	bool known = i < t->n && t->t[i].tid == tid;
	size_t old = known ? t->t[i].name.len : 0;
	char *copy = NULL;

	if ((!known && t->n >= THREADTAB_MAX_THREADS) ||
	    t->bytes - old + name.len > THREADTAB_MAX_BYTES)
		return 1;
	if (!known && t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 8;
		struct thread_name *a = realloc(t->t, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		t->t = a;
		t->cap = cap;
	}
	if (name.len) {
		copy = malloc(name.len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, name.ptr, name.len);
	}
	if (known) {
		if (old)
			free((void *)t->t[i].name.ptr);
	} else {
		memmove(&t->t[i + 1], &t->t[i], (t->n - i) * sizeof(*t->t));
		t->n++;
		t->t[i].tid = tid;
	}
	t->t[i].name = (struct mevi_str){copy ? copy : "", name.len};
	t->bytes = t->bytes - old + name.len;
	return 0;
}

const struct mevi_str *threadtab_get(const struct threadtab *t, int32_t tid)
{
	uint32_t i = lower_bound(t, tid);

	return i < t->n && t->t[i].tid == tid ? &t->t[i].name : NULL;
}
