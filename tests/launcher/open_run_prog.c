/*
 * open_run_prog SECONDS — maps 100 private pages, waits 0.2 s (the
 * mapping's record is read by then: its pages are not present yet), touches
 * them in order, then spins for SECONDS without a syscall or a fault (the
 * clock is the vdso's): the eBPF engine's last run of first touches stays
 * open in its CPU's slot as long as nothing else faults there
 * (test_ebpf.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double end = now() + (argc > 1 ? atof(argv[1]) : 1.0);
	volatile unsigned long spins = 0;
	char *p =
	    mmap(NULL, 100 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	nanosleep(&(struct timespec){0, 200 * 1000 * 1000}, NULL);
	end += 0.2;
	for (int i = 0; i < 100; i++)
		p[i * 4096] = 1;
	while (now() < end)
		spins++;
	return 0;
}
