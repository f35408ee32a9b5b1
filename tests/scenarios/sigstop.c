/*
 * Scenario: SIGSTOP / SIGCONT of a running process, sent from outside.
 *
 * After a first checkpoint the scenario announces "MEVI_RUNNING <pid>" and loops:
 * it writes the pages of a 16 MiB mapping one by one with short sleeps, and
 * drops the whole mapping with MADV_DONTNEED at the end of each pass, so that
 * faults and drops are in flight whenever it is stopped. The harness
 * (--harness-stops K) stops it K times at arbitrary points with SIGSTOP,
 * compares, resumes it with SIGCONT, and finally sends SIGUSR1, upon which the
 * loop ends. Standalone (no harness), the loop runs for one second.
 *
 * Checkpoints:
 *   start            before the loop: the mapping untouched
 *   harness-stop-k   taken by the harness at arbitrary points of the loop
 *   end              after SIGUSR1: the loop's last state, then the mapping is
 *                    dropped: end-dropped, 0 present
 */
#include "scenario.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGES 4096

static volatile sig_atomic_t done;

static void on_usr1(int sig)
{
	done = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct sigaction sa;
	char *p = sc_map(PAGES * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	int harnessed;
	double until;
	size_t i = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	SC_CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	SC_CHECKPOINT("start", SC_EXPECT(p, PAGES * SC_PAGE, 0));
	harnessed = sc_announce_running();
	until = now() + (harnessed ? 90.0 : 1.0);
	while (!done && now() < until) {
		sc_touch(sc_pg(p, i), 1, 1);
		if (++i == PAGES) {
			sc_madvise(p, PAGES * SC_PAGE, MADV_DONTNEED);
			i = 0;
		}
		if (i % 16 == 0)
			sc_sleep_ms(1);
	}
	if (harnessed && !done)
		sc_die(0, "no SIGUSR1 from the harness within 90 s");
	sc_checkpoint("end");
	sc_madvise(p, PAGES * SC_PAGE, MADV_DONTNEED);
	SC_CHECKPOINT("end-dropped", SC_EXPECT(p, PAGES * SC_PAGE, 0));
	sc_unmap(p, PAGES * SC_PAGE);
	return 0;
}
