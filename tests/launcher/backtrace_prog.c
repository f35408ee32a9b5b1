/*
 * backtrace_prog — known call paths and threads for tests/launcher/test_backtraces.py.
 *
 *   backtrace_prog paths    alloc_big_a and alloc_big_b each mmap a region
 *                           (4 MiB and 8 MiB), grow_heap_c grows the heap by
 *                           1 MiB with sbrk, remap_d grows a region with
 *                           mremap; prints "a=ADDR b=ADDR c=OLD:NEW d=ADDR:LEN"
 *                           and stays 200 ms
 *   backtrace_prog exit     two threads mmap/munmap in a loop (each call is
 *                           unwound) while the main thread exits with 7
 *   backtrace_prog exec     the same, and a third thread execs
 *                           "/bin/sh -c 'exit 5'" (exec while being unwound)
 *   backtrace_prog threads  three threads named toucher-0..2 each touch every
 *                           page of their own 64-page region; prints
 *                           "region I TID START END" per thread
 *
 * Built four times (tests/launcher/CMakeLists.txt): with and without frame
 * pointers, with and without debug information. The lines marked LINE_A and
 * LINE_B are the calls the test expects as the source of those frames.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB  (1024 * 1024)
#define RW   (PROT_READ | PROT_WRITE)
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

__attribute__((noinline)) char *alloc_big_a(void)
{
	char *p = mmap(NULL, 4 * MIB, RW, ANON, -1, 0); /* LINE_A */

	if (p == MAP_FAILED)
		return NULL;
	p[0] = 1; /* after the call: no tail call, the frame stays */
	return p;
}

__attribute__((noinline)) char *alloc_big_b(void)
{
	char *p = mmap(NULL, 8 * MIB, RW, ANON, -1, 0); /* LINE_B */

	if (p == MAP_FAILED)
		return NULL;
	p[0] = 2;
	return p;
}

__attribute__((noinline)) char *grow_heap_c(void)
{
	char *old = sbrk(MIB);

	if (old == (void *)-1)
		return NULL;
	old[0] = 3;
	return old;
}

__attribute__((noinline)) char *remap_d(char *p, size_t old_len, size_t new_len)
{
	char *q = mremap(p, old_len, new_len, MREMAP_MAYMOVE);

	if (q == MAP_FAILED)
		return NULL;
	q[0] = 4;
	return q;
}

static volatile int stop_churn;

static void *churn(void *arg)
{
	while (!stop_churn) {
		void *p =
		    mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, 65536);
	}
	return arg;
}

static void *exec_thread(void *arg)
{
	usleep(20000);
	execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
	_exit(126);
}

struct toucher {
	int idx;
	char *region;
	pid_t tid;
};

static pthread_barrier_t named;

static void *touch_region(void *arg)
{
	struct toucher *t = arg;
	char name[16];

	snprintf(name, sizeof(name), "toucher-%d", t->idx);
	pthread_setname_np(pthread_self(), name);
	t->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&named);
	/* Past mevi-run's name re-check interval (5 ms): the first touch of
	 * the region sees the new name even if the thread faulted before. */
	usleep(30000);
	for (int i = 0; i < 64; i++)
		t->region[i * 4096] = (char)i;
	return NULL;
}

static int paths(void)
{
	char *a = alloc_big_a();
	char *b = alloc_big_b();
	char *heap = sbrk(0);
	char *c = grow_heap_c();
	char *d0 = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *d = d0 == MAP_FAILED ? NULL : remap_d(d0, 2 * MIB, 6 * MIB);

	if (!a || !b || !c || !d)
		return 1;
	printf("a=%lu b=%lu c=%lu:%lu d=%lu:%lu:%lu\n", (unsigned long)a, (unsigned long)b,
	       (unsigned long)heap, (unsigned long)sbrk(0), (unsigned long)d0, (unsigned long)d,
	       (unsigned long)(6 * MIB));
	return 0;
}

static int threads(void)
{
	struct toucher t[3];
	pthread_t th[3];

	usleep(20000); /* let mevi-run attach its userfaultfd first */
	pthread_barrier_init(&named, NULL, 4);
	for (int i = 0; i < 3; i++) {
		t[i].idx = i;
		t[i].region = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t[i].region == MAP_FAILED)
			return 1;
		pthread_create(&th[i], NULL, touch_region, &t[i]);
	}
	pthread_barrier_wait(&named);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++)
		printf("region %d %d %lu %lu\n", i, (int)t[i].tid, (unsigned long)t[i].region,
		       (unsigned long)(t[i].region + 64 * 4096));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "paths";
	pthread_t t[3];

	/* paths: after the 2 ms in which a process is young (only
	 * --backtraces=all unwinds then); paths-young: right away. */
	if (!strcmp(mode, "paths")) {
		int ret;

		usleep(10000);
		ret = paths();
		/* The eBPF engine unwinds against a module list read while the
		 * process lives, a few ms after its first stack (longer on a
		 * loaded machine: CI saw its tracker still attaching when an
		 * ASan build of this had already exited). A program that
		 * stays a moment, as most do, is unwound
		 * (launcher/README.md, the eBPF engine's backtraces). */
		fflush(stdout);
		usleep(200000);
		return ret;
	}
	if (!strcmp(mode, "paths-young"))
		return paths();
	if (!strcmp(mode, "paths-fork")) {
		/* A fork child that maps memory at once: young, but not an
		 * exec'd image, so it is unwound by default. */
		int status = 0;
		pid_t child;

		fflush(stdout);
		child = fork();
		if (child == 0) {
			int ret = paths();

			fflush(stdout);
			_exit(ret);
		}
		if (child < 0 || waitpid(child, &status, 0) != child)
			return 1;
		/* The eBPF engine unwinds a few ms after the syscall, against
		 * a layout read while a process of that image still lived: a
		 * parent that stays a moment (as most do) is that process
		 * (launcher/README.md, the eBPF engine's backtraces). */
		usleep(200000);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	if (!strcmp(mode, "threads"))
		return threads();
	if (strcmp(mode, "exit") && strcmp(mode, "exec")) {
		fprintf(stderr,
			"usage: backtrace_prog [paths|paths-young|paths-fork|exit|exec|threads]\n");
		return 2;
	}
	pthread_create(&t[0], NULL, churn, NULL);
	pthread_create(&t[1], NULL, churn, NULL);
	if (!strcmp(mode, "exec")) {
		pthread_create(&t[2], NULL, exec_thread, NULL);
		pause();
	}
	usleep(20000);
	exit(7); /* with the churning threads in or around an unwind */
}
