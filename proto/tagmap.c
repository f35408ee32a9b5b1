/*
 * tagmap — the annotation map as one sorted array of merged ranges: set,
 * remove, remap, walk, lookup (contract: tagmap.h).
 */
#include "tagmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The ranges, sorted, disjoint, merged; r[0..n) used, cap allocated. */
struct tagmap {
	struct tagmap_range *r;
	size_t n, cap;
};

struct tagmap *tagmap_new(void)
{
	return calloc(1, sizeof(struct tagmap));
}

void tagmap_free(struct tagmap *m)
{
	if (!m)
		return;
	free(m->r);
	free(m);
}

struct tagmap *tagmap_clone(const struct tagmap *m)
{
	struct tagmap *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (m->n) {
		c->r = malloc(m->n * sizeof(*c->r));
		if (!c->r) {
			free(c);
			return NULL;
		}
		memcpy(c->r, m->r, m->n * sizeof(*c->r));
		c->n = c->cap = m->n;
	}
	return c;
}

/* Index of the first range whose end is above addr (n if none). */
static size_t first_end_above(const struct tagmap *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->r[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Index of the first range that starts at or above addr (n if none). */
static size_t first_start_from(const struct tagmap *m, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->r[mid].start >= addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Makes room for `want` ranges. Returns 0 or -ENOMEM (m unchanged). */
static int reserve(struct tagmap *m, size_t want)
{
	size_t cap;
	struct tagmap_range *r;

	if (want <= m->cap)
		return 0;
	cap = m->cap ? m->cap * 2 : 8;
	if (cap < want)
		cap = want;
	r = realloc(m->r, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	m->r = r;
	m->cap = cap;
	return 0;
}

/* Appends x to out[0..*k), merging it into the last range when adjacent and
 * of equal value. */
static void push(struct tagmap_range *out, size_t *k, struct tagmap_range x)
{
	if (*k && out[*k - 1].end == x.start && out[*k - 1].value == x.value) {
		out[*k - 1].end = x.end;
		return;
	}
	out[(*k)++] = x;
}

/* Replaces r[lo, hi) by add[0, k). Returns 0 or -ENOMEM (m unchanged). */
static int splice(struct tagmap *m, size_t lo, size_t hi, const struct tagmap_range *add, size_t k)
{
	int err = reserve(m, m->n - (hi - lo) + k);

	if (err)
		return err;
	if (hi - lo != k)
		memmove(m->r + lo + k, m->r + hi, (m->n - hi) * sizeof(*m->r));
	if (k)
		memcpy(m->r + lo, add, k * sizeof(*add));
	m->n = m->n - (hi - lo) + k;
	return 0;
}

int tagmap_set(struct tagmap *m, uint64_t start, uint64_t end, uint32_t value)
{
	struct tagmap_range add[3];
	size_t lo, hi, k = 0;

	if (start >= end)
		return -EINVAL;
	/* r[lo, hi) are the ranges intersecting [start, end). */
	lo = first_end_above(m, start);
	hi = first_start_from(m, end);
	if (lo > 0 && m->r[lo - 1].end == start && m->r[lo - 1].value == value)
		lo--; /* the left neighbour merges */
	if (hi < m->n && m->r[hi].start == end && m->r[hi].value == value)
		hi++; /* the right neighbour merges */
	if (lo < hi && m->r[lo].start < start)
		push(add, &k, (struct tagmap_range){m->r[lo].start, start, m->r[lo].value});
	push(add, &k, (struct tagmap_range){start, end, value});
	if (lo < hi && m->r[hi - 1].end > end)
		push(add, &k, (struct tagmap_range){end, m->r[hi - 1].end, m->r[hi - 1].value});
	return splice(m, lo, hi, add, k);
}

int tagmap_remove(struct tagmap *m, uint64_t start, uint64_t end)
{
	struct tagmap_range add[2];
	size_t lo, hi, k = 0;

	if (start >= end)
		return -EINVAL;
	lo = first_end_above(m, start);
	hi = first_start_from(m, end);
	if (lo >= hi)
		return 0;
	if (m->r[lo].start < start)
		add[k++] = (struct tagmap_range){m->r[lo].start, start, m->r[lo].value};
	if (m->r[hi - 1].end > end)
		add[k++] = (struct tagmap_range){end, m->r[hi - 1].end, m->r[hi - 1].value};
	return splice(m, lo, hi, add, k);
}

/* Appends the ranges of m within [from, from + len), clipped and moved to
 * start at `to`, to out. */
static void push_moved(const struct tagmap *m, uint64_t from, uint64_t len, uint64_t to,
		       struct tagmap_range *out, size_t *k)
{
	for (size_t i = first_end_above(m, from); i < m->n && m->r[i].start < from + len; i++) {
		uint64_t s = m->r[i].start > from ? m->r[i].start : from;
		uint64_t e = m->r[i].end < from + len ? m->r[i].end : from + len;

		push(out, k, (struct tagmap_range){s - from + to, e - from + to, m->r[i].value});
	}
}

int tagmap_remap(struct tagmap *m, uint64_t old_start, uint64_t old_end, uint64_t new_start,
		 uint64_t new_end)
{
	uint64_t old_len, new_len, keep;
	struct tagmap_range holes[2], *out;
	size_t nholes, k = 0, cap, moved;
	bool placed = false;

	if (old_start >= old_end || new_start >= new_end)
		return -EINVAL;
	old_len = old_end - old_start;
	new_len = new_end - new_start;
	keep = old_len < new_len ? old_len : new_len;
	/* The holes cut out of the map: the old and the new range, sorted and
	 * merged when they overlap or touch. */
	holes[0] = (struct tagmap_range){old_start, old_end, 0};
	holes[1] = (struct tagmap_range){new_start, new_end, 0};
	if (holes[1].start < holes[0].start) {
		struct tagmap_range t = holes[0];

		holes[0] = holes[1];
		holes[1] = t;
	}
	nholes = 2;
	if (holes[1].start <= holes[0].end) {
		if (holes[1].end > holes[0].end)
			holes[0].end = holes[1].end;
		nholes = 1;
	}
	/* The result is built in a new array: every range can be cut by the
	 * holes into one more piece each, plus the moved pieces. */
	moved = first_start_from(m, old_start + keep) - first_end_above(m, old_start);
	cap = m->n + 2 + moved;
	out = malloc(cap * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		uint64_t cur = m->r[i].start, e = m->r[i].end;

		for (size_t h = 0; h <= nholes && cur < e; h++) {
			uint64_t piece_end = h < nholes && holes[h].start < e ? holes[h].start : e;

			if (h < nholes && holes[h].end <= cur)
				continue;
			if (cur < piece_end) {
				if (!placed && cur >= new_start) {
					push_moved(m, old_start, keep, new_start, out, &k);
					placed = true;
				}
				push(out, &k, (struct tagmap_range){cur, piece_end, m->r[i].value});
			}
			if (h < nholes && holes[h].end > cur)
				cur = holes[h].end;
		}
	}
	if (!placed)
		push_moved(m, old_start, keep, new_start, out, &k);
	free(m->r);
	m->r = out;
	m->n = k;
	m->cap = cap;
	return 0;
}

void tagmap_clear(struct tagmap *m)
{
	m->n = 0;
}

size_t tagmap_count(const struct tagmap *m)
{
	return m->n;
}

int tagmap_walk(const struct tagmap *m, tagmap_walk_fn fn, void *ctx)
{
	for (size_t i = 0; i < m->n; i++) {
		int ret = fn(&m->r[i], ctx);

		if (ret)
			return ret;
	}
	return 0;
}

int tagmap_walk_range(const struct tagmap *m, uint64_t start, uint64_t end, tagmap_walk_fn fn,
		      void *ctx)
{
	if (start >= end)
		return 0;
	for (size_t i = first_end_above(m, start); i < m->n && m->r[i].start < end; i++) {
		struct tagmap_range r = m->r[i];
		int ret;

		if (r.start < start)
			r.start = start;
		if (r.end > end)
			r.end = end;
		ret = fn(&r, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

int tagmap_lookup(const struct tagmap *m, uint64_t addr, struct tagmap_range *out)
{
	size_t i = first_end_above(m, addr);

	if (i >= m->n || m->r[i].start > addr)
		return 0;
	if (out)
		*out = m->r[i];
	return 1;
}
