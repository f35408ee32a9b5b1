/*
 * Unit tests of proto/memmap.c: error returns, API corners that vectors
 * cannot express (walk stop values, lookup with NULL, clones, the extremes of
 * the 64-bit space, byte granularity), large maps, and every -ENOMEM path
 * with deterministic allocation failures (each must leave the map unchanged).
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

#define PAGE UINT64_C(4096)
#define R    MEVI_STATE_RESIDENT
#define NR   MEVI_STATE_NOT_RESIDENT
#define U    MEVI_STATE_UNTRACKED

/* Asserts that m holds exactly the n ranges in want (and passes the checker). */
static void expect_ranges(const struct memmap *m, const struct memmap_range *want, size_t n)
{
	struct range_list got = ranges_of(m);
	uint64_t rss = 0, vsz = 0;

	assert_int_equal(got.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(got.r[i].start, want[i].start);
		assert_int_equal(got.r[i].end, want[i].end);
		assert_int_equal(got.r[i].state, want[i].state);
		vsz += want[i].end - want[i].start;
		if (want[i].state == R)
			rss += want[i].end - want[i].start;
	}
	assert_int_equal(memmap_count(m), n);
	assert_int_equal(memmap_rss(m), rss);
	assert_int_equal(memmap_vsz(m), vsz);
	memmap_check(m);
	free(got.r);
}

static void test_state_names(void **state)
{
	assert_string_equal(mevi_state_name(MEVI_STATE_NOT_RESIDENT), "not_resident");
	assert_string_equal(mevi_state_name(MEVI_STATE_RESIDENT), "resident");
	assert_string_equal(mevi_state_name(MEVI_STATE_UNTRACKED), "untracked");
	assert_string_equal(mevi_state_name(MEVI_STATE_COUNT), "?");
	assert_string_equal(mevi_state_name(255), "?");
	assert_string_equal(mevi_state_name(~0u), "?");
}

static int count_calls(const struct memmap_range *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

static void test_empty(void **state)
{
	struct memmap *m = memmap_new();
	struct memmap_range r;
	int calls = 0;

	assert_non_null(m);
	assert_int_equal(memmap_count(m), 0);
	assert_int_equal(memmap_rss(m), 0);
	assert_int_equal(memmap_vsz(m), 0);
	assert_int_equal(memmap_walk(m, count_calls, &calls), 0);
	assert_int_equal(memmap_walk_range(m, 0, UINT64_MAX, count_calls, &calls), 0);
	assert_int_equal(calls, 0);
	assert_int_equal(memmap_lookup(m, 0, &r), 0);
	assert_int_equal(memmap_lookup(m, UINT64_MAX, &r), 0);
	memmap_check(m);
	memmap_free(m);
	memmap_free(NULL);
}

/* Every invalid input returns -EINVAL and changes nothing. */
static void test_einval(void **state)
{
	struct memmap *m = memmap_new();
	const struct memmap_range want[] = {{16 * PAGE, 20 * PAGE, R}, {24 * PAGE, 28 * PAGE, NR}};

	assert_int_equal(memmap_set(m, 16 * PAGE, 20 * PAGE, R), 0);
	assert_int_equal(memmap_set(m, 24 * PAGE, 28 * PAGE, NR), 0);

	assert_int_equal(memmap_set(m, 8 * PAGE, 8 * PAGE, R), -EINVAL);
	assert_int_equal(memmap_set(m, 20 * PAGE, 16 * PAGE, R), -EINVAL);
	assert_int_equal(memmap_set(m, 0, 0, R), -EINVAL);
	assert_int_equal(memmap_set(m, UINT64_MAX, UINT64_MAX, R), -EINVAL);
	assert_int_equal(memmap_set(m, 16 * PAGE, 20 * PAGE, MEVI_STATE_COUNT), -EINVAL);
	assert_int_equal(memmap_set(m, 16 * PAGE, 20 * PAGE, 255), -EINVAL);
	assert_int_equal(memmap_update(m, 16 * PAGE, 16 * PAGE, R), -EINVAL);
	assert_int_equal(memmap_update(m, 28 * PAGE, 24 * PAGE, R), -EINVAL);
	assert_int_equal(memmap_update(m, 16 * PAGE, 28 * PAGE, MEVI_STATE_COUNT), -EINVAL);
	assert_int_equal(memmap_remove(m, 16 * PAGE, 16 * PAGE), -EINVAL);
	assert_int_equal(memmap_remove(m, 20 * PAGE, 16 * PAGE), -EINVAL);
	assert_int_equal(memmap_remap(m, 16 * PAGE, 16 * PAGE, 40 * PAGE, 44 * PAGE), -EINVAL);
	assert_int_equal(memmap_remap(m, 20 * PAGE, 16 * PAGE, 40 * PAGE, 44 * PAGE), -EINVAL);
	assert_int_equal(memmap_remap(m, 16 * PAGE, 20 * PAGE, 44 * PAGE, 44 * PAGE), -EINVAL);
	assert_int_equal(memmap_remap(m, 16 * PAGE, 20 * PAGE, 44 * PAGE, 40 * PAGE), -EINVAL);
	expect_ranges(m, want, 2);
	memmap_free(m);
}

struct stop_at {
	int calls, stop, value;
	struct memmap_range last;
};

static int stop_fn(const struct memmap_range *r, void *ctx)
{
	struct stop_at *s = ctx;

	s->last = *r;
	return ++s->calls == s->stop ? s->value : 0;
}

static void test_walk(void **state)
{
	struct memmap *m = memmap_new();
	struct stop_at s = {0, 2, -7, {0}};
	struct range_list l = {0};

	assert_int_equal(memmap_set(m, 1 * PAGE, 2 * PAGE, R), 0);
	assert_int_equal(memmap_set(m, 3 * PAGE, 5 * PAGE, NR), 0);
	assert_int_equal(memmap_set(m, 5 * PAGE, 6 * PAGE, U), 0);

	/* Early stop returns the callback's value, negative or positive. */
	assert_int_equal(memmap_walk(m, stop_fn, &s), -7);
	assert_int_equal(s.calls, 2);
	assert_int_equal(s.last.start, 3 * PAGE);
	s = (struct stop_at){0, 3, 5, {0}};
	assert_int_equal(memmap_walk_range(m, 0, 100 * PAGE, stop_fn, &s), 5);
	assert_int_equal(s.last.state, U);

	/* Empty and inverted windows walk nothing. */
	s = (struct stop_at){0, 1, 9, {0}};
	assert_int_equal(memmap_walk_range(m, 4 * PAGE, 4 * PAGE, stop_fn, &s), 0);
	assert_int_equal(memmap_walk_range(m, 5 * PAGE, 1 * PAGE, stop_fn, &s), 0);
	assert_int_equal(s.calls, 0);

	/* Clipping at byte granularity, windows inside holes and at the ends. */
	assert_int_equal(memmap_walk_range(m, PAGE + 100, 4 * PAGE + 1, range_list_push, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.r[0].start, PAGE + 100);
	assert_int_equal(l.r[0].end, 2 * PAGE);
	assert_int_equal(l.r[1].start, 3 * PAGE);
	assert_int_equal(l.r[1].end, 4 * PAGE + 1);
	l.n = 0;
	assert_int_equal(memmap_walk_range(m, 2 * PAGE, 3 * PAGE, range_list_push, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(memmap_walk_range(m, 6 * PAGE, UINT64_MAX, range_list_push, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(memmap_walk_range(m, 0, 1 * PAGE + 1, range_list_push, &l), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.r[0].end, PAGE + 1);
	free(l.r);
	memmap_free(m);
}

static void test_lookup(void **state)
{
	struct memmap *m = memmap_new();
	struct memmap_range r;

	assert_int_equal(memmap_set(m, 16 * PAGE, 20 * PAGE, R), 0);
	assert_int_equal(memmap_set(m, 20 * PAGE, 24 * PAGE, NR), 0);
	assert_int_equal(memmap_lookup(m, 16 * PAGE - 1, &r), 0);
	assert_int_equal(memmap_lookup(m, 16 * PAGE, &r), 1);
	assert_int_equal(r.start, 16 * PAGE);
	assert_int_equal(r.end, 20 * PAGE);
	assert_int_equal(r.state, R);
	assert_int_equal(memmap_lookup(m, 20 * PAGE - 1, &r), 1);
	assert_int_equal(r.state, R);
	assert_int_equal(memmap_lookup(m, 20 * PAGE, &r), 1);
	assert_int_equal(r.state, NR);
	assert_int_equal(r.end, 24 * PAGE);
	assert_int_equal(memmap_lookup(m, 24 * PAGE, &r), 0);
	assert_int_equal(memmap_lookup(m, 18 * PAGE, NULL), 1);
	assert_int_equal(memmap_lookup(m, 0, NULL), 0);
	memmap_free(m);
}

/* The whole 64-bit space: address 0, ends at UINT64_MAX, byte ranges. */
static void test_extremes(void **state)
{
	struct memmap *m = memmap_new();
	struct memmap_range r;
	const uint64_t top = UINT64_MAX;

	assert_int_equal(memmap_set(m, top - PAGE, top, R), 0);
	assert_int_equal(memmap_lookup(m, top - 1, &r), 1);
	assert_int_equal(r.end, top);
	assert_int_equal(memmap_lookup(m, top, &r), 0);
	assert_int_equal(memmap_rss(m), PAGE);
	assert_int_equal(memmap_update(m, top - 1, top, NR), 0);
	{
		const struct memmap_range want[] = {{top - PAGE, top - 1, R}, {top - 1, top, NR}};

		expect_ranges(m, want, 2);
	}
	/* Everything there is, in one range. */
	assert_int_equal(memmap_set(m, 0, top, U), 0);
	{
		const struct memmap_range want[] = {{0, top, U}};

		expect_ranges(m, want, 1);
	}
	assert_int_equal(memmap_update(m, 0, top, R), 0);
	assert_int_equal(memmap_rss(m), top);
	assert_int_equal(memmap_vsz(m), top);
	/* One byte at each end. */
	assert_int_equal(memmap_set(m, 0, 1, NR), 0);
	assert_int_equal(memmap_remove(m, top - 1, top), 0);
	{
		const struct memmap_range want[] = {{0, 1, NR}, {1, top - 1, R}};

		expect_ranges(m, want, 2);
	}
	/* Move everything up by one byte: the last byte falls off. */
	assert_int_equal(memmap_remap(m, 0, top - 1, 1, top), 0);
	{
		const struct memmap_range want[] = {{1, 2, NR}, {2, top, R}};

		expect_ranges(m, want, 2);
	}
	/* Shrink it all down to the first two bytes at address 0. */
	assert_int_equal(memmap_remap(m, 1, top, 0, 2), 0);
	{
		const struct memmap_range want[] = {{0, 1, NR}, {1, 2, R}};

		expect_ranges(m, want, 2);
	}
	assert_int_equal(memmap_remove(m, 0, top), 0);
	expect_ranges(m, NULL, 0);
	memmap_free(m);
}

/* A clone is deep: changes on either side do not show on the other. */
static void test_clone(void **state)
{
	struct memmap *m = memmap_new(), *c;
	struct range_list a, b;

	c = memmap_clone(m);
	assert_non_null(c);
	expect_ranges(c, NULL, 0);
	memmap_free(c);

	for (uint64_t i = 0; i < 5000; i++)
		assert_int_equal(memmap_set(m, i * PAGE, (i + 1) * PAGE, (uint8_t)(i % 3)), 0);
	c = memmap_clone(m);
	assert_non_null(c);
	memmap_check(c);
	a = ranges_of(m);
	b = ranges_of(c);
	assert_true(range_lists_equal(&a, &b));
	assert_int_equal(memmap_rss(c), memmap_rss(m));

	assert_int_equal(memmap_update(c, 0, 5000 * PAGE, R), 0);
	assert_int_equal(memmap_count(c), 1);
	free(b.r);
	b = ranges_of(m);
	assert_true(range_lists_equal(&a, &b));
	memmap_clear(m);
	assert_int_equal(memmap_count(c), 1);
	memmap_check(c);
	memmap_check(m);
	free(a.r);
	free(b.r);
	memmap_free(c);
	memmap_free(m);
}

static void test_clear_reuse(void **state)
{
	struct memmap *m = memmap_new();
	const struct memmap_range want[] = {{8 * PAGE, 9 * PAGE, R}};

	for (uint64_t i = 0; i < 20000; i++)
		assert_int_equal(memmap_set(m, 2 * i * PAGE, (2 * i + 1) * PAGE, R), 0);
	assert_true(m->height > 0);
	memmap_clear(m);
	expect_ranges(m, NULL, 0);
	memmap_clear(m);
	assert_int_equal(memmap_set(m, 8 * PAGE, 9 * PAGE, R), 0);
	expect_ranges(m, want, 1);
	memmap_free(m);
}

/*
 * A million ranges: built page by page, swept by one update, moved in one
 * remap and removed in one call. Each bulk operation touches every range once
 * (O(k)), so this runs in well under a second.
 */
static void test_million(void **state)
{
	const uint64_t n = 1000000, base = UINT64_C(0x7f0000000000);
	struct memmap *m = memmap_new();
	struct memmap_range r;

	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(
		    memmap_set(m, base + i * PAGE, base + (i + 1) * PAGE, i % 2 ? R : NR), 0);
	assert_int_equal(memmap_count(m), n);
	assert_int_equal(memmap_rss(m), n / 2 * PAGE);
	memmap_check(m);
	print_message("1M ranges: height %u, %zu keys\n", m->height, m->nkeys);

	/* Move the whole striped region (overlapping by half). */
	assert_int_equal(
	    memmap_remap(m, base, base + n * PAGE, base + n / 2 * PAGE, base + (n + n / 2) * PAGE),
	    0);
	assert_int_equal(memmap_count(m), n);
	assert_int_equal(memmap_lookup(m, base + n / 2 * PAGE, &r), 1);
	assert_int_equal(r.state, NR);
	assert_int_equal(memmap_lookup(m, base, &r), 0);
	memmap_check(m);

	/* Punch a hole through the middle, then page everything in. */
	assert_int_equal(memmap_remove(m, base + n * PAGE, base + (n + 10) * PAGE), 0);
	assert_int_equal(memmap_update(m, 0, UINT64_MAX, R), 0);
	assert_int_equal(memmap_count(m), 2);
	assert_int_equal(memmap_rss(m), (n - 10) * PAGE);
	memmap_check(m);

	memmap_clear(m);
	for (uint64_t i = n; i-- > 0;)
		assert_int_equal(
		    memmap_set(m, base + i * PAGE, base + (i + 1) * PAGE, (uint8_t)(i % 3)), 0);
	assert_int_equal(memmap_count(m), n);
	memmap_check(m);
	assert_int_equal(memmap_remove(m, 0, UINT64_MAX), 0);
	expect_ranges(m, NULL, 0);
	assert_int_equal(m->height, 0);
	memmap_free(m);
}

/*
 * Runs fn with the k-th allocation failing, k = 0, 1, 2, ... until it
 * succeeds; every failure must be -ENOMEM with the map unchanged.
 */
static void enomem_exhaustive(struct memmap *m, int (*fn)(struct memmap *m), const char *what)
{
	struct range_list before = ranges_of(m);
	uint64_t rss = memmap_rss(m), vsz = memmap_vsz(m);
	long k;
	int ret;

	for (k = 0;; k++) {
		struct range_list now;

		fi_fail_nth = k;
		ret = fn(m);
		fi_fail_nth = -1;
		if (ret == 0)
			break;
		assert_int_equal(ret, -ENOMEM);
		now = ranges_of(m);
		if (!range_lists_equal(&before, &now))
			fail_msg("%s: allocation %ld failed and the map changed", what, k);
		assert_int_equal(memmap_rss(m), rss);
		assert_int_equal(memmap_vsz(m), vsz);
		memmap_check(m);
		free(now.r);
	}
	print_message("%s: succeeded once %ld allocation failures were exhausted\n", what, k);
	assert_true(k > 0);
	memmap_check(m);
	free(before.r);
}

/* These span several leaves, so they take the general path, which allocates. */
static int op_set_wide(struct memmap *m)
{
	return memmap_set(m, 3 * PAGE + 100, 300 * PAGE + 200, U);
}

static int op_update_wide(struct memmap *m)
{
	return memmap_update(m, PAGE / 2, 30000 * PAGE, U);
}

static int op_remap_overlap(struct memmap *m)
{
	return memmap_remap(m, 0, 20000 * PAGE, 10000 * PAGE, 31000 * PAGE);
}

static int op_remove_wide(struct memmap *m)
{
	return memmap_remove(m, 1000 * PAGE + 1, 1500 * PAGE + 1);
}

/* A map of n one-page ranges of alternating states. */
static struct memmap *striped(uint64_t n)
{
	struct memmap *m = memmap_new();

	assert_non_null(m);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(memmap_set(m, i * PAGE, (i + 1) * PAGE, (uint8_t)(i % 2)), 0);
	return m;
}

static void test_enomem(void **state)
{
	struct memmap *m, *c;
	long k;

	/* memmap_new and memmap_clone return NULL, leaking nothing. */
	fi_fail_nth = 0;
	assert_null(memmap_new());
	fi_fail_nth = 1;
	assert_null(memmap_new());
	fi_fail_nth = -1;

	m = striped(20000);
	for (k = 0;; k++) {
		fi_fail_nth = k;
		c = memmap_clone(m);
		fi_fail_nth = -1;
		if (c)
			break;
	}
	assert_true(k > 100);
	memmap_check(c);
	memmap_free(c);

	enomem_exhaustive(m, op_set_wide, "set");
	enomem_exhaustive(m, op_update_wide, "update");
	memmap_free(m);

	m = striped(20000);
	enomem_exhaustive(m, op_remap_overlap, "remap");
	memmap_free(m);
	m = striped(20000);
	enomem_exhaustive(m, op_remove_wide, "remove");
	memmap_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_names), cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_einval),	cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_lookup),	cmocka_unit_test(test_extremes),
	    cmocka_unit_test(test_clone),	cmocka_unit_test(test_clear_reuse),
	    cmocka_unit_test(test_million),	cmocka_unit_test(test_enomem),
	};

	return cmocka_run_group_tests_name("memmap_unit", tests, NULL, NULL);
}
