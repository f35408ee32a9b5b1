/*
 * Scenario: pages touched by reads only (the shared zero page).
 *
 * Reading an untouched anonymous page maps the kernel's shared zero page: the
 * page is present (pagemap says so) although no memory was allocated. Writing it
 * later replaces the zero page with a real page (still present).
 *
 * Checkpoints:
 *   read           64 pages read: all present (zero page)
 *   half-written   every other page written: still 64 present
 *   read-only      a PROT_READ mapping read in full: 32 present
 *   dropped        MADV_DONTNEED on both: nothing present
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *r = sc_map(32 * SC_PAGE, PROT_READ, 0);

	sc_read(p, 64 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("read", SC_EXPECT(p, 64 * SC_PAGE, 64), SC_EXPECT(r, 32 * SC_PAGE, 0));
	sc_touch(p, 64 * SC_PAGE, 2 * SC_PAGE);
	SC_CHECKPOINT("half-written", SC_EXPECT(p, 64 * SC_PAGE, 64));
	sc_read(r, 32 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("read-only", SC_EXPECT(r, 32 * SC_PAGE, 32));
	sc_madvise(p, 64 * SC_PAGE, MADV_DONTNEED);
	sc_madvise(r, 32 * SC_PAGE, MADV_DONTNEED);
	SC_CHECKPOINT("dropped", SC_EXPECT(p, 64 * SC_PAGE, 0), SC_EXPECT(r, 32 * SC_PAGE, 0));
	sc_unmap(r, 32 * SC_PAGE);
	sc_unmap(p, 64 * SC_PAGE);
	return 0;
}
