/*
 * heat_three — the access pattern the heat tests check page for page.
 *
 * Three private anonymous buffers of N pages each, separated by guard
 * mappings (PROT_NONE) so that they stay three VMAs:
 *   hot:   every page written every 100 ms, until the end;
 *   once:  every page written once at the start, then left alone;
 *   never: MAP_POPULATE'd (resident), then never written.
 * After 300 ms (for mevi-run to start watching), prints "HEAT <pid> <hot> <once> <never> <pages>\n" (hex addresses) on
 * stdout once everything is in place, then runs for SECONDS (argv[1],
 * default 3) and exits 0. With argv[2] == "fork", a child does the same
 * pattern on its own copies after the parent's line (its own "HEAT" line).
 * argv[3]: the settle time in ms (default 300; longer for --pid).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE  4096UL
#define PAGES 64UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *map(int extra)
{
	char *p;

	if (extra & MAP_POPULATE) {
		/* A plain new mapping: populated before mevi-run registers it.
		 * (MAP_FIXED over memory exact mode has registered would be
		 * populated through its userfaultfd: write faults, seen as
		 * writes; launcher/README.md.) */
		p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		return p;
	}
	p = mmap(NULL, (PAGES + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	p += PAGE; /* a guard page on each side */
	if (mmap(p, PAGES * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | extra, -1, 0) == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static long settle_ms = 300;

static void run(double seconds)
{
	char *hot = map(0), *once = map(0), *never = map(MAP_POPULATE);
	double end;
	unsigned n = 0;
	struct timespec settle = {settle_ms / 1000, settle_ms % 1000 * 1000 * 1000};

	/* Time for mevi-run to watch the new mappings (sampled mode and
	 * --pid inject their userfaultfd at a stop they ask for). */
	nanosleep(&settle, NULL);
	memset(once, 1, PAGES * PAGE);
	memset(hot, 1, PAGES * PAGE);
	printf("HEAT %d %lx %lx %lx %lu\n", (int)getpid(), (unsigned long)hot, (unsigned long)once,
	       (unsigned long)never, PAGES);
	fflush(stdout);
	end = now() + seconds;
	while (now() < end) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		for (unsigned long i = 0; i < PAGES; i++)
			hot[i * PAGE] = (char)++n;
		nanosleep(&ts, NULL);
	}
	/* Reads of the never-written buffer are not writes. */
	for (unsigned long i = 0; i < PAGES; i++)
		n += (unsigned)never[i * PAGE];
	if (n == 0)
		puts("");
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;

	if (argc > 3)
		settle_ms = atol(argv[3]);

	if (argc > 2 && !strcmp(argv[2], "fork")) {
		pid_t pid;
		int st;

		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			run(seconds);
			_exit(0);
		}
		run(seconds);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return 3;
		return 0;
	}
	run(seconds);
	return 0;
}
