/*
 * Scenario: MAP_FIXED over an existing mapping.
 *
 * Writes a 64-page mapping, then maps fresh anonymous memory over its middle
 * with MAP_FIXED (the replaced pages are gone: not present), writes part of the
 * new mapping, maps a private file mapping (a memfd, not anonymous memory) over
 * another part, and finally maps anonymous memory over the file mapping again.
 *
 * Checkpoints:
 *   touched        64 present
 *   fixed-anon     pages 16..47 replaced: 32 present
 *   fixed-touched  4 of the new pages written: 36 present
 *   fixed-file     pages 0..7 now a file mapping (not private anonymous):
 *                  the anonymous part holds 28 present
 *   fixed-anon-again  pages 0..7 anonymous again, not present
 */
#include "scenario.h"

#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	void *f;
	int fd;

	sc_touch(p, 64 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("touched", SC_EXPECT(p, 64 * SC_PAGE, 64));
	sc_map_at(sc_pg(p, 16), 32 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	SC_CHECKPOINT("fixed-anon", SC_EXPECT(p, 64 * SC_PAGE, 32),
		      SC_EXPECT(sc_pg(p, 16), 32 * SC_PAGE, 0));
	sc_touch(sc_pg(p, 20), 4 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("fixed-touched", SC_EXPECT(p, 64 * SC_PAGE, 36));

	fd = memfd_create("mevi-scenario", 0);
	SC_CHECK(fd >= 0);
	SC_CHECK(ftruncate(fd, 8 * SC_PAGE) == 0);
	f = mmap(p, 8 * SC_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
	SC_CHECK(f == p);
	sc_touch(p, 8 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("fixed-file", SC_EXPECT(sc_pg(p, 8), 56 * SC_PAGE, 28));
	sc_map_at(p, 8 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	SC_CHECKPOINT("fixed-anon-again", SC_EXPECT(p, 64 * SC_PAGE, 28),
		      SC_EXPECT(p, 8 * SC_PAGE, 0));
	close(fd);
	sc_unmap(p, 64 * SC_PAGE);
	return 0;
}
