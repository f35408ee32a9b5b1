/*
 * Scenario: mprotect of parts of a mapping.
 *
 * Part 1: a written 64-page mapping is made read-only in its middle and
 * PROT_NONE in a quarter (the mapping splits; the pages stay present), then made
 * writable again. Part 2: a 128-page PROT_NONE reservation is made writable 32
 * pages at a time and written, the way glibc grows a thread arena.
 *
 * Checkpoints:
 *   touched          64 present
 *   read-only-middle pages 16..47 read-only, all 64 still present
 *   none-quarter     pages 48..63 PROT_NONE, all 64 still present
 *   writable-again   all writable, 64 present
 *   reserved         128 PROT_NONE pages, none present
 *   grown-1          pages 0..31 writable and written
 *   grown-2          pages 32..63 writable, every other one written (48 present)
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *r;

	sc_touch(p, 64 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, 64 * SC_PAGE, 64));
	sc_protect(sc_pg(p, 16), 32 * SC_PAGE, PROT_READ);
	SC_CHECKPOINT("read-only-middle", SC_EXPECT(p, 64 * SC_PAGE, 64));
	sc_protect(sc_pg(p, 48), 16 * SC_PAGE, PROT_NONE);
	SC_CHECKPOINT("none-quarter", SC_EXPECT(p, 64 * SC_PAGE, 64));
	sc_protect(p, 64 * SC_PAGE, PROT_READ | PROT_WRITE);
	SC_CHECKPOINT("writable-again", SC_EXPECT(p, 64 * SC_PAGE, 64));

	r = sc_map(128 * SC_PAGE, PROT_NONE, MAP_NORESERVE);
	SC_CHECKPOINT("reserved", SC_EXPECT(r, 128 * SC_PAGE, 0));
	sc_protect(r, 32 * SC_PAGE, PROT_READ | PROT_WRITE);
	sc_touch(r, 32 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("grown-1", SC_EXPECT(r, 128 * SC_PAGE, 32));
	sc_protect(sc_pg(r, 32), 32 * SC_PAGE, PROT_READ | PROT_WRITE);
	sc_touch(sc_pg(r, 32), 32 * SC_PAGE, 2 * SC_PAGE);
	SC_CHECKPOINT("grown-2", SC_EXPECT(r, 128 * SC_PAGE, 48));
	sc_unmap(r, 128 * SC_PAGE);
	sc_unmap(p, 64 * SC_PAGE);
	return 0;
}
