/* eventrec — mevid's compact history record of an event, generated from proto/events.def. */
#include "eventrec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"
#include "memmap.h"

/* Header byte of a record. */
#define REC_TYPE_MASK	0x0fu
#define REC_TYPE_ESCAPE 0x0fu /* types 15 and up: the type follows as a byte */
#define REC_PID		0x10u /* the pid differs from the previous record's: varint follows */
#define REC_SAME_TID	0x20u /* touch: the tid equals the previous touch's: none follows */
#define REC_STATE_SHIFT 5     /* bits 5-6: page state of map / state records */
#define REC_SAME_TS	0x80u /* the ts equals the previous record's: no delta follows */

struct eventrec_sdict_entry {
	uint32_t off, len, hash; /* the string's bytes in the chunk being written */
};

void eventrec_enc_init(struct eventrec_enc *enc)
{
	memset(enc, 0, sizeof(*enc));
}

void eventrec_enc_destroy(struct eventrec_enc *enc)
{
	free(enc->e);
	slotindex_free(&enc->index);
	memset(enc, 0, sizeof(*enc));
}

void eventrec_enc_reset(struct eventrec_enc *enc)
{
	memset(&enc->d, 0, sizeof(enc->d));
	enc->n = 0;
	slotindex_clear(&enc->index);
}

size_t eventrec_enc_mem(const struct eventrec_enc *enc)
{
	return (size_t)enc->cap * sizeof(*enc->e) +
	       (size_t)enc->index.cap * sizeof(*enc->index.slot);
}

/* --- interned strings -------------------------------------------------------- */

/* FNV-1a of the string's bytes. */
static uint32_t str_hash(const char *p, uint32_t len)
{
	return fnv1a32(FNV1A32_BASIS, p, len);
}

/* The hash of dictionary entry pos (slotindex_hash_fn). */
static uint32_t sdict_hash(const void *table, uint32_t pos)
{
	return ((const struct eventrec_enc *)table)->e[pos].hash;
}

/* A string looked up in the dictionary of the chunk being written at base. */
struct sdict_key {
	const uint8_t *base;
	struct mevi_str s;
	uint32_t hash;
};

static bool sdict_is(const void *table, uint32_t pos, const void *key)
{
	const struct eventrec_sdict_entry *e = &((const struct eventrec_enc *)table)->e[pos];
	const struct sdict_key *k = key;

	return e->hash == k->hash && e->len == k->s.len &&
	       memcmp(k->base + e->off, k->s.ptr, k->s.len) == 0;
}

/* Adds the string at off. Returns 0 or -ENOMEM (the dictionary unchanged). */
static int sdict_add(struct eventrec_enc *d, uint32_t off, uint32_t len, uint32_t h)
{
	if (slotindex_reserve(&d->index, d->n, sdict_hash, d))
		return -ENOMEM;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 128;
		struct eventrec_sdict_entry *e = realloc(d->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->e = e;
		d->cap = cap;
	}
	d->e[d->n] = (struct eventrec_sdict_entry){off, len, h};
	slotindex_put(&d->index, h, d->n++);
	return 0;
}

/*
 * Writes s: uv 0 for nil (only when nullable and s.ptr is NULL),
 * (len + 1) << 1 and the bytes for a literal, (index << 1) | 1 for a string
 * of the chunk's dictionary.
 */
static void wb_istr(struct wbuf *w, struct eventrec_enc *d, struct mevi_str s, bool nullable)
{
	uint32_t h = 0, off;

	if (nullable && !s.ptr) {
		wb_uv(w, 0);
		return;
	}
	if (s.len >= EVENTREC_INTERN_MIN && !w->failed) {
		uint32_t pos;

		h = str_hash(s.ptr, s.len);
		pos = slotindex_find(&d->index, h, sdict_is, d,
				     &(struct sdict_key){(const uint8_t *)w->p, s, h});
		if (pos) {
			wb_uv(w, ((uint64_t)(pos - 1) << 1) | 1);
			return;
		}
	}
	wb_uv(w, ((uint64_t)s.len + 1) << 1);
	off = (uint32_t)w->len;
	wb_bytes(w, s.ptr, s.len);
	if (w->failed || s.len < EVENTREC_INTERN_MIN || d->n >= EVENTREC_INTERN_MAX)
		return;
	if (sdict_add(d, off, s.len, h))
		w->failed = true; /* the decoder would add it: the record cannot be kept */
}

/* Reads a string written by wb_istr; nil only when nullable. */
static struct mevi_str rb_istr(struct eventrec_dec *dec, bool nullable)
{
	struct rbuf *r = &dec->r;
	uint64_t x = rb_uv(r), len;
	struct mevi_str s = {"", 0};

	if (r->bad)
		return s;
	if (x == 0) {
		if (!nullable)
			r->bad = true;
		return (struct mevi_str){NULL, 0};
	}
	if (x & 1) {
		if ((x >> 1) >= dec->ndict) {
			r->bad = true;
			return s;
		}
		return dec->dict[x >> 1];
	}
	len = (x >> 1) - 1;
	if (len > r->len - r->off || len > UINT32_MAX) {
		r->bad = true;
		return s;
	}
	s = (struct mevi_str){(const char *)r->p + r->off, (uint32_t)len};
	r->off += len;
	if (len < EVENTREC_INTERN_MIN || dec->ndict >= EVENTREC_INTERN_MAX)
		return s;
	if (dec->ndict == dec->cap_dict) {
		uint32_t cap = dec->cap_dict ? dec->cap_dict * 2 : 128;
		struct mevi_str *dict = realloc(dec->dict, cap * sizeof(*dict));

		if (!dict) {
			r->nomem = r->bad = true;
			return s;
		}
		dec->dict = dict;
		dec->cap_dict = cap;
	}
	dec->dict[dec->ndict++] = s;
	return s;
}

/* --- field kinds ------------------------------------------------------------- */

static void enc_range(struct wbuf *w, struct eventrec_delta *d, struct mevi_range rg)
{
	uint64_t s = rg.start / MEVI_PAGE_SIZE, e = rg.end / MEVI_PAGE_SIZE;

	wb_sv(w, (int64_t)(s - d->page));
	wb_uv(w, e - s);
	d->page = e;
}

static struct mevi_range dec_range(struct rbuf *r, struct eventrec_delta *d)
{
	uint64_t s = d->page + (uint64_t)rb_sv(r);
	uint64_t e = s + rb_uv(r);

	d->page = e;
	return (struct mevi_range){s * MEVI_PAGE_SIZE, e * MEVI_PAGE_SIZE};
}

static void enc_frames(struct wbuf *w, struct eventrec_enc *enc, uint32_t n,
		       const struct mevi_frame *frames)
{
	uint64_t pc = 0;

	wb_uv(w, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct mevi_frame *f = &frames[i];

		wb_sv(w, (int64_t)(f->pc - pc));
		pc = f->pc;
		wb_istr(w, enc, f->func, false);
		wb_istr(w, enc, f->module, false);
		wb_istr(w, enc, f->source, true);
	}
}

static void dec_frames(struct eventrec_dec *dec, uint32_t *nframes, struct mevi_frame **frames)
{
	struct rbuf *r = &dec->r;
	uint64_t pc = 0, n = rb_uv(r);

	*nframes = 0;
	*frames = NULL;
	if (r->bad || n > MEVI_STACK_MAX_FRAMES) {
		r->bad = true;
		return;
	}
	if (!dec->frames) {
		dec->frames = malloc(MEVI_STACK_MAX_FRAMES * sizeof(*dec->frames));
		if (!dec->frames) {
			r->nomem = r->bad = true;
			return;
		}
	}
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		struct mevi_frame *f = &dec->frames[i];

		pc += (uint64_t)rb_sv(r);
		f->pc = pc;
		f->func = rb_istr(dec, false);
		f->module = rb_istr(dec, false);
		f->source = rb_istr(dec, true);
	}
	*nframes = (uint32_t)n;
	*frames = dec->frames;
}

/* Header bits of the field kinds that have some (h: the header byte). */
#define HDR_version(h, d, f, m)
#define HDR_u8max(h, d, f, m)
#define HDR_bool(h, d, f, m)
#define HDR_u32(h, d, f, m)
#define HDR_u64(h, d, f, m)
#define HDR_tsrel(h, d, f, m)
#define HDR_flags(h, d, f, m)
#define HDR_status(h, d, f, m)
#define HDR_pid(h, d, f, m)
#define HDR_tidrep(h, d, f, m)                                                                     \
	if ((f)->m == (d)->tid)                                                                    \
		h |= REC_SAME_TID;
#define HDR_range(h, d, f, m)
#define HDR_state(h, d, f, m) h |= (unsigned char)(((f)->m & 3) << REC_STATE_SHIFT);
#define HDR_str(h, d, f, m)
#define HDR_strv(h, d, f, m)
#define HDR_frames(h, d, f, m)

/* How each field kind is written after the header. */
#define ENC_version(w, enc, h, ev, f, m) wb_uv(w, (f)->m)
#define ENC_u8max(w, enc, h, ev, f, m)	 wb_byte(w, (f)->m)
#define ENC_bool(w, enc, h, ev, f, m)	 wb_byte(w, (f)->m)
#define ENC_u32(w, enc, h, ev, f, m)	 wb_uv(w, (f)->m)
#define ENC_u64(w, enc, h, ev, f, m)	 wb_uv(w, (f)->m)
#define ENC_tsrel(w, enc, h, ev, f, m)	 wb_sv(w, (int64_t)((f)->m - (ev)->ts))
#define ENC_flags(w, enc, h, ev, f, m)	 wb_uv(w, (f)->m)
#define ENC_status(w, enc, h, ev, f, m)	 wb_sv(w, (f)->m)
#define ENC_pid(w, enc, h, ev, f, m)	 wb_uv(w, (uint32_t)(f)->m)
#define ENC_tidrep(w, enc, h, ev, f, m)                                                            \
	do {                                                                                       \
		if (!(h & REC_SAME_TID))                                                           \
			wb_uv(w, (uint32_t)(f)->m);                                                \
		(enc)->d.tid = (f)->m;                                                             \
	} while (0)
#define ENC_range(w, enc, h, ev, f, m)	enc_range(w, &(enc)->d, (f)->m)
#define ENC_state(w, enc, h, ev, f, m)	(void)0 /* in the header */
#define ENC_str(w, enc, h, ev, f, m)	wb_istr(w, enc, (f)->m, false)
#define ENC_strv(w, enc, h, ev, f, m)	wb_strv(w, &(f)->m)
#define ENC_frames(w, enc, h, ev, f, m) enc_frames(w, enc, (f)->n##m, (f)->m)

void eventrec_encode(struct eventrec_enc *enc, struct wbuf *w, const struct mevi_event *ev)
{
	unsigned char h = ev->type < REC_TYPE_ESCAPE ? ev->type : REC_TYPE_ESCAPE;
	struct eventrec_delta *d = &enc->d;

	if (ev->pid != d->pid)
		h |= REC_PID;
	if (ev->ts == d->ts)
		h |= REC_SAME_TS;
	switch ((enum mevi_event_type)ev->type) {
#define MEVI_F(kind, member, wire, arg)	     HDR_##kind(h, d, f, member)
#define MEVI_EVENT(NAME, name, type, fields) MEVI_EVENT_CASE(ev, NAME, name, fields)
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
	}
	wb_byte(w, h);
	if ((h & REC_TYPE_MASK) == REC_TYPE_ESCAPE)
		wb_byte(w, ev->type);
	if (h & REC_PID)
		wb_uv(w, (uint32_t)ev->pid);
	if (!(h & REC_SAME_TS))
		wb_sv(w, (int64_t)(ev->ts - d->ts));
	d->pid = ev->pid;
	d->ts = ev->ts;
	switch ((enum mevi_event_type)ev->type) {
#define MEVI_F(kind, member, wire, arg)	     ENC_##kind(w, enc, h, ev, f, member);
#define MEVI_EVENT(NAME, name, type, fields) MEVI_EVENT_CASE(ev, NAME, name, fields)
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
	}
}

void eventrec_dec_reset(struct eventrec_dec *dec, const unsigned char *p, size_t len)
{
	memset(&dec->d, 0, sizeof(dec->d));
	dec->ndict = 0;
	dec->r.p = p;
	dec->r.len = len;
	dec->r.off = 0;
	dec->r.bad = dec->r.nomem = false;
}

void eventrec_dec_destroy(struct eventrec_dec *dec)
{
	free(dec->dict);
	free(dec->frames);
	rb_free(&dec->r);
	memset(dec, 0, sizeof(*dec));
}

/* How each field kind is read back (r: the chunk, h: the header byte). */
#define DEC_version(dec, r, h, ev, f, m, a) (f)->m = (uint32_t)rb_uv(r)
#define DEC_u8max(dec, r, h, ev, f, m, a)                                                          \
	do {                                                                                       \
		(f)->m = rb_byte(r);                                                               \
		if ((f)->m > (a))                                                                  \
			(r)->bad = true;                                                           \
	} while (0)
#define DEC_bool(dec, r, h, ev, f, m, a)   (f)->m = rb_byte(r) != 0
#define DEC_u32(dec, r, h, ev, f, m, a)	   (f)->m = (uint32_t)rb_uv(r)
#define DEC_u64(dec, r, h, ev, f, m, a)	   (f)->m = rb_uv(r)
#define DEC_tsrel(dec, r, h, ev, f, m, a)  (f)->m = (ev)->ts + (uint64_t)rb_sv(r)
#define DEC_flags(dec, r, h, ev, f, m, a)  (f)->m = (uint32_t)rb_uv(r)
#define DEC_status(dec, r, h, ev, f, m, a) (f)->m = (int32_t)rb_sv(r)
#define DEC_pid(dec, r, h, ev, f, m, a)	   (f)->m = (int32_t)rb_uv(r)
#define DEC_tidrep(dec, r, h, ev, f, m, a)                                                         \
	do {                                                                                       \
		(f)->m = (h & REC_SAME_TID) ? (dec)->d.tid : (int32_t)rb_uv(r);                    \
		(dec)->d.tid = (f)->m;                                                             \
	} while (0)
#define DEC_range(dec, r, h, ev, f, m, a)  (f)->m = dec_range(r, &(dec)->d)
#define DEC_state(dec, r, h, ev, f, m, a)  (f)->m = (h >> REC_STATE_SHIFT) & 3
#define DEC_str(dec, r, h, ev, f, m, a)	   (f)->m = rb_istr(dec, false)
#define DEC_strv(dec, r, h, ev, f, m, a)   rb_strv(r, &(f)->m)
#define DEC_frames(dec, r, h, ev, f, m, a) dec_frames(dec, &(f)->n##m, &(f)->m)

int eventrec_decode(struct eventrec_dec *dec, struct mevi_event *ev)
{
	struct rbuf *r = &dec->r;
	unsigned char h = rb_byte(r);

	memset(ev, 0, sizeof(*ev));
	ev->type = h & REC_TYPE_MASK;
	if (ev->type == REC_TYPE_ESCAPE)
		ev->type = rb_byte(r);
	ev->pid = (h & REC_PID) ? (int32_t)rb_uv(r) : dec->d.pid;
	ev->ts = (h & REC_SAME_TS) ? dec->d.ts : dec->d.ts + (uint64_t)rb_sv(r);
	dec->d.pid = ev->pid;
	dec->d.ts = ev->ts;
	switch ((enum mevi_event_type)ev->type) {
#define MEVI_F(kind, member, wire, arg)	     DEC_##kind(dec, r, h, ev, f, member, arg);
#define MEVI_EVENT(NAME, name, type, fields) MEVI_EVENT_CASE(ev, NAME, name, fields)
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
	default:
		r->bad = true;
	}
	if (r->nomem)
		return -ENOMEM;
	return r->bad ? -EBADMSG : 0;
}
