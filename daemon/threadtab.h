/*
 * threadtab — one process's thread names (the `thread` event of
 * proto/PROTOCOL.md): tid -> name, sorted by tid.
 *
 * Bound: at most THREADTAB_MAX_THREADS threads and THREADTAB_MAX_BYTES bytes
 * of names per process. A new thread beyond it, or a rename that would
 * exceed the bytes, is dropped (threadtab_set returns 1; the caller logs it
 * once). Touches naming a thread the table does not know are kept.
 *
 * Ownership: the table owns copies of the names. Thread safety: none.
 */
#ifndef MEVI_DAEMON_THREADTAB_H
#define MEVI_DAEMON_THREADTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define THREADTAB_MAX_THREADS 65536u
#define THREADTAB_MAX_BYTES   (1u << 20)

struct thread_name {
	int32_t tid;
	struct mevi_str name; /* owned (a static "" when empty) */
};

struct threadtab {
	struct thread_name *t; /* sorted by tid */
	uint32_t n, cap;
	size_t bytes;
	bool full_logged; /* the caller's "once" flag for the bound */
};

void threadtab_init(struct threadtab *t);
void threadtab_destroy(struct threadtab *t);

/* Names tid (copying name). Returns 0, 1 when dropped by the bound, or
 * -ENOMEM (unchanged). */
int threadtab_set(struct threadtab *t, int32_t tid, struct mevi_str name);

/* The name of tid, or NULL when unknown. */
const struct mevi_str *threadtab_get(const struct threadtab *t, int32_t tid);

#endif /* MEVI_DAEMON_THREADTAB_H */
