/*
 * Scenario: madvise(MADV_DONTNEED) of part of a mapping.
 *
 * Maps and writes 256 pages, drops pages 64..127 with MADV_DONTNEED, writes half
 * of the dropped pages again, drops the whole mapping and writes one page.
 *
 * Checkpoints:
 *   touched        256 present
 *   dropped-part   pages 64..127 not present, the other 192 present
 *   retouched      pages 64..95 present again (224 present)
 *   dropped-all    nothing present, the mapping still there
 *   one-page       page 200 present again
 */
#include "scenario.h"

#include <sys/mman.h>

int main(void)
{
	const size_t n = 256;
	char *p = sc_map(n * SC_PAGE, PROT_READ | PROT_WRITE, 0);

	sc_touch(p, n * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, n * SC_PAGE, 256));
	sc_madvise(sc_pg(p, 64), 64 * SC_PAGE, MADV_DONTNEED);
	SC_CHECKPOINT("dropped-part", SC_EXPECT(p, n * SC_PAGE, 192),
		      SC_EXPECT(sc_pg(p, 64), 64 * SC_PAGE, 0));
	sc_touch(sc_pg(p, 64), 32 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("retouched", SC_EXPECT(p, n * SC_PAGE, 224),
		      SC_EXPECT(sc_pg(p, 96), 32 * SC_PAGE, 0));
	sc_madvise(p, n * SC_PAGE, MADV_DONTNEED);
	SC_CHECKPOINT("dropped-all", SC_EXPECT(p, n * SC_PAGE, 0));
	sc_touch(sc_pg(p, 200), 1, 1);
	SC_CHECKPOINT("one-page", SC_EXPECT(p, n * SC_PAGE, 1),
		      SC_EXPECT(sc_pg(p, 200), SC_PAGE, 1));
	sc_unmap(p, n * SC_PAGE);
	return 0;
}
