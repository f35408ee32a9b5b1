/*
 * storm — programs with the patterns that break tracers: threads born while
 * the process ends or execs, fork storms, stop/continue, sandboxes, group
 * signals, daemons. tests/stress/stress.py runs each one natively and under
 * mevi-run and compares what happens (exit status, signal deliveries, time to
 * return, processes left behind).
 *
 *   storm CASE [ARG]
 *
 * Cases (the expected native exit status in brackets):
 *   exit0        thread storm, then exit(0) from main                  [0]
 *   worker_exit3 thread storm, then _exit(3) from a worker              [3]
 *   self_kill    thread storm, then SIGKILL to itself                   [137]
 *   self_term    thread storm, then SIGTERM to itself                   [143]
 *   child_kill   a forked child storms; the parent SIGKILLs it, waits   [0]
 *   exec_leader  thread storm, then main execs `storm done`             [0]
 *   exec_worker  thread storm, then a worker execs `storm done`         [0]
 *   fork_storm   three threads fork 8 children each, which touch 1 MiB  [0]
 *   spin         thread storm forever (attach/detach, stop/continue)    [-]
 *   sleeper      sleeps ARG ms touching a page every 10 ms, exit(0)     [0]
 *   sandbox_kill|sandbox_errno|sandbox_trap
 *                installs a seccomp allow-list (default action KILL, ERRNO
 *                or TRAP, userfaultfd not allowed), then forks a child that
 *                maps and touches memory                                [0]
 *   sandbox_exec installs the KILL allow-list, then execs `storm sleeper 50` [0]
 *   count_term   counts SIGTERM and SIGHUP deliveries for ARG ms, prints
 *                "term=N hup=M" and exits 0                             [0]
 *   daemon       setsid double-fork: the grandchild lives ARG ms; exit 0 [0]
 *   done         exits 0 (the exec target)                              [0]
 */
#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1UL << 20)

static const char *self_exe;
static atomic_int stop_storm;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* 20..40 ms, different per run. */
static long jitter_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 20 + (long)(ts.tv_nsec / 1000 % 21);
}

static void touch_mib(void)
{
	char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	for (size_t i = 0; i < MIB; i += 4096)
		p[i] = 1;
	munmap(p, MIB);
}

static void *short_lived(void *arg)
{
	(void)arg;
	touch_mib();
	return NULL;
}

/* Keeps creating short-lived threads until told to stop. */
static void *spawner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_storm)) {
		pthread_t t;
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &a, short_lived, NULL) != 0)
			sleep_ms(1);
		pthread_attr_destroy(&a);
	}
	return NULL;
}

static void start_storm(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, spawner, NULL) != 0) {
			perror("storm: pthread_create");
			exit(2);
		}
		pthread_detach(t);
	}
}

static void *worker_exit3(void *arg)
{
	(void)arg;
	sleep_ms(jitter_ms());
	_exit(3);
}

static void *worker_exec(void *arg)
{
	(void)arg;
	sleep_ms(jitter_ms());
	execl(self_exe, "storm", "done", (char *)NULL);
	perror("storm: execl");
	_exit(2);
}

static void *forker(void *arg)
{
	int n = *(int *)arg;

	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			touch_mib();
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	return NULL;
}

static int fork_storm(void)
{
	pthread_t t[3];
	int n = 8;

	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, forker, &n);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* An allow-list like a privilege-separated child's: what this program needs,
 * nothing else (userfaultfd is not on it). */
static int sandbox(uint32_t deflt)
{
	static const int allowed[] = {
	    SCMP_SYS(read),
	    SCMP_SYS(write),
	    SCMP_SYS(mmap),
	    SCMP_SYS(munmap),
	    SCMP_SYS(mprotect),
	    SCMP_SYS(brk),
	    SCMP_SYS(madvise),
	    SCMP_SYS(exit),
	    SCMP_SYS(exit_group),
	    SCMP_SYS(clone),
	    SCMP_SYS(clone3),
	    SCMP_SYS(fork),
	    SCMP_SYS(vfork),
	    SCMP_SYS(wait4),
	    SCMP_SYS(waitid),
	    SCMP_SYS(execve),
	    SCMP_SYS(rt_sigaction),
	    SCMP_SYS(rt_sigprocmask),
	    SCMP_SYS(rt_sigreturn),
	    SCMP_SYS(nanosleep),
	    SCMP_SYS(clock_nanosleep),
	    SCMP_SYS(getpid),
	    SCMP_SYS(gettid),
	    SCMP_SYS(set_robust_list),
	    SCMP_SYS(rseq),
	    SCMP_SYS(set_tid_address),
	    SCMP_SYS(arch_prctl),
	    SCMP_SYS(access),
	    SCMP_SYS(openat),
	    SCMP_SYS(close),
	    SCMP_SYS(newfstatat),
	    SCMP_SYS(fstat),
	    SCMP_SYS(pread64),
	    SCMP_SYS(prlimit64),
	    SCMP_SYS(getrandom),
	    SCMP_SYS(futex),
	    SCMP_SYS(clock_gettime),
	    SCMP_SYS(mremap),
	    SCMP_SYS(readlink),
	    SCMP_SYS(sched_getaffinity),
	    SCMP_SYS(tgkill),
	    SCMP_SYS(getppid),
	    SCMP_SYS(statx),
	    SCMP_SYS(lseek),
	    SCMP_SYS(ioctl),
	};
	scmp_filter_ctx ctx = seccomp_init(deflt);
	int err;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
		if (err)
			goto out;
	}
	err = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return err;
}

static int sandboxed_fork(uint32_t deflt)
{
	int status, err = sandbox(deflt);

	if (err) {
		fprintf(stderr, "storm: seccomp: %s\n", strerror(-err));
		return 2;
	}
	/* Let a tracer attach the parent's address space first. */
	sleep_ms(10);
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			sleep_ms(5); /* past a tracer's attach delay */
			for (int j = 0; j < 8; j++)
				touch_mib();
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			return 2;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "storm: sandboxed child ended with status %#x\n", status);
			return 1;
		}
	}
	return 0;
}

static atomic_int nterm, nhup;

static void count_sig(int sig)
{
	if (sig == SIGTERM)
		atomic_fetch_add(&nterm, 1);
	else
		atomic_fetch_add(&nhup, 1);
}

static int count_term(long ms)
{
	struct sigaction sa = {.sa_handler = count_sig};

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	sleep_ms(ms);
	printf("term=%d hup=%d\n", atomic_load(&nterm), atomic_load(&nhup));
	return 0;
}

static int daemonize(long ms)
{
	pid_t pid = fork();

	if (pid < 0)
		return 2;
	if (pid > 0) {
		waitpid(pid, NULL, 0);
		return 0;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	touch_mib();
	sleep_ms(ms);
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";
	long arg = argc > 2 ? atol(argv[2]) : 0;

	self_exe = "/proc/self/exe";
	if (!strcmp(c, "done"))
		return 0;
	if (!strcmp(c, "fork_storm"))
		return fork_storm();
	if (!strcmp(c, "sandbox_kill"))
		return sandboxed_fork(SCMP_ACT_KILL_PROCESS);
	if (!strcmp(c, "sandbox_errno"))
		return sandboxed_fork(SCMP_ACT_ERRNO(EPERM));
	if (!strcmp(c, "sandbox_trap"))
		return sandboxed_fork(SCMP_ACT_TRAP);
	if (!strcmp(c, "sandbox_exec")) {
		if (sandbox(SCMP_ACT_KILL_PROCESS))
			return 2;
		execl(self_exe, "storm", "sleeper", "50", (char *)NULL);
		return 2;
	}
	if (!strcmp(c, "count_term"))
		return count_term(arg ? arg : 1000);
	if (!strcmp(c, "daemon"))
		return daemonize(arg ? arg : 3000);
	if (!strcmp(c, "sleeper")) {
		char *p =
		    mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		for (long t = 0; t < (arg ? arg : 1000) && p != MAP_FAILED; t += 10) {
			p[(t / 10 * 4096) % MIB] = 1; /* a page every 10 ms */
			sleep_ms(10);
		}
		return 0;
	}
	if (!strcmp(c, "child_kill")) {
		pid_t pid = fork();

		if (pid == 0) {
			start_storm(3);
			for (;;)
				pause();
		}
		sleep_ms(jitter_ms());
		kill(pid, SIGKILL);
		int status;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : 1;
	}

	start_storm(3);
	if (!strcmp(c, "spin")) {
		for (;;)
			pause();
	}
	if (!strcmp(c, "worker_exit3") || !strcmp(c, "exec_worker")) {
		pthread_t t;

		pthread_create(&t, NULL, !strcmp(c, "worker_exit3") ? worker_exit3 : worker_exec,
			       NULL);
		for (;;)
			pause();
	}
	sleep_ms(jitter_ms());
	if (!strcmp(c, "exit0"))
		exit(0);
	if (!strcmp(c, "self_kill"))
		raise(SIGKILL);
	if (!strcmp(c, "self_term"))
		kill(getpid(), SIGTERM);
	if (!strcmp(c, "exec_leader")) {
		execl(self_exe, "storm", "done", (char *)NULL);
		perror("storm: execl");
		return 2;
	}
	if (strcmp(c, "self_term") && strcmp(c, "self_kill")) {
		fprintf(stderr, "storm: unknown case '%s'\n", c);
		return 2;
	}
	sleep_ms(1000);
	return 1;
}
