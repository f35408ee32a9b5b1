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
 */
#include "memmap.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE  UINT64_C(4096)
#define BASE  UINT64_C(0x7f0000000000)
#define BATCH 4096 /* changes per batch before they are restored */

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

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t scaled(size_t n)
{
	size_t s = (size_t)((double)n * scale);

	return s > 0 ? s : 1;
}

static void row(const char *what, size_t ranges, size_t ops, double secs, const char *unit)
{
	double rate = (double)ops / secs;

	printf("%-44s %9zu %10zu %9.3f s %8.2f M%s/s %9.1f ns\n", what, ranges, ops, secs,
	       rate / 1e6, unit, secs * 1e9 / (double)ops);
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

/* n one-page ranges of alternating states from BASE. */
static struct memmap *build(size_t n, double *secs)
{
	struct memmap *m = memmap_new();
	double t0 = now();

	if (!m)
		die("memmap_new", -1);
	for (uint64_t i = 0; i < n; i++) {
		int ret = memmap_set(m, BASE + i * PAGE, BASE + (i + 1) * PAGE, state_of_page(i));

		if (ret)
			die("memmap_set", ret);
	}
	*secs = now() - t0;
	return m;
}

/* Single-page state changes at random pages: a batch of flips, then the same
 * pages restored in reverse order. Counts every change. */
static void bench_flips(struct memmap *m, size_t n, int update, const char *what)
{
	static uint64_t pages[BATCH];
	struct rng r = {42};
	size_t total = scaled(2000000), done = 0;
	double t0 = now();

	while (done < total) {
		for (size_t i = 0; i < BATCH; i++) {
			uint64_t p = rnd(&r) % n, a = BASE + p * PAGE;
			uint8_t s = state_of_page(p + 1);
			int ret = update ? memmap_update(m, a, a + PAGE, s)
					 : memmap_set(m, a, a + PAGE, s);

			if (ret)
				die(what, ret);
			pages[i] = p;
		}
		for (size_t i = BATCH; i-- > 0;) {
			uint64_t p = pages[i], a = BASE + p * PAGE;
			int ret = update ? memmap_update(m, a, a + PAGE, state_of_page(p))
					 : memmap_set(m, a, a + PAGE, state_of_page(p));

			if (ret)
				die(what, ret);
		}
		done += 2 * BATCH;
	}
	row(what, n, done, now() - t0, "");
	if (memmap_count(m) != n)
		die("restoring the map", (int)memmap_count(m));
}

/* A program faulting in a fresh 64 MiB mapping page by page, next to the
 * fragmented map. */
static void bench_sequential_faults(struct memmap *m, size_t n)
{
	const uint64_t pages = 16384, at = BASE + (n + 1) * PAGE;
	size_t rounds = scaled(60), done = 0;
	double t0 = now();

	for (size_t k = 0; k < rounds; k++) {
		int ret = memmap_set(m, at, at + pages * PAGE, MEVI_STATE_NOT_RESIDENT);

		if (ret)
			die("memmap_set", ret);
		for (uint64_t p = 0; p < pages; p++) {
			ret = memmap_update(m, at + p * PAGE, at + (p + 1) * PAGE,
					    MEVI_STATE_RESIDENT);
			if (ret)
				die("memmap_update", ret);
		}
		done += pages;
	}
	row("update 1 page, sequential (fault-in)", n, done, now() - t0, "");
	memmap_remove(m, at, at + pages * PAGE);
}

static void bench_lookup(const struct memmap *m, size_t n)
{
	struct rng r = {7};
	size_t total = scaled(4000000);
	struct memmap_range out;
	uint64_t acc = 0;
	double t0 = now();

	for (size_t i = 0; i < total; i++)
		acc +=
		    (uint64_t)memmap_lookup(m, BASE + (rnd(&r) % n) * PAGE + 123, &out) + out.end;
	sink = acc;
	row("lookup, random", n, total, now() - t0, "");
}

/* munmap and mmap of one random page. */
static void bench_remove_set(struct memmap *m, size_t n)
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
	row("remove 1 page + set it again, random", n, 2 * total, now() - t0, "");
}

/* mremap of a random 16-page window (16 ranges) far away and back. */
static void bench_remap(struct memmap *m, size_t n)
{
	struct rng r = {11};
	size_t total = scaled(200000);
	const uint64_t far = BASE + 4 * (n + 1) * PAGE;
	double t0 = now();

	for (size_t i = 0; i < total; i++) {
		uint64_t p = rnd(&r) % (n - 16), a = BASE + p * PAGE;
		int ret = memmap_remap(m, a, a + 16 * PAGE, far, far + 16 * PAGE);

		if (ret == 0)
			ret = memmap_remap(m, far, far + 16 * PAGE, a, a + 16 * PAGE);
		if (ret)
			die("remap", ret);
	}
	row("remap 16 pages (16 ranges) away and back", n, 2 * total, now() - t0, "");
	if (memmap_count(m) != n)
		die("remap round trip", (int)memmap_count(m));
}

static int count_range(const struct memmap_range *r, void *ctx)
{
	*(uint64_t *)ctx += r->end - r->start;
	return 0;
}

static void bench_walk(const struct memmap *m, size_t n)
{
	struct rng r = {13};
	size_t rounds = scaled(20), windows = scaled(200000);
	uint64_t bytes = 0;
	double t0 = now();

	for (size_t i = 0; i < rounds; i++)
		memmap_walk(m, count_range, &bytes);
	row("walk, whole map (ranges visited)", n, rounds * n, now() - t0, "");

	t0 = now();
	for (size_t i = 0; i < windows; i++) {
		uint64_t a = BASE + (rnd(&r) % n) * PAGE;

		memmap_walk_range(m, a, a + 64 * PAGE, count_range, &bytes);
	}
	row("walk_range, random 64-page window", n, windows, now() - t0, "");
	sink = bytes;
}

static void bench_bulk(struct memmap *m, size_t n)
{
	double t0 = now();
	struct memmap *c = memmap_clone(m);
	double t1 = now();
	int ret;

	if (!c)
		die("memmap_clone", -1);
	row("clone (ranges copied)", n, n, t1 - t0, "");
	t0 = now();
	ret = memmap_update(c, BASE, BASE + n * PAGE, MEVI_STATE_RESIDENT);
	t1 = now();
	if (ret || memmap_count(c) != 1)
		die("bulk update", ret);
	row("update all pages at once (ranges merged)", n, n, t1 - t0, "");
	memmap_free(c);

	t0 = now();
	ret = memmap_remove(m, 0, UINT64_MAX);
	t1 = now();
	if (ret || memmap_count(m) != 0)
		die("bulk remove", ret);
	row("remove everything at once (ranges removed)", n, n, t1 - t0, "");
}

static void run(size_t n)
{
	size_t heap0 = mallinfo2().uordblks;
	double secs;
	struct memmap *m = build(n, &secs);
	size_t heap = mallinfo2().uordblks - heap0;

	row("set 1 page, sequential (build the map)", n, n, secs, "");
	printf("%-44s %9zu %10s %11s %8.1f bytes/range\n", "memory", n, "", "",
	       (double)heap / (double)n);
	bench_flips(m, n, 0, "set 1 page, random [page-state changes]");
	bench_flips(m, n, 1, "update 1 page, random [page-state changes]");
	bench_sequential_faults(m, n);
	bench_lookup(m, n);
	bench_remove_set(m, n);
	bench_remap(m, n);
	bench_walk(m, n);
	bench_bulk(m, n);
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
	printf("memmap benchmark: one-page ranges of alternating states at %#llx; target >= 2 M "
	       "page-state changes/s at 1M ranges\n\n",
	       (unsigned long long)BASE);
	printf("%-44s %9s %10s %11s %12s %12s\n", "operation", "ranges", "ops", "time", "rate",
	       "per op");
	run(100000);
	printf("\n");
	run(1000000);
	return 0;
}
