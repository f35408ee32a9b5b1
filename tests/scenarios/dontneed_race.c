/*
 * Scenario: MADV_DONTNEED of a mapping while another thread faults in it.
 *
 * A writer thread writes every page of a 512-page mapping over and over while a
 * dropper thread calls MADV_DONTNEED on it (all of it, then alternating 16-page
 * chunks, then single pages), so drops and faults on the same pages race. Each
 * race round ends at a barrier; the resulting state is whatever the race left,
 * and mevi must agree with it page for page. Then a deterministic step: the
 * dropper drops the lower half, the writer writes the upper half.
 *
 * Checkpoints (for each round r = 1..3):
 *   race-r         after the race: any state
 *   settled-r      lower half 0 present, upper half 256 present
 */
#include "scenario.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>

#define PAGES  512
#define PASSES 40

static pthread_barrier_t barrier;
static char *area;

static void *writer(void *arg)
{
	int round, pass;

	for (round = 1; round <= 3; round++) {
		pthread_barrier_wait(&barrier);
		for (pass = 0; pass < PASSES; pass++)
			sc_touch(area, PAGES * SC_PAGE, SC_PAGE);
		pthread_barrier_wait(&barrier); /* race-r */
		pthread_barrier_wait(&barrier);
		sc_touch(sc_pg(area, PAGES / 2), PAGES / 2 * SC_PAGE, SC_PAGE);
		pthread_barrier_wait(&barrier); /* settled-r */
	}
	return NULL;
}

static void drop(int round, int pass)
{
	size_t i;

	switch (round) {
	case 1:
		sc_madvise(area, PAGES * SC_PAGE, MADV_DONTNEED);
		break;
	case 2:
		for (i = (size_t)(pass % 2) * 16; i < PAGES; i += 32)
			sc_madvise(sc_pg(area, i), 16 * SC_PAGE, MADV_DONTNEED);
		break;
	default:
		for (i = (size_t)pass % 7; i < PAGES; i += 7)
			sc_madvise(sc_pg(area, i), SC_PAGE, MADV_DONTNEED);
		break;
	}
}

static void *dropper(void *arg)
{
	int round, pass;

	for (round = 1; round <= 3; round++) {
		pthread_barrier_wait(&barrier);
		for (pass = 0; pass < PASSES; pass++)
			drop(round, pass);
		pthread_barrier_wait(&barrier); /* race-r */
		pthread_barrier_wait(&barrier);
		sc_madvise(area, PAGES / 2 * SC_PAGE, MADV_DONTNEED);
		pthread_barrier_wait(&barrier); /* settled-r */
	}
	return NULL;
}

int main(void)
{
	pthread_t w, d;
	char name[32];
	int round;

	area = sc_map(PAGES * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	SC_CHECK(pthread_barrier_init(&barrier, NULL, 3) == 0);
	SC_CHECK(pthread_create(&w, NULL, writer, NULL) == 0);
	SC_CHECK(pthread_create(&d, NULL, dropper, NULL) == 0);
	for (round = 1; round <= 3; round++) {
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier);
		snprintf(name, sizeof(name), "race-%d", round);
		sc_checkpoint(name);
		pthread_barrier_wait(&barrier);
		pthread_barrier_wait(&barrier);
		snprintf(name, sizeof(name), "settled-%d", round);
		SC_CHECKPOINT(name, SC_EXPECT(area, PAGES / 2 * SC_PAGE, 0),
			      SC_EXPECT(sc_pg(area, PAGES / 2), PAGES / 2 * SC_PAGE, PAGES / 2));
	}
	SC_CHECK(pthread_join(w, NULL) == 0);
	SC_CHECK(pthread_join(d, NULL) == 0);
	sc_unmap(area, PAGES * SC_PAGE);
	return 0;
}
