/*
 * Scenario: MAP_POPULATE.
 *
 * Maps 128 writable pages with MAP_POPULATE (all present before mmap returns,
 * without a single fault), unmaps half of them, then maps 64 read-only pages with
 * MAP_POPULATE (populated with the shared zero page, still present).
 *
 * Checkpoints:
 *   populated-rw   128 present
 *   half-unmapped  64 present, the upper half gone
 *   populated-ro   64 read-only pages, all present
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	char *rw = sc_map(128 * SC_PAGE, PROT_READ | PROT_WRITE, MAP_POPULATE);
	char *ro;

	SC_CHECKPOINT("populated-rw", SC_EXPECT(rw, 128 * SC_PAGE, 128));
	sc_unmap(sc_pg(rw, 64), 64 * SC_PAGE);
	SC_CHECKPOINT("half-unmapped", SC_EXPECT(rw, 128 * SC_PAGE, 64));
	ro = sc_map(64 * SC_PAGE, PROT_READ, MAP_POPULATE);
	SC_CHECKPOINT("populated-ro", SC_EXPECT(ro, 64 * SC_PAGE, 64),
		      SC_EXPECT(rw, 64 * SC_PAGE, 64));
	sc_unmap(ro, 64 * SC_PAGE);
	sc_unmap(rw, 64 * SC_PAGE);
	return 0;
}
