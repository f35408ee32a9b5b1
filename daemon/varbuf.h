/*
 * varbuf — the byte buffers of mevid's history: a growable writer (wb_*) and
 * a bounded reader (rb_*) of LEB128 varints, zigzag-coded signed varints,
 * bytes and length-prefixed strings. daemon/eventrec.c writes event records
 * with them, daemon/checkpoint.c session checkpoints.
 *
 * Errors are sticky, so a record is written or read without checking each
 * step: a writer that fails to grow sets `failed` and drops every later
 * write; a reader that runs past its end or reads a malformed varint sets
 * `bad` (and `nomem` too when it could not allocate) and returns zeros.
 *
 * Ownership: the writer owns p (free it; a chunk store takes it over); the
 * reader borrows p and owns strs (rb_free).
 */
#ifndef MEVI_DAEMON_VARBUF_H
#define MEVI_DAEMON_VARBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "event.h"

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool failed; /* a realloc failed: nothing more is written */
};

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;   /* truncated or malformed: every later read gives 0 */
	bool nomem; /* an allocation failed (bad is set too) */
	/* the items of the last rb_strv(), valid until the next one */
	struct mevi_str *strs;
	uint32_t cap_strs;
};

/* Makes room for n more bytes (sets failed if it cannot). */
void wb_grow(struct wbuf *w, size_t n);

static inline void wb_reserve(struct wbuf *w, size_t n)
{
	if (!w->failed && w->len + n > w->cap)
		wb_grow(w, n);
}

static inline void wb_byte(struct wbuf *w, unsigned char b)
{
	wb_reserve(w, 1);
	if (!w->failed)
		w->p[w->len++] = b;
}

static inline void wb_uv(struct wbuf *w, uint64_t v)
{
	wb_reserve(w, 10);
	if (w->failed)
		return;
	while (v >= 0x80) {
		w->p[w->len++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	w->p[w->len++] = (unsigned char)v;
}

static inline void wb_sv(struct wbuf *w, int64_t v)
{
	wb_uv(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static inline void wb_bytes(struct wbuf *w, const void *p, size_t n)
{
	wb_reserve(w, n);
	if (!w->failed && n) {
		memcpy(w->p + w->len, p, n);
		w->len += n;
	}
}

/* A string: its length, then its bytes. */
void wb_str(struct wbuf *w, struct mevi_str s);

/* A string list: the count, then each string as wb_str. */
void wb_strv(struct wbuf *w, const struct mevi_strv *v);

static inline uint64_t rb_uv(struct rbuf *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned char b;

		if (r->off >= r->len) {
			r->bad = true;
			return 0;
		}
		b = r->p[r->off++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static inline int64_t rb_sv(struct rbuf *r)
{
	uint64_t v = rb_uv(r);

	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline unsigned char rb_byte(struct rbuf *r)
{
	if (r->off >= r->len) {
		r->bad = true;
		return 0;
	}
	return r->p[r->off++];
}

/* Reads what wb_str wrote; the string points into r->p. */
struct mevi_str rb_str(struct rbuf *r);

/* Reads what wb_strv wrote into v; items in r->strs (valid until the next
 * rb_strv), strings in r->p. */
void rb_strv(struct rbuf *r, struct mevi_strv *v);

/* Frees what r owns (not r->p). */
void rb_free(struct rbuf *r);

#endif /* MEVI_DAEMON_VARBUF_H */
