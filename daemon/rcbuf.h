/*
 * rcbuf — a reference-counted, immutable byte buffer: one encoded websocket
 * message shared by every tab it is queued to ("encode once, fan out by
 * reference").
 *
 * Ownership: rcbuf_from_sbuffer() returns a buffer with one reference, owned
 * by the caller. Every holder takes its own reference with rcbuf_ref() and
 * drops it with rcbuf_unref(); the last unref frees the buffer.
 * Thread safety: none (mevid runs one loop).
 */
#ifndef MEVI_DAEMON_RCBUF_H
#define MEVI_DAEMON_RCBUF_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct rcbuf {
	uint32_t refs;
	size_t len;
	char *data; /* malloc'ed */
};

/* Takes over sb's bytes (sb is left empty and reusable). NULL on OOM, sb then
 * unchanged. */
struct rcbuf *rcbuf_from_sbuffer(msgpack_sbuffer *sb);

struct rcbuf *rcbuf_ref(struct rcbuf *b);

/* Drops one reference; frees b on the last one. NULL is allowed. */
void rcbuf_unref(struct rcbuf *b);

#endif /* MEVI_DAEMON_RCBUF_H */
