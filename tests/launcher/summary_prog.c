/*
 * summary_prog — a known peak for tests/launcher/test_summary.py:
 *
 *   peak_alloc() maps 16 MiB and touches every page (the peak), then
 *   main() unmaps 12 MiB of it; keep_alloc() maps 2 MiB and touches it; the
 *   program prints "summary_prog done" on stdout and exits with 3. At exit
 *   4 MiB of peak_alloc's and 2 MiB of keep_alloc's mapping are resident.
 *
 *   summary_prog forks: peak_alloc() maps the 16 MiB without touching them
 *   and main() forks a child. The child, a young process, forks child after
 *   child for 10 ms (each exits at once), so that the tracer's request to
 *   stop it for its attach is likely to meet a fork event's ptrace-stop,
 *   which cancels it; then it touches the 16 MiB, unmaps 12 MiB and exits.
 *   Nothing between its forks and its munmap stops for the tracer on its
 *   own: its peak of 16 MiB must still be seen. Then main() goes on as
 *   above, once the child is gone.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

__attribute__((noinline)) char *peak_alloc(bool touch)
{
	char *p = mmap(NULL, 16 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (touch)
		memset(p, 1, 16 * MIB);
	return p;
}

__attribute__((noinline)) char *keep_alloc(void)
{
	char *p = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 2, 2 * MIB);
	return p;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	bool forks = argc > 1 && strcmp(argv[1], "forks") == 0;
	char *p = peak_alloc(!forks);

	if (!p)
		return 1;
	if (forks) {
		pid_t child = fork();

		if (child == 0) {
			double end = now_s() + 0.010;

			signal(SIGCHLD, SIG_IGN); /* no zombies */
			while (now_s() < end)
				if (fork() == 0)
					_exit(0);
			memset(p, 1, 16 * MIB);
			munmap(p + 4 * MIB, 12 * MIB);
			_exit(0);
		}
		if (child < 0 || waitpid(child, NULL, 0) != child)
			return 1;
		memset(p, 1, 16 * MIB);
	}
	munmap(p + 4 * MIB, 12 * MIB);
	if (!keep_alloc())
		return 1;
	printf("summary_prog done\n");
	return 3;
}
