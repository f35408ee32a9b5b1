/*
 * Scenario: mlock, mlock2(MLOCK_ONFAULT) and MAP_LOCKED.
 *
 * mlock of the middle 32 pages of an untouched 64-page mapping faults them in;
 * munlock leaves them present. MAP_LOCKED populates a new 16-page mapping at mmap
 * time. mlock2 with MLOCK_ONFAULT locks without populating, so pages appear only
 * when written.
 *
 * Checkpoints:
 *   mapped         64 pages, none present
 *   locked         pages 16..47 present
 *   unlocked       still 32 present
 *   map-locked       a MAP_LOCKED mapping: 16 present
 *   onfault-locked   an MLOCK_ONFAULT-locked mapping: 0 present
 *   onfault-touched  3 of its pages written: 3 present
 */
#include "scenario.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

int main(void)
{
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *l, *o;

	SC_CHECKPOINT("mapped", SC_EXPECT(p, 64 * SC_PAGE, 0));
	if (mlock(sc_pg(p, 16), 32 * SC_PAGE) < 0)
		sc_die(1, "mlock (RLIMIT_MEMLOCK too small?)");
	SC_CHECKPOINT("locked", SC_EXPECT(p, 64 * SC_PAGE, 32),
		      SC_EXPECT(sc_pg(p, 16), 32 * SC_PAGE, 32));
	SC_CHECK(munlock(sc_pg(p, 16), 32 * SC_PAGE) == 0);
	SC_CHECKPOINT("unlocked", SC_EXPECT(p, 64 * SC_PAGE, 32));

	l = sc_map(16 * SC_PAGE, PROT_READ | PROT_WRITE, MAP_LOCKED);
	SC_CHECKPOINT("map-locked", SC_EXPECT(l, 16 * SC_PAGE, 16));

	o = sc_map(16 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	if (syscall(SYS_mlock2, o, 16 * SC_PAGE, MLOCK_ONFAULT) < 0)
		sc_die(1, "mlock2(MLOCK_ONFAULT)");
	SC_CHECKPOINT("onfault-locked", SC_EXPECT(o, 16 * SC_PAGE, 0));
	sc_touch(o, 3 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("onfault-touched", SC_EXPECT(o, 16 * SC_PAGE, 3));

	sc_unmap(o, 16 * SC_PAGE);
	sc_unmap(l, 16 * SC_PAGE);
	sc_unmap(p, 64 * SC_PAGE);
	return 0;
}
