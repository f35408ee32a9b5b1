#include "eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fnv.h"
#include "log.h"
#include "mkdirp.h"
#include "memmap.h"
#include "session.h"
#include "slotindex.h"
#include "tagmap.h"

/* Header byte of a record. */
#define REC_TYPE_MASK	 0x0fu
#define REC_TYPE_ESCAPE	 0x0fu /* types 15 and up: the type follows as a byte */
#define REC_PID		 0x10u /* the pid differs from the previous record's: varint follows */
#define REC_SAME_TS	 0x80u /* the ts equals the previous record's: no delta follows */
#define REC_STATE_SHIFT	 5     /* bits 5-6: page state of map / state records */
#define REC_SAME_TID	 0x20u /* touch: the tid equals the previous touch's: none follows */
#define CHUNK_MAX_EVENTS 65535u
/* Strings of vma, thread and stack records are interned per chunk: a literal
 * of at least SDICT_MIN_LEN bytes gets the chunk's next string index (while
 * fewer than SDICT_MAX exist), and a repeat is a reference to it. */
#define SDICT_MIN_LEN 4u
#define SDICT_MAX     (1u << 20)

/* Where a blob lives: in memory (mem != NULL) or in the spill file. */
struct blob {
	unsigned char *mem;
	uint64_t off; /* in the spill file */
	uint32_t len;
};

struct chunk {
	uint64_t first_event; /* index of its first event */
	uint64_t end_ts;      /* time (running max) after its last event */
	uint32_t nevents;
	struct blob data;
};

struct ckpt {
	uint64_t events; /* events applied when it was taken */
	uint64_t ts;	 /* time of the last of them */
	uint64_t prev_ts;
	uint32_t chunk; /* the first chunk to replay after it */
	struct blob data;
};

/* Delta-coding state of the encoder or decoder of one chunk. */
struct delta {
	int32_t pid;
	uint64_t ts;
	uint64_t page; /* end of the previous record's range, in pages */
	int32_t tid;   /* the previous touch record's tid */
};

/* The encoder's per-chunk string dictionary: strings are found by their
 * bytes in the open chunk (off, len), through an open-addressing index. */
struct sdict_entry {
	uint32_t off, len, hash;
};

struct sdict {
	struct sdict_entry *e;
	uint32_t n, cap;
	struct slotindex index; /* the entries by their bytes */
};

struct eventlog {
	struct eventlog_budget *budget;
	struct chunk *chunks;
	uint32_t nchunks, cap_chunks;
	struct ckpt *ckpts;
	uint32_t nckpts, cap_ckpts;
	/* the open chunk */
	unsigned char *cur;
	size_t cur_len, cur_cap;
	uint32_t cur_events;
	struct delta enc;
	struct sdict dict;
	/* totals */
	uint64_t events;
	uint64_t max_ts, prev_distinct_ts;
	size_t mem;   /* bytes charged to the budget */
	size_t total; /* bytes of chunks and checkpoints, wherever they are */
	size_t ckpt_total;
	uint64_t since_ckpt_events;
	size_t since_ckpt_bytes, last_ckpt_bytes;
	/* spill */
	int fd;
	char *path;
	uint64_t file_len;
	/* timeline markers */
	struct eventlog_marker *markers;
	uint32_t nmarkers, cap_markers;
	bool markers_truncated;
};

void eventlog_budget_init(struct eventlog_budget *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	b->chunk_bytes = EVENTLOG_DEFAULT_CHUNK_BYTES;
	b->ckpt_events = EVENTLOG_DEFAULT_CKPT_EVENTS;
}

int eventlog_parse_size(const char *s, size_t *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1ull << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1ull << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1ull << 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && mult > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == '\0')
		end++;
	if (*end || v > SIZE_MAX / mult)
		return -EINVAL;
	*out = (size_t)(v * mult);
	return 0;
}

static void charge(struct eventlog *lg, ssize_t delta)
{
	lg->mem += (size_t)delta;
	lg->budget->used += (size_t)delta;
}

struct eventlog *eventlog_new(struct eventlog_budget *budget)
{
	struct eventlog *lg = calloc(1, sizeof(*lg));

	if (!lg)
		return NULL;
	lg->budget = budget;
	lg->fd = -1;
	charge(lg, (ssize_t)sizeof(*lg));
	return lg;
}

void eventlog_free(struct eventlog *lg)
{
	if (!lg)
		return;
	for (uint32_t i = 0; i < lg->nchunks; i++)
		free(lg->chunks[i].data.mem);
	for (uint32_t i = 0; i < lg->nckpts; i++)
		free(lg->ckpts[i].data.mem);
	free(lg->chunks);
	free(lg->ckpts);
	free(lg->cur);
	free(lg->dict.e);
	slotindex_free(&lg->dict.index);
	free(lg->markers);
	if (lg->fd >= 0) {
		close(lg->fd);
		unlink(lg->path);
	}
	free(lg->path);
	lg->budget->used -= lg->mem;
	free(lg);
}

uint64_t eventlog_events(const struct eventlog *lg)
{
	return lg->events;
}

uint64_t eventlog_end_ts(const struct eventlog *lg)
{
	return lg->max_ts;
}

size_t eventlog_mem_bytes(const struct eventlog *lg)
{
	return lg->mem;
}

size_t eventlog_total_bytes(const struct eventlog *lg)
{
	return lg->total + lg->cur_len;
}

size_t eventlog_ckpt_bytes(const struct eventlog *lg)
{
	return lg->ckpt_total;
}

uint32_t eventlog_ckpt_count(const struct eventlog *lg)
{
	return lg->nckpts;
}

bool eventlog_spilled(const struct eventlog *lg)
{
	return lg->fd >= 0;
}

const char *eventlog_spill_path(const struct eventlog *lg)
{
	return lg->fd >= 0 ? lg->path : NULL;
}

const struct eventlog_marker *eventlog_markers(const struct eventlog *lg, uint32_t *n,
					       bool *truncated)
{
	*n = lg->nmarkers;
	*truncated = lg->markers_truncated;
	return lg->markers;
}

/* --- varint writer ---------------------------------------------------------- */

/* A growable byte buffer; on OOM `failed` is set and writes are dropped. */
struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool failed;
};

static void wb_reserve(struct wbuf *w, size_t n)
{
	size_t cap;
	unsigned char *p;

	if (w->failed || w->len + n <= w->cap)
		return;
	cap = w->cap ? w->cap : 256;
	while (cap < w->len + n)
		cap *= 2;
	p = realloc(w->p, cap);
	if (!p) {
		w->failed = true;
		return;
	}
	w->p = p;
	w->cap = cap;
}

static void wb_byte(struct wbuf *w, unsigned char b)
{
	wb_reserve(w, 1);
	if (!w->failed)
		w->p[w->len++] = b;
}

static void wb_uv(struct wbuf *w, uint64_t v)
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

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void wb_sv(struct wbuf *w, int64_t v)
{
	wb_uv(w, zigzag(v));
}

static void wb_bytes(struct wbuf *w, const void *p, size_t n)
{
	wb_reserve(w, n);
	if (!w->failed && n) {
		memcpy(w->p + w->len, p, n);
		w->len += n;
	}
}

static void wb_strv(struct wbuf *w, const struct mevi_strv *v)
{
	wb_uv(w, v->count);
	for (uint32_t i = 0; i < v->count; i++) {
		wb_uv(w, v->items[i].len);
		wb_bytes(w, v->items[i].ptr, v->items[i].len);
	}
}

/* --- varint reader ---------------------------------------------------------- */

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;
	/* string items of the record being decoded */
	struct mevi_str *strs;
	uint32_t nstrs, cap_strs;
	bool nomem;
	/* the chunk's interned strings (reset per chunk) */
	struct mevi_str *dict;
	uint32_t ndict, cap_dict;
	/* frames of the stack record being decoded */
	struct mevi_frame *frames;
};

static void rb_free(struct rbuf *r)
{
	free(r->strs);
	free(r->dict);
	free(r->frames);
}

static uint64_t rb_uv(struct rbuf *r)
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

static int64_t rb_sv(struct rbuf *r)
{
	return unzigzag(rb_uv(r));
}

static unsigned char rb_byte(struct rbuf *r)
{
	if (r->off >= r->len) {
		r->bad = true;
		return 0;
	}
	return r->p[r->off++];
}

/* Reads a string list into r->strs (valid until the next record). */
static void rb_strv(struct rbuf *r, struct mevi_strv *v)
{
	uint64_t count = rb_uv(r);

	v->count = 0;
	v->items = NULL;
	if (r->bad || count > r->len - r->off) {
		r->bad = true;
		return;
	}
	if (count > r->cap_strs) {
		struct mevi_str *s = realloc(r->strs, count * sizeof(*s));

		if (!s) {
			r->nomem = true;
			r->bad = true;
			return;
		}
		r->strs = s;
		r->cap_strs = (uint32_t)count;
	}
	for (uint64_t i = 0; i < count; i++) {
		uint64_t len = rb_uv(r);

		if (r->bad || len > r->len - r->off) {
			r->bad = true;
			return;
		}
		r->strs[i].ptr = (const char *)r->p + r->off;
		r->strs[i].len = (uint32_t)len;
		r->off += len;
	}
	v->count = (uint32_t)count;
	v->items = r->strs;
}

/* --- interned strings -------------------------------------------------------- */

static uint32_t str_hash(const char *p, uint32_t len)
{
	return fnv1a32(FNV1A32_BASIS, p, len);
}

static size_t sdict_bytes(const struct sdict *d)
{
	return (size_t)d->cap * sizeof(*d->e) + (size_t)d->index.cap * sizeof(*d->index.slot);
}

static void sdict_reset(struct sdict *d)
{
	d->n = 0;
	slotindex_clear(&d->index);
}

/* Adds the string at off. Returns 0 or -ENOMEM (d unchanged). */
static uint32_t sdict_hash(const void *table, uint32_t pos)
{
	return ((const struct sdict *)table)->e[pos].hash;
}

/* A string looked up in the dictionary of the chunk being written at base. */
struct sdict_key {
	const uint8_t *base;
	struct mevi_str s;
	uint32_t hash;
};

static bool sdict_is(const void *table, uint32_t pos, const void *key)
{
	const struct sdict_entry *e = &((const struct sdict *)table)->e[pos];
	const struct sdict_key *k = key;

	return e->hash == k->hash && e->len == k->s.len &&
	       memcmp(k->base + e->off, k->s.ptr, k->s.len) == 0;
}

static int sdict_add(struct sdict *d, uint32_t off, uint32_t len, uint32_t h)
{
	if (slotindex_reserve(&d->index, d->n, sdict_hash, d))
		return -ENOMEM;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 128;
		struct sdict_entry *e = realloc(d->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->e = e;
		d->cap = cap;
	}
	d->e[d->n] = (struct sdict_entry){off, len, h};
	slotindex_put(&d->index, h, d->n++);
	return 0;
}

/*
 * Writes s: uv 0 for nil (only when nullable and s.ptr is NULL),
 * (len + 1) << 1 and the bytes for a literal, (index << 1) | 1 for a string
 * of the chunk's dictionary.
 */
static void wb_istr(struct wbuf *w, struct sdict *d, struct mevi_str s, bool nullable)
{
	uint32_t h = 0, off;

	if (nullable && !s.ptr) {
		wb_uv(w, 0);
		return;
	}
	if (s.len >= SDICT_MIN_LEN && !w->failed) {
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
	if (w->failed || s.len < SDICT_MIN_LEN || d->n >= SDICT_MAX)
		return;
	if (sdict_add(d, off, s.len, h))
		w->failed = true; /* the decoder would add it: the record cannot be kept */
}

/* Reads a string written by wb_istr; nil only when nullable. */
static struct mevi_str rb_istr(struct rbuf *r, bool nullable)
{
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
		if ((x >> 1) >= r->ndict) {
			r->bad = true;
			return s;
		}
		return r->dict[x >> 1];
	}
	len = (x >> 1) - 1;
	if (len > r->len - r->off || len > UINT32_MAX) {
		r->bad = true;
		return s;
	}
	s = (struct mevi_str){(const char *)r->p + r->off, (uint32_t)len};
	r->off += len;
	if (len < SDICT_MIN_LEN || r->ndict >= SDICT_MAX)
		return s;
	if (r->ndict == r->cap_dict) {
		uint32_t cap = r->cap_dict ? r->cap_dict * 2 : 128;
		struct mevi_str *dict = realloc(r->dict, cap * sizeof(*dict));

		if (!dict) {
			r->nomem = r->bad = true;
			return s;
		}
		r->dict = dict;
		r->cap_dict = cap;
	}
	r->dict[r->ndict++] = s;
	return s;
}

/* --- records ---------------------------------------------------------------- */

static void enc_range(struct wbuf *w, struct delta *d, struct mevi_range rg)
{
	uint64_t s = rg.start / MEVI_PAGE_SIZE, e = rg.end / MEVI_PAGE_SIZE;

	wb_sv(w, (int64_t)(s - d->page));
	wb_uv(w, e - s);
	d->page = e;
}

static struct mevi_range dec_range(struct rbuf *r, struct delta *d)
{
	uint64_t s = d->page + (uint64_t)rb_sv(r);
	uint64_t e = s + rb_uv(r);

	d->page = e;
	return (struct mevi_range){s * MEVI_PAGE_SIZE, e * MEVI_PAGE_SIZE};
}

static void wb_str(struct wbuf *w, struct mevi_str s);
static struct mevi_str rb_str(struct rbuf *r);

static void enc_event(struct wbuf *w, struct delta *d, struct sdict *dict,
		      const struct mevi_event *ev)
{
	unsigned char h = ev->type < REC_TYPE_ESCAPE ? ev->type : REC_TYPE_ESCAPE;

	if (ev->pid != d->pid)
		h |= REC_PID;
	if (ev->ts == d->ts)
		h |= REC_SAME_TS;
	if (ev->type == MEVI_EV_MAP)
		h |= (unsigned char)((ev->map.state & 3) << REC_STATE_SHIFT);
	else if (ev->type == MEVI_EV_STATE)
		h |= (unsigned char)((ev->state.state & 3) << REC_STATE_SHIFT);
	else if (ev->type == MEVI_EV_TOUCH && ev->touch.tid == d->tid)
		h |= REC_SAME_TID;
	wb_byte(w, h);
	if ((h & REC_TYPE_MASK) == REC_TYPE_ESCAPE)
		wb_byte(w, ev->type);
	if (h & REC_PID)
		wb_uv(w, (uint32_t)ev->pid);
	if (!(h & REC_SAME_TS))
		wb_sv(w, (int64_t)(ev->ts - d->ts));
	d->pid = ev->pid;
	d->ts = ev->ts;
	switch (ev->type) {
	case MEVI_EV_SESSION_START:
		wb_uv(w, ev->session_start.version);
		wb_byte(w, ev->session_start.mode);
		wb_byte(w, ev->session_start.resume);
		wb_uv(w, ev->session_start.started_at);
		wb_strv(w, &ev->session_start.argv);
		wb_uv(w, ev->session_start.sample_ms);
		break;
	case MEVI_EV_SESSION_END:
		wb_sv(w, ev->session_end.status);
		break;
	case MEVI_EV_PROC_START:
		wb_uv(w, (uint32_t)ev->proc_start.ppid);
		wb_uv(w, ev->proc_start.flags);
		wb_strv(w, &ev->proc_start.cmdline);
		break;
	case MEVI_EV_PROC_EXEC:
		wb_strv(w, &ev->proc_exec.cmdline);
		break;
	case MEVI_EV_PROC_EXIT:
		wb_sv(w, ev->proc_exit.status);
		break;
	case MEVI_EV_MAP:
		enc_range(w, d, ev->map.range);
		break;
	case MEVI_EV_UNMAP:
		enc_range(w, d, ev->unmap.range);
		break;
	case MEVI_EV_REMAP:
		enc_range(w, d, ev->remap.from);
		enc_range(w, d, ev->remap.to);
		break;
	case MEVI_EV_STATE:
		enc_range(w, d, ev->state.range);
		break;
	case MEVI_EV_STACK: {
		uint64_t pc = 0;

		wb_uv(w, ev->stack.id);
		wb_uv(w, ev->stack.nframes);
		for (uint32_t i = 0; i < ev->stack.nframes; i++) {
			const struct mevi_frame *f = &ev->stack.frames[i];

			wb_sv(w, (int64_t)(f->pc - pc));
			pc = f->pc;
			wb_istr(w, dict, f->func, false);
			wb_istr(w, dict, f->module, false);
			wb_istr(w, dict, f->source, true);
		}
		break;
	}
	case MEVI_EV_ORIGIN:
		enc_range(w, d, ev->origin.range);
		wb_uv(w, ev->origin.stack_id);
		break;
	case MEVI_EV_VMA:
		enc_range(w, d, ev->vma.range);
		wb_byte(w, ev->vma.kind);
		wb_istr(w, dict, ev->vma.name, false);
		break;
	case MEVI_EV_THREAD:
		wb_uv(w, (uint32_t)ev->thread.tid);
		wb_istr(w, dict, ev->thread.name, false);
		break;
	case MEVI_EV_TOUCH:
		enc_range(w, d, ev->touch.range);
		if (!(h & REC_SAME_TID))
			wb_uv(w, (uint32_t)ev->touch.tid);
		d->tid = ev->touch.tid;
		break;
	case MEVI_EV_SAMPLING:
		wb_uv(w, ev->sampling.sample_ms);
		break;
	case MEVI_EV_ENGINE:
		wb_str(w, ev->engine.name);
		wb_uv(w, ev->engine.corrections);
		wb_uv(w, ev->engine.drops);
		break;
	case MEVI_EV_WRITTEN:
		enc_range(w, d, ev->written.range);
		wb_sv(w, (int64_t)(ev->written.t - ev->ts));
		break;
	}
}

/* Decodes one record. Returns 0 or -EBADMSG / -ENOMEM. */
static int dec_event(struct rbuf *r, struct delta *d, struct mevi_event *ev)
{
	unsigned char h = rb_byte(r);

	memset(ev, 0, sizeof(*ev));
	ev->type = h & REC_TYPE_MASK;
	if (ev->type == REC_TYPE_ESCAPE)
		ev->type = rb_byte(r);
	ev->pid = (h & REC_PID) ? (int32_t)rb_uv(r) : d->pid;
	ev->ts = (h & REC_SAME_TS) ? d->ts : d->ts + (uint64_t)rb_sv(r);
	d->pid = ev->pid;
	d->ts = ev->ts;
	switch (ev->type) {
	case MEVI_EV_SESSION_START:
		ev->session_start.version = (uint32_t)rb_uv(r);
		ev->session_start.mode = rb_byte(r);
		ev->session_start.resume = rb_byte(r) != 0;
		ev->session_start.started_at = rb_uv(r);
		rb_strv(r, &ev->session_start.argv);
		ev->session_start.sample_ms = (uint32_t)rb_uv(r);
		break;
	case MEVI_EV_SESSION_END:
		ev->session_end.status = (int32_t)rb_sv(r);
		break;
	case MEVI_EV_PROC_START:
		ev->proc_start.ppid = (int32_t)rb_uv(r);
		ev->proc_start.flags = (uint32_t)rb_uv(r);
		rb_strv(r, &ev->proc_start.cmdline);
		break;
	case MEVI_EV_PROC_EXEC:
		rb_strv(r, &ev->proc_exec.cmdline);
		break;
	case MEVI_EV_PROC_EXIT:
		ev->proc_exit.status = (int32_t)rb_sv(r);
		break;
	case MEVI_EV_MAP:
		ev->map.state = (h >> REC_STATE_SHIFT) & 3;
		ev->map.range = dec_range(r, d);
		break;
	case MEVI_EV_UNMAP:
		ev->unmap.range = dec_range(r, d);
		break;
	case MEVI_EV_REMAP:
		ev->remap.from = dec_range(r, d);
		ev->remap.to = dec_range(r, d);
		break;
	case MEVI_EV_STATE:
		ev->state.state = (h >> REC_STATE_SHIFT) & 3;
		ev->state.range = dec_range(r, d);
		break;
	case MEVI_EV_STACK: {
		uint64_t pc = 0, n;

		ev->stack.id = (uint32_t)rb_uv(r);
		n = rb_uv(r);
		if (r->bad || n > MEVI_STACK_MAX_FRAMES) {
			r->bad = true;
			break;
		}
		if (!r->frames) {
			r->frames = malloc(MEVI_STACK_MAX_FRAMES * sizeof(*r->frames));
			if (!r->frames) {
				r->nomem = r->bad = true;
				break;
			}
		}
		for (uint64_t i = 0; i < n && !r->bad; i++) {
			struct mevi_frame *f = &r->frames[i];

			pc += (uint64_t)rb_sv(r);
			f->pc = pc;
			f->func = rb_istr(r, false);
			f->module = rb_istr(r, false);
			f->source = rb_istr(r, true);
		}
		ev->stack.nframes = (uint32_t)n;
		ev->stack.frames = r->frames;
		break;
	}
	case MEVI_EV_ORIGIN:
		ev->origin.range = dec_range(r, d);
		ev->origin.stack_id = (uint32_t)rb_uv(r);
		break;
	case MEVI_EV_VMA:
		ev->vma.range = dec_range(r, d);
		ev->vma.kind = rb_byte(r);
		ev->vma.name = rb_istr(r, false);
		if (ev->vma.kind >= MEVI_KIND_COUNT)
			r->bad = true;
		break;
	case MEVI_EV_THREAD:
		ev->thread.tid = (int32_t)rb_uv(r);
		ev->thread.name = rb_istr(r, false);
		break;
	case MEVI_EV_TOUCH:
		ev->touch.range = dec_range(r, d);
		ev->touch.tid = (h & REC_SAME_TID) ? d->tid : (int32_t)rb_uv(r);
		d->tid = ev->touch.tid;
		break;
	case MEVI_EV_SAMPLING:
		ev->sampling.sample_ms = (uint32_t)rb_uv(r);
		break;
	case MEVI_EV_ENGINE:
		ev->engine.name = rb_str(r);
		ev->engine.corrections = rb_uv(r);
		ev->engine.drops = rb_uv(r);
		break;
	case MEVI_EV_WRITTEN:
		ev->written.range = dec_range(r, d);
		ev->written.t = ev->ts + (uint64_t)rb_sv(r);
		break;
	default:
		r->bad = true;
	}
	if (r->nomem)
		return -ENOMEM;
	return r->bad ? -EBADMSG : 0;
}

/* --- blobs and the spill file ----------------------------------------------- */

/* The spill directory: $XDG_STATE_HOME/mevi, else ~/.local/state/mevi,
 * created 0700; an existing one we own is made 0700. Returns 0 or -errno. */
static int spill_dir(struct eventlog_budget *b)
{
	struct stat st;
	int err;

	if (!b->spill_dir[0]) {
		const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
		int n;

		if (x && x[0] == '/')
			n = snprintf(b->spill_dir, sizeof(b->spill_dir), "%s/mevi", x);
		else if (home && home[0] == '/')
			n = snprintf(b->spill_dir, sizeof(b->spill_dir), "%s/.local/state/mevi",
				     home);
		else
			return -ENOENT;
		if (n < 0 || (size_t)n >= sizeof(b->spill_dir)) {
			b->spill_dir[0] = '\0';
			return -ENAMETOOLONG;
		}
	}
	err = mkdirp(b->spill_dir, 0700);
	if (err)
		return err;
	if (lstat(b->spill_dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	if ((st.st_mode & 0777) != 0700 && chmod(b->spill_dir, 0700) < 0)
		return -errno;
	return 0;
}

static int write_at(int fd, const void *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p = (const char *)p + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Writes b's bytes at the end of the spill file and frees them. */
static int blob_spill(struct eventlog *lg, struct blob *b)
{
	int err;

	if (!b->mem)
		return 0;
	err = write_at(lg->fd, b->mem, b->len, lg->file_len);
	if (err)
		return err;
	b->off = lg->file_len;
	lg->file_len += b->len;
	free(b->mem);
	b->mem = NULL;
	charge(lg, -(ssize_t)b->len);
	return 0;
}

/* Makes a blob of p[0..len) (taken over). Spilled logs write it out. */
static int blob_make(struct eventlog *lg, struct blob *b, unsigned char *p, size_t len)
{
	b->mem = p;
	b->len = (uint32_t)len;
	b->off = 0;
	charge(lg, (ssize_t)len);
	lg->total += len;
	if (lg->fd >= 0 && blob_spill(lg, b))
		log_warn("history: cannot write to %s: keeping %zu bytes in memory", lg->path, len);
	return 0;
}

/* The bytes of b: in memory, or read into *scratch (realloc'ed, owned by
 * the caller). NULL on error with *err set. */
static const unsigned char *blob_bytes(const struct eventlog *lg, const struct blob *b,
				       unsigned char **scratch, size_t *scratch_cap, int *err)
{
	size_t got = 0;

	if (b->mem)
		return b->mem;
	if (*scratch_cap < b->len) {
		unsigned char *p = realloc(*scratch, b->len);

		if (!p) {
			*err = -ENOMEM;
			return NULL;
		}
		*scratch = p;
		*scratch_cap = b->len;
	}
	while (got < b->len) {
		ssize_t n = pread(lg->fd, *scratch + got, b->len - got, (off_t)(b->off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n < 0 ? -errno : -EIO;
			return NULL;
		}
		got += (size_t)n;
	}
	return *scratch;
}

int eventlog_spill(struct eventlog *lg)
{
	struct eventlog_budget *b = lg->budget;
	char path[320];
	int err, fd;

	if (lg->fd < 0) {
		err = spill_dir(b);
		if (err)
			return err;
		snprintf(path, sizeof(path), "%s/history-%d-%" PRIu64 ".tmp", b->spill_dir,
			 (int)getpid(), ++b->spill_seq);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		lg->path = strdup(path);
		if (!lg->path) {
			close(fd);
			unlink(path);
			return -ENOMEM;
		}
		lg->fd = fd;
		b->spills++;
	}
	for (uint32_t i = 0; i < lg->nchunks; i++)
		if ((err = blob_spill(lg, &lg->chunks[i].data)))
			return err;
	for (uint32_t i = 0; i < lg->nckpts; i++)
		if ((err = blob_spill(lg, &lg->ckpts[i].data)))
			return err;
	return 0;
}

/* --- checkpoints ------------------------------------------------------------ */

struct ranges_ctx {
	struct wbuf *w;
	uint64_t page;
};

/* A checkpoint range: its start as pages after the previous range's end
 * (*page), its length in pages. The value follows. */
static void wb_range(struct wbuf *w, uint64_t *page, uint64_t start, uint64_t end)
{
	uint64_t s = start / MEVI_PAGE_SIZE, e = end / MEVI_PAGE_SIZE;

	wb_uv(w, s - *page);
	wb_uv(w, e - s);
	*page = e;
}

static int ckpt_range_cb(const struct memmap_range *r, void *arg)
{
	struct ranges_ctx *c = arg;

	wb_range(c->w, &c->page, r->start, r->end);
	wb_byte(c->w, r->state);
	return c->w->failed;
}

static void wb_str(struct wbuf *w, struct mevi_str s)
{
	wb_uv(w, s.len);
	wb_bytes(w, s.ptr, s.len);
}

static struct mevi_str rb_str(struct rbuf *r)
{
	uint64_t len = rb_uv(r);
	struct mevi_str s = {"", 0};

	if (r->bad || len > r->len - r->off) {
		r->bad = true;
		return s;
	}
	s = (struct mevi_str){(const char *)r->p + r->off, (uint32_t)len};
	r->off += len;
	return s;
}

struct tags_ctx {
	struct wbuf *w;
	uint64_t page;
};

static int ckpt_tag_cb(const struct tagmap_range *r, void *arg)
{
	struct tags_ctx *c = arg;

	wb_range(c->w, &c->page, r->start, r->end);
	wb_uv(c->w, r->value);
	return c->w->failed;
}

static void ckpt_write_tags(struct wbuf *w, const struct tagmap *m)
{
	struct tags_ctx c = {.w = w};

	wb_uv(w, tagmap_count(m));
	tagmap_walk(m, ckpt_tag_cb, &c);
}

/* Reads what ckpt_write_tags wrote into m (empty). Returns 0, -ENOMEM or
 * -EBADMSG. */
static int ckpt_read_tags(struct rbuf *r, struct tagmap *m)
{
	uint64_t n = rb_uv(r), page = 0;
	int err = 0;

	for (uint64_t j = 0; j < n && !r->bad && !err; j++) {
		uint64_t start = page + rb_uv(r), end = start + rb_uv(r), value = rb_uv(r);

		page = end;
		if (!r->bad && value <= UINT32_MAX)
			err = tagmap_set(m, start * MEVI_PAGE_SIZE, end * MEVI_PAGE_SIZE,
					 (uint32_t)value);
		else
			r->bad = true;
	}
	if (err == -ENOMEM || r->nomem)
		return -ENOMEM;
	return err || r->bad ? -EBADMSG : 0;
}

/* The session-wide annotation tables: vma names (in id order, so that
 * interning them again gives the same ids) and stacks (in table order). */
static void ckpt_write_tables(struct wbuf *w, const struct session *s)
{
	wb_uv(w, s->sample_ms);
	wb_uv(w, s->names.count);
	for (uint32_t i = 0; i < s->names.count; i++) {
		wb_byte(w, s->names.names[i].kind);
		wb_str(w, s->names.names[i].name);
	}
	wb_uv(w, s->stacks.count);
	for (uint32_t i = 0; i < s->stacks.count; i++) {
		const struct stack *st = s->stacks.stacks[i];

		wb_uv(w, st->id);
		wb_uv(w, st->nframes);
		for (uint32_t k = 0; k < st->nframes; k++) {
			wb_uv(w, st->frames[k].pc);
			wb_str(w, st->frames[k].func);
			wb_str(w, st->frames[k].module);
			wb_byte(w, st->frames[k].source.ptr != NULL);
			wb_str(w, st->frames[k].source);
		}
	}
}

static int ckpt_read_tables(struct rbuf *r, struct session *s)
{
	uint64_t n;

	s->sample_ms = (uint32_t)rb_uv(r);
	n = rb_uv(r);
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		uint8_t kind = rb_byte(r);
		struct mevi_str name = rb_str(r);
		uint32_t id;
		int err;

		if (r->bad || kind >= MEVI_KIND_COUNT || !name.len)
			return r->nomem ? -ENOMEM : -EBADMSG;
		err = vmanames_intern(&s->names, kind, name, &id);
		if (err < 0)
			return err;
		if (err || id != MEVI_KIND_COUNT + i)
			return -EBADMSG;
	}
	n = rb_uv(r);
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		uint32_t id = (uint32_t)rb_uv(r);
		uint64_t nframes = rb_uv(r);
		int err;

		if (r->bad || nframes > MEVI_STACK_MAX_FRAMES)
			return -EBADMSG;
		if (!r->frames) {
			r->frames = malloc(MEVI_STACK_MAX_FRAMES * sizeof(*r->frames));
			if (!r->frames)
				return -ENOMEM;
		}
		for (uint64_t k = 0; k < nframes; k++) {
			struct mevi_frame *f = &r->frames[k];
			bool has_source;

			f->pc = rb_uv(r);
			f->func = rb_str(r);
			f->module = rb_str(r);
			has_source = rb_byte(r);
			f->source = rb_str(r);
			if (!has_source)
				f->source.ptr = NULL;
		}
		if (r->bad)
			return -EBADMSG;
		err = stacktab_put(&s->stacks, id, r->frames, (uint32_t)nframes);
		if (err)
			return err < 0 ? err : -EBADMSG;
	}
	return r->bad ? -EBADMSG : 0;
}

/* Serialises s's state. */
static void ckpt_write(struct wbuf *w, const struct session *s)
{
	wb_uv(w, (uint32_t)s->launcher_pid);
	wb_uv(w, s->started_at);
	wb_byte(w, s->mode);
	wb_byte(w, (unsigned char)(s->alive | s->has_exit_status << 1 | s->ended << 2));
	wb_sv(w, s->exit_status);
	wb_uv(w, s->last_ts);
	wb_strv(w, &s->argv);
	ckpt_write_tables(w, s);
	wb_uv(w, s->nprocs);
	for (const struct process *p = s->procs_head; p; p = p->next) {
		struct ranges_ctx c = {.w = w};

		wb_uv(w, (uint32_t)p->pid);
		wb_uv(w, (uint32_t)p->ppid);
		wb_byte(w, (unsigned char)(p->alive | p->has_exit_status << 1));
		wb_sv(w, p->exit_status);
		wb_strv(w, &p->cmdline);
		wb_uv(w, memmap_count(p->map));
		memmap_walk(p->map, ckpt_range_cb, &c);
		ckpt_write_tags(w, p->vmas);
		ckpt_write_tags(w, p->origins);
		ckpt_write_tags(w, p->touches);
		ckpt_write_tags(w, p->written);
		wb_uv(w, p->threads.n);
		for (uint32_t i = 0; i < p->threads.n; i++) {
			wb_uv(w, (uint32_t)p->threads.t[i].tid);
			wb_str(w, p->threads.t[i].name);
		}
	}
}

static int ckpt_read(struct rbuf *r, uint64_t id, struct session_registry *tmp,
		     struct session **out)
{
	static char replay_conn;
	struct mevi_strv argv, cmdline;
	int32_t launcher_pid = (int32_t)rb_uv(r);
	uint64_t started_at = rb_uv(r), nprocs;
	uint8_t mode = rb_byte(r), flags = rb_byte(r);
	int32_t status = (int32_t)rb_sv(r);
	uint64_t last_ts = rb_uv(r);
	struct session *s;
	int err;

	rb_strv(r, &argv);
	if (r->bad)
		return r->nomem ? -ENOMEM : -EBADMSG;
	s = session_registry_restore(tmp, id, launcher_pid, started_at, mode, &argv, &replay_conn);
	if (!s)
		return -ENOMEM;
	*out = s;
	s->alive = flags & 1;
	s->has_exit_status = (flags >> 1) & 1;
	s->ended = (flags >> 2) & 1;
	s->exit_status = status;
	s->last_ts = last_ts;
	if ((err = ckpt_read_tables(r, s)))
		return err;
	nprocs = rb_uv(r);
	for (uint64_t i = 0; i < nprocs && !r->bad; i++) {
		int32_t pid = (int32_t)rb_uv(r), ppid = (int32_t)rb_uv(r);
		uint8_t pflags = rb_byte(r);
		int32_t pstatus = (int32_t)rb_sv(r);
		uint64_t nranges, nthreads, page = 0;
		struct process *p;
		struct memmap *m;

		err = 0;

		rb_strv(r, &cmdline);
		nranges = rb_uv(r);
		if (r->bad)
			break;
		m = memmap_new();
		if (!m)
			return -ENOMEM;
		for (uint64_t j = 0; j < nranges && !r->bad && !err; j++) {
			uint64_t start = page + rb_uv(r), end = start + rb_uv(r);
			uint8_t state = rb_byte(r);

			page = end;
			if (!r->bad)
				err = memmap_set(m, start * MEVI_PAGE_SIZE, end * MEVI_PAGE_SIZE,
						 state);
		}
		if (err || r->bad) {
			memmap_free(m);
			return err == -ENOMEM ? -ENOMEM : -EBADMSG;
		}
		err = session_restore_process(s, pid, ppid, &cmdline, pflags & 1, (pflags >> 1) & 1,
					      pstatus, m, &p);
		if (err)
			return err;
		if ((err = ckpt_read_tags(r, p->vmas)) || (err = ckpt_read_tags(r, p->origins)) ||
		    (err = ckpt_read_tags(r, p->touches)) || (err = ckpt_read_tags(r, p->written)))
			return err;
		nthreads = rb_uv(r);
		for (uint64_t k = 0; k < nthreads && !r->bad; k++) {
			int32_t tid = (int32_t)rb_uv(r);
			struct mevi_str name = rb_str(r);

			if (r->bad)
				break;
			err = threadtab_set(&p->threads, tid, name);
			if (err)
				return err < 0 ? err : -EBADMSG;
		}
	}
	if (r->bad)
		return r->nomem ? -ENOMEM : -EBADMSG;
	return 0;
}

/* --- appending -------------------------------------------------------------- */

static int grow(void **arr, uint32_t *cap, uint32_t n, size_t size, struct eventlog *lg)
{
	uint32_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	charge(lg, (ssize_t)((size_t)(ncap - *cap) * size));
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Closes the open chunk (if it has events). */
static int chunk_close(struct eventlog *lg)
{
	struct chunk *c;
	unsigned char *p;

	if (!lg->cur_events)
		return 0;
	if (grow((void **)&lg->chunks, &lg->cap_chunks, lg->nchunks, sizeof(*lg->chunks), lg))
		return -ENOMEM;
	/* Shrink the buffer to its contents: the open chunk's slack is not kept. */
	p = realloc(lg->cur, lg->cur_len);
	if (!p)
		p = lg->cur;
	charge(lg, -(ssize_t)lg->cur_cap);
	c = &lg->chunks[lg->nchunks++];
	c->first_event = lg->events - lg->cur_events;
	c->end_ts = lg->max_ts;
	c->nevents = lg->cur_events;
	blob_make(lg, &c->data, p, lg->cur_len);
	lg->since_ckpt_bytes += lg->cur_len;
	lg->cur = NULL;
	lg->cur_len = lg->cur_cap = 0;
	lg->cur_events = 0;
	memset(&lg->enc, 0, sizeof(lg->enc));
	sdict_reset(&lg->dict);
	return 0;
}

static int checkpoint(struct eventlog *lg, const struct session *s)
{
	struct wbuf w = {0};
	struct ckpt *c;

	if (grow((void **)&lg->ckpts, &lg->cap_ckpts, lg->nckpts, sizeof(*lg->ckpts), lg))
		return -ENOMEM;
	ckpt_write(&w, s);
	if (w.failed) {
		free(w.p);
		return -ENOMEM;
	}
	c = &lg->ckpts[lg->nckpts++];
	c->events = lg->events;
	c->ts = lg->max_ts;
	c->prev_ts = lg->prev_distinct_ts;
	c->chunk = lg->nchunks;
	blob_make(lg, &c->data, w.p, w.len);
	lg->ckpt_total += w.len;
	lg->last_ckpt_bytes = w.len;
	lg->since_ckpt_events = 0;
	lg->since_ckpt_bytes = 0;
	return 0;
}

static void add_marker(struct eventlog *lg, const struct mevi_event *ev)
{
	if (ev->type != MEVI_EV_PROC_START && ev->type != MEVI_EV_PROC_EXEC &&
	    ev->type != MEVI_EV_PROC_EXIT)
		return;
	if (lg->nmarkers >= EVENTLOG_MAX_MARKERS) {
		lg->markers_truncated = true;
		return;
	}
	if (grow((void **)&lg->markers, &lg->cap_markers, lg->nmarkers, sizeof(*lg->markers), lg)) {
		lg->markers_truncated = true;
		return;
	}
	lg->markers[lg->nmarkers++] =
	    (struct eventlog_marker){.ts = lg->max_ts, .pid = ev->pid, .type = ev->type};
}

int eventlog_append(struct eventlog *lg, const struct session *s, const struct mevi_event *ev)
{
	struct wbuf w = {.p = lg->cur, .len = lg->cur_len, .cap = lg->cur_cap};
	size_t old_cap = lg->cur_cap, old_dict = sdict_bytes(&lg->dict);
	int closed = 0;

	enc_event(&w, &lg->enc, &lg->dict, ev);
	lg->cur = w.p;
	lg->cur_cap = w.cap;
	charge(lg, (ssize_t)(w.cap - old_cap));
	charge(lg, (ssize_t)(sdict_bytes(&lg->dict) - old_dict));
	if (w.failed)
		return -ENOMEM;
	lg->cur_len = w.len;
	lg->cur_events++;
	lg->events++;
	if (lg->events == 1 || ev->ts > lg->max_ts) {
		if (lg->events > 1)
			lg->prev_distinct_ts = lg->max_ts;
		else
			lg->prev_distinct_ts = ev->ts;
		lg->max_ts = ev->ts;
	}
	lg->since_ckpt_events++;
	add_marker(lg, ev);
	if (lg->cur_len >= lg->budget->chunk_bytes || lg->cur_events >= CHUNK_MAX_EVENTS) {
		if (chunk_close(lg))
			return -ENOMEM;
		closed = 1;
		if (lg->since_ckpt_events >= lg->budget->ckpt_events &&
		    lg->since_ckpt_bytes >= lg->last_ckpt_bytes && checkpoint(lg, s))
			return -ENOMEM;
	}
	return closed;
}

/* --- reading ---------------------------------------------------------------- */

/* Walks events from chunk `first` (plus the open chunk) in order; fn returns
 * 1 to stop (not an error). */
typedef int (*walk_fn)(void *ctx, const struct mevi_event *ev);

static int walk_from(const struct eventlog *lg, uint32_t first, walk_fn fn, void *ctx)
{
	unsigned char *scratch = NULL;
	size_t scratch_cap = 0;
	struct rbuf r = {0};
	int ret = 0;

	for (uint32_t i = first; i <= lg->nchunks && !ret; i++) {
		const unsigned char *p;
		struct delta d = {0};
		uint32_t n;

		if (i < lg->nchunks) {
			p = blob_bytes(lg, &lg->chunks[i].data, &scratch, &scratch_cap, &ret);
			if (!p)
				break;
			r.p = p;
			r.len = lg->chunks[i].data.len;
			n = lg->chunks[i].nevents;
		} else {
			r.p = lg->cur;
			r.len = lg->cur_len;
			n = lg->cur_events;
		}
		r.off = 0;
		r.ndict = 0;
		for (uint32_t k = 0; k < n && !ret; k++) {
			struct mevi_event ev;

			ret = dec_event(&r, &d, &ev);
			if (!ret)
				ret = fn(ctx, &ev);
		}
	}
	free(scratch);
	rb_free(&r);
	return ret;
}

struct user_walk {
	uint64_t left;
	eventlog_event_fn fn;
	void *ctx;
	int ret;
};

static int user_walk_cb(void *arg, const struct mevi_event *ev)
{
	struct user_walk *u = arg;

	if (!u->left)
		return 1;
	u->left--;
	u->ret = u->fn(u->ctx, ev);
	return u->ret ? 1 : 0;
}

int eventlog_walk(const struct eventlog *lg, uint64_t max_events, eventlog_event_fn fn, void *ctx)
{
	struct user_walk u = {.left = max_events, .fn = fn, .ctx = ctx};
	int ret = walk_from(lg, 0, user_walk_cb, &u);

	if (u.ret)
		return u.ret;
	return ret < 0 ? ret : 0;
}

struct replay_ctx {
	struct session_registry *reg;
	struct session *s;
	uint64_t id;
	uint64_t at;
	uint64_t max_ts;
	struct eventlog_pos *pos;
	bool started;
	int err;
};

static int replay_cb(void *arg, const struct mevi_event *ev)
{
	static char replay_conn;
	struct replay_ctx *c = arg;
	uint64_t t = ev->ts > c->max_ts ? ev->ts : c->max_ts;
	int err;

	if (c->started && t > c->at) {
		c->pos->next_ts = t;
		return 1;
	}
	if (!c->started || t > c->max_ts) {
		if (c->started)
			c->pos->prev_ts = c->max_ts;
		else
			c->pos->prev_ts = t;
	}
	c->max_ts = t;
	c->started = true;
	if (ev->type == MEVI_EV_SESSION_START) {
		void *other;

		if (c->s) {
			err = session_resume(c->reg, c->s, ev);
		} else {
			err = session_registry_start(c->reg, ev, &replay_conn, &c->s, &other);
			if (c->s)
				c->s->id = c->id;
		}
	} else if (c->s) {
		err = session_apply(c->reg, c->s, ev);
	} else {
		err = -EBADMSG;
	}
	if (err < 0 && err != -EPROTO) {
		c->err = err;
		return 1;
	}
	c->pos->applied++;
	c->pos->replayed++;
	c->pos->ts = c->max_ts;
	return 0;
}

int eventlog_replay(const struct eventlog *lg, uint64_t id, uint64_t at,
		    struct session_registry *tmp, struct session **out, struct eventlog_pos *pos)
{
	struct replay_ctx c = {.reg = tmp, .id = id, .at = at, .pos = pos};
	uint32_t first_chunk = 0;
	int ret;

	memset(pos, 0, sizeof(*pos));
	*out = NULL;
	pos->events = lg->events;
	pos->end_ts = lg->max_ts;
	/* The last checkpoint whose time is <= at (times are non-decreasing). */
	if (lg->nckpts && lg->ckpts[0].ts <= at) {
		uint32_t lo = 0, hi = lg->nckpts;
		unsigned char *scratch = NULL;
		size_t scratch_cap = 0;
		const struct ckpt *k;
		struct rbuf r = {0};
		const unsigned char *p;

		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (lg->ckpts[mid].ts <= at)
				lo = mid;
			else
				hi = mid;
		}
		k = &lg->ckpts[lo];
		ret = 0;
		p = blob_bytes(lg, &k->data, &scratch, &scratch_cap, &ret);
		if (p) {
			r.p = p;
			r.len = k->data.len;
			ret = ckpt_read(&r, id, tmp, &c.s);
		}
		free(scratch);
		rb_free(&r);
		if (ret)
			return ret;
		c.started = true;
		c.max_ts = k->ts;
		pos->applied = k->events;
		pos->ts = k->ts;
		pos->prev_ts = k->prev_ts;
		first_chunk = k->chunk;
	}
	pos->next_ts = c.max_ts;
	ret = walk_from(lg, first_chunk, replay_cb, &c);
	if (ret < 0)
		return ret;
	if (c.err)
		return c.err;
	if (pos->applied == lg->events)
		pos->next_ts = pos->ts;
	if (!c.s)
		return -EBADMSG;
	*out = c.s;
	return 0;
}

int eventlog_state_at(const struct session *s, uint64_t at, struct session_registry *tmp,
		      struct session **out, struct eventlog_pos *pos)
{
	int ret;

	session_registry_init(tmp, UINT32_MAX, NULL, NULL);
	tmp->quiet = true;
	*out = NULL;
	memset(pos, 0, sizeof(*pos));
	if (!s->log)
		return -ENOENT;
	ret = eventlog_replay(s->log, s->id, at, tmp, out, pos);
	if (ret)
		return ret;
	(*out)->recorded = s->recorded;
	if (pos->applied == pos->events) {
		(*out)->alive = s->alive;
		(*out)->has_exit_status = s->has_exit_status;
		(*out)->exit_status = s->exit_status;
	}
	return 0;
}
