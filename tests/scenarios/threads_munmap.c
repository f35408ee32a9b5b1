/*
 * Scenario: one thread unmapping while the others fault.
 *
 * One 1024-page mapping is split in four quarters. Three faulter threads write
 * every page of their own quarter while, at the same time, an unmapper thread
 * munmaps the fourth quarter 8 pages at a time (splitting the very mapping the
 * others fault in) and maps, writes and unmaps scratch mappings. Each round ends
 * at a barrier, where the main thread checkpoints while the workers wait.
 *
 * Checkpoints:
 *   mapped         1024 pages, none present
 *   round-1        quarters 0..2 present (768), quarter 3 unmapped
 *   round-2        quarter 3 mapped again; faulters dropped their quarter and
 *                  rewrote even pages (384 present) while the unmapper unmapped
 *                  quarter 3's odd 8-page chunks after writing all of it
 *   round-3        faulters rewrote everything while the unmapper unmapped the
 *                  rest of quarter 3 top down
 *   unmapped       everything unmapped
 */
#include "scenario.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define QUARTER 256
#define CHUNK	8

static pthread_barrier_t barrier;
static char *area;

static void sync_point(void)
{
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
}

static void *faulter(void *arg)
{
	char *q = sc_pg(area, (size_t)(intptr_t)arg * QUARTER);

	pthread_barrier_wait(&barrier); /* start of round 1 */
	sc_touch(q, QUARTER * SC_PAGE, SC_PAGE);
	sync_point(); /* round-1 */
	sc_madvise(q, QUARTER * SC_PAGE, MADV_DONTNEED);
	sc_touch(q, QUARTER * SC_PAGE, 2 * SC_PAGE);
	sync_point(); /* round-2 */
	sc_touch(q, QUARTER * SC_PAGE, SC_PAGE);
	sync_point(); /* round-3 */
	return NULL;
}

static void scratch(void)
{
	char *s = sc_map(16 * SC_PAGE, PROT_READ | PROT_WRITE, 0);

	sc_touch(s, 16 * SC_PAGE, SC_PAGE);
	sc_unmap(s, 16 * SC_PAGE);
}

static void *unmapper(void *arg)
{
	char *q = sc_pg(area, 3 * QUARTER);
	int i;

	pthread_barrier_wait(&barrier);
	for (i = 0; i < QUARTER / CHUNK; i++) {
		sc_unmap(sc_pg(q, (size_t)i * CHUNK), CHUNK * SC_PAGE);
		if (i % 4 == 0)
			scratch();
	}
	pthread_barrier_wait(&barrier); /* round-1 */
	/* The main thread maps quarter 3 again here. */
	pthread_barrier_wait(&barrier);
	sc_touch(q, QUARTER * SC_PAGE, SC_PAGE);
	for (i = 1; i < QUARTER / CHUNK; i += 2) {
		sc_unmap(sc_pg(q, (size_t)i * CHUNK), CHUNK * SC_PAGE);
		scratch();
	}
	sync_point(); /* round-2 */
	for (i = QUARTER / CHUNK - 2; i >= 0; i -= 2)
		sc_unmap(sc_pg(q, (size_t)i * CHUNK), CHUNK * SC_PAGE);
	sync_point(); /* round-3 */
	return NULL;
}

int main(void)
{
	pthread_t t[4];
	char *q3;
	int i;

	area = sc_map(4 * QUARTER * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	q3 = sc_pg(area, 3 * QUARTER);
	SC_CHECKPOINT("mapped", SC_EXPECT(area, 4 * QUARTER * SC_PAGE, 0));
	SC_CHECK(pthread_barrier_init(&barrier, NULL, 5) == 0);
	for (i = 0; i < 3; i++)
		SC_CHECK(pthread_create(&t[i], NULL, faulter, (void *)(intptr_t)i) == 0);
	SC_CHECK(pthread_create(&t[3], NULL, unmapper, NULL) == 0);

	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	SC_CHECKPOINT("round-1", SC_EXPECT(area, 3 * QUARTER * SC_PAGE, 3 * QUARTER),
		      SC_EXPECT(q3, QUARTER * SC_PAGE, 0));
	sc_map_at(q3, QUARTER * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	SC_CHECKPOINT("round-2", SC_EXPECT(area, 3 * QUARTER * SC_PAGE, 3 * QUARTER / 2),
		      SC_EXPECT(q3, QUARTER * SC_PAGE, QUARTER / 2));
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	SC_CHECKPOINT("round-3", SC_EXPECT(area, 3 * QUARTER * SC_PAGE, 3 * QUARTER),
		      SC_EXPECT(q3, QUARTER * SC_PAGE, 0));
	pthread_barrier_wait(&barrier);
	for (i = 0; i < 4; i++)
		SC_CHECK(pthread_join(t[i], NULL) == 0);
	sc_unmap(area, 3 * QUARTER * SC_PAGE);
	SC_CHECKPOINT("unmapped", SC_EXPECT(area, 4 * QUARTER * SC_PAGE, 0));
	return 0;
}
