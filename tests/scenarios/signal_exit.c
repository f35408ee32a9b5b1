/*
 * Scenario: a program that is killed by a signal.
 *
 * argv[1] chooses the signal: "segv" (default) writes to a PROT_NONE page and
 * dies of SIGSEGV (expected status 139), "kill" sends itself SIGKILL (137).
 * Core dumps are disabled first so that the death is quick.
 *
 * Checkpoints:
 *   before-death   32 of 64 pages written, the last page PROT_NONE
 */
#include "scenario.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "segv";
	struct rlimit no_core = {0, 0};
	char *p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);

	SC_CHECK(setrlimit(RLIMIT_CORE, &no_core) == 0);
	sc_touch(p, 64 * SC_PAGE, 2 * SC_PAGE);
	sc_protect(sc_pg(p, 63), SC_PAGE, PROT_NONE);
	SC_CHECKPOINT("before-death", SC_EXPECT(p, 64 * SC_PAGE, 32));
	if (strcmp(how, "kill") == 0) {
		kill(getpid(), SIGKILL);
	} else if (strcmp(how, "segv") == 0) {
		*(volatile char *)sc_pg(p, 63) = 1;
	} else {
		sc_die(0, "usage: signal_exit [segv|kill]");
	}
	sc_die(0, "still alive after the fatal signal");
}
