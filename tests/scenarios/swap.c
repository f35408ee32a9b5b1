/*
 * Scenario: pages pushed to swap with MADV_PAGEOUT and faulted back.
 *
 * Sampled mode shows swapped pages as their own state; this checks it page
 * for page. Without an active swap device the kernel cannot page anonymous
 * memory out and the pages simply stay present: the checkpoints still hold
 * (the harness compares with whatever the kernel says), the swap part is
 * just not exercised. Exact mode is not run on it: a swap-in fault does not
 * reach userfaultfd (see the README's known limits).
 *
 * Checkpoints:
 *   touched       256 pages written
 *   paged-out     the first 128 paged out (swapped, if there is swap)
 *   partly-back   pages 0..31 read back in (present again)
 */
#include "scenario.h"

#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define NPAGES 256

int main(void)
{
	char *p = sc_map(NPAGES * SC_PAGE, PROT_READ | PROT_WRITE, 0);

	sc_madvise(p, NPAGES * SC_PAGE, MADV_NOHUGEPAGE);
	sc_touch(p, NPAGES * SC_PAGE, SC_PAGE);
	sc_checkpoint("touched");
	sc_madvise(p, NPAGES / 2 * SC_PAGE, MADV_PAGEOUT);
	sc_checkpoint("paged-out");
	sc_read(p, 32 * SC_PAGE, SC_PAGE);
	sc_checkpoint("partly-back");
	sc_unmap(p, NPAGES * SC_PAGE);
	return 0;
}
