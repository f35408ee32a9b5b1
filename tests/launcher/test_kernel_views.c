/*
 * The launcher's two views of the kernel, each with a fast path and a
 * fallback: present pages (PAGEMAP_SCAN vs reading pagemap entries) and
 * private anonymous mappings (PROCMAP_QUERY vs parsing /proc/PID/maps).
 * On a known layout of this very process, every path must give the same,
 * expected answer — including the PAGEMAP_SCAN walk_end quirk (regions
 * reported twice if resumed naively), provoked with more present runs than
 * the scan vector holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "pagemap.h"
#include "vma.h"

#define PAGE	 4096u
#define MAX_RUNS 4096

struct runs {
	uint64_t v[2 * MAX_RUNS];
	size_t n;
};

static int collect(uint64_t s, uint64_t e, void *arg)
{
	struct runs *r = arg;

	if (r->n + 2 > 2 * MAX_RUNS)
		return -ENOSPC;
	r->v[r->n++] = s;
	r->v[r->n++] = e;
	return 0;
}

static void present_runs(bool use_scan, uint64_t start, uint64_t end, struct runs *out)
{
	struct pagemap pm;

	assert_int_equal(pagemap_open(&pm, getpid()), 0);
	if (use_scan && !pm.use_scan)
		skip(); /* kernel older than 6.7 */
	pm.use_scan = use_scan;
	out->n = 0;
	assert_int_equal(pagemap_present(&pm, start, end, collect, out), 0);
	pagemap_close(&pm);
}

/* 1024 pages, every third one touched: 342 separate present runs, more than
 * the 256-entry scan vector, so the walk resumes many times. */
static void test_present_sparse(void **state)
{
	size_t npages = 1024;
	uint8_t *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	static struct runs a, b;

	assert_ptr_not_equal(p, MAP_FAILED);
	madvise(p, npages * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i += 3)
		p[i * PAGE] = 1;
	present_runs(true, (uintptr_t)p, (uintptr_t)p + npages * PAGE, &a);
	present_runs(false, (uintptr_t)p, (uintptr_t)p + npages * PAGE, &b);
	assert_int_equal(a.n, 2 * 342);
	assert_int_equal(b.n, a.n);
	assert_memory_equal(a.v, b.v, a.n * sizeof(a.v[0]));
	for (size_t i = 0; i < a.n; i += 2) {
		assert_int_equal(a.v[i], (uintptr_t)p + (i / 2) * 3 * PAGE);
		assert_int_equal(a.v[i + 1] - a.v[i], PAGE);
	}
	munmap(p, npages * PAGE);
}

/* Adjacent present pages come back as one run; a sub-range clips them. */
static void test_present_merged_and_clipped(void **state)
{
	uint8_t *p =
	    mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static struct runs a, b;

	assert_ptr_not_equal(p, MAP_FAILED);
	memset(p + 8 * PAGE, 1, 16 * PAGE);
	for (int scan = 0; scan < 2; scan++) {
		struct runs *r = scan ? &a : &b;

		present_runs(scan, (uintptr_t)p + 12 * PAGE, (uintptr_t)p + 64 * PAGE, r);
		assert_int_equal(r->n, 2);
		assert_int_equal(r->v[0], (uintptr_t)p + 12 * PAGE);
		assert_int_equal(r->v[1], (uintptr_t)p + 24 * PAGE);
	}
	munmap(p, 64 * PAGE);
}

struct pieces {
	uint64_t v[64];
	size_t n;
};

static int piece(uint64_t s, uint64_t e, void *arg)
{
	struct pieces *pc = arg;

	if (pc->n + 2 > 64)
		return -ENOSPC;
	pc->v[pc->n++] = s;
	pc->v[pc->n++] = e;
	return 0;
}

static void anon_pieces(bool use_query, uint64_t start, uint64_t end, struct pieces *out)
{
	struct vma_source src;

	assert_int_equal(vma_source_open(&src, getpid()), 0);
	if (use_query && !src.use_query)
		skip(); /* kernel older than 6.11 */
	src.use_query = use_query;
	out->n = 0;
	assert_int_equal(vma_private_anon(&src, start, end, piece, out), 0);
	vma_source_close(&src);
}

/* Anonymous, shared-anonymous, file and PROT_NONE mappings side by side:
 * only the private anonymous ones count, PROT_NONE included; adjacent
 * private anonymous VMAs of different protection form one piece. */
static void test_private_anon_pieces(void **state)
{
	uint8_t *base = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static struct pieces a, b;

	assert_ptr_not_equal(base, MAP_FAILED);
	/* [0,4) rw anon, [4,6) PROT_NONE anon, [6,8) shared anon, [8,10) file,
	 * [10,16) rw anon. */
	assert_int_equal(mprotect(base, 4 * PAGE, PROT_READ | PROT_WRITE), 0);
	assert_ptr_equal(mmap(base + 6 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 base + 6 * PAGE);
	assert_ptr_equal(mmap(base + 8 * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED,
			      open("/proc/self/exe", O_RDONLY), 0),
			 base + 8 * PAGE);
	assert_int_equal(mprotect(base + 10 * PAGE, 6 * PAGE, PROT_READ | PROT_WRITE), 0);
	for (int q = 0; q < 2; q++) {
		struct pieces *r = q ? &a : &b;

		anon_pieces(q, (uintptr_t)base, (uintptr_t)base + 16 * PAGE, r);
		assert_int_equal(r->n, 4);
		assert_int_equal(r->v[0], (uintptr_t)base);
		assert_int_equal(r->v[1], (uintptr_t)base + 6 * PAGE);
		assert_int_equal(r->v[2], (uintptr_t)base + 10 * PAGE);
		assert_int_equal(r->v[3], (uintptr_t)base + 16 * PAGE);
	}
	munmap(base, 16 * PAGE);
}

static void test_vdso_found(void **state)
{
	struct vma_source src;
	uint64_t s = 0, e = 0;

	assert_int_equal(vma_source_open(&src, getpid()), 0);
	assert_int_equal(vma_find_vdso(&src, getpid(), &s, &e), 0);
	assert_true(s < e);
	assert_int_equal(s % PAGE, 0);
	vma_source_close(&src);
}

static void test_gone_process(void **state)
{
	struct pagemap pm;

	/* pid 0 is never a process: a clear error, no crash. */
	assert_true(pagemap_open(&pm, 0) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_present_sparse),
	    cmocka_unit_test(test_present_merged_and_clipped),
	    cmocka_unit_test(test_private_anon_pieces),
	    cmocka_unit_test(test_vdso_found),
	    cmocka_unit_test(test_gone_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
