/*
 * Scenario: mremap moving a mapping.
 *
 * Step 1 moves a 64-page mapping whose pages 0..9 and every third page are written
 * to a chosen address with MREMAP_MAYMOVE | MREMAP_FIXED; the page states must move
 * with it. Step 2 grows a 16-page mapping that cannot grow in place (a guard
 * mapping sits right after it) to 64 pages with MREMAP_MAYMOVE, so the kernel
 * moves it.
 *
 * Checkpoints:
 *   before-move    source written (28 pages present), target reserved PROT_NONE
 *   moved          source gone, target holds the same 28 present pages
 *   before-grow    16 pages written, guard page after them
 *   grown-moved    the mapping moved and grew to 64 pages, 16 present; old place gone
 */
#include "scenario.h"

#include <sys/mman.h>

static size_t write_pattern(char *p, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		if (i < 10 || i % 3 == 0) {
			sc_touch(sc_pg(p, i), 1, 1);
			count++;
		}
	}
	return count;
}

int main(void)
{
	const size_t n = 64;
	char *src = sc_map(n * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *dst = sc_map(n * SC_PAGE, PROT_NONE, MAP_NORESERVE);
	char *small, *guard, *grown;
	long count = (long)write_pattern(src, n);
	void *q;

	SC_CHECKPOINT("before-move", SC_EXPECT(src, n * SC_PAGE, count),
		      SC_EXPECT(dst, n * SC_PAGE, 0));
	q = mremap(src, n * SC_PAGE, n * SC_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	SC_CHECK(q == dst);
	SC_CHECKPOINT("moved", SC_EXPECT(dst, n * SC_PAGE, count), SC_EXPECT(src, n * SC_PAGE, 0),
		      SC_EXPECT(dst, 10 * SC_PAGE, 10));

	small = sc_map(17 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	guard = sc_pg(small, 16);
	sc_protect(guard, SC_PAGE, PROT_NONE);
	sc_touch(small, 16 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("before-grow", SC_EXPECT(small, 16 * SC_PAGE, 16));
	grown = mremap(small, 16 * SC_PAGE, n * SC_PAGE, MREMAP_MAYMOVE);
	SC_CHECK(grown != MAP_FAILED);
	SC_CHECK(grown != small);
	SC_CHECKPOINT("grown-moved", SC_EXPECT(grown, n * SC_PAGE, 16),
		      SC_EXPECT(grown, 16 * SC_PAGE, 16), SC_EXPECT(small, 16 * SC_PAGE, 0));
	sc_unmap(grown, n * SC_PAGE);
	sc_unmap(guard, SC_PAGE);
	sc_unmap(dst, n * SC_PAGE);
	return 0;
}
