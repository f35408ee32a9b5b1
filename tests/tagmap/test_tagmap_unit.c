/*
 * Unit and property tests of proto/tagmap.c.
 *
 * The file under test is #included with its malloc/calloc/realloc routed
 * through fail-on-demand wrappers (no hook exists in production code), so
 * that every -ENOMEM can be checked to leave the map exactly as it was.
 * The property test runs random operations against a naive model (one value
 * per page) and checks after each one that the map equals the model, is
 * sorted, disjoint and merged, and that lookup, walk_range and clone agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static long fi_fail_nth = -1;	/* fail the allocation with this index; -1: none */
static unsigned fi_fail_one_in; /* or each with probability 1/N */
static uint64_t fi_rng = 0x2545f4914f6cdd1dull;
static unsigned long fi_failures;

static bool fi_should_fail(void)
{
	if (fi_fail_nth >= 0 && fi_fail_nth-- == 0)
		return true;
	if (fi_fail_one_in) {
		fi_rng ^= fi_rng << 13;
		fi_rng ^= fi_rng >> 7;
		fi_rng ^= fi_rng << 17;
		return fi_rng % fi_fail_one_in == 0;
	}
	return false;
}

static void *fi_malloc(size_t n)
{
	if (fi_should_fail()) {
		fi_failures++;
		return NULL;
	}
	return malloc(n);
}

static void *fi_calloc(size_t a, size_t b)
{
	if (fi_should_fail()) {
		fi_failures++;
		return NULL;
	}
	return calloc(a, b);
}

static void *fi_realloc(void *p, size_t n)
{
	if (fi_should_fail()) {
		fi_failures++;
		return NULL;
	}
	return realloc(p, n);
}

#define malloc(n)     fi_malloc(n)
#define calloc(a, b)  fi_calloc(a, b)
#define realloc(p, n) fi_realloc(p, n)
#include "tagmap.c"
#undef malloc
#undef calloc
#undef realloc

#define PG 4096u

/* Checks the internal invariants of m. */
static void check_invariants(const struct tagmap *m)
{
	assert_true(m->n <= m->cap || (m->n == 0 && m->cap == 0));
	for (size_t i = 0; i < m->n; i++) {
		assert_true(m->r[i].start < m->r[i].end);
		if (i) {
			assert_true(m->r[i - 1].end <= m->r[i].start);
			assert_false(m->r[i - 1].end == m->r[i].start &&
				     m->r[i - 1].value == m->r[i].value);
		}
	}
}

static bool same(const struct tagmap *a, const struct tagmap *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0);
}

static struct tagmap *build(const struct tagmap_range *r, size_t n)
{
	struct tagmap *m = tagmap_new();

	assert_non_null(m);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tagmap_set(m, r[i].start, r[i].end, r[i].value), 0);
	check_invariants(m);
	return m;
}

static void expect(const struct tagmap *m, const struct tagmap_range *r, size_t n)
{
	check_invariants(m);
	assert_int_equal(m->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(m->r[i].start, r[i].start);
		assert_int_equal(m->r[i].end, r[i].end);
		assert_int_equal(m->r[i].value, r[i].value);
	}
}

static void test_einval(void **state)
{
	struct tagmap *m = tagmap_new();

	(void)state;
	assert_int_equal(tagmap_set(m, 10, 10, 1), -EINVAL);
	assert_int_equal(tagmap_set(m, 10, 5, 1), -EINVAL);
	assert_int_equal(tagmap_remove(m, 10, 10), -EINVAL);
	assert_int_equal(tagmap_remap(m, 10, 10, 20, 30), -EINVAL);
	assert_int_equal(tagmap_remap(m, 10, 20, 30, 30), -EINVAL);
	assert_int_equal(tagmap_count(m), 0);
	tagmap_free(m);
	tagmap_free(NULL);
}

static void test_full_address_space(void **state)
{
	struct tagmap *m = tagmap_new();
	struct tagmap_range r;

	(void)state;
	assert_int_equal(tagmap_set(m, 0, UINT64_MAX, UINT32_MAX), 0);
	assert_int_equal(tagmap_set(m, UINT64_MAX - 1, UINT64_MAX, 3), 0);
	assert_int_equal(tagmap_lookup(m, UINT64_MAX - 1, &r), 1);
	assert_int_equal(r.value, 3);
	assert_int_equal(tagmap_lookup(m, 0, &r), 1);
	assert_int_equal(r.value, UINT32_MAX);
	assert_int_equal(tagmap_remap(m, UINT64_MAX - 1, UINT64_MAX, 0, 1), 0);
	assert_int_equal(tagmap_lookup(m, 0, &r), 1);
	assert_int_equal(r.value, 3);
	assert_int_equal(tagmap_lookup(m, UINT64_MAX - 1, NULL), 0);
	check_invariants(m);
	tagmap_free(m);
}

static int count_cb(const struct tagmap_range *r, void *ctx)
{
	uint64_t *bytes = ctx;

	*bytes += r->end - r->start;
	return r->value == 99 ? 7 : 0;
}

static void test_walk_range_and_lookup(void **state)
{
	static const struct tagmap_range init[] = {{1 * PG, 4 * PG, 1}, {6 * PG, 8 * PG, 2}};
	struct tagmap *m = build(init, 2);
	struct tagmap_range r;
	uint64_t bytes = 0;

	(void)state;
	assert_int_equal(tagmap_walk_range(m, 2 * PG, 7 * PG, count_cb, &bytes), 0);
	assert_int_equal(bytes, 3 * PG);
	bytes = 0;
	assert_int_equal(tagmap_walk_range(m, 5 * PG, 5 * PG, count_cb, &bytes), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(tagmap_lookup(m, 4 * PG, &r), 0);
	assert_int_equal(tagmap_lookup(m, 4 * PG - 1, &r), 1);
	assert_int_equal(r.start, 1 * PG);
	assert_int_equal(tagmap_lookup(m, 0, NULL), 0);
	assert_int_equal(tagmap_lookup(m, 8 * PG, NULL), 0);
	assert_int_equal(tagmap_set(m, 9 * PG, 10 * PG, 99), 0);
	bytes = 0;
	assert_int_equal(tagmap_walk(m, count_cb, &bytes), 7); /* stops at 99 */
	assert_int_equal(bytes, 6 * PG);
	tagmap_free(m);
}

static void test_clone_independent(void **state)
{
	static const struct tagmap_range init[] = {{1 * PG, 4 * PG, 1}};
	static const struct tagmap_range after[] = {{1 * PG, 2 * PG, 1}};
	struct tagmap *m = build(init, 1), *c = tagmap_clone(m), *e = tagmap_new(), *ec;

	(void)state;
	assert_non_null(c);
	assert_int_equal(tagmap_remove(m, 2 * PG, 4 * PG), 0);
	expect(m, after, 1);
	expect(c, init, 1);
	ec = tagmap_clone(e);
	assert_non_null(ec);
	assert_int_equal(tagmap_count(ec), 0);
	tagmap_clear(c);
	assert_int_equal(tagmap_count(c), 0);
	assert_int_equal(tagmap_set(c, PG, 2 * PG, 5), 0);
	tagmap_free(m);
	tagmap_free(c);
	tagmap_free(e);
	tagmap_free(ec);
}

/* Every operation, failing its 1st, 2nd, ... allocation in turn, either
 * succeeds or returns -ENOMEM with the map unchanged. */
static void test_enomem_unchanged(void **state)
{
	(void)state;
	for (int opk = 0; opk < 4; opk++) {
		for (long nth = 0; nth < 4; nth++) {
			struct tagmap *m = tagmap_new(), *before;
			int err;

			for (uint32_t i = 0; i < 8; i++) /* exactly cap: the next split grows */
				assert_int_equal(tagmap_set(m, (2 * i) * PG, (2 * i + 1) * PG, i),
						 0);
			assert_int_equal(m->n, m->cap);
			before = tagmap_clone(m);
			assert_non_null(before);
			fi_fail_nth = nth;
			switch (opk) {
			case 0:
				err = tagmap_set(m, 2 * PG + 1, 2 * PG + 2, 77);
				break;
			case 1:
				err = tagmap_remove(m, 2 * PG + 1, 2 * PG + 2);
				break;
			case 2:
				err = tagmap_remap(m, 0, 6 * PG, 100 * PG, 103 * PG);
				break;
			default: {
				struct tagmap *c = tagmap_clone(m);

				err = c ? 0 : -ENOMEM;
				tagmap_free(c);
			}
			}
			fi_fail_nth = -1;
			assert_true(err == 0 || err == -ENOMEM);
			if (err == -ENOMEM)
				assert_true(same(m, before));
			else if (nth == 0 && opk != 3)
				fail_msg("op %d did not allocate", opk);
			check_invariants(m);
			tagmap_free(before);
			tagmap_free(m);
		}
	}
	assert_true(fi_failures > 0);
}

/* --- property test against a page array -------------------------------------- */

#define NPAGES 96u
#define NONE   UINT64_MAX

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

static void model_check(const struct tagmap *m, const uint64_t *model)
{
	uint64_t page[NPAGES];

	check_invariants(m);
	for (unsigned i = 0; i < NPAGES; i++)
		page[i] = NONE;
	for (size_t i = 0; i < m->n; i++) {
		assert_true(m->r[i].end <= (uint64_t)NPAGES * PG);
		assert_int_equal(m->r[i].start % PG, 0);
		assert_int_equal(m->r[i].end % PG, 0);
		for (uint64_t p = m->r[i].start / PG; p < m->r[i].end / PG; p++)
			page[p] = m->r[i].value;
	}
	for (unsigned i = 0; i < NPAGES; i++) {
		struct tagmap_range r;
		int found = tagmap_lookup(m, (uint64_t)i * PG + 5, &r);

		if (page[i] != model[i])
			fail_msg("page %u: map %llu, model %llu", i, (unsigned long long)page[i],
				 (unsigned long long)model[i]);
		assert_int_equal(found, model[i] != NONE);
		if (found)
			assert_int_equal(r.value, model[i]);
	}
}

static void property_run(unsigned fail_one_in, unsigned rounds)
{
	uint64_t model[NPAGES], next[NPAGES];
	struct tagmap *m = tagmap_new();

	assert_non_null(m);
	for (unsigned i = 0; i < NPAGES; i++)
		model[i] = NONE;
	for (unsigned round = 0; round < rounds; round++) {
		unsigned kind = (unsigned)rnd(100);
		uint64_t a = rnd(NPAGES), len = 1 + rnd(kind < 10 ? NPAGES : 12), b;
		uint32_t value = (uint32_t)rnd(4);
		struct tagmap *before = tagmap_clone(m);
		int err;

		assert_non_null(before);
		if (a + len > NPAGES)
			len = NPAGES - a;
		b = a + len;
		if (value == 3)
			value = UINT32_MAX;
		memcpy(next, model, sizeof(next));
		fi_fail_one_in = fail_one_in;
		if (kind < 50) {
			err = tagmap_set(m, a * PG, b * PG, value);
			for (uint64_t p = a; p < b; p++)
				next[p] = value;
		} else if (kind < 70) {
			err = tagmap_remove(m, a * PG, b * PG);
			for (uint64_t p = a; p < b; p++)
				next[p] = NONE;
		} else if (kind < 98) {
			uint64_t to = rnd(NPAGES), tolen = 1 + rnd(16), keep;

			if (to + tolen > NPAGES)
				tolen = NPAGES - to;
			keep = len < tolen ? len : tolen;
			err = tagmap_remap(m, a * PG, b * PG, to * PG, (to + tolen) * PG);
			for (uint64_t p = a; p < b; p++)
				next[p] = NONE;
			for (uint64_t p = to; p < to + tolen; p++)
				next[p] = NONE;
			for (uint64_t p = 0; p < keep; p++)
				next[to + p] = model[a + p];
		} else {
			tagmap_clear(m);
			err = 0;
			for (unsigned p = 0; p < NPAGES; p++)
				next[p] = NONE;
		}
		fi_fail_one_in = 0;
		if (err == -ENOMEM) {
			assert_true(same(m, before));
		} else {
			assert_int_equal(err, 0);
			memcpy(model, next, sizeof(model));
		}
		model_check(m, model);
		tagmap_free(before);
	}
	tagmap_free(m);
}

static void test_property(void **state)
{
	(void)state;
	property_run(0, 200000);
}

static void test_property_enomem(void **state)
{
	(void)state;
	fi_failures = 0;
	property_run(3, 100000);
	assert_true(fi_failures > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_einval),
	    cmocka_unit_test(test_full_address_space),
	    cmocka_unit_test(test_walk_range_and_lookup),
	    cmocka_unit_test(test_clone_independent),
	    cmocka_unit_test(test_enomem_unchanged),
	    cmocka_unit_test(test_property),
	    cmocka_unit_test(test_property_enomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
