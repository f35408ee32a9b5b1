/*
 * codec_test — helpers shared by the wire-format tests: a deterministic
 * random generator, a tiny text notation that packs msgpack for crafted
 * inputs, event comparison, and a driver that feeds a stream to the decoder
 * in a chosen split and records everything that comes out.
 *
 * Header-only (static functions); each test program includes it once.
 */
#ifndef MEVI_TESTS_CODEC_TEST_H
#define MEVI_TESTS_CODEC_TEST_H

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "decoder.h"
#include "event.h"
#include "memmap.h"

/* splitmix64: small, fast, and the same sequence on every machine. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (the modulo bias is irrelevant here). */
static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

/*
 * Packs a value written in a JSON-like notation, so crafted inputs read like
 * what they are:
 *   [a, b, ...]   array            {k: v, ...}  map
 *   123  0x1000   unsigned int     -5           negative int
 *   1.5           double           "text"       str (no escapes)
 *   b"text"       bin              true false nil
 *   x"c1"         the raw bytes given in hex, inserted as they are
 * Returns a pointer past the value; aborts on a syntax error (a bug in the
 * test, not in the code under test).
 */
static const char *mp_value(msgpack_packer *pk, const char *p);

static const char *mp_skip_ws(const char *p)
{
	while (*p && (isspace((unsigned char)*p) || *p == ','))
		p++;
	return p;
}

static void mp_syntax(const char *p)
{
	fprintf(stderr, "codec_test: bad msgpack notation at \"%.20s\"\n", p);
	abort();
}

static int mp_discard(void *data, const char *buf, size_t len)
{
	return 0;
}

static const char *mp_container(msgpack_packer *pk, const char *p, char close, bool map)
{
	msgpack_packer counter;
	const char *q;
	uint32_t n = 0;

	/* Count the items by packing them into nothing first. */
	msgpack_packer_init(&counter, NULL, mp_discard);
	for (q = mp_skip_ws(p); *q != close; q = mp_skip_ws(q)) {
		if (!*q)
			mp_syntax(p);
		q = mp_skip_ws(mp_value(&counter, q));
		if (*q == ':')
			q++;
		n++;
	}
	if (map) {
		if (n % 2)
			mp_syntax(p);
		msgpack_pack_map(pk, n / 2);
	} else {
		msgpack_pack_array(pk, n);
	}
	for (q = mp_skip_ws(p); *q != close; q = mp_skip_ws(q)) {
		q = mp_skip_ws(mp_value(pk, q));
		if (*q == ':')
			q++;
	}
	return q + 1;
}

static const char *mp_value(msgpack_packer *pk, const char *p)
{
	char *end;

	p = mp_skip_ws(p);
	if (*p == '[')
		return mp_container(pk, p + 1, ']', false);
	if (*p == '{')
		return mp_container(pk, p + 1, '}', true);
	if (*p == '"' || (p[0] == 'b' && p[1] == '"')) {
		bool bin = *p == 'b';
		const char *s = p + (bin ? 2 : 1);
		const char *e = strchr(s, '"');

		if (!e)
			mp_syntax(p);
		if (bin) {
			msgpack_pack_bin(pk, (size_t)(e - s));
			msgpack_pack_bin_body(pk, s, (size_t)(e - s));
		} else {
			msgpack_pack_str(pk, (size_t)(e - s));
			msgpack_pack_str_body(pk, s, (size_t)(e - s));
		}
		return e + 1;
	}
	if (p[0] == 'x' && p[1] == '"') {
		const char *s = p + 2;

		while (*s != '"') {
			unsigned byte;

			if (sscanf(s, "%2x", &byte) != 1)
				mp_syntax(s);
			pk->callback(pk->data, (const char *)&(unsigned char){(unsigned char)byte},
				     1);
			s += 2;
		}
		return s + 1;
	}
	if (!strncmp(p, "true", 4)) {
		msgpack_pack_true(pk);
		return p + 4;
	}
	if (!strncmp(p, "false", 5)) {
		msgpack_pack_false(pk);
		return p + 5;
	}
	if (!strncmp(p, "nil", 3)) {
		msgpack_pack_nil(pk);
		return p + 3;
	}
	if (*p == '-' || isdigit((unsigned char)*p)) {
		const char *q = p + (*p == '-');

		while (isalnum((unsigned char)*q))
			q++;
		if (*q == '.') {
			msgpack_pack_double(pk, strtod(p, &end));
			return end;
		}
		if (*p == '-') {
			msgpack_pack_int64(pk, strtoll(p, &end, 0));
		} else {
			errno = 0;
			msgpack_pack_uint64(pk, strtoull(p, &end, 0));
			if (errno)
				mp_syntax(p);
		}
		return end;
	}
	mp_syntax(p);
	return p;
}

/* Appends the packed notation (one value or several, one after the other)
 * to sb. */
static inline void mp_pack(msgpack_sbuffer *sb, const char *text)
{
	msgpack_packer pk;
	const char *p = mp_skip_ws(text);

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	while (*p)
		p = mp_skip_ws(mp_value(&pk, p));
}

static inline bool str_equal(const struct mevi_str *a, const struct mevi_str *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

static inline bool strv_equal(const struct mevi_strv *a, const struct mevi_strv *b)
{
	if (a->count != b->count)
		return false;
	for (uint32_t i = 0; i < a->count; i++)
		if (!str_equal(&a->items[i], &b->items[i]))
			return false;
	return true;
}

static inline bool range_equal(const struct mevi_range *a, const struct mevi_range *b)
{
	return a->start == b->start && a->end == b->end;
}

/* Frames are equal with equal strings; a nil source only equals nil. */
static inline bool frame_equal(const struct mevi_frame *a, const struct mevi_frame *b)
{
	return a->pc == b->pc && str_equal(&a->func, &b->func) &&
	       str_equal(&a->module, &b->module) && !a->source.ptr == !b->source.ptr &&
	       str_equal(&a->source, &b->source);
}

/* Field-by-field equality of two events (strings by content). */
static inline bool event_equal(const struct mevi_event *a, const struct mevi_event *b)
{
	if (a->type != b->type || a->pid != b->pid || a->ts != b->ts)
		return false;
	switch ((enum mevi_event_type)a->type) {
	case MEVI_EV_SESSION_START:
		return a->session_start.version == b->session_start.version &&
		       a->session_start.mode == b->session_start.mode &&
		       a->session_start.resume == b->session_start.resume &&
		       a->session_start.started_at == b->session_start.started_at &&
		       strv_equal(&a->session_start.argv, &b->session_start.argv) &&
		       a->session_start.sample_ms == b->session_start.sample_ms;
	case MEVI_EV_SESSION_END:
		return a->session_end.status == b->session_end.status;
	case MEVI_EV_PROC_START:
		return a->proc_start.ppid == b->proc_start.ppid &&
		       a->proc_start.flags == b->proc_start.flags &&
		       strv_equal(&a->proc_start.cmdline, &b->proc_start.cmdline);
	case MEVI_EV_PROC_EXEC:
		return strv_equal(&a->proc_exec.cmdline, &b->proc_exec.cmdline);
	case MEVI_EV_PROC_EXIT:
		return a->proc_exit.status == b->proc_exit.status;
	case MEVI_EV_MAP:
		return range_equal(&a->map.range, &b->map.range) && a->map.state == b->map.state;
	case MEVI_EV_UNMAP:
		return range_equal(&a->unmap.range, &b->unmap.range);
	case MEVI_EV_REMAP:
		return range_equal(&a->remap.from, &b->remap.from) &&
		       range_equal(&a->remap.to, &b->remap.to);
	case MEVI_EV_STATE:
		return range_equal(&a->state.range, &b->state.range) &&
		       a->state.state == b->state.state;
	case MEVI_EV_STACK:
		if (a->stack.id != b->stack.id || a->stack.nframes != b->stack.nframes)
			return false;
		for (uint32_t i = 0; i < a->stack.nframes; i++)
			if (!frame_equal(&a->stack.frames[i], &b->stack.frames[i]))
				return false;
		return true;
	case MEVI_EV_ORIGIN:
		return range_equal(&a->origin.range, &b->origin.range) &&
		       a->origin.stack_id == b->origin.stack_id;
	case MEVI_EV_VMA:
		return range_equal(&a->vma.range, &b->vma.range) && a->vma.kind == b->vma.kind &&
		       str_equal(&a->vma.name, &b->vma.name);
	case MEVI_EV_THREAD:
		return a->thread.tid == b->thread.tid &&
		       str_equal(&a->thread.name, &b->thread.name);
	case MEVI_EV_TOUCH:
		return range_equal(&a->touch.range, &b->touch.range) &&
		       a->touch.tid == b->touch.tid;
	case MEVI_EV_SAMPLING:
		return a->sampling.sample_ms == b->sampling.sample_ms;
	case MEVI_EV_ENGINE:
		return str_equal(&a->engine.name, &b->engine.name) &&
		       a->engine.corrections == b->engine.corrections &&
		       a->engine.drops == b->engine.drops;
	case MEVI_EV_WRITTEN:
		return range_equal(&a->written.range, &b->written.range) &&
		       a->written.t == b->written.t;
	}
	return false;
}

/*
 * Everything a decoder produced from one stream: every batch re-encoded
 * (batches are re-encoded one after the other, so batch boundaries show as
 * array headers), the batch and event counts, and how it ended.
 */
struct transcript {
	msgpack_sbuffer out;
	uint32_t batches;
	uint64_t events;
	int last_ret;		    /* 0 (wants more), -EBADMSG or -ENOMEM */
	enum mevi_decode_error err; /* mevi_decoder_error() at the end */
	char errmsg[160];
};

enum split_mode {
	SPLIT_WHOLE,  /* one feed */
	SPLIT_BYTES,  /* one byte per feed */
	SPLIT_RANDOM, /* random chunk sizes 1..max_chunk from the seed */
};

static inline void transcript_destroy(struct transcript *t)
{
	msgpack_sbuffer_destroy(&t->out);
}

/* Drains d into t. Returns the last mevi_decoder_next() result (<= 0). */
static inline int transcript_drain(struct mevi_decoder *d, struct transcript *t)
{
	const struct mevi_event *ev;
	uint32_t n;
	int ret;

	while ((ret = mevi_decoder_next(d, &ev, &n)) == 1) {
		struct mevi_batch_encoder enc;

		mevi_batch_encoder_init(&enc);
		for (uint32_t i = 0; i < n; i++)
			if (mevi_batch_encoder_add(&enc, &ev[i]))
				abort();
		if (n == 0) /* make empty batches visible too */
			msgpack_sbuffer_write(&t->out, "\x90", 1);
		else if (mevi_batch_encoder_finish(&enc, &t->out))
			abort();
		mevi_batch_encoder_destroy(&enc);
		t->batches++;
		t->events += n;
	}
	return ret;
}

/*
 * Feeds buf to a fresh decoder in the given split, calling
 * mevi_decoder_next() until it returns 0 after every feed, as a well-behaved
 * caller does, and records the outcome in t (initialised here).
 */
static inline void decode_stream(const void *buf, size_t len,
				 const struct mevi_decoder_limits *limits, enum split_mode mode,
				 uint64_t seed, size_t max_chunk, struct transcript *t)
{
	struct mevi_decoder d;
	const uint8_t *p = buf;
	size_t off = 0;
	int ret = 0;

	memset(t, 0, sizeof(*t));
	msgpack_sbuffer_init(&t->out);
	if (mevi_decoder_init(&d, limits))
		abort();
	while (off < len) {
		size_t n = len - off;

		if (mode == SPLIT_BYTES)
			n = 1;
		else if (mode == SPLIT_RANDOM && max_chunk > 0)
			n = (size_t)rng_below(&seed, max_chunk) + 1;
		if (n > len - off)
			n = len - off;
		ret = mevi_decoder_feed(&d, p + off, n);
		if (ret)
			break;
		off += n;
		ret = transcript_drain(&d, t);
		if (ret)
			break;
	}
	t->last_ret = ret;
	t->err = mevi_decoder_error(&d);
	snprintf(t->errmsg, sizeof(t->errmsg), "%s", mevi_decoder_errmsg(&d));
	mevi_decoder_destroy(&d);
}

static inline bool transcript_equal(const struct transcript *a, const struct transcript *b)
{
	return a->batches == b->batches && a->events == b->events && a->last_ret == b->last_ret &&
	       a->err == b->err && strcmp(a->errmsg, b->errmsg) == 0 &&
	       a->out.size == b->out.size &&
	       (a->out.size == 0 || memcmp(a->out.data, b->out.data, a->out.size) == 0);
}

/*
 * A random valid event. Strings point into a static pool that lives as long
 * as the program; items arrays come from *arena (the caller frees the arena
 * with free_arena()).
 */
struct strv_arena {
	void *items[4096];
	unsigned used;
};

static inline void free_arena(struct strv_arena *a)
{
	for (unsigned i = 0; i < a->used; i++)
		free(a->items[i]);
	a->used = 0;
}

static char random_pool[512];

/* A random string of the pool (every byte value, NUL included). */
static inline struct mevi_str random_str(uint64_t *rng)
{
	uint32_t len = (uint32_t)rng_below(rng, 300);
	uint32_t at = (uint32_t)rng_below(rng, sizeof(random_pool) - len);

	if (!random_pool[0])
		for (size_t i = 0; i < sizeof(random_pool); i++)
			random_pool[i] = (char)(i * 37 + 11); /* every byte value, NUL included */
	return (struct mevi_str){.ptr = random_pool + at, .len = len};
}

static inline struct mevi_strv random_strv(uint64_t *rng, struct strv_arena *a)
{
	struct mevi_strv v = {0};

	v.count = (uint32_t)rng_below(rng, 5);
	if (v.count == 0 || a->used == sizeof(a->items) / sizeof(a->items[0])) {
		v.count = 0;
		return v;
	}
	v.items = calloc(v.count, sizeof(*v.items));
	if (!v.items)
		abort();
	a->items[a->used++] = v.items;
	for (uint32_t i = 0; i < v.count; i++) {
		v.items[i] = random_str(rng);
	}
	return v;
}

/* Random frames (at most 8), from *arena. */
static inline void random_frames(uint64_t *rng, struct strv_arena *a, uint32_t *n,
				 struct mevi_frame **out)
{
	struct mevi_frame *fr;

	*n = (uint32_t)rng_below(rng, 9);
	*out = NULL;
	if (*n == 0 || a->used == sizeof(a->items) / sizeof(a->items[0])) {
		*n = 0;
		return;
	}
	fr = calloc(*n, sizeof(*fr));
	if (!fr)
		abort();
	a->items[a->used++] = fr;
	*out = fr;
	for (uint32_t i = 0; i < *n; i++) {
		fr[i].pc = rng_next(rng);
		fr[i].func = random_str(rng);
		fr[i].module = random_str(rng);
		if (rng_below(rng, 2))
			fr[i].source = random_str(rng);
		if (fr[i].source.ptr && !fr[i].source.len)
			fr[i].source.ptr = ""; /* empty, not nil */
	}
}

static inline struct mevi_range random_range(uint64_t *rng)
{
	uint64_t pages = MEVI_ADDR_LIMIT / MEVI_PAGE_SIZE;
	uint64_t a = rng_below(rng, pages), b = rng_below(rng, pages + 1);
	struct mevi_range r;

	if (rng_below(rng, 4) == 0) /* small ranges are the common case */
		b = a + 1 + rng_below(rng, 16);
	if (b > pages)
		b = pages;
	if (a == b)
		a = b - 1;
	r.start = (a < b ? a : b) * MEVI_PAGE_SIZE;
	r.end = (a < b ? b : a) * MEVI_PAGE_SIZE;
	return r;
}

static inline void random_event(uint64_t *rng, struct strv_arena *a, struct mevi_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = (uint8_t)rng_below(rng, MEVI_EV_TYPE_COUNT);
	ev->pid = 1 + (int32_t)rng_below(rng, INT32_MAX);
	ev->ts = rng_below(rng, 3) ? rng_below(rng, 1u << 20) : rng_next(rng);
	switch ((enum mevi_event_type)ev->type) {
	case MEVI_EV_SESSION_START:
		ev->session_start.version = MEVI_PROTO_VERSION;
		ev->session_start.mode = (uint8_t)rng_below(rng, 2);
		ev->session_start.resume = rng_below(rng, 2);
		ev->session_start.started_at = rng_next(rng);
		ev->session_start.argv = random_strv(rng, a);
		ev->session_start.sample_ms = rng_below(rng, 2) ? (uint32_t)rng_next(rng) : 0;
		break;
	case MEVI_EV_SESSION_END:
		ev->session_end.status = (int32_t)rng_below(rng, 257) - 1;
		break;
	case MEVI_EV_PROC_START:
		ev->proc_start.ppid = 1 + (int32_t)rng_below(rng, INT32_MAX);
		ev->proc_start.flags = (uint32_t)rng_below(rng, 2);
		ev->proc_start.cmdline = random_strv(rng, a);
		break;
	case MEVI_EV_PROC_EXEC:
		ev->proc_exec.cmdline = random_strv(rng, a);
		break;
	case MEVI_EV_PROC_EXIT:
		ev->proc_exit.status = (int32_t)rng_below(rng, 257) - 1;
		break;
	case MEVI_EV_MAP:
		ev->map.range = random_range(rng);
		ev->map.state = (uint8_t)rng_below(rng, MEVI_STATE_COUNT);
		break;
	case MEVI_EV_UNMAP:
		ev->unmap.range = random_range(rng);
		break;
	case MEVI_EV_REMAP:
		ev->remap.from = random_range(rng);
		ev->remap.to = random_range(rng);
		break;
	case MEVI_EV_STATE:
		ev->state.range = random_range(rng);
		ev->state.state = (uint8_t)rng_below(rng, MEVI_STATE_COUNT);
		break;
	case MEVI_EV_STACK:
		ev->stack.id = (uint32_t)rng_next(rng);
		random_frames(rng, a, &ev->stack.nframes, &ev->stack.frames);
		break;
	case MEVI_EV_ORIGIN:
		ev->origin.range = random_range(rng);
		ev->origin.stack_id = (uint32_t)rng_next(rng);
		break;
	case MEVI_EV_VMA:
		ev->vma.range = random_range(rng);
		ev->vma.kind = (uint8_t)rng_below(rng, MEVI_KIND_COUNT);
		ev->vma.name = random_str(rng);
		break;
	case MEVI_EV_THREAD:
		ev->thread.tid = 1 + (int32_t)rng_below(rng, INT32_MAX);
		ev->thread.name = random_str(rng);
		break;
	case MEVI_EV_TOUCH:
		ev->touch.range = random_range(rng);
		ev->touch.tid = 1 + (int32_t)rng_below(rng, INT32_MAX);
		break;
	case MEVI_EV_SAMPLING:
		ev->sampling.sample_ms = (uint32_t)rng_next(rng);
		break;
	case MEVI_EV_ENGINE:
		ev->engine.name = rng_next(rng) & 1 ? (struct mevi_str){"ebpf", 4}
						    : (struct mevi_str){"ptrace", 6};
		ev->engine.corrections = rng_next(rng);
		ev->engine.drops = rng_next(rng) & 0xffff;
		break;
	case MEVI_EV_WRITTEN:
		ev->written.range = random_range(rng);
		ev->written.t = rng_below(rng, 2) ? rng_below(rng, 1u << 30) : rng_next(rng);
		break;
	}
}

#endif /* MEVI_TESTS_CODEC_TEST_H */
