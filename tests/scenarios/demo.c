/*
 * demo: a program that is pleasant to watch under mevi (the README's quick start).
 *
 *     mevi-run build/tests/scenarios/demo [--seconds N]
 *
 * For N seconds (default 60) the main thread repeatedly maps 64 MiB and fills it
 * progressively, drops stripes of it with MADV_DONTNEED, writes a checkerboard,
 * unmaps its middle, grows it with mremap and unmaps it; a second thread churns
 * through glibc malloc/free (its own arena, growing and shrinking); a child
 * process sweeps a wave across its own 32 MiB mapping. Everything sleeps a little
 * between steps so the eye can follow. It is not an accuracy scenario: it has no
 * checkpoints.
 */
#include "scenario.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1UL << 20)

static double deadline;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps ms milliseconds; returns 0 once the demo's time is up. */
static int pause_ms(long ms)
{
	if (now() >= deadline)
		return 0;
	sc_sleep_ms(ms);
	return now() < deadline;
}

static void *churn(void *arg)
{
	enum { SLOTS = 64 };
	char *slot[SLOTS] = {0};
	unsigned seed = 7;
	int i;

	while (pause_ms(40)) {
		for (i = 0; i < 8; i++) {
			int k;
			size_t size;

			seed = seed * 1103515245u + 12345u;
			k = (int)(seed >> 16) % SLOTS;
			size = 1024 + (seed >> 8) % (96 * 1024);
			free(slot[k]);
			slot[k] = malloc(size);
			if (slot[k])
				memset(slot[k], 0x5a, size);
		}
	}
	for (i = 0; i < SLOTS; i++)
		free(slot[i]);
	return NULL;
}

static void child_wave(void)
{
	const size_t pages = 32 * MIB / SC_PAGE;
	char *p = sc_map(pages * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	size_t pos = 0, width = pages / 8;

	while (pause_ms(25)) {
		/* A band of resident pages travelling through the mapping. */
		size_t start = pos % pages, n = width / 16;

		sc_touch(sc_pg(p, start), (pages - start < n ? pages - start : n) * SC_PAGE,
			 SC_PAGE);
		if (pos >= width) {
			size_t back = (start + pages - width) % pages;

			sc_madvise(sc_pg(p, back), (pages - back < n ? pages - back : n) * SC_PAGE,
				   MADV_DONTNEED);
		}
		pos += n;
	}
	_exit(0);
}

static void main_cycle(void)
{
	const size_t size = 64 * MIB;
	char *p = sc_map(size, PROT_READ | PROT_WRITE, 0);
	char *q;
	size_t off;

	for (off = 0; off < size; off += MIB) {
		sc_touch(p + off, MIB, SC_PAGE);
		if (!pause_ms(30))
			goto out;
	}
	for (off = 0; off < size; off += 8 * MIB) {
		sc_madvise(p + off, 4 * MIB, MADV_DONTNEED);
		if (!pause_ms(150))
			goto out;
	}
	for (off = 0; off < size; off += 2 * MIB) {
		sc_touch(p + off + ((off / (2 * MIB)) % 2) * MIB, MIB, 2 * SC_PAGE);
		if (!pause_ms(40))
			goto out;
	}
	sc_unmap(p + 24 * MIB, 16 * MIB);
	if (!pause_ms(500))
		goto out_split;
	q = mremap(p + 40 * MIB, 24 * MIB, 40 * MIB, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		sc_die(1, "mremap");
	for (off = 24 * MIB; off < 40 * MIB; off += MIB) {
		sc_touch(q + off, MIB, SC_PAGE);
		if (!pause_ms(30))
			break;
	}
	pause_ms(500);
	sc_unmap(q, 40 * MIB);
	sc_unmap(p, 24 * MIB);
	return;
out_split:
	sc_unmap(p, 24 * MIB);
	sc_unmap(p + 40 * MIB, 24 * MIB);
	return;
out:
	sc_unmap(p, size);
}

int main(int argc, char **argv)
{
	double seconds = 60;
	pthread_t t;
	pid_t child;
	int status;

	if (argc == 3 && strcmp(argv[1], "--seconds") == 0) {
		seconds = atof(argv[2]);
	} else if (argc != 1) {
		fprintf(stderr, "usage: demo [--seconds N]\n");
		return 2;
	}
	deadline = now() + seconds;
	printf("demo: pid %d, running for %.0f s\n", (int)getpid(), seconds);
	fflush(stdout);
	child = fork();
	if (child < 0)
		sc_die(1, "fork");
	if (child == 0)
		child_wave();
	SC_CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
	while (now() < deadline) {
		main_cycle();
		pause_ms(300);
	}
	SC_CHECK(pthread_join(t, NULL) == 0);
	if (waitpid(child, &status, 0) != child)
		sc_die(1, "waitpid");
	printf("demo: done\n");
	return 0;
}
