/*
 * rcbuf — the refcounted, immutable message buffer a delta or snapshot is
 * encoded into once and queued to every tab by reference (contract: rcbuf.h).
 */
#include "rcbuf.h"

#include <stdlib.h>

#include "log.h"

struct rcbuf *rcbuf_from_sbuffer(msgpack_sbuffer *sb)
{
	struct rcbuf *b = malloc(sizeof(*b));

	if (!b)
		return NULL;
	b->refs = 1;
	b->len = sb->size;
	b->data = msgpack_sbuffer_release(sb);
	return b;
}

struct rcbuf *rcbuf_ref(struct rcbuf *b)
{
	MEVI_ASSERT(b->refs > 0);
	b->refs++;
	return b;
}

void rcbuf_unref(struct rcbuf *b)
{
	if (!b)
		return;
	MEVI_ASSERT(b->refs > 0);
	if (--b->refs == 0) {
		free(b->data);
		free(b);
	}
}
