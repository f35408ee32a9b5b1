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
 *
 * With argv[1] "pending", the moves come before any checkpoint, paced for
 * the ptrace engine's attach (launcher/mm.h): a grow at once (the image
 * still young, no exit stop), a shrink 8 ms later (no longer young, not yet
 * attached: an exit stop for its backtrace only), a regrow 30 ms after that
 * (attach due, so attached at its exit). The break mevi-run knew must follow
 * the unapplied shrink, or the regrow's re-read starts above it (a heap 64
 * pages short, seen in CI). Checkpoints:
 *   regrown        192 heap pages, none present
 *   restored       the break back at its start
 */
#include "scenario.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char *brk_grow(intptr_t bytes)
{
	void *old = sbrk(bytes);

	if (old == (void *)-1)
		sc_die(1, "sbrk(%ld)", (long)bytes);
	return old;
}

static void pending(char *base)
{
	brk_grow(256 * SC_PAGE);
	sc_sleep_ms(8);
	brk_grow(-128 * (intptr_t)SC_PAGE);
	sc_sleep_ms(30);
	brk_grow(64 * SC_PAGE);
	SC_CHECKPOINT("regrown", SC_EXPECT(base, 192 * SC_PAGE, 0));
	brk_grow(-192 * (intptr_t)SC_PAGE);
	SC_CHECK(sbrk(0) == base);
	SC_CHECKPOINT("restored", SC_EXPECT(base, 256 * SC_PAGE, 0));
}

int main(int argc, char **argv)
{
	char *start = sbrk(0);
	char *base;

	/* Start on a page boundary so that the expectations count whole pages. */
	if ((uintptr_t)start % SC_PAGE)
		brk_grow((intptr_t)(SC_PAGE - (uintptr_t)start % SC_PAGE));
	base = sbrk(0);
	if (argc > 1 && strcmp(argv[1], "pending") == 0) {
		pending(base);
		return 0;
	}

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
