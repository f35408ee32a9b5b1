/*
 * spawn — mevi-run becomes PROGRAM (same pid) while a hidden grandchild, in a
 * session of its own, becomes its tracer (contract and diagram: spawn.h).
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "filter.h"
#include "handoff.h"
#include "log.h"
#include "target.h"

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

/* Reads exactly len bytes; returns false on EOF or error. */
static bool read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static void write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
}

/* Says why exec failed, in a shell's words (target.h); returns 127 or 126. */
static int report_exec_error(const char *prog, int err)
{
	/* The file is there (it was resolved): its interpreter is not. */
	if (err == ENOENT && strchr(prog, '/') && access(prog, F_OK) == 0) {
		fprintf(stderr, "mevi-run: %s: bad interpreter: %s\n", prog, strerror(err));
		return 127; /* as a shell */
	}
	return target_report(prog, -err);
}

/* Reads the tracer's hello ('R' and its pid). */
static bool read_hello(int fd, pid_t *tracer)
{
	char hello[1 + sizeof(pid_t)];

	if (!read_full(fd, hello, sizeof(hello)) || hello[0] != 'R')
		return false;
	memcpy(tracer, hello + 1, sizeof(*tracer));
	return true;
}

/* Installs prog when go is 'g' (traced) and execs argv, telling the tracer
 * why when it cannot. */
static void __attribute__((noreturn))
run_program(int fd, char *const argv[], const struct sock_fprog *prog, char go)
{
	int err;

	if (go == 'g' && prog) {
		err = filter_load(prog);
		if (err) {
			char msg[2] = {'F', (char)-err};

			fprintf(
			    stderr,
			    "mevi: cannot install the seccomp filter (%s); the program runs with "
			    "memory syscalls unobserved\n",
			    strerror(-err));
			write_full(fd, msg, 2);
		}
	}
	execvp(argv[0], argv);
	err = errno;
	char msg[2] = {'E', (char)err};

	int code = report_exec_error(argv[0], err);

	write_full(fd, msg, 2);
	_exit(code);
}

/*
 * The original process: lets the tracer in (Yama's ptrace_scope=1 allows a
 * non-ancestor tracer only when named), waits for its word, installs the
 * filter and becomes PROGRAM. A missing tracer (EOF) means untracked.
 */
static void __attribute__((noreturn))
become_program(int fd, char *const argv[], const struct sock_fprog *prog)
{
	char go = 'n';
	pid_t tracer;

	if (read_hello(fd, &tracer)) {
		if (prog) /* EINVAL without Yama */
			prctl(PR_SET_PTRACER, (unsigned long)tracer, 0, 0, 0);
		write_full(fd, "A", 1);
		if (!read_full(fd, &go, 1))
			go = 'n';
	}
	run_program(fd, argv, prog, go);
}

/* The tracer's side of the handshake's start: names itself (become_program
 * lets it in) and waits for the go-ahead. */
static bool greet_program(int fd)
{
	char hello[1 + sizeof(pid_t)] = {'R'}, ack;
	pid_t me = getpid();

	memcpy(hello + 1, &me, sizeof(me));
	write_full(fd, hello, sizeof(hello));
	return read_full(fd, &ack, 1) && ack == 'A';
}

/* The tracer's stdin and stdout: /dev/null, so that pipes on PROGRAM's see
 * EOF when it ends. */
static void quiet_stdio(void)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		close(devnull);
	}
}

/* PROGRAM's own process group, the terminal's foreground one when there is
 * a terminal: its signals then reach PROGRAM alone, never pid 1 too. */
static void own_foreground_group(pid_t pid, bool foreground)
{
	setpgid(pid, pid);
	if (foreground) {
		void (*old)(int) = signal(SIGTTOU, SIG_IGN);

		tcsetpgrp(STDIN_FILENO, pid);
		signal(SIGTTOU, old);
	}
}

/* pid 1: PROGRAM is the child, the tracer stays (spawn.h). */
static int spawn_as_init(struct spawn *sp, int sv[2], char *const argv[],
			 const struct sock_fprog *prog)
{
	bool fg = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	pid_t child = fork();

	if (child < 0)
		return -errno;
	if (child == 0) {
		close(sv[1]);
		own_foreground_group(getpid(), fg);
		become_program(sv[0], argv, prog);
	}
	close(sv[0]);
	own_foreground_group(child, fg); /* whichever runs first */
	if (!greet_program(sv[1])) {
		/* PROGRAM went its own way: be the init it needs. */
		close(sv[1]);
		quiet_stdio();
		for (int st;;) {
			pid_t w = waitpid(-1, &st, 0);

			if (w == child)
				_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			if (w < 0 && errno != EINTR)
				_exit(125);
		}
	}
	quiet_stdio();
	sp->program = child;
	sp->program_parent = getpid();
	sp->fd = sv[1];
	sp->init = true;
	return 0;
}

/* When no tracer can be made: says so and runs PROGRAM alone. */
static void __attribute__((noreturn)) run_untracked(char *const argv[])
{
	fprintf(stderr, "mevi: cannot start the tracer (%s); the program runs untracked\n",
		strerror(errno));
	execvp(argv[0], argv);
	_exit(report_exec_error(argv[0], errno));
}

/*
 * The grandchild (spawn.h): returns 0 in the tracer (in a session of its
 * own, stdin and stdout on /dev/null, with sv[1]), the short-lived middle
 * process's pid in the original (with sv[0]), or -1 with errno set and both
 * ends closed.
 */
static pid_t fork_tracer(int sv[2])
{
	pid_t mid = fork();

	if (mid < 0) {
		int err = errno;

		close(sv[0]);
		close(sv[1]);
		errno = err;
		return -1;
	}
	if (mid == 0) {
		/* The middle: the tracer is its child, so that PROGRAM never
		 * sees a child it did not create. */
		close(sv[0]);
		pid_t tracer = fork();

		if (tracer != 0)
			_exit(tracer < 0 ? 1 : 0);
		setsid(); /* out of the job: no terminal signals, no group signals */
		quiet_stdio();
		return 0;
	}
	close(sv[1]);
	return mid;
}

static void reap_middle(pid_t mid)
{
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The handshake's socket pair, *sp cleared; untracked when there is none. */
static void open_handshake(struct spawn *sp, int sv[2], char *const argv[])
{
	fflush(NULL);
	memset(sp, 0, sizeof(*sp));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		run_untracked(argv);
}

int spawn_tracer(struct spawn *sp, char *const argv[], const struct sock_fprog *prog)
{
	int sv[2];
	pid_t self = getpid(), parent = getppid(), mid;

	open_handshake(sp, sv, argv);
	if (self == 1) {
		int err = spawn_as_init(sp, sv, argv, prog);

		if (!err)
			return 0;
		close(sv[0]);
		close(sv[1]);
		errno = -err;
		run_untracked(argv);
	}
	mid = fork_tracer(sv);
	if (mid < 0)
		run_untracked(argv);
	if (mid == 0) {
		if (!greet_program(sv[1]))
			_exit(0); /* PROGRAM went its own way */
		sp->program = self;
		sp->program_parent = parent;
		sp->fd = sv[1];
		return 0;
	}
	reap_middle(mid);
	become_program(sv[0], argv, prog);
}

int spawn_hand_off(struct spawn *sp, handoff_fn *fn, void *arg)
{
	memset(sp, 0, sizeof(*sp));
	sp->program = getpid();
	sp->program_parent = getppid();
	sp->fd = -1;
	return handoff_start(fn, arg);
}

int spawn_hand_off_wait(struct spawn *sp)
{
	(void)sp;
	return handoff_ready();
}

void spawn_exec_handed(char *const argv[])
{
	int err = handoff_exec(argv);

	_exit(report_exec_error(argv[0], err));
}

void spawn_call_off(struct spawn *sp)
{
	(void)sp;
	handoff_cancel();
}

void spawn_handed(struct spawn *sp)
{
	quiet_stdio();
	sp->handed = true;
}

void spawn_release(struct spawn *sp, bool traced)
{
	if (!sp->handed)
		write_full(sp->fd, traced ? "g" : "n", 1);
}

int spawn_wait_exec(struct spawn *sp, void (*idle)(void *arg), void *arg)
{
	int exec_err = 0;
	char msg[2];
	size_t got = 0;

	if (sp->handed)
		return 0;
	for (;;) {
		struct pollfd p = {.fd = sp->fd, .events = POLLIN};
		int n = poll(&p, 1, idle ? 50 : -1);

		if (n == 0) {
			idle(arg);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		ssize_t r = read(sp->fd, msg + got, sizeof(msg) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got < 2)
			continue;
		got = 0;
		if (msg[0] == 'E') {
			exec_err = msg[1];
			break; /* PROGRAM is exiting; no need to wait for EOF */
		}
	}
	close(sp->fd);
	sp->fd = -1;
	return exec_err;
}

void spawn_background(const char *program, const pid_t *pids, size_t total)
{
	char list[SPAWN_NAMED * 12] = "";
	size_t off = 0;

	for (size_t i = 0; i < total && i < SPAWN_NAMED; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, " %d", (int)pids[i]);
	log_info("%s ended; following the %zu processes it left running (%s%s) in the background",
		 program, total, list[0] ? list + 1 : "", total > SPAWN_NAMED ? " ..." : "");
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (devnull >= 0) {
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
}

void spawn_init_end(const char *program, size_t total)
{
	log_info("%s ended as its pid namespace's init: ending the %zu processes it left "
		 "running, as the kernel would",
		 program, total);
	kill(-1, SIGKILL); /* everyone in the namespace but pid 1 */
}

/* Whether pid has a handler for sig (SigCgt in /proc/PID/status). */
static bool catches(pid_t pid, int sig)
{
	char path[32], line[128];
	unsigned long long mask;
	bool yes = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigCgt: %llx", &mask) == 1) {
			yes = sig >= 1 && sig <= 64 && (mask >> (sig - 1) & 1);
			break;
		}
	fclose(f);
	return yes;
}

bool spawn_init_forward(const struct spawn *sp, int sig)
{
	if (!sp->init || sp->program <= 0 || !catches(sp->program, sig))
		return false;
	return kill(sp->program, sig) == 0;
}

void spawn_init_reap(void)
{
	while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
		;
}
