/*
 * Scenario: mmap, touch, and munmap of a middle part.
 *
 * Maps 64 anonymous pages, writes every other page, then every page, unmaps the
 * middle 32 pages (splitting the mapping in two) and finally unmaps the rest.
 *
 * Checkpoints:
 *   mapped         64 pages mapped, none present
 *   half-touched   even pages written: 32 present
 *   touched        all 64 present
 *   unmapped-middle  pages 16..47 gone, 16 + 16 present around the hole
 *   unmapped-all   the whole mapping gone
 * spawn_exec execs this program as its child workload.
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	const size_t n = 64;
	char *p = sc_map(n * SC_PAGE, PROT_READ | PROT_WRITE, 0);

	SC_CHECKPOINT("mapped", SC_EXPECT(p, n * SC_PAGE, 0));
	sc_touch(p, n * SC_PAGE, 2 * SC_PAGE);
	SC_CHECKPOINT("half-touched", SC_EXPECT(p, n * SC_PAGE, 32));
	sc_touch(p, n * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, n * SC_PAGE, 64));
	sc_unmap(sc_pg(p, 16), 32 * SC_PAGE);
	SC_CHECKPOINT("unmapped-middle", SC_EXPECT(p, 16 * SC_PAGE, 16),
		      SC_EXPECT(sc_pg(p, 16), 32 * SC_PAGE, 0),
		      SC_EXPECT(sc_pg(p, 48), 16 * SC_PAGE, 16));
	sc_unmap(p, 16 * SC_PAGE);
	sc_unmap(sc_pg(p, 48), 16 * SC_PAGE);
	SC_CHECKPOINT("unmapped-all", SC_EXPECT(p, n * SC_PAGE, 0));
	return 0;
}
