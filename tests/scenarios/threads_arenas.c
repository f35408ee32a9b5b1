/*
 * Scenario: 4 threads allocating in their own glibc arenas.
 *
 * Each new thread gets its own malloc arena: a 64 MiB heap reserved PROT_NONE and
 * made writable piece by piece with mprotect as it grows (a tracer that watches
 * only mmap misses that growth), and shrunk again (MADV_DONTNEED) when its top is
 * freed. The scenario checks that the four threads really got four distinct arena
 * heaps. All threads work in the same phases, separated by barriers; at each
 * quiescent point the workers wait on a barrier while the main thread checkpoints.
 *
 * Checkpoints:
 *   threads-started  4 threads created, nothing allocated yet
 *   grown            each thread allocated and wrote 6 MiB in 3000 small blocks
 *   half-freed       each thread freed its upper half (the arena heap shrinks)
 *   regrown          each thread allocated 3 MiB again
 *   freed            each thread freed everything
 *   joined           all threads exited
 */
#include "scenario.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define NBLOCKS	 3000
#define BLOCK	 2048
#define HEAP_MAX (64UL << 20)

static pthread_barrier_t barrier;
static uintptr_t arena_heap[NTHREADS];

/* Both sides of a checkpoint: the workers are quiescent between these two waits. */
static void sync_point(void)
{
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
}

static void alloc_range(char **b, int from, int to, int fill)
{
	int i;

	for (i = from; i < to; i++) {
		b[i] = malloc(BLOCK);
		if (!b[i])
			sc_die(1, "malloc");
		memset(b[i], fill, BLOCK);
	}
}

static void free_range(char **b, int from, int to)
{
	int i;

	/* Top down, so that the arena's top chunk grows and the heap can shrink. */
	for (i = to - 1; i >= from; i--) {
		free(b[i]);
		b[i] = NULL;
	}
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	static char *blocks[NTHREADS][NBLOCKS];
	char **b = blocks[id];

	sync_point(); /* threads-started */
	alloc_range(b, 0, NBLOCKS, id + 1);
	arena_heap[id] = (uintptr_t)b[0] & ~(HEAP_MAX - 1);
	sync_point(); /* grown */
	free_range(b, NBLOCKS / 2, NBLOCKS);
	sync_point(); /* half-freed */
	alloc_range(b, NBLOCKS / 2, NBLOCKS, id + 11);
	sync_point(); /* regrown */
	free_range(b, 0, NBLOCKS);
	sync_point(); /* freed */
	return NULL;
}

static void main_point(const char *name)
{
	pthread_barrier_wait(&barrier);
	sc_checkpoint(name);
	pthread_barrier_wait(&barrier);
}

int main(void)
{
	pthread_t t[NTHREADS];
	char *mine = malloc(64);
	int i, j;

	SC_CHECK(mine != NULL);
	SC_CHECK(pthread_barrier_init(&barrier, NULL, NTHREADS + 1) == 0);
	for (i = 0; i < NTHREADS; i++)
		SC_CHECK(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0);
	main_point("threads-started");
	pthread_barrier_wait(&barrier);
	/* Every thread's blocks must live in its own arena heap, not in the main brk heap. */
	for (i = 0; i < NTHREADS; i++) {
		if (arena_heap[i] == ((uintptr_t)mine & ~(HEAP_MAX - 1)))
			sc_die(0, "thread %d allocated from the main arena", i);
		for (j = 0; j < i; j++)
			if (arena_heap[i] == arena_heap[j])
				sc_die(0, "threads %d and %d share an arena heap", i, j);
	}
	sc_checkpoint("grown");
	pthread_barrier_wait(&barrier);
	main_point("half-freed");
	main_point("regrown");
	main_point("freed");
	for (i = 0; i < NTHREADS; i++)
		SC_CHECK(pthread_join(t[i], NULL) == 0);
	sc_checkpoint("joined");
	free(mine);
	return 0;
}
