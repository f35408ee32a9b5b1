/*
 * Scenario: a big mapping with sparse touches.
 *
 * Maps 1 GiB (MAP_NORESERVE), writes every 64th page (4096 pages, 16 MiB), reads
 * page 32 of every 128-page block (zero page), drops every other written page
 * with MADV_DONTNEED, and unmaps the upper half. Thousands of small ranges must
 * come out right, and untouched gigabytes must cost nothing.
 *
 * Checkpoints:
 *   mapped         262144 pages, none present
 *   sparse         4096 present
 *   sparse-read    + 2048 read-only present: 6144
 *   dropped-half   every 128th page dropped: 4096
 *   half-unmapped  the upper 512 MiB gone: 2048
 */
#include "scenario.h"

#include <sys/mman.h>

#define PAGES (1UL << 18) /* 1 GiB */

int main(void)
{
	char *p = sc_map(PAGES * SC_PAGE, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	size_t i;

	SC_CHECKPOINT("mapped", SC_EXPECT(p, PAGES * SC_PAGE, 0));
	sc_touch(p, PAGES * SC_PAGE, 64 * SC_PAGE);
	SC_CHECKPOINT("sparse", SC_EXPECT(p, PAGES * SC_PAGE, 4096));
	sc_read(sc_pg(p, 32), PAGES * SC_PAGE - 32 * SC_PAGE, 128 * SC_PAGE);
	SC_CHECKPOINT("sparse-read", SC_EXPECT(p, PAGES * SC_PAGE, 6144));
	for (i = 0; i < PAGES; i += 128)
		sc_madvise(sc_pg(p, i), SC_PAGE, MADV_DONTNEED);
	SC_CHECKPOINT("dropped-half", SC_EXPECT(p, PAGES * SC_PAGE, 4096));
	sc_unmap(sc_pg(p, PAGES / 2), PAGES / 2 * SC_PAGE);
	SC_CHECKPOINT("half-unmapped", SC_EXPECT(p, PAGES * SC_PAGE, 2048));
	sc_unmap(p, PAGES / 2 * SC_PAGE);
	return 0;
}
