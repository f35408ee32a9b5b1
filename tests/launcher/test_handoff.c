/*
 * The eBPF engine's split without a fork (launcher/spawn.h, handoff.h): once
 * PROGRAM has exec'd, the successor carries on with what the original had
 * (memory written and descriptors opened after it was made), as an ordinary
 * process of its own (its own pid and session, glibc's view of its thread
 * right, the original's signal mask, a signal it raises reaching itself),
 * not a child of PROGRAM nor of PROGRAM's parent; PROGRAM keeps the
 * launcher's pid and exit status and none of the successor's descriptors.
 * A failed exec, a call-off (before the successor is surely made, or after),
 * or an original that dies first sends the successor away without running it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "spawn.h"

/* What the successor saw, written to the test over a pipe. */
struct report {
	pid_t pid, ppid, sid, program;
	int handed;  /* spawn_handed() set sp->handed */
	int after;   /* memory the original wrote after the hand-off */
	int wrote;   /* a descriptor it opened after the hand-off works */
	int tid_ok;  /* glibc's tid word is the kernel's, and says our tid */
	int rseq_ok; /* glibc's restartable-sequence area is registered */
	int mask_ok; /* the original's signal mask: SIGUSR2 blocked, SIGUSR1 not */
	int raised;  /* raise(SIGUSR1) reached this process */
	int cpu;     /* sched_getcpu() */
};

enum original_does { EXEC, EXEC_MISSING, CALL_OFF, WAIT_CALL_OFF, DIE };

static struct spawn sp;
static int res_fd = -1, data_fd = -1, after;
static pid_t *glibc_tid_word; /* the launcher's thread's, before the hand-off */
static volatile sig_atomic_t raised;

static void on_usr1(int sig)
{
	(void)sig;
	raised++;
}

static int successor(void *arg)
{
	struct report rep = {.pid = getpid(), .ppid = getppid(), .sid = getsid(0)};
	pid_t *tid_word = NULL;
	sigset_t now;

	(void)arg;
	spawn_handed(&sp);
	rep.program = sp.program;
	rep.handed = sp.handed;
	rep.after = after;
	rep.wrote = write(data_fd, "via-fd", 6) == 6;
	rep.tid_ok = prctl(PR_GET_TID_ADDRESS, &tid_word, 0, 0, 0) == 0 &&
		     tid_word == glibc_tid_word && *tid_word == (pid_t)syscall(SYS_gettid) &&
		     *tid_word == getpid();
	/* Registered already: the kernel says EBUSY to the same area again. */
	rep.rseq_ok =
	    !__rseq_size || (syscall(SYS_rseq, (char *)__builtin_thread_pointer() + __rseq_offset,
				     __rseq_size < 32 ? 32 : __rseq_size, 0, RSEQ_SIG) < 0 &&
			     errno == EBUSY);
	pthread_sigmask(SIG_SETMASK, NULL, &now);
	rep.mask_ok = sigismember(&now, SIGUSR2) && !sigismember(&now, SIGUSR1);
	signal(SIGUSR1, on_usr1);
	rep.raised = raise(SIGUSR1) == 0 && raised == 1;
	rep.cpu = sched_getcpu();
	if (write(res_fd, &rep, sizeof(rep)) != sizeof(rep))
		return 1;
	return 0;
}

/*
 * Runs a launcher that hands off and whose original does what; returns its
 * exit status (PROGRAM's own after an exec). *got is how many bytes of *rep
 * the successor wrote (0: it never ran); *data_end reads what it wrote
 * through the descriptor opened after the hand-off.
 */
static int run(enum original_does what, struct report *rep, ssize_t *got, int *data_end)
{
	int res[2], data[2], status;
	pid_t launcher;

	assert_int_equal(pipe2(res, O_CLOEXEC), 0);
	assert_int_equal(pipe(data), 0);
	launcher = fork();
	assert_true(launcher >= 0);
	if (launcher == 0) {
		static char fd_check[64];
		char *program[] = {"sh", "-c", fd_check, NULL};
		char *missing[] = {"/nonexistent/mevi-test-program", NULL};
		sigset_t usr2;

		close(res[0]);
		close(data[0]);
		res_fd = res[1];
		sigemptyset(&usr2);
		sigaddset(&usr2, SIGUSR2);
		sigprocmask(SIG_BLOCK, &usr2, NULL);
		prctl(PR_GET_TID_ADDRESS, &glibc_tid_word, 0, 0, 0);
		if (spawn_hand_off(&sp, successor, NULL) != 0)
			_exit(99);
		/* After the hand-off: seen by the successor, as memory and as
		 * a close-on-exec descriptor PROGRAM does not get. */
		after = 42;
		data_fd = fcntl(data[1], F_DUPFD_CLOEXEC, 100);
		close(data[1]);
		snprintf(fd_check, sizeof(fd_check), "test -e /proc/$$/fd/%d && exit 8; exit 7",
			 data_fd);
		/* The successor is being made meanwhile (handoff.h). */
		if (what != CALL_OFF && what != DIE && spawn_hand_off_wait(&sp) != 0)
			_exit(98);
		switch (what) {
		case EXEC:
			spawn_exec_handed(program);
		case EXEC_MISSING:
			spawn_exec_handed(missing);
		case CALL_OFF:
		case WAIT_CALL_OFF:
			spawn_call_off(&sp);
			/* Alone again: nothing of the successor's is left. */
			_exit(write(data_fd, "alone", 5) == 5 ? 3 : 1);
		case DIE:
			raise(SIGKILL);
		}
		_exit(1);
	}
	close(res[1]);
	close(data[1]);
	assert_int_equal(waitpid(launcher, &status, 0), launcher);
	/* The middle process was reaped; the successor is not our child. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	memset(rep, 0, sizeof(*rep));
	*got = read(res[0], rep, sizeof(*rep));
	/* EOF: the successor is gone (it held the write end). */
	char more;

	assert_int_equal(read(res[0], &more, 1), 0);
	close(res[0]);
	*data_end = data[0];
	if (*got == sizeof(*rep))
		assert_int_equal(rep->program, launcher);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_exec(void **state)
{
	struct report rep;
	char buf[8] = {0};
	ssize_t got;
	int data, status = run(EXEC, &rep, &got, &data);

	(void)state;
	assert_int_equal(status, 7); /* PROGRAM ran, with none of our descriptors */
	assert_int_equal(got, sizeof(rep));
	assert_true(rep.pid != rep.program);
	assert_true(rep.ppid != rep.program);
	assert_int_equal(rep.sid, rep.pid);
	assert_true(rep.handed);
	assert_int_equal(rep.after, 42);
	assert_true(rep.wrote);
	assert_true(rep.tid_ok);
	assert_true(rep.rseq_ok);
	assert_true(rep.mask_ok);
	assert_true(rep.raised);
	assert_true(rep.cpu >= 0 && rep.cpu < CPU_SETSIZE);
	assert_int_equal(read(data, buf, 6), 6);
	assert_string_equal(buf, "via-fd");
	close(data);
}

static void test_exec_fails(void **state)
{
	struct report rep;
	ssize_t got;
	int data, status = run(EXEC_MISSING, &rep, &got, &data);

	(void)state;
	assert_int_equal(status, 127); /* as a shell says "not found" */
	assert_int_equal(got, 0);      /* the successor left without running */
	close(data);
}

static void call_off(enum original_does what)
{
	struct report rep;
	char buf[8] = {0};
	ssize_t got;
	int data, status = run(what, &rep, &got, &data);

	assert_int_equal(status, 3); /* the original went on alone */
	assert_int_equal(got, 0);
	assert_int_equal(read(data, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "alone");
	close(data);
}

/* While the middle may still be making the successor. */
static void test_call_off(void **state)
{
	(void)state;
	call_off(CALL_OFF);
}

/* Once it surely is. */
static void test_call_off_after_wait(void **state)
{
	(void)state;
	call_off(WAIT_CALL_OFF);
}

static void test_original_dies(void **state)
{
	struct report rep;
	ssize_t got;
	int data, status = run(DIE, &rep, &got, &data);

	(void)state;
	assert_int_equal(status, 128 + SIGKILL);
	assert_int_equal(got, 0);
	close(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec),	  cmocka_unit_test(test_exec_fails),
	    cmocka_unit_test(test_call_off),	  cmocka_unit_test(test_call_off_after_wait),
	    cmocka_unit_test(test_original_dies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
