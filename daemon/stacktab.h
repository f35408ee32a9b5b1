/*
 * stacktab — one session's call stacks (the `stack` event of
 * proto/PROTOCOL.md): stack_id -> frames, innermost first.
 *
 * Each stack is one allocation holding its frames and copies of their
 * strings. A stack with a known id replaces the old one in place. Stacks are
 * kept in the order their ids were first defined (snapshots, checkpoints
 * and /api/state list them in that order, so a replay reproduces it).
 *
 * Bound: at most STACKTAB_MAX_STACKS stacks and STACKTAB_MAX_BYTES bytes
 * (frames and their strings) per session. A stack that would go beyond is
 * dropped (stacktab_put returns 1; the caller logs it once); origins naming
 * it are kept and shown without frames, as for any unknown stack.
 *
 * Ownership: the table owns every stack; stacktab_destroy frees them.
 * Thread safety: none.
 */
#ifndef MEVI_DAEMON_STACKTAB_H
#define MEVI_DAEMON_STACKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "slotindex.h"

#define STACKTAB_MAX_STACKS 65536u
#define STACKTAB_MAX_BYTES  (8u << 20)

struct stack {
	uint32_t id;
	uint32_t nframes;
	size_t bytes;		    /* charged to the table */
	struct mevi_frame frames[]; /* strings point behind the frames */
};

struct stacktab {
	struct stack **stacks; /* in order of first definition */
	uint32_t count, cap;
	struct slotindex index; /* the stacks by key */
	size_t bytes;
	bool full_logged; /* the caller's "once" flag for the bound */
};

void stacktab_init(struct stacktab *t);
void stacktab_destroy(struct stacktab *t);

/*
 * Defines stack id as frames[0..nframes) (copied), replacing a stack of the
 * same id. Returns 0, 1 when dropped because of the bound (the table is
 * unchanged), or -ENOMEM (unchanged).
 */
int stacktab_put(struct stacktab *t, uint32_t id, const struct mevi_frame *frames,
		 uint32_t nframes);

/* The stack with that id, or NULL. Valid until the next put or destroy. */
const struct stack *stacktab_get(const struct stacktab *t, uint32_t id);

#endif /* MEVI_DAEMON_STACKTAB_H */
