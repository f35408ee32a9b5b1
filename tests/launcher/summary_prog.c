/*
 * summary_prog — a known peak for tests/launcher/test_summary.py:
 *
 *   peak_alloc() maps 16 MiB and touches every page (the peak), then
 *   main() unmaps 12 MiB of it; keep_alloc() maps 2 MiB and touches it; the
 *   program prints "summary_prog done" on stdout and exits with 3. At exit
 *   4 MiB of peak_alloc's and 2 MiB of keep_alloc's mapping are resident.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024 * 1024)

__attribute__((noinline)) char *peak_alloc(void)
{
	char *p = mmap(NULL, 16 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
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

int main(void)
{
	char *p = peak_alloc();

	if (!p)
		return 1;
	munmap(p + 4 * MIB, 12 * MIB);
	if (!keep_alloc())
		return 1;
	printf("summary_prog done\n");
	return 3;
}
