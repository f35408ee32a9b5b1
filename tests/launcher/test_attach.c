/*
 * Attaching to a running process (launcher/attach.h): every thread of a
 * multi-threaded child is seized once, a second round finds none new, the
 * child's parent and its running threads' stack pointers are read from
 * /proc, each thread is released and the child runs on untraced; seizing a
 * thread of our own process or a pid that does not exist fails with the
 * kernel's errno.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "attach.h"
#include "procfs.h"

#define NTHREADS 3

struct tids {
	pid_t tid[16];
	size_t n;
	unsigned seized;
};

static bool known(void *ctx, pid_t tid)
{
	struct tids *t = ctx;

	for (size_t i = 0; i < t->n; i++)
		if (t->tid[i] == tid)
			return true;
	return false;
}

static void seized(void *ctx, pid_t tid)
{
	struct tids *t = ctx;

	assert_false(known(ctx, tid));
	assert_true(t->n < 16);
	t->tid[t->n++] = tid;
	t->seized++;
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

/* The child of the running test, killed by teardown when a check failed. */
static pid_t child;

/* A child with NTHREADS threads besides its main one, going to sleep. */
static pid_t start_child(void)
{
	int pfd[2];
	pid_t pid;
	char c = 0;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t th;

		for (int i = 0; i < NTHREADS; i++)
			if (pthread_create(&th, NULL, sleeper, NULL))
				_exit(1);
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		sleeper(NULL);
	}
	child = pid;
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	return pid;
}

static int kill_child(void **unused)
{
	int st;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, &st, __WALL);
		child = 0;
	}
	return 0;
}

static size_t count_tasks(pid_t pid)
{
	char path[64];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		n += atoi(de->d_name) > 0;
	closedir(d);
	return n;
}

static long tracer_of(pid_t pid)
{
	char buf[4096];
	long tracer = -1;

	assert_int_equal(procfs_status_read(pid, buf, sizeof(buf)), 0);
	assert_true(procfs_status_field(buf, "TracerPid", &tracer));
	return tracer;
}

static void seizes_every_thread_once_and_releases_them(void **unused)
{
	pid_t pid = start_child();
	struct tids t = {0};
	int err, st;

	assert_int_equal(attach_parent(pid), getpid());
	err = attach_seize_threads(pid, known, seized, &t);
	if (err == -EPERM)
		skip(); /* no permission to ptrace here (ptrace_scope, a container) */
	assert_int_equal(err, 0);
	assert_int_equal(t.seized, NTHREADS + 1);
	assert_int_equal(count_tasks(pid), NTHREADS + 1);
	assert_true(known(&t, pid));
	assert_int_equal(tracer_of(pid), getpid());

	/* A second round finds nothing new. */
	assert_int_equal(attach_seize_threads(pid, known, seized, &t), 0);
	assert_int_equal(t.seized, NTHREADS + 1);

	/* Seized, not stopped: a sleeping thread's stack pointer is known (0
	 * only while it runs: a thread may still be on its way to pause()). */
	for (size_t i = 0; i < t.n; i++) {
		uint64_t sp = 0;

		for (int tries = 0; t.tid[i] != pid && !sp && tries < 2000; tries++) {
			sp = procfs_task_sp(pid, t.tid[i]);
			if (!sp)
				usleep(1000);
		}
		assert_true(t.tid[i] == pid || sp != 0);
	}

	/* Release: each thread is stopped first, as tracee_detach() asks. */
	for (size_t i = 0; i < t.n; i++) {
		assert_int_equal(ptrace(PTRACE_INTERRUPT, t.tid[i], NULL, NULL), 0);
		assert_int_equal(waitpid(t.tid[i], &st, __WALL), t.tid[i]);
		assert_true(WIFSTOPPED(st));
		attach_release_thread(t.tid[i], 0);
	}
	assert_int_equal(tracer_of(pid), 0);
	attach_release_thread(t.tid[0], 0); /* not traced any more: ESRCH, no harm */
	assert_int_equal(kill(pid, 0), 0);  /* runs on */
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	child = 0;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void refusals_carry_the_kernels_errno(void **unused)
{
	struct tids t = {0};

	/* A thread of our own process cannot be seized. */
	assert_int_equal(attach_seize_threads(getpid(), known, seized, &t), -EPERM);
	assert_int_equal(t.seized, 0);
	/* A pid with no /proc entry (beyond pid_max). */
	assert_int_equal(attach_seize_threads(1 << 23, known, seized, &t), -ENOENT);
	assert_int_equal(attach_parent(1 << 23), -ENOENT);
	assert_int_equal(procfs_task_sp(1 << 23, 1 << 23), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(seizes_every_thread_once_and_releases_them, kill_child),
	    cmocka_unit_test(refusals_carry_the_kernels_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
