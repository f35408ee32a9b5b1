/*
 * Scenario: exec of itself.
 *
 * The first incarnation writes 64 pages and a 1 MiB malloc'd block, then
 * execve()s /proc/self/exe with the argument "--second". The exec replaces the
 * whole address space under the same pid: nothing of the first incarnation may
 * survive in mevi's view. The second incarnation writes half of 32 pages.
 *
 * Checkpoints (same pid for both):
 *   first          first incarnation: 64 present
 *   second-start   second incarnation, fresh address space
 *   second         16 of 32 new pages present
 */
#include "scenario.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	char *p;

	if (argc > 1 && strcmp(argv[1], "--second") == 0) {
		sc_checkpoint("second-start");
		p = sc_map(32 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
		sc_touch(p, 32 * SC_PAGE, 2 * SC_PAGE);
		SC_CHECKPOINT("second", SC_EXPECT(p, 32 * SC_PAGE, 16));
		sc_unmap(p, 32 * SC_PAGE);
		return 0;
	} else {
		char *args[] = {argv[0], "--second", NULL};
		char *m = malloc(1 << 20);

		SC_CHECK(m != NULL);
		memset(m, 1, 1 << 20);
		p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
		sc_touch(p, 64 * SC_PAGE, SC_PAGE);
		SC_CHECKPOINT("first", SC_EXPECT(p, 64 * SC_PAGE, 64));
		execve("/proc/self/exe", args, environ);
		sc_die(1, "execve /proc/self/exe");
	}
}
