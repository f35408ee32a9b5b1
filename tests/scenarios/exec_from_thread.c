/*
 * Scenario: exec from a non-leader thread.
 *
 * The main thread writes 64 pages and starts a second thread, which writes its
 * own 16 pages and then execve()s /proc/self/exe with "--second". The kernel
 * kills the other threads and the exec'ing thread takes over the process id (the
 * tid that carried the pid changes). The second incarnation writes 8 pages.
 *
 * Checkpoints (same pid for all):
 *   threaded       two threads, 64 + 16 pages present
 *   second         after the exec: one thread, 8 of 16 new pages present
 */
#include "scenario.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

static pthread_barrier_t barrier;
static char *self_path;

static void *execer(void *arg)
{
	char *args[] = {self_path, "--second", NULL};
	char *p = sc_map(16 * SC_PAGE, PROT_READ | PROT_WRITE, 0);

	sc_touch(p, 16 * SC_PAGE, SC_PAGE);
	*(char **)arg = p;
	pthread_barrier_wait(&barrier);
	/* The main thread checkpoints here. */
	pthread_barrier_wait(&barrier);
	execve("/proc/self/exe", args, environ);
	sc_die(1, "execve /proc/self/exe from a thread");
}

int main(int argc, char **argv)
{
	pthread_t t;
	char *p, *q = NULL;

	if (argc > 1 && strcmp(argv[1], "--second") == 0) {
		p = sc_map(16 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
		sc_touch(p, 16 * SC_PAGE, 2 * SC_PAGE);
		SC_CHECKPOINT("second", SC_EXPECT(p, 16 * SC_PAGE, 8));
		return 0;
	}
	self_path = argv[0];
	p = sc_map(64 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	sc_touch(p, 64 * SC_PAGE, SC_PAGE);
	SC_CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
	SC_CHECK(pthread_create(&t, NULL, execer, &q) == 0);
	pthread_barrier_wait(&barrier);
	SC_CHECKPOINT("threaded", SC_EXPECT(p, 64 * SC_PAGE, 64), SC_EXPECT(q, 16 * SC_PAGE, 16));
	pthread_barrier_wait(&barrier);
	/* The exec kills this thread; block until it does. */
	for (;;)
		pause();
}
