/*
 * bench_memmap — operations per second of the memory-map model on maps of
 * 100,000 and 1,000,000 ranges. A benchmark, not a test: it prints numbers
 * and never fails on timing.
 *
 * Usage: bench_memmap [SCALE]   (SCALE multiplies the operation counts; 1.0)
 *
 * The map under test is a run of one-page ranges of alternating states
 * (resident, not resident, ...), the most fragmented map a process can have,
 * at a typical mmap address. The headline figure is "page-state changes per
 * second": one page at a random position set (or updated) to the other state,
 * which merges three ranges into one, then, after a batch of such changes,
 * each page restored, which splits them again, so the map keeps its size.
 * Random positions defeat the caches; a faulting program mostly touches
 * neighbouring pages, which the "sequential" rows show.
 *
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), best of three
 * runs of each row, so that other load on a shared machine skews them less.
 */
#include "memmap.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE  UINT64_C(4096)
#define BASE  UINT64_C(0x7f0000000000)
#define BATCH 4096 /* changes per batch before they are restored */
#define RUNS  3	   /* each row: the best of this many runs */

static double scale = 1.0;
static volatile uint64_t sink;

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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t scaled(size_t n)
{
	size_t s = (size_t)((double)n * scale);

	return s > 0 ? s : 1;
}

static void row(const char *what, size_t ranges, size_t ops, double secs)
{
	printf("%-44s %9zu %10zu %9.3f s %8.2f M/s %9.1f ns\n", what, ranges, ops, secs,
	       (double)ops / secs / 1e6, secs * 1e9 / (double)ops);
}

/* One run of a benchmark: does its work on m (leaving m as it found it),
 * stores the number of operations in *ops and returns the seconds taken. */
typedef double (*bench_fn)(struct memmap *m, size_t n, size_t *ops);

static void best_of(const char *what, bench_fn fn, struct memmap *m, size_t n)
{
	double best = 0;
	size_t ops = 0;

	for (int i = 0; i < RUNS; i++) {
		double t = fn(m, n, &ops);

		if (i == 0 || t < best)
			best = t;
	}
	row(what, n, ops, best);
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "bench_memmap: %s failed: %d\n", what, ret);
	exit(1);
}

static uint8_t state_of_page(uint64_t page)
{
	return page % 2 ? MEVI_STATE_RESIDENT : MEVI_STATE_NOT_RESIDENT;
}

/* Adds n one-page ranges of alternating states from BASE to m. */
static double fill(struct memmap *m, size_t n)
{
	double t0 = now();

	for (uint64_t i = 0; i < n; i++) {
		int ret = memmap_set(m, BASE + i * PAGE, BASE + (i + 1) * PAGE, state_of_page(i));

		if (ret)
			die("memmap_set", ret);
	}
	return now() - t0;
}

static double run_build(struct memmap *m, size_t n, size_t *ops)
{
	struct memmap *fresh = memmap_new();
	double t;

	if (!fresh)
		die("memmap_new", -ENOMEM);
	t = fill(fresh, n);
	memmap_free(fresh);
	*ops = n;
	return t;
}

/* Single-page state changes at random pages: a batch of changes, then the
 * same pages restored in reverse order. Counts every change. */
static double flips(struct memmap *m, size_t n, size_t *ops, int update)
{
	static uint64_t pages[BATCH];
	struct rng r = {42};
	size_t total = scaled(2000000), done = 0;
	double t0 = now(), t;

	while (done < total) {
		for (size_t i = 0; i < BATCH; i++) {
			uint64_t p = rnd(&r) % n, a = BASE + p * PAGE;
			uint8_t s = state_of_page(p + 1);
			int ret = update ? memmap_update(m, a, a + PAGE, s)
					 : memmap_set(m, a, a + PAGE, s);

			if (ret)
				die("page-state change", ret);
			pages[i] = p;
		}
		for (size_t i = BATCH; i-- > 0;) {
			uint64_t p = pages[i], a = BASE + p * PAGE;
			int ret = update ? memmap_update(m, a, a + PAGE, state_of_page(p))
					 : memmap_set(m, a, a + PAGE, state_of_page(p));

			if (ret)
				die("page-state change", ret);
		}
		done += 2 * BATCH;
	}
	t = now() - t0;
	if (memmap_count(m) != n)
		die("restoring the map", (int)memmap_count(m));
	*ops = done;
	return t;
}

static double run_set_random(struct memmap *m, size_t n, size_t *ops)
{
	return flips(m, n, ops, 0);
}

static double run_update_random(struct memmap *m, size_t n, size_t *ops)
{
	return flips(m, n, ops, 1);
}

/* A program faulting in a fresh 64 MiB mapping page by page, next to the
 * fragmented map. */
static double run_update_sequential(struct memmap *m, size_t n, size_t *ops)
{
	const uint64_t pages = 16384, at = BASE + (n + 1) * PAGE;
	size_t rounds = scaled(60);
	double t0 = now(), t;

	for (size_t k = 0; k < rounds; k++) {
		int ret = memmap_set(m, at, at + pages * PAGE, MEVI_STATE_NOT_RESIDENT);

		for (uint64_t p = 0; p < pages && ret == 0; p++)
			ret = memmap_update(m, at + p * PAGE, at + (p + 1) * PAGE,
					    MEVI_STATE_RESIDENT);
		if (ret)
			die("fault-in", ret);
	}
	t = now() - t0;
	memmap_remove(m, at, at + pages * PAGE);
	*ops = rounds * pages;
	return t;
}

static double run_lookup(struct memmap *m, size_t n, size_t *ops)
{
	struct rng r = {7};
	size_t total = scaled(4000000);
	struct memmap_range out = {0};
	uint64_t acc = 0;
	double t0 = now(), t;

	for (size_t i = 0; i < total; i++)
		acc +=
		    (uint64_t)memmap_lookup(m, BASE + (rnd(&r) % n) * PAGE + 123, &out) + out.end;
	t = now() - t0;
	sink = acc;
	*ops = total;
	return t;
}

/* munmap and mmap again of one random page; counts both. */
static double run_remove_set(struct memmap *m, size_t n, size_t *ops)
{
	struct rng r = {9};
	size_t total = scaled(1000000);
	double t0 = now();

	for (size_t i = 0; i < total; i++) {
		uint64_t p = rnd(&r) % n, a = BASE + p * PAGE;
		int ret = memmap_remove(m, a, a + PAGE);

		if (ret == 0)
			ret = memmap_set(m, a, a + PAGE, state_of_page(p));
		if (ret)
			die("remove/set", ret);
	}
	*ops = 2 * total;
	return now() - t0;
}

/* mremap of a random 16-page window (16 ranges) far away and back; counts
 * both. */
static double run_remap(struct memmap *m, size_t n, size_t *ops)
{
	struct rng r = {11};
	size_t total = scaled(200000);
	const uint64_t far = BASE + 4 * (n + 1) * PAGE;
	double t0 = now(), t;

	for (size_t i = 0; i < total; i++) {
		uint64_t p = rnd(&r) % (n - 16), a = BASE + p * PAGE;
		int ret = memmap_remap(m, a, a + 16 * PAGE, far, far + 16 * PAGE);

		if (ret == 0)
			ret = memmap_remap(m, far, far + 16 * PAGE, a, a + 16 * PAGE);
		if (ret)
			die("remap", ret);
	}
	t = now() - t0;
	if (memmap_count(m) != n)
		die("remap round trip", (int)memmap_count(m));
	*ops = 2 * total;
	return t;
}

static int count_range(const struct memmap_range *r, void *ctx)
{
	*(uint64_t *)ctx += r->end - r->start;
	return 0;
}

/* Counts the ranges visited. */
static double run_walk(struct memmap *m, size_t n, size_t *ops)
{
	size_t rounds = scaled(20);
	uint64_t bytes = 0;
	double t0 = now(), t;

	for (size_t i = 0; i < rounds; i++)
		memmap_walk(m, count_range, &bytes);
	t = now() - t0;
	sink = bytes;
	*ops = rounds * n;
	return t;
}

static double run_walk_window(struct memmap *m, size_t n, size_t *ops)
{
	struct rng r = {13};
	size_t windows = scaled(200000);
	uint64_t bytes = 0;
	double t0 = now(), t;

	for (size_t i = 0; i < windows; i++) {
		uint64_t a = BASE + (rnd(&r) % n) * PAGE;

		memmap_walk_range(m, a, a + 64 * PAGE, count_range, &bytes);
	}
	t = now() - t0;
	sink = bytes;
	*ops = windows;
	return t;
}

/* Counts the ranges copied. */
static double run_clone(struct memmap *m, size_t n, size_t *ops)
{
	double t0 = now(), t;
	struct memmap *c = memmap_clone(m);

	t = now() - t0;
	if (!c || memmap_count(c) != n)
		die("memmap_clone", -ENOMEM);
	memmap_free(c);
	*ops = n;
	return t;
}

/* On a clone; counts the ranges merged. */
static double run_update_all(struct memmap *m, size_t n, size_t *ops)
{
	struct memmap *c = memmap_clone(m);
	double t0, t;
	int ret;

	if (!c)
		die("memmap_clone", -ENOMEM);
	t0 = now();
	ret = memmap_update(c, BASE, BASE + n * PAGE, MEVI_STATE_RESIDENT);
	t = now() - t0;
	if (ret || memmap_count(c) != 1)
		die("bulk update", ret);
	memmap_free(c);
	*ops = n;
	return t;
}

/* On a clone; counts the ranges removed. */
static double run_remove_all(struct memmap *m, size_t n, size_t *ops)
{
	struct memmap *c = memmap_clone(m);
	double t0, t;
	int ret;

	if (!c)
		die("memmap_clone", -ENOMEM);
	t0 = now();
	ret = memmap_remove(c, 0, UINT64_MAX);
	t = now() - t0;
	if (ret || memmap_count(c) != 0)
		die("bulk remove", ret);
	memmap_free(c);
	*ops = n;
	return t;
}

static void run(size_t n)
{
	size_t heap0 = mallinfo2().uordblks, heap;
	struct memmap *m = memmap_new();

	if (!m)
		die("memmap_new", -ENOMEM);
	fill(m, n);
	heap = mallinfo2().uordblks - heap0;

	best_of("set 1 page, sequential (build the map)", run_build, m, n);
	printf("%-44s %9zu %10s %11s %8.1f bytes/range\n", "memory", n, "", "",
	       (double)heap / (double)n);
	best_of("set 1 page, random [page-state changes]", run_set_random, m, n);
	best_of("update 1 page, random [page-state changes]", run_update_random, m, n);
	best_of("update 1 page, sequential (fault-in)", run_update_sequential, m, n);
	best_of("lookup, random", run_lookup, m, n);
	best_of("remove 1 page + set it again, random", run_remove_set, m, n);
	best_of("remap 16 pages (16 ranges) away and back", run_remap, m, n);
	best_of("walk, whole map (ranges visited)", run_walk, m, n);
	best_of("walk_range, random 64-page window", run_walk_window, m, n);
	best_of("clone (ranges copied)", run_clone, m, n);
	best_of("update all pages at once (ranges merged)", run_update_all, m, n);
	best_of("remove everything at once (ranges removed)", run_remove_all, m, n);
	memmap_free(m);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		scale = atof(argv[1]);
	if (!(scale > 0)) {
		fprintf(stderr, "usage: bench_memmap [SCALE]\n");
		return 2;
	}
	printf("memmap benchmark: one-page ranges of alternating states at %#llx;\n"
	       "CPU time, best of %d runs; target >= 2 M page-state changes/s at 1M ranges\n\n",
	       (unsigned long long)BASE, RUNS);
	printf("%-44s %9s %10s %11s %12s %12s\n", "operation", "ranges", "ops", "time", "rate",
	       "per op");
	run(100000);
	printf("\n");
	run(1000000);
	return 0;
}
