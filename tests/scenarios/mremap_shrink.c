/*
 * Scenario: mremap shrinking a mapping.
 *
 * Writes all 64 pages of a mapping, shrinks it in place to 40 pages (the tail is
 * unmapped), drops nothing else, then shrinks it with MREMAP_MAYMOVE to 10 pages
 * (a shrink never moves).
 *
 * Checkpoints:
 *   touched        64 present
 *   shrunk         40 pages left, all present; the old tail gone
 *   shrunk-again   10 pages left, all present
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *q;

	sc_touch(p, 64 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, 64 * SC_PAGE, 64));
	q = mremap(p, 64 * SC_PAGE, 40 * SC_PAGE, 0);
	SC_CHECK(q == p);
	SC_CHECKPOINT("shrunk", SC_EXPECT(p, 64 * SC_PAGE, 40));
	q = mremap(p, 40 * SC_PAGE, 10 * SC_PAGE, MREMAP_MAYMOVE);
	SC_CHECK(q == p);
	SC_CHECKPOINT("shrunk-again", SC_EXPECT(p, 64 * SC_PAGE, 10));
	sc_unmap(p, 10 * SC_PAGE);
	return 0;
}
