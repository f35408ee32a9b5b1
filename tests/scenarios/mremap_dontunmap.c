/*
 * Scenario: mremap with MREMAP_DONTUNMAP (Linux 5.7+).
 *
 * Moves the pages of a written 32-page mapping to a new place while the old range
 * stays mapped but empty: the page states move, the source reads as not present.
 * Then writes a few pages of the (still mapped) source again.
 *
 * Checkpoints:
 *   touched        32 present in the source
 *   moved          destination: 32 present; source: mapped, 0 present
 *   source-reused  4 source pages written again
 */
#include "scenario.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

int main(void)
{
	const size_t n = 32;
	char *p = sc_map(n * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *q;

	sc_touch(p, n * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, n * SC_PAGE, 32));
	q = mremap(p, n * SC_PAGE, n * SC_PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	if (q == MAP_FAILED && errno == EINVAL)
		sc_die(1, "mremap(MREMAP_DONTUNMAP) needs Linux 5.7+");
	SC_CHECK(q != MAP_FAILED && q != p);
	SC_CHECKPOINT("moved", SC_EXPECT(q, n * SC_PAGE, 32), SC_EXPECT(p, n * SC_PAGE, 0));
	sc_touch(sc_pg(p, 8), 4 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("source-reused", SC_EXPECT(q, n * SC_PAGE, 32), SC_EXPECT(p, n * SC_PAGE, 4));
	sc_unmap(p, n * SC_PAGE);
	sc_unmap(q, n * SC_PAGE);
	return 0;
}
