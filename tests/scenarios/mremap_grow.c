/*
 * Scenario: mremap growing a mapping in place.
 *
 * Reserves 128 pages, maps 32 writable pages at the start of the reservation and
 * frees the rest so that the space right after the mapping is known to be free,
 * writes the 32 pages, then grows the mapping in place (flags 0: the kernel must
 * not move it) to 96 pages and writes half of the new part, then grows it again to
 * 128 pages.
 *
 * Checkpoints:
 *   touched        32 pages, all present
 *   grown          96 pages at the same address, the first 32 present
 *   grown-touched  the new pages 32..95: every other one present (64 present)
 *   grown-again    128 pages, still 64 present
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	char *res = sc_map(128 * SC_PAGE, PROT_NONE, MAP_NORESERVE);
	char *p, *q;

	sc_unmap(sc_pg(res, 32), 96 * SC_PAGE);
	p = sc_map_at(res, 32 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	sc_touch(p, 32 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, 32 * SC_PAGE, 32));

	q = mremap(p, 32 * SC_PAGE, 96 * SC_PAGE, 0);
	SC_CHECK(q == p);
	SC_CHECKPOINT("grown", SC_EXPECT(p, 96 * SC_PAGE, 32),
		      SC_EXPECT(sc_pg(p, 32), 64 * SC_PAGE, 0));

	sc_touch(sc_pg(p, 32), 64 * SC_PAGE, 2 * SC_PAGE);
	SC_CHECKPOINT("grown-touched", SC_EXPECT(p, 96 * SC_PAGE, 64),
		      SC_EXPECT(sc_pg(p, 32), 64 * SC_PAGE, 32));

	q = mremap(p, 96 * SC_PAGE, 128 * SC_PAGE, 0);
	SC_CHECK(q == p);
	SC_CHECKPOINT("grown-again", SC_EXPECT(p, 128 * SC_PAGE, 64),
		      SC_EXPECT(sc_pg(p, 96), 32 * SC_PAGE, 0));
	sc_unmap(p, 128 * SC_PAGE);
	return 0;
}
