/*
 * Overhead workload (c): glibc malloc/free churn in 1 or more threads.
 *
 *     malloc_churn THREADS [OPS_PER_THREAD]
 *
 * Each thread keeps 4096 slots and, for OPS_PER_THREAD (default 2,000,000)
 * operations, frees a slot and allocates a new block into it, writing its first
 * bytes. Sizes come from a fixed-seed generator: mostly small (16 B..1 KiB), some
 * medium (to 32 KiB), a few large (256 KiB..1 MiB, above glibc's initial mmap
 * threshold). The heap and the thread arenas grow and shrink (brk, mprotect,
 * madvise, mmap, munmap): the memory syscalls mevi must follow, at a realistic rate.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096

static long ops = 2000000;

static void *churn(void *arg)
{
	uint32_t seed = 2463534242u + (uint32_t)(uintptr_t)arg;
	char **slot = calloc(SLOTS, sizeof(*slot));
	long i;

	if (!slot)
		return (void *)1;
	for (i = 0; i < ops; i++) {
		uint32_t r, k;
		size_t size;

		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		r = seed;
		k = r % SLOTS;
		if (r % 1000 == 0)
			size = 256 * 1024 + (r >> 12) % (768 * 1024);
		else if (r % 16 == 0)
			size = 1024 + (r >> 12) % (31 * 1024);
		else
			size = 16 + (r >> 12) % 1008;
		free(slot[k]);
		slot[k] = malloc(size);
		if (!slot[k])
			return (void *)1;
		memset(slot[k], (int)k, size < 64 ? size : 64);
		slot[k][size - 1] = 1;
	}
	for (i = 0; i < SLOTS; i++)
		free(slot[i]);
	free(slot);
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	pthread_t t[64];
	void *ret;
	int i, bad = 0;

	if (argc > 2)
		ops = atol(argv[2]);
	if (threads < 1 || threads > 64) {
		fprintf(stderr, "usage: malloc_churn THREADS(1..64) [OPS_PER_THREAD]\n");
		return 2;
	}
	if (threads == 1)
		return churn(NULL) != NULL;
	for (i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i) != 0)
			return 1;
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], &ret);
		bad |= ret != NULL;
	}
	return bad;
}
