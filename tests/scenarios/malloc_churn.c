/*
 * Scenario: glibc malloc/free churn across the mmap threshold.
 *
 * The mmap threshold is pinned at 128 KiB (mallopt disables glibc's dynamic
 * threshold) so that the same blocks always come from the same place: blocks
 * below it come from the brk heap (which grows, and shrinks when its top is free
 * past M_TRIM_THRESHOLD), blocks above it are mmap'd and munmap'd one by one. The
 * sizes come from a fixed-seed generator: every run does exactly the same calls.
 * Four rounds: allocate 300 blocks and write all of them, free every other
 * block, free the rest. Finally malloc_trim(0) hands free heap pages back with
 * MADV_DONTNEED.
 *
 * Checkpoints (per round r): round-r-allocated, round-r-half-freed, round-r-freed;
 * then trimmed. The harness checks every page; the scenario checks that each
 * large block is fully present while allocated.
 */
#include "scenario.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBLOCKS	  300
#define THRESHOLD (128 * 1024)

static uint32_t seed = 12345;

static uint32_t next_random(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* 60% small (16 B..2 KiB), 25% medium (2..100 KiB), 15% large (132 KiB..2 MiB). */
static size_t next_size(void)
{
	uint32_t kind = next_random() % 100;

	if (kind < 60)
		return 16 + next_random() % 2048;
	if (kind < 85)
		return 2048 + next_random() % (100 * 1024);
	return 132 * 1024 + next_random() % (2 * 1024 * 1024 - 132 * 1024);
}

/*
 * Adds a self-check for every mmap'd (large) block: its whole page-aligned
 * interior is present, since memset wrote every byte. Returns the count added.
 */
static size_t expect_large_blocks(struct sc_expect *e, char **blocks, const size_t *sizes)
{
	size_t n = 0;
	int i;

	for (i = 0; i < NBLOCKS; i++) {
		uintptr_t lo, hi;

		if (!blocks[i] || sizes[i] < THRESHOLD)
			continue;
		lo = ((uintptr_t)blocks[i] + SC_PAGE - 1) & ~(SC_PAGE - 1);
		hi = ((uintptr_t)blocks[i] + sizes[i]) & ~(SC_PAGE - 1);
		e[n++] = SC_EXPECT((void *)lo, hi - lo, (long)((hi - lo) / SC_PAGE));
		if (n == 60)
			break; /* keeps the checkpoint line short */
	}
	return n;
}

int main(void)
{
	static char *blocks[NBLOCKS];
	static size_t sizes[NBLOCKS];
	struct sc_expect e[60];
	char name[64];
	int round, i;

	SC_CHECK(mallopt(M_MMAP_THRESHOLD, THRESHOLD) == 1);
	for (round = 1; round <= 4; round++) {
		for (i = 0; i < NBLOCKS; i++) {
			sizes[i] = next_size();
			blocks[i] = malloc(sizes[i]);
			if (!blocks[i])
				sc_die(1, "malloc(%zu)", sizes[i]);
			memset(blocks[i], round, sizes[i]);
		}
		snprintf(name, sizeof(name), "round-%d-allocated", round);
		sc_checkpoint_expect(name, e, expect_large_blocks(e, blocks, sizes));
		for (i = 0; i < NBLOCKS; i += 2) {
			free(blocks[i]);
			blocks[i] = NULL;
		}
		snprintf(name, sizeof(name), "round-%d-half-freed", round);
		sc_checkpoint_expect(name, e, expect_large_blocks(e, blocks, sizes));
		for (i = 1; i < NBLOCKS; i += 2) {
			free(blocks[i]);
			blocks[i] = NULL;
		}
		snprintf(name, sizeof(name), "round-%d-freed", round);
		sc_checkpoint(name);
	}
	malloc_trim(0);
	sc_checkpoint("trimmed");
	return 0;
}
