/*
 * memmap_internal.h — compiles proto/memmap.c into a test, with allocation
 * failure injection and an internal invariant checker.
 *
 * Include this instead of memmap.h, after <cmocka.h>. It routes the malloc()
 * and calloc() calls of memmap.c through fi_malloc()/fi_calloc(), which fail
 * on demand (fi_fail_nth, fi_fail_one_in), so tests can check that every
 * -ENOMEM leaves the map exactly as it was. No hook exists in production code.
 */
#ifndef MEVI_TESTS_MEMMAP_INTERNAL_H
#define MEVI_TESTS_MEMMAP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Fail the allocation with this index (0 = the next one), or -1 for none. */
static long fi_fail_nth = -1;
/* When non-zero, fail each allocation with probability 1 / fi_fail_one_in. */
static unsigned fi_fail_one_in;
static uint64_t fi_rng_state = 0x9e3779b97f4a7c15ull;
static unsigned long fi_failures;

static bool fi_should_fail(void)
{
	if (fi_fail_nth >= 0 && fi_fail_nth-- == 0)
		return true;
	if (fi_fail_one_in) {
		/* xorshift64: independent of the test's own generator. */
		fi_rng_state ^= fi_rng_state << 13;
		fi_rng_state ^= fi_rng_state >> 7;
		fi_rng_state ^= fi_rng_state << 17;
		return fi_rng_state % fi_fail_one_in == 0;
	}
	return false;
}

static void *fi_malloc(size_t size)
{
	if (fi_should_fail()) {
		fi_failures++;
		return NULL;
	}
	return malloc(size);
}

static void *fi_calloc(size_t nmemb, size_t size)
{
	if (fi_should_fail()) {
		fi_failures++;
		return NULL;
	}
	return calloc(nmemb, size);
}

#define malloc(size)	    fi_malloc(size)
#define calloc(nmemb, size) fi_calloc(nmemb, size)
#include "memmap.c"
#undef malloc
#undef calloc

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail_msg("memmap invariant broken: %s (%s:%d)", #cond, __FILE__,           \
				 __LINE__);                                                        \
	} while (0)

struct check_walk {
	const struct leaf *prev_leaf;
	bool have_key;
	uint64_t last_key;
	uint8_t last_state;
	size_t nkeys, count, leaves;
	uint64_t rss, vsz;
};

/* Checks the subtree under node, whose keys must lie in [lo, hi) (hi only
 * when has_hi), `levels` inner levels above its leaves. */
static void check_subtree(struct check_walk *w, const struct memmap *m, const void *node,
			  unsigned levels, bool is_root, uint64_t lo, bool has_hi, uint64_t hi)
{
	if (levels > 0) {
		const struct inner *in = node;

		CHECK(in->n <= INNER_CAP);
		CHECK(in->n >= (is_root ? 2u : (unsigned)INNER_MIN));
		for (unsigned i = 1; i < in->n; i++) {
			CHECK(in->key[i] >= lo);
			CHECK(!has_hi || in->key[i] < hi);
			CHECK(i == 1 || in->key[i] > in->key[i - 1]);
		}
		for (unsigned i = 0; i < in->n; i++) {
			uint64_t clo = i == 0 ? lo : in->key[i];
			bool chas_hi = i + 1 < in->n ? true : has_hi;
			uint64_t chi = i + 1 < in->n ? in->key[i + 1] : hi;

			check_subtree(w, m, in->child[i], levels - 1, false, clo, chas_hi, chi);
		}
		return;
	}

	const struct leaf *lf = node;

	CHECK(lf->n <= LEAF_CAP);
	CHECK(lf->n >= (is_root ? 1u : (unsigned)LEAF_MIN));
	CHECK(lf->prev == w->prev_leaf);
	CHECK(w->prev_leaf == NULL || w->prev_leaf->next == lf);
	for (unsigned i = 0; i < lf->n; i++) {
		uint64_t k = lf->key[i];
		uint8_t s = lf->state[i];

		CHECK(k >= lo);
		CHECK(!has_hi || k < hi);
		CHECK(s <= STATE_HOLE);
		if (!w->have_key) {
			CHECK(k == 0);
		} else {
			CHECK(k > w->last_key);
			/* The merge invariant, holes included. */
			CHECK(s != w->last_state);
			if (w->last_state != STATE_HOLE) {
				w->vsz += k - w->last_key;
				if (w->last_state == MEVI_STATE_RESIDENT)
					w->rss += k - w->last_key;
			}
		}
		w->have_key = true;
		w->last_key = k;
		w->last_state = s;
		w->nkeys++;
		w->count += s != STATE_HOLE;
	}
	w->prev_leaf = lf;
	w->leaves++;
}

/* Checks every structural invariant of m and its cached totals. */
static void memmap_check(const struct memmap *m)
{
	struct check_walk w = {0};

	CHECK(m->height < MAX_HEIGHT);
	check_subtree(&w, m, m->root, m->height, true, 0, false, 0);
	CHECK(w.prev_leaf->next == NULL);
	CHECK(w.have_key);
	CHECK(w.last_state == STATE_HOLE);
	CHECK(w.nkeys == m->nkeys);
	CHECK(w.count == m->count);
	CHECK(w.rss == m->rss);
	CHECK(w.vsz == m->vsz);
	CHECK(m->spare_leaves.n <= spare_keep);
	CHECK(m->spare_inners.n <= spare_keep);
}

/* ---- range lists -------------------------------------------------------- */

struct range_list {
	struct memmap_range *r;
	size_t n, cap;
};

static int range_list_push(const struct memmap_range *r, void *ctx)
{
	struct range_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->r = realloc(l->r, l->cap * sizeof(*l->r));
		assert_non_null(l->r);
	}
	l->r[l->n++] = *r;
	return 0;
}

/* The ranges of m, in order. The caller frees list->r. */
static struct range_list ranges_of(const struct memmap *m)
{
	struct range_list l = {0};

	assert_int_equal(memmap_walk(m, range_list_push, &l), 0);
	return l;
}

static bool range_lists_equal(const struct range_list *a, const struct range_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->r[i].start != b->r[i].start || a->r[i].end != b->r[i].end ||
		    a->r[i].state != b->r[i].state)
			return false;
	return true;
}

#endif /* MEVI_TESTS_MEMMAP_INTERNAL_H */
