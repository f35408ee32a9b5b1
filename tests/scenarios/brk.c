/*
 * Scenario: brk growth and shrink through sbrk().
 *
 * Grows the program break by 256 pages, writes them, shrinks it by 128 pages,
 * grows it again by 64 pages (the re-grown pages are fresh, not present) and
 * shrinks it back to where it started. No malloc runs in between, so the break
 * moves only as the scenario says.
 *
 * Checkpoints:
 *   grown          256 new heap pages, none present
 *   touched        256 present
 *   shrunk         the first 128 present, the top 128 gone from [heap]
 *   regrown        128 present + 64 fresh pages not present
 *   restored       the break back at its start
 */
#include "scenario.h"

#include <stdint.h>
#include <unistd.h>

static char *brk_grow(intptr_t bytes)
{
	void *old = sbrk(bytes);

	if (old == (void *)-1)
		sc_die(1, "sbrk(%ld)", (long)bytes);
	return old;
}

int main(void)
{
	char *start = sbrk(0);
	char *base;

	/* Start on a page boundary so that the expectations count whole pages. */
	if ((uintptr_t)start % SC_PAGE)
		brk_grow((intptr_t)(SC_PAGE - (uintptr_t)start % SC_PAGE));
	base = sbrk(0);

	brk_grow(256 * SC_PAGE);
	SC_CHECKPOINT("grown", SC_EXPECT(base, 256 * SC_PAGE, 0));
	sc_touch(base, 256 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(base, 256 * SC_PAGE, 256));
	brk_grow(-128 * (intptr_t)SC_PAGE);
	SC_CHECKPOINT("shrunk", SC_EXPECT(base, 256 * SC_PAGE, 128));
	brk_grow(64 * SC_PAGE);
	SC_CHECKPOINT("regrown", SC_EXPECT(base, 128 * SC_PAGE, 128),
		      SC_EXPECT(sc_pg(base, 128), 64 * SC_PAGE, 0));
	brk_grow(-192 * (intptr_t)SC_PAGE);
	SC_CHECK(sbrk(0) == base);
	SC_CHECKPOINT("restored", SC_EXPECT(base, 256 * SC_PAGE, 0));
	return 0;
}
