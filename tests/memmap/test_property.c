/*
 * Property test of proto/memmap.c against a naive model: one state byte per
 * page over a bounded window of the address space.
 *
 * Each configuration runs a fixed-seed stream of random set / update / remove
 * / remap / clear operations (plus invalid ones) and, after every operation,
 * compares the whole range list, rss, vsz and count with the model, runs the
 * internal invariant checker (tree shape, separators, sortedness, merge
 * invariant, cached totals), and probes memmap_lookup and memmap_walk_range
 * (clipping at byte granularity, early stop). Every so often a clone is taken
 * and checked to be independent in both directions. One configuration makes
 * allocations fail at random and checks that each -ENOMEM left the map as it
 * was.
 *
 * The file is built twice: with the production node capacities and with tiny
 * ones (MEMMAP_LEAF_CAP=4, MEMMAP_INNER_CAP=4, MEMMAP_SPARE_KEEP=0), which
 * makes small windows deep trees and exercises every split, merge and
 * redistribution path, and makes the node reservation bound exact: a bound
 * too small aborts on MEVI_ASSERT.
 *
 * MEMMAP_PROPERTY_OPS in the environment overrides the number of operations
 * per configuration (e.g. for a quick run under valgrind).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memmap_internal.h"

#define PAGE	UINT64_C(4096)
#define HOLE	STATE_HOLE
#define NSTATES MEVI_STATE_COUNT

/* splitmix64: a small deterministic generator, so failures reproduce. */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rnd_below(struct rng *r, size_t n)
{
	return (size_t)(rnd(r) % n);
}

/* ---- the model ------------------------------------------------------------ */

struct model {
	uint64_t base; /* address of page 0 */
	size_t npages; /* window size */
	uint8_t *page; /* state per page, HOLE when unmapped */
	uint8_t *tmp;  /* scratch for remap */
};

static void model_init(struct model *md, uint64_t base, size_t npages)
{
	md->base = base;
	md->npages = npages;
	md->page = malloc(npages);
	md->tmp = malloc(npages);
	assert_non_null(md->page);
	assert_non_null(md->tmp);
	memset(md->page, HOLE, npages);
}

static void model_fini(struct model *md)
{
	free(md->page);
	free(md->tmp);
}

static uint64_t addr(const struct model *md, size_t page)
{
	return md->base + page * PAGE;
}

enum op_kind { OP_SET, OP_UPDATE, OP_REMOVE, OP_REMAP, OP_CLEAR, OP_INVALID };

struct op {
	enum op_kind kind;
	size_t a, b, c, d; /* pages: [a, b), remap to [c, d) */
	uint8_t state;
	/* OP_INVALID: raw arguments */
	int which;
	bool swap;
	uint64_t x0, x1, x2, x3;
	uint8_t bad_state;
};

static void model_apply(struct model *md, const struct op *op)
{
	size_t i, keep;

	switch (op->kind) {
	case OP_SET:
		memset(md->page + op->a, op->state, op->b - op->a);
		break;
	case OP_UPDATE:
		for (i = op->a; i < op->b; i++)
			if (md->page[i] != HOLE)
				md->page[i] = op->state;
		break;
	case OP_REMOVE:
		memset(md->page + op->a, HOLE, op->b - op->a);
		break;
	case OP_REMAP:
		keep = op->b - op->a < op->d - op->c ? op->b - op->a : op->d - op->c;
		memcpy(md->tmp, md->page + op->a, keep);
		memset(md->page + op->a, HOLE, op->b - op->a);
		memcpy(md->page + op->c, md->tmp, keep);
		memset(md->page + op->c + keep, MEVI_STATE_NOT_RESIDENT, op->d - op->c - keep);
		break;
	case OP_CLEAR:
		memset(md->page, HOLE, md->npages);
		break;
	case OP_INVALID:
		break;
	}
}

/* The model's merged ranges. The caller frees list->r. */
static struct range_list model_ranges(const struct model *md)
{
	struct range_list l = {0};
	size_t i = 0;

	while (i < md->npages) {
		size_t j = i + 1;

		while (j < md->npages && md->page[j] == md->page[i])
			j++;
		if (md->page[i] != HOLE) {
			struct memmap_range r = {addr(md, i), addr(md, j), md->page[i]};

			range_list_push(&r, &l);
		}
		i = j;
	}
	return l;
}

static void print_ranges(const char *what, const struct range_list *l)
{
	print_message("%s (%zu ranges):\n", what, l->n);
	for (size_t i = 0; i < l->n && i < 64; i++)
		print_message("  [%#llx, %#llx) %s\n", (unsigned long long)l->r[i].start,
			      (unsigned long long)l->r[i].end, mevi_state_name(l->r[i].state));
}

/* Compares everything observable about m with the model. */
static void check_full(const struct memmap *m, const struct model *md, const char *where)
{
	struct range_list got = ranges_of(m), want = model_ranges(md);
	uint64_t rss = 0, vsz = 0;

	for (size_t i = 0; i < want.n; i++) {
		vsz += want.r[i].end - want.r[i].start;
		if (want.r[i].state == MEVI_STATE_RESIDENT)
			rss += want.r[i].end - want.r[i].start;
	}
	if (!range_lists_equal(&got, &want)) {
		print_ranges("memmap", &got);
		print_ranges("model", &want);
		fail_msg("%s: range lists differ", where);
	}
	assert_int_equal(memmap_rss(m), rss);
	assert_int_equal(memmap_vsz(m), vsz);
	assert_int_equal(memmap_count(m), want.n);
	memmap_check(m);
	free(got.r);
	free(want.r);
}

/* Cheap checks for big windows between full checks. */
static void check_totals(const struct memmap *m, const struct model *md)
{
	uint64_t rss = 0, vsz = 0;

	for (size_t i = 0; i < md->npages; i++) {
		vsz += md->page[i] != HOLE ? PAGE : 0;
		rss += md->page[i] == MEVI_STATE_RESIDENT ? PAGE : 0;
	}
	assert_int_equal(memmap_rss(m), rss);
	assert_int_equal(memmap_vsz(m), vsz);
}

/* The model's range containing addr, if any. */
static int model_lookup(const struct model *md, uint64_t a, struct memmap_range *out)
{
	size_t p, s, e;

	if (a < md->base || a >= addr(md, md->npages))
		return 0;
	p = (a - md->base) / PAGE;
	if (md->page[p] == HOLE)
		return 0;
	for (s = p; s > 0 && md->page[s - 1] == md->page[p]; s--)
		;
	for (e = p + 1; e < md->npages && md->page[e] == md->page[p]; e++)
		;
	*out = (struct memmap_range){addr(md, s), addr(md, e), md->page[p]};
	return 1;
}

static void check_lookups(const struct memmap *m, const struct model *md, struct rng *r)
{
	for (int i = 0; i < 4; i++) {
		/* Mostly inside the window, sometimes just outside it. */
		uint64_t span = (md->npages + 2) * PAGE;
		uint64_t a = md->base - PAGE + rnd(r) % span;
		struct memmap_range got = {0}, want = {0};
		int g, w;

		g = memmap_lookup(m, a, &got);
		w = model_lookup(md, a, &want);
		assert_int_equal(g, w);
		if (w) {
			assert_int_equal(got.start, want.start);
			assert_int_equal(got.end, want.end);
			assert_int_equal(got.state, want.state);
		}
		assert_int_equal(memmap_lookup(m, a, NULL), w);
	}
}

struct stop_ctx {
	size_t seen, stop_at;
};

static int stop_after(const struct memmap_range *r, void *ctx)
{
	struct stop_ctx *c = ctx;

	(void)r;
	return ++c->seen == c->stop_at ? 42 : 0;
}

/* memmap_walk_range with random byte bounds: every range intersecting
 * [s, e), clipped; and an early stop returns the callback's value. */
static void check_walk_range(const struct memmap *m, const struct model *md, struct rng *r)
{
	uint64_t span = (md->npages + 2) * PAGE;
	uint64_t s = md->base + rnd(r) % span, e = md->base + rnd(r) % span;
	struct range_list got = {0}, all, want = {0};
	struct stop_ctx stop = {0};
	int ret;

	if (md->base >= PAGE) {
		s -= PAGE;
		e -= PAGE;
	}
	if (s > e) {
		uint64_t t = s;

		s = e;
		e = t;
	}
	assert_int_equal(memmap_walk_range(m, s, e, range_list_push, &got), 0);
	all = model_ranges(md);
	for (size_t i = 0; i < all.n; i++) {
		struct memmap_range c = all.r[i];

		if (c.end <= s || c.start >= e)
			continue;
		c.start = c.start > s ? c.start : s;
		c.end = c.end < e ? c.end : e;
		range_list_push(&c, &want);
	}
	if (!range_lists_equal(&got, &want)) {
		print_message("walk_range [%#llx, %#llx)\n", (unsigned long long)s,
			      (unsigned long long)e);
		print_ranges("memmap", &got);
		print_ranges("model", &want);
		fail_msg("walk_range differs");
	}
	if (want.n > 0) {
		stop.stop_at = 1 + rnd_below(r, want.n);
		ret = memmap_walk_range(m, s, e, stop_after, &stop);
		assert_int_equal(ret, 42);
		assert_int_equal(stop.seen, stop.stop_at);
	}
	free(got.r);
	free(all.r);
	free(want.r);
}

/* ---- random operations ------------------------------------------------------ */

/* A random page range in the window: mostly a few pages (which fragments the
 * map into many ranges), sometimes up to big_len pages (which sweeps many). */
static void rand_range(struct rng *r, size_t w, size_t big_len, size_t *a, size_t *b)
{
	size_t len, k = rnd_below(r, 100);

	if (k < 70)
		len = 1 + rnd_below(r, 4);
	else if (k < 95)
		len = 1 + rnd_below(r, 32);
	else
		len = 1 + rnd_below(r, big_len);
	*a = rnd_below(r, w);
	*b = *a + len < w ? *a + len : w;
}

static struct op rand_op(struct rng *r, const struct model *md, size_t big_len,
			 unsigned clear_one_in)
{
	struct op op = {0};
	size_t w = md->npages, k = rnd_below(r, 1000), len, nlen;

	rand_range(r, w, big_len, &op.a, &op.b);
	op.state = (uint8_t)rnd_below(r, NSTATES);
	if (rnd_below(r, clear_one_in) == 0) {
		op.kind = OP_CLEAR;
	} else if (k < 300) {
		op.kind = OP_SET;
	} else if (k < 600) {
		op.kind = OP_UPDATE;
	} else if (k < 730) {
		op.kind = OP_REMOVE;
	} else if (k < 975) {
		op.kind = OP_REMAP;
		len = op.b - op.a;
		switch (rnd_below(r, 4)) {
		case 0:
			nlen = len;
			break;
		case 1:
			nlen = len + rnd_below(r, 8);
			break;
		case 2:
			nlen = 1 + rnd_below(r, len);
			break;
		default:
			nlen = 1 + rnd_below(r, 32);
			break;
		}
		/* In place, near the source (overlapping), or anywhere. */
		switch (rnd_below(r, 3)) {
		case 0:
			op.c = op.a;
			break;
		case 1:
			op.c = op.a + rnd_below(r, 2 * len + 1);
			op.c = op.c >= len ? op.c - len : 0;
			break;
		default:
			op.c = rnd_below(r, w);
			break;
		}
		if (op.c >= w)
			op.c = w - 1;
		op.d = op.c + nlen < w ? op.c + nlen : w;
	} else {
		op.kind = OP_INVALID;
		op.which = (int)rnd_below(r, 6);
		op.swap = rnd_below(r, 2);
		op.x0 = addr(md, op.a);
		/* [x0, x1) is empty or inverted, never wrapping below 0. */
		op.x1 = op.x0 - (op.x0 < 2 * PAGE ? op.x0 : PAGE * rnd_below(r, 3));
		op.x2 = addr(md, rnd_below(r, w));
		op.x3 = op.x2 + PAGE;
		op.bad_state = (uint8_t)(NSTATES + rnd_below(r, 256 - NSTATES));
	}
	return op;
}

/* Runs op on m. Returns what the memmap function returned. */
static int run_op(struct memmap *m, const struct model *md, const struct op *op)
{
	switch (op->kind) {
	case OP_SET:
		return memmap_set(m, addr(md, op->a), addr(md, op->b), op->state);
	case OP_UPDATE:
		return memmap_update(m, addr(md, op->a), addr(md, op->b), op->state);
	case OP_REMOVE:
		return memmap_remove(m, addr(md, op->a), addr(md, op->b));
	case OP_REMAP:
		return memmap_remap(m, addr(md, op->a), addr(md, op->b), addr(md, op->c),
				    addr(md, op->d));
	case OP_CLEAR:
		memmap_clear(m);
		return 0;
	case OP_INVALID:
		switch (op->which) {
		case 0:
			return memmap_set(m, op->x0, op->x1, MEVI_STATE_RESIDENT);
		case 1:
			return memmap_set(m, op->x2, op->x3, op->bad_state);
		case 2:
			return memmap_update(m, op->x0, op->x1, MEVI_STATE_RESIDENT);
		case 3:
			return memmap_update(m, op->x2, op->x3, op->bad_state);
		case 4:
			return memmap_remove(m, op->x0, op->x1);
		default:
			return op->swap ? memmap_remap(m, op->x0, op->x1, op->x2, op->x3)
					: memmap_remap(m, op->x2, op->x3, op->x0, op->x1);
		}
	}
	return -1;
}

/* ---- configurations ---------------------------------------------------------- */

struct config {
	const char *name;
	uint64_t base;
	size_t npages;
	size_t ops;
	uint64_t seed;
	size_t big_len;	       /* longest random range, in pages */
	unsigned clear_one_in; /* memmap_clear() probability */
	unsigned full_every;   /* full comparison every N ops (1 = always) */
	unsigned clone_every;
	/* Allocation failure injection: each allocation fails with probability
	 * 1 / fail_one_in during every other block of 256 ops (so that the map
	 * can also grow); 0 = off. */
	unsigned fail_one_in;
};

static size_t ops_override(size_t ops)
{
	const char *env = getenv("MEMMAP_PROPERTY_OPS");

	return env && *env ? (size_t)strtoull(env, NULL, 10) : ops;
}

/* Takes a clone, checks both directions of independence. */
static void check_clone(struct memmap *m, struct model *md, struct rng *r, size_t big_len,
			unsigned clear_one_in)
{
	struct memmap *c = memmap_clone(m);
	struct model cm;
	struct op op;

	assert_non_null(c);
	model_init(&cm, md->base, md->npages);
	memcpy(cm.page, md->page, md->npages);
	check_full(c, &cm, "fresh clone");

	/* Changing the clone leaves the original alone... */
	op = rand_op(r, &cm, big_len, clear_one_in);
	assert_int_equal(run_op(c, &cm, &op), op.kind == OP_INVALID ? -EINVAL : 0);
	model_apply(&cm, &op);
	check_full(c, &cm, "changed clone");
	check_full(m, md, "original after clone changed");

	/* ...and changing the original leaves the clone alone. */
	memmap_remove(m, addr(md, 0), addr(md, md->npages));
	check_full(c, &cm, "clone after original changed");
	memset(md->page, HOLE, md->npages);
	check_full(m, md, "original emptied");
	memmap_free(c);
	/* Continue with the clone's contents in the original. */
	for (size_t i = 0; i < md->npages;) {
		size_t j = i + 1;

		while (j < md->npages && cm.page[j] == cm.page[i])
			j++;
		if (cm.page[i] != HOLE)
			assert_int_equal(memmap_set(m, addr(md, i), addr(md, j), cm.page[i]), 0);
		i = j;
	}
	memcpy(md->page, cm.page, md->npages);
	check_full(m, md, "original refilled");
	model_fini(&cm);
}

static void run_config(const struct config *cfg)
{
	struct rng r = {cfg->seed};
	struct memmap *m = memmap_new();
	struct model md;
	size_t ops = ops_override(cfg->ops);
	unsigned long enomem = 0;
	unsigned max_height = 0;
	size_t max_keys = 0;

	assert_non_null(m);
	model_init(&md, cfg->base, cfg->npages);
	for (size_t i = 0; i < ops; i++) {
		struct op op = rand_op(&r, &md, cfg->big_len, cfg->clear_one_in);
		int ret;

		fi_fail_one_in = (i / 256) % 2 ? cfg->fail_one_in : 0;
		ret = run_op(m, &md, &op);
		fi_fail_one_in = 0;
		if (op.kind == OP_INVALID) {
			assert_int_equal(ret, -EINVAL);
		} else if (ret == -ENOMEM && cfg->fail_one_in) {
			enomem++; /* the model stays as it was: so must the map */
		} else {
			if (ret != 0)
				fail_msg("%s op %zu (kind %d): returned %d", cfg->name, i,
					 (int)op.kind, ret);
			model_apply(&md, &op);
		}
		if (cfg->full_every <= 1 || i % cfg->full_every == 0 || op.kind == OP_INVALID ||
		    ret == -ENOMEM) {
			char where[96];

			snprintf(where, sizeof(where), "%s op %zu (kind %d)", cfg->name, i,
				 (int)op.kind);
			check_full(m, &md, where);
		} else {
			check_totals(m, &md);
		}
		max_height = m->height > max_height ? m->height : max_height;
		max_keys = m->nkeys > max_keys ? m->nkeys : max_keys;
		check_lookups(m, &md, &r);
		if (i % 7 == 0)
			check_walk_range(m, &md, &r);
		if (cfg->clone_every && i % cfg->clone_every == cfg->clone_every - 1)
			check_clone(m, &md, &r, cfg->big_len, cfg->clear_one_in);
	}
	check_full(m, &md, "end");
	print_message("%s: %zu ops, up to %zu keys, tree height up to %u\n", cfg->name, ops,
		      max_keys, max_height);
	if (cfg->fail_one_in) {
		print_message("%s: %lu operations failed with -ENOMEM\n", cfg->name, enomem);
		assert_true(enomem > 0);
	}
	memmap_free(m);
	model_fini(&md);
}

static const struct config configs[] = {
    /* Small window at address 0: dense collisions, the sentinel key 0. */
    {"low64", 0, 64, 40000, 1, 64, 500, 1, 250, 0},
    /* A window where user mappings live. */
    {"user512", UINT64_C(0x7f0000000000), 512, 40000, 2, 512, 2000, 1, 500, 0},
    /* The top of the 64-bit space: ends at 2^64 - 4096. */
    {"top1k", UINT64_MAX - 1025 * PAGE + 1, 1024, 30000, 3, 256, 5000, 1, 1000, 0},
    /* A wide window: thousands of ranges, deeper trees; rare long sweeps. */
    {"wide16k", UINT64_C(0x10000000), 16384, 60000, 4, 64, 40000, 32, 7000, 0},
    /* Allocation failures: every -ENOMEM must leave the map unchanged. */
    {"enomem1k", UINT64_C(0x55550000000), 1024, 40000, 5, 256, 5000, 1, 0, 8},
};

static void test_config(void **state)
{
	run_config(*state);
}

int main(void)
{
	struct CMUnitTest tests[sizeof(configs) / sizeof(configs[0])];

	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		tests[i] = (struct CMUnitTest){configs[i].name, test_config, NULL, NULL,
					       (void *)&configs[i]};
	print_message("memmap property test: leaf cap %d, inner cap %d\n", LEAF_CAP, INNER_CAP);
	return _cmocka_run_group_tests("memmap_property", tests, sizeof(tests) / sizeof(tests[0]),
				       NULL, NULL);
}
