/*
 * Scenario: fork, with the child touching and freeing memory.
 *
 * The parent writes 32 of 64 pages and forks. The child starts with a copy of the
 * parent's page states (the present pages are shared copy-on-write), writes the
 * other 32 pages and its own malloc'd 1 MiB, then frees: munmaps the upper half,
 * drops a quarter with MADV_DONTNEED and frees the malloc'd block. It exits with
 * status 7, which the parent checks; the parent's own pages never change.
 *
 * Checkpoints (the child's carry the child's pid):
 *   parent-before-fork  parent: 32 present
 *   child-start         child: the same 32 present
 *   child-touched       child: 64 present
 *   child-freed         child: pages 0..15 dropped, 32..63 unmapped: 16 present
 *   parent-after-child  parent: still 32 present, the child reaped
 */
#include "scenario.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	int status;
	pid_t pid;

	sc_touch(p, 64 * SC_PAGE, 2 * SC_PAGE);
	SC_CHECKPOINT("parent-before-fork", SC_EXPECT(p, 64 * SC_PAGE, 32));
	pid = fork();
	if (pid < 0)
		sc_die(1, "fork");
	if (pid == 0) {
		char *m;

		SC_CHECKPOINT("child-start", SC_EXPECT(p, 64 * SC_PAGE, 32));
		sc_touch(sc_pg(p, 1), 63 * SC_PAGE, 2 * SC_PAGE);
		m = malloc(1 << 20);
		SC_CHECK(m != NULL);
		memset(m, 1, 1 << 20);
		SC_CHECKPOINT("child-touched", SC_EXPECT(p, 64 * SC_PAGE, 64));
		sc_unmap(sc_pg(p, 32), 32 * SC_PAGE);
		sc_madvise(p, 16 * SC_PAGE, MADV_DONTNEED);
		free(m);
		SC_CHECKPOINT("child-freed", SC_EXPECT(p, 64 * SC_PAGE, 16));
		exit(7);
	}
	if (waitpid(pid, &status, 0) != pid)
		sc_die(1, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 7)
		sc_die(0, "child status %#x, expected exit 7", status);
	SC_CHECKPOINT("parent-after-child", SC_EXPECT(p, 64 * SC_PAGE, 32));
	sc_unmap(p, 64 * SC_PAGE);
	return 0;
}
