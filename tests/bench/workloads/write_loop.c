/*
 * Overhead workload for --heat (issue 13): the worst case of write tracking.
 * mmap 1 GiB (argv[1] MiB, MAP_POPULATE), write every page once, then one byte per
 * page in PASSES more passes (argv[2], default 20). Wall time is the measure. Under --heat=MS every page written in an interval
 * costs one in-kernel write-protect fault per interval.
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
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	size_t passes = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
	size_t len = mib << 20;
	double t0;
	volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		perror("write_loop: mmap");
		return 1;
	}
	for (size_t off = 0; off < len; off += 4096)
		p[off] = 1;
	t0 = now();
	for (size_t i = 0; i < passes; i++)
		for (size_t off = 0; off < len; off += 4096)
			p[off]++;
	fprintf(stderr, "write_loop: %zu passes over %zu MiB in %.2f s\n", passes, mib, now() - t0);
	return 0;
}
