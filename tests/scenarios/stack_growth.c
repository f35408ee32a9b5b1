/*
 * Scenario: main-thread stack growth.
 *
 * Recurses 160 levels deep, each level writing every page of a 16 KiB local
 * array, so the [stack] mapping grows by about 2.5 MiB through page faults alone
 * (no syscall announces it). The stack does not shrink when the recursion
 * unwinds: the pages stay present.
 *
 * Checkpoints:
 *   shallow        before the recursion
 *   deep           at the deepest level: every page between the deepest array
 *                  and the first one present
 *   unwound        back in main: the same pages still present
 */
#include "scenario.h"

#include <stdint.h>

#define DEPTH 160
#define FRAME (16 * 1024)

static uintptr_t top, bottom;

static __attribute__((noinline)) int recurse(int depth)
{
	volatile char local[FRAME];
	size_t i;
	int r;

	for (i = 0; i < FRAME; i += SC_PAGE / 2)
		local[i] = (char)depth;
	local[FRAME - 1] = (char)depth;
	if (depth == 0)
		top = (uintptr_t)&local[FRAME - 1];
	if (depth == DEPTH - 1) {
		char *lo, *hi;

		bottom = (uintptr_t)&local[0];
		lo = (char *)((bottom + SC_PAGE - 1) & ~(SC_PAGE - 1));
		hi = (char *)(top & ~(SC_PAGE - 1));
		SC_CHECKPOINT(
		    "deep", SC_EXPECT(lo, (size_t)(hi - lo), (long)((size_t)(hi - lo) / SC_PAGE)));
		return local[0];
	}
	r = recurse(depth + 1);
	return r + local[FRAME / 2]; /* keeps the frame alive across the call: no tail call */
}

int main(void)
{
	char *lo, *hi;

	sc_checkpoint("shallow");
	SC_CHECK(recurse(0) != -12345);
	lo = (char *)((bottom + SC_PAGE - 1) & ~(SC_PAGE - 1));
	hi = (char *)(top & ~(SC_PAGE - 1));
	SC_CHECKPOINT("unwound",
		      SC_EXPECT(lo, (size_t)(hi - lo), (long)((size_t)(hi - lo) / SC_PAGE)));
	return 0;
}
