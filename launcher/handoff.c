/*
 * handoff — see handoff.h. The successor's life: made asleep by a middle
 * process (both share this process's memory and descriptor table), woken by
 * the kernel when this process leaves the address space (exec or death) or
 * by handoff_cancel(), and then either gone or the tracker.
 */
#include "handoff.h"

#include <errno.h>
#include <linux/futex.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#endif

/* The successor's stack: it runs the tracker's whole life there. */
#define STACK_BYTES (8u << 20)
#define GUARD_BYTES 4096u

/* The futex word's value while the successor is to sleep. */
#define ASLEEP 1u

enum stage {
	READY,	 /* the successor sleeps; this process prepares */
	EXECING, /* this process is in execvp(): a wake-up means it is gone */
	LEFT,	 /* handoff_cancel(): the successor leaves */
};

/* One successor at a time: its state lives in the shared memory. */
static struct {
	_Atomic uint32_t word; /* ASLEEP until this process leaves or lets go */
	_Atomic int stage;
	_Atomic pid_t alive; /* the successor's pid while it lives (a futex) */
	handoff_fn *fn;
	void *arg;
	pid_t *tid_word; /* glibc's tid word of this process's thread */
	void *robust;	 /* this thread's robust-futex list head */
	size_t robust_len;
	sigset_t mask; /* this thread's signal mask before handoff_start() */
	char *stack;   /* NULL once given back (release) */
	pid_t middle;  /* the middle process until it is reaped (0 after) */
} h;

/* The middle process's stack: it clones and exits. */
static char middle_stack[16384] __attribute__((aligned(64)));

static long futex(volatile void *word, int op, uint32_t val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

#ifdef RSEQ_SIG
static unsigned rseq_len(void)
{
	return __rseq_size < 32 ? 32 : __rseq_size;
}
#endif

/*
 * The kernel's per-thread state that glibc set up for this process's thread,
 * taken over in the successor: the tid word that pthread functions read as
 * "my tid" (and that the kernel clears at exit), the robust-futex list, and
 * the restartable-sequence area (registered by the kernel per task: the exec
 * dropped the original's registration, and a CLONE_VM child never had one).
 */
static void take_over_thread(void)
{
	*h.tid_word = (pid_t)syscall(SYS_gettid);
	syscall(SYS_set_tid_address, h.tid_word);
	if (h.robust)
		syscall(SYS_set_robust_list, h.robust, h.robust_len);
#ifdef RSEQ_SIG
	if (__rseq_size) {
		struct rseq *r =
		    (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);

		/* glibc registers at least the original 32 bytes (__rseq_size
		 * says how many it uses). When this fails, as glibc does:
		 * sched_getcpu() then asks the kernel, not a stale area. */
		if (syscall(SYS_rseq, r, rseq_len(), 0, RSEQ_SIG) != 0)
			r->cpu_id = (uint32_t)RSEQ_CPU_ID_REGISTRATION_FAILED;
	}
#endif
}

/*
 * The middle and the successor run on stacks AddressSanitizer was not told
 * of: left uninstrumented, their calls to _exit() and exit() do not warn
 * that it cannot unpoison the stack they leave (the process ends there).
 */
#define ON_OWN_STACK __attribute__((no_sanitize("address")))

static ON_OWN_STACK int successor(void *unused)
{
	(void)unused;
	/* Only the futex syscall until the word changes: its wrapper writes
	 * errno (shared) only when the word has changed already, when this
	 * process is gone or waits in handoff_cancel(), which restores it. */
	while (atomic_load(&h.word) == ASLEEP)
		futex(&h.word, FUTEX_WAIT, ASLEEP);
	if (atomic_load(&h.stage) != EXECING)
		_exit(0); /* let go, or died before its exec */
	take_over_thread();
	setsid(); /* before any signal is let in */
	pthread_sigmask(SIG_SETMASK, &h.mask, NULL);
	exit(h.fn(h.arg));
}

static ON_OWN_STACK int middle(void *unused)
{
	(void)unused;
	/* h.alive is set before clone() returns (in the shared memory), and
	 * cleared with a wake-up when the successor exits while this
	 * process still shares the memory (handoff_cancel waits on it). */
	pid_t pid =
	    clone(successor, h.stack + STACK_BYTES,
		  CLONE_VM | CLONE_FILES | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD,
		  NULL, (pid_t *)&h.alive, NULL, (pid_t *)&h.alive);

	_exit(pid < 0 ? 1 : 0);
}

/* What handoff_start() took, given back: the tid word and the stack. */
static void release(void)
{
	if (!h.stack)
		return;
	syscall(SYS_set_tid_address, h.tid_word);
	munmap(h.stack, STACK_BYTES);
	h.stack = NULL;
}

/* Reaps the middle, once: whether it made the successor (h.alive is set
 * before its clone() returns, in the shared memory). */
static bool reap_middle(void)
{
	while (h.middle > 0 && waitpid(h.middle, NULL, __WALL) < 0 && errno == EINTR)
		;
	h.middle = 0;
	return atomic_load(&h.alive) != 0;
}

int handoff_start(handoff_fn *fn, void *arg)
{
	int saved = errno, err = 0;
	sigset_t all;
	pid_t mid;

	h.tid_word = NULL;
	if (prctl(PR_GET_TID_ADDRESS, &h.tid_word, 0, 0, 0) != 0 || !h.tid_word)
		return -ENOSYS;
	if (syscall(SYS_get_robust_list, 0, &h.robust, &h.robust_len) != 0)
		h.robust = NULL;
	h.stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (h.stack == MAP_FAILED) {
		err = -errno;
		h.stack = NULL;
		errno = saved;
		return err;
	}
	mprotect(h.stack, GUARD_BYTES, PROT_NONE);
	h.fn = fn;
	h.arg = arg;
	atomic_store(&h.word, ASLEEP);
	atomic_store(&h.stage, READY);
	atomic_store(&h.alive, 0);
	/* Both children start with every signal blocked: a terminal's ^C
	 * before the exec must not run a handler on the shared memory. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &h.mask);
	syscall(SYS_set_tid_address, (int *)&h.word);
	/* No exit signal: the middle ends while this process is busy, and a
	 * SIGCHLD then, queued for a ptraced process (strace, gdb) or one that
	 * handles it, interrupts what it is doing (the BPF verifier gives up
	 * with EAGAIN). It is reaped with __WALL. */
	mid = clone(middle, middle_stack + sizeof(middle_stack), CLONE_VM | CLONE_FILES, NULL);
	if (mid < 0) {
		err = -errno;
		release();
	}
	h.middle = mid < 0 ? 0 : mid;
	/* The children have their copy of the full mask already. */
	pthread_sigmask(SIG_SETMASK, &h.mask, NULL);
	errno = saved;
	return err;
}

int handoff_ready(void)
{
	int saved = errno, err = 0;

	if (!reap_middle()) {
		err = -EAGAIN; /* the middle could not clone */
		release();
	}
	errno = saved;
	return err;
}

void handoff_cancel(void)
{
	int saved = errno;
	pid_t pid;

	reap_middle();
	atomic_store(&h.stage, LEFT);
	atomic_store(&h.word, 0);
	futex(&h.word, FUTEX_WAKE, INT_MAX);
	while ((pid = atomic_load(&h.alive)) != 0)
		futex(&h.alive, FUTEX_WAIT, (uint32_t)pid);
	release();
	errno = saved;
}

int handoff_exec(char *const argv[])
{
	int err;

	fflush(NULL); /* the successor must not write what PROGRAM inherits */
	atomic_store(&h.stage, EXECING);
	execvp(argv[0], argv);
	err = errno;
	handoff_cancel();
	return err;
}
