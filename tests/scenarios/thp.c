/*
 * Scenario: a transparent-huge-page-eligible region.
 *
 * A 2 MiB-aligned 4 MiB region is marked MADV_HUGEPAGE and one byte of it is
 * written: with THP enabled ("always" or "madvise") the kernel may populate the
 * whole 2 MiB (512 pages) in one fault; without THP (or under a tracker that
 * serves faults page by page) just the one page appears. Then one 4 KiB page in
 * the middle of the huge page is dropped (splitting it), and finally everything.
 * The scenario reports on stderr what the kernel did.
 *
 * Checkpoints:
 *   advised        4 MiB mapped and advised, none present
 *   touched-once   1 or 512 present in the first 2 MiB, none in the second
 *   split          page 256 dropped: 1 or 511 present (512 if khugepaged
 *                  collapsed it back, natively)
 *   dropped        nothing present
 *   touched-again  1 or 512 present
 */
#include "scenario.h"

#include <stdio.h>
#include <sys/mman.h>

#define HUGE   (2UL << 20)
#define HPAGES (HUGE / SC_PAGE)

int main(void)
{
	char *p = sc_reserve_aligned(2 * HUGE, HUGE);
	unsigned char vec[HPAGES];
	size_t i, present = 0;

	sc_map_at(p, 2 * HUGE, PROT_READ | PROT_WRITE, 0);
	sc_madvise(p, 2 * HUGE, MADV_HUGEPAGE);
	SC_CHECKPOINT("advised", SC_EXPECT(p, 2 * HUGE, 0));
	sc_touch(sc_pg(p, 100), 1, 1);
	SC_CHECK(mincore(p, HUGE, vec) == 0);
	for (i = 0; i < HPAGES; i++)
		present += vec[i] & 1;
	fprintf(stderr, "thp: one write populated %zu pages (%s)\n", present,
		present == HPAGES ? "huge page" : "small page");
	SC_CHECKPOINT("touched-once", SC_EXPECT_RANGE(p, HUGE, 1, (long)HPAGES),
		      SC_EXPECT(sc_pg(p, 100), SC_PAGE, 1), SC_EXPECT(p + HUGE, HUGE, 0));
	sc_madvise(sc_pg(p, 256), SC_PAGE, MADV_DONTNEED);
	/* Natively, khugepaged may collapse the range back into a huge page
	 * at any time (511 present, 1 none is within max_ptes_none), so the
	 * dropped page may be back: the scenario cannot insist on it. Under
	 * mevi the range is userfaultfd-armed and khugepaged leaves it alone;
	 * the harness compares mevi with the kernel either way. */
	SC_CHECKPOINT("split", SC_EXPECT_RANGE(p, HUGE, 1, (long)HPAGES),
		      SC_EXPECT_RANGE(sc_pg(p, 256), SC_PAGE, 0, 1));
	sc_madvise(p, 2 * HUGE, MADV_DONTNEED);
	SC_CHECKPOINT("dropped", SC_EXPECT(p, 2 * HUGE, 0));
	sc_touch(sc_pg(p, HPAGES + 7), 1, 1);
	SC_CHECKPOINT("touched-again", SC_EXPECT_RANGE(p + HUGE, HUGE, 1, (long)HPAGES),
		      SC_EXPECT(p, HUGE, 0));
	sc_unmap(p, 2 * HUGE);
	return 0;
}
