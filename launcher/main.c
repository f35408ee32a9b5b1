/*
 * mevi-run — runs a program under mevi's eye.
 *
 *   mevi-run [--socket PATH] [--no-spawn] [--record FILE] [--] PROGRAM [ARGS...]
 *
 * Forks PROGRAM, seizes it with ptrace, installs the seccomp filter that
 * stops only memory syscalls, execs it, and from then on runs one libevent
 * loop over the tracees' wait statuses (SIGCHLD), their userfaultfds, the
 * daemon socket and a flush timer. Exits with PROGRAM's status.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backtrace.h"
#include "event.h"
#include "filter.h"
#include "heat.h"
#include "link.h"
#include "log.h"
#include "outbox.h"
#include "recorder.h"
#include "syscalls.h"
#include "tracee.h"

#define FLUSH_MS 4

struct launcher {
	struct event_base *base;
	struct outbox out;
	struct link link;
	struct tracee_table *tracees;
	char **argv; /* PROGRAM ARGS... */
	uint64_t started_at;
	pid_t self;
	struct event *flush_ev;
	struct event *stop_self_ev;
	bool stop_self_pending;
	struct recorder rec;
	bool to_link;	    /* batches go to the daemon link */
	bool to_recorder;   /* ... and to the recording */
	unsigned sample_ms; /* --sample: the interval; 0 in exact mode */
	pid_t attach_pid;   /* --pid */
	bool scan_layout;   /* --layout=scan: no filter, layouts re-read each tick */
	bool detached;	    /* --pid: let go by Ctrl-C or --detach-after */
};

/* The outbox's sink: the daemon link and, with --record, the recording. */
static void send_batch(const void *batch, size_t len, void *arg)
{
	struct launcher *l = arg;

	if (l->to_link)
		link_send(batch, len, &l->link);
	if (l->to_recorder)
		recorder_write(&l->rec, batch, len);
}

/* Parses a decimal in [min, max]. Returns 0 or -EINVAL. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mevi-run [--socket PATH] [--no-spawn] [--record FILE] [--backtraces MODE]\n"
	    "                [--backtrace-depth N] [--sample[=MS] [--layout=scan]] [--] PROGRAM [ARGS...]\n"
	    "       mevi-run [--socket PATH] [--no-spawn] [--record FILE] --pid PID [--exact]\n"
	    "                [--detach-after S]\n"
	    "       (both forms also take --heat[=MS])\n"
	    "\n"
	    "Runs PROGRAM and shows how it and every process it spawns use memory,\n"
	    "live, in the browser (mevid serves http://127.0.0.1:5001/ by default).\n"
	    "\n"
	    "  --socket PATH  mevid's socket (default: $MEVI_SOCKET, else\n"
	    "                 $XDG_RUNTIME_DIR/mevi/mevid.sock, else /tmp/mevi-$UID/mevid.sock)\n"
	    "  --no-spawn     do not start mevid when none is running\n"
	    "  --record FILE  also write the session to FILE, a .mevi recording that\n"
	    "                 `mevid --load FILE` or the browser opens (implies --no-spawn)\n"
	    "  --backtraces MODE\n"
	    "                 who mapped memory, and which thread first touched it:\n"
	    "                 mmap (default): the call stack of every anonymous mmap,\n"
	    "                 mremap and heap growth (brk) is recorded as the origin of\n"
	    "                 the new range (except in the first 2 ms of a freshly exec'd\n"
	    "                 program: its loader), and each page is tagged with the\n"
	    "                 thread that first touched it; all: as mmap, also in those\n"
	    "                 2 ms (a stop per mapping call of every program), and the call\n"
	    "                 stacks of madvise calls that drop pages (stacks only:\n"
	    "                 origins stay those of the mapping calls); off: neither,\n"
	    "                 at no cost\n"
	    "  --backtrace-depth N\n"
	    "                 frames kept per call stack, 1..256 (default 32)\n"
	    "  --sample[=MS]  sampled mode: no userfaultfd; every kind of memory (files,\n"
	    "                 shared memory, stacks) is shown, and residency is read\n"
	    "                 every MS milliseconds (default 50; backs off when a scan\n"
	    "                 costs more than 2%% of a core) instead of at each first touch\n"
	    "  --layout=scan  with --sample: no syscall stops at all (no seccomp filter);\n"
	    "                 layouts are re-read at each scan instead of at mmap/munmap\n"
	    "                 (the default, --layout=stops, keeps them event-exact); no\n"
	    "                 backtraces then: there are no stops to unwind at\n"
	    "  --pid PID      attach to the running process PID (sampled mode) instead of\n"
	    "                 starting PROGRAM; Ctrl-C detaches and leaves it running\n"
	    "  --exact        with --pid: exact mode instead: a userfaultfd is injected\n"
	    "                 into the process (first touches are seen), but layout changes\n"
	    "                 are found by re-reading it every 50 ms, not at syscalls\n"
	    "  --detach-after S\n"
	    "                 with --pid: detach after S seconds\n"
	    "  --heat[=MS]    hot and cold memory: every MS milliseconds (default 1000)\n"
	    "                 the pages written since the previous scan are found\n"
	    "                 (asynchronous userfaultfd write-protect + PAGEMAP_SCAN,\n"
	    "                 Linux 6.7+; a written page costs one in-kernel fault per\n"
	    "                 interval); backs off when a scan costs more than 2%% of a core\n"
	    "  --help         this text\n"
	    "  --version      print the version\n"
	    "\n"
	    "Environment: MEVI_LOG=error|warn|info|debug|trace (default info).\n"
	    "Exit status: PROGRAM's (128+N if killed by signal N; 127 if not found).\n");
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void emit_session_start(struct launcher *l, bool resume)
{
	struct mevi_event ev = {.type = MEVI_EV_SESSION_START, .pid = l->self};
	uint32_t n = 0;

	while (l->argv[n])
		n++;
	struct mevi_str *items = calloc(n ? n : 1, sizeof(*items));
	MEVI_ASSERT(items);
	for (uint32_t i = 0; i < n; i++) {
		items[i].ptr = l->argv[i];
		items[i].len = (uint32_t)strlen(l->argv[i]);
	}
	ev.session_start.version = MEVI_PROTO_VERSION;
	ev.session_start.mode = l->sample_ms ? MEVI_MODE_SAMPLED : MEVI_MODE_EXACT;
	ev.session_start.sample_ms =
	    l->sample_ms && l->tracees ? tracee_sample_ms(l->tracees) : l->sample_ms;
	if (!ev.session_start.sample_ms)
		ev.session_start.sample_ms = l->sample_ms;
	ev.session_start.resume = resume;
	ev.session_start.started_at = l->started_at;
	ev.session_start.argv.count = n;
	ev.session_start.argv.items = items;
	outbox_emit(&l->out, &ev);
	free(items);
}

/* The link (re)connected: replay the whole session. */
static void on_snapshot(bool resume, void *arg)
{
	struct launcher *l = arg;

	/* What is queued belongs to the recording, not to the new connection,
	 * which must start with session_start; the snapshot is for the daemon
	 * only (the recording already has all of it). */
	l->to_link = false;
	outbox_flush(&l->out);
	l->to_link = true;
	l->to_recorder = false;
	emit_session_start(l, resume);
	if (l->tracees)
		tracee_snapshot(l->tracees);
	outbox_flush(&l->out);
	l->to_recorder = l->rec.f != NULL;
}

static void on_tracee_notify(void *arg, bool terminal_stop)
{
	struct launcher *l = arg;

	outbox_flush(&l->out);
	if (terminal_stop && l->stop_self_ev && !l->stop_self_pending) {
		/* Let the other threads' group-stops be handled first. */
		struct timeval tv = {0, 20000};

		l->stop_self_pending = true;
		evtimer_add(l->stop_self_ev, &tv);
	}
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;

	if (outbox_pending(&l->out))
		outbox_flush(&l->out);
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct launcher *l = arg;

	tracee_reap(l->tracees);
	if (tracee_all_gone(l->tracees))
		event_base_loopbreak(l->base);
}

static void forward_cb(evutil_socket_t sig, short what, void *arg)
{
	struct launcher *l = arg;

	tracee_forward_signal(l->tracees, (int)sig);
}

/* Child side of the spawn: wait for the tracer, filter, exec. Never returns. */
static void run_child(char **argv, int go_fd, int err_fd, const struct sock_fprog *prog)
{
	char go = 0;
	int err;

	while (read(go_fd, &go, 1) < 0 && errno == EINTR)
		;
	if (go == 'g') {
		err = filter_load(prog);
		if (err) {
			char msg[2] = {'F', (char)-err};

			(void)!write(err_fd, msg, 2);
		}
	}
	execvp(argv[0], argv);
	err = errno;
	char msg[2] = {'E', (char)err};
	(void)!write(err_fd, msg, 2);
	_exit(err == ENOENT ? 127 : 126);
}

/*
 * Waits for the child to exec (the close-on-exec error pipe reaches EOF) or
 * to report why it could not. Stops that happen meanwhile are handled, so a
 * traced syscall before exec cannot deadlock us. Returns the exec errno, or 0.
 */
static int wait_exec(struct launcher *l, int err_fd, bool traced)
{
	int exec_err = 0;
	char msg[2];
	size_t got = 0;

	for (;;) {
		struct pollfd p = {.fd = err_fd, .events = POLLIN};
		int n = poll(&p, 1, 50);

		if (n == 0) {
			if (traced)
				tracee_reap(l->tracees);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		ssize_t r = read(err_fd, msg + got, sizeof(msg) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got < 2)
			continue;
		got = 0;
		if (msg[0] == 'F')
			fprintf(stderr,
				"mevi: cannot install the seccomp filter (%s); the program runs "
				"with memory syscalls unobserved\n",
				strerror(msg[1]));
		else if (msg[0] == 'E') {
			exec_err = msg[1];
			break; /* the child is exiting; no need to wait for EOF */
		}
	}
	return exec_err;
}

static void report_exec_error(const char *prog, int err)
{
	if (err == ENOENT)
		fprintf(stderr, "mevi-run: %s: command not found\n", prog);
	else
		fprintf(stderr, "mevi-run: %s: %s\n", prog, strerror(err));
}

/* Runs the program without tracing (ptrace was refused) and returns its status. */
static int run_untraced(pid_t pid)
{
	int status;

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int launch(struct launcher *l)
{
	struct sock_fprog prog = {0};
	int go[2], errp[2], err, exec_err;
	pid_t pid;

	err = filter_build(&prog);
	if (err) {
		fprintf(stderr, "mevi-run: cannot build the seccomp filter: %s\n", strerror(-err));
		return 125;
	}
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		fprintf(stderr, "mevi-run: pipe: %s\n", strerror(errno));
		return 125;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "mevi-run: fork: %s\n", strerror(errno));
		return 125;
	}
	if (pid == 0) {
		close(go[1]);
		close(errp[0]);
		run_child(l->argv, go[0], errp[1], &prog);
	}
	close(go[0]);
	close(errp[1]);
	filter_free(&prog);

	bool traced = ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)TRACEE_PTRACE_OPTIONS) == 0;
	if (!traced) {
		fprintf(stderr,
			"mevi: ptrace is not permitted here (%s), so the program runs untracked: "
			"run mevi-run as root, or allow ptrace of children "
			"(`sudo sysctl kernel.yama.ptrace_scope=1`)\n",
			strerror(errno));
	} else {
		tracee_adopt(l->tracees, pid, l->self, l->argv);
	}
	/* 'g': install the filter and exec; 'n': just exec. */
	(void)!write(go[1], traced && !l->scan_layout ? "g" : "n", 1);
	close(go[1]);
	exec_err = wait_exec(l, errp[0], traced);
	close(errp[0]);
	if (exec_err)
		report_exec_error(l->argv[0], exec_err);
	if (!traced)
		return run_untraced(pid);
	return -1;
}

/* The command line of a running process as an argv array whose strings live
 * in *text; the caller frees both. NULL with errno on failure. */
static char **read_proc_argv(pid_t pid, char **text)
{
	char path[64], *buf;
	size_t len = 0, n = 0, cap = 1 << 20;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len < cap && (r = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	char *fit = realloc(buf, len + 1); /* give back the rest of the megabyte */
	if (fit)
		buf = fit;
	for (size_t i = 0; i < len; i++)
		n += buf[i] == '\0';
	if (len && buf[len - 1] != '\0')
		n++;
	char **argv = calloc(n + 2, sizeof(*argv));
	if (!argv) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	n = 0;
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		argv[n++] = buf + i;
	if (n == 0) /* a kernel thread or a zombie: nameless */
		argv[n++] = "?";
	*text = buf;
	return argv;
}

/* --pid: seize the running process. Returns -1 to run the loop, or an
 * exit status. */
static int attach(struct launcher *l)
{
	int err = tracee_attach(l->tracees, l->attach_pid, l->self);

	if (err == -EPERM)
		fprintf(stderr,
			"mevi-run: cannot attach to %d: not permitted (run as root, as its owner "
			"with kernel.yama.ptrace_scope=0, or it is already traced)\n",
			(int)l->attach_pid);
	else if (err)
		fprintf(stderr, "mevi-run: cannot attach to %d: %s\n", (int)l->attach_pid,
			strerror(-err));
	return err ? 1 : -1;
}

/* Ctrl-C, SIGTERM or --detach-after with --pid: let the process go. */
static void detach_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;

	outbox_flush(&l->out);
	tracee_detach(l->tracees);
	tracee_reap(l->tracees);
	if (tracee_all_gone(l->tracees))
		event_base_loopbreak(l->base);
}

/* Ctrl-Z: the program entered a terminal stop; stop mevi-run too, so the
 * shell sees the job stopped. SIGCONT to the job resumes both. */
static void stop_self_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;

	l->stop_self_pending = false;
	outbox_flush(&l->out);
	kill(l->self, SIGSTOP);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"no-spawn", no_argument, NULL, 'n'},
	    {"record", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"backtraces", required_argument, NULL, 0x100},
	    {"backtrace-depth", required_argument, NULL, 0x101},
	    {"sample", optional_argument, NULL, 0x200},
	    {"exact", no_argument, NULL, 0x203},
	    {"layout", required_argument, NULL, 0x204},
	    {"pid", required_argument, NULL, 0x201},
	    {"detach-after", required_argument, NULL, 0x202},
	    {"heat", optional_argument, NULL, 0x300},
	    {NULL, 0, NULL, 0},
	};
	unsigned long num;
	unsigned detach_after = 0;
	bool exact = false;
	unsigned heat_ms = 0; /* --heat: the interval; 0 when off */
	int bt_mode = BACKTRACE_MMAP;
	unsigned long bt_depth = BACKTRACE_DEFAULT_DEPTH;
	char *num_end;
	struct launcher l = {0};
	char socket_path[108] = "";
	bool may_spawn = true;
	const char *record_path = NULL;
	int opt, status, end_status = -2;
	char **attach_argv = NULL, *attach_text = NULL;
	struct event *detach_ev = NULL, *detach_timer = NULL;

	log_init("mevi-run");
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			snprintf(socket_path, sizeof(socket_path), "%s", optarg);
			break;
		case 'n':
			may_spawn = false;
			break;
		case 'r':
			record_path = optarg;
			may_spawn = false;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mevi-run %s (protocol %d)\n", MEVI_VERSION, MEVI_PROTO_VERSION);
			return 0;
		case 0x100: /* --backtraces */
			bt_mode = backtrace_mode_parse(optarg);
			if (bt_mode < 0) {
				fprintf(stderr,
					"mevi-run: --backtraces: %s is not off, mmap or all\n",
					optarg);
				return 2;
			}
			break;
		case 0x200: /* --sample[=MS] */
			l.sample_ms = 50;
			if (optarg && parse_uint(optarg, 1, 3600 * 1000, &num) == 0)
				l.sample_ms = (unsigned)num;
			else if (optarg) {
				fprintf(stderr, "mevi-run: --sample=%s: not 1..3600000 ms\n",
					optarg);
				return 2;
			}
			break;
		case 0x204: /* --layout=stops|scan */
			if (strcmp(optarg, "scan") && strcmp(optarg, "stops")) {
				fprintf(stderr, "mevi-run: --layout: %s is not stops or scan\n",
					optarg);
				return 2;
			}
			l.scan_layout = !strcmp(optarg, "scan");
			break;
		case 0x300: /* --heat[=MS] */
			heat_ms = 1000;
			if (optarg && parse_uint(optarg, 10, 3600 * 1000, &num) == 0)
				heat_ms = (unsigned)num;
			else if (optarg) {
				fprintf(stderr, "mevi-run: --heat=%s: not 10..3600000 ms\n",
					optarg);
				return 2;
			}
			break;
		case 0x203: /* --exact */
			exact = true;
			break;
		case 0x201: /* --pid */
			if (parse_uint(optarg, 1, INT32_MAX, &num)) {
				fprintf(stderr, "mevi-run: --pid %s: not a process id\n", optarg);
				return 2;
			}
			l.attach_pid = (pid_t)num;
			break;
		case 0x202: /* --detach-after */
			if (parse_uint(optarg, 1, 365 * 86400, &num)) {
				fprintf(stderr, "mevi-run: --detach-after %s: not 1..31536000 s\n",
					optarg);
				return 2;
			}
			detach_after = (unsigned)num;
			break;
		case 0x101: /* --backtrace-depth */
			errno = 0;
			bt_depth = strtoul(optarg, &num_end, 10);
			if (errno || num_end == optarg || *num_end || bt_depth < 1 ||
			    bt_depth > MEVI_STACK_MAX_FRAMES) {
				fprintf(stderr, "mevi-run: --backtrace-depth: %s is not 1..%d\n",
					optarg, MEVI_STACK_MAX_FRAMES);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (l.attach_pid && optind < argc) {
		fprintf(stderr, "mevi-run: --pid attaches to a running process; no PROGRAM\n");
		return 2;
	}
	if (optind >= argc && !l.attach_pid) {
		usage(stderr);
		return 2;
	}
	if (detach_after && !l.attach_pid) {
		fprintf(stderr, "mevi-run: --detach-after needs --pid\n");
		return 2;
	}
	if (l.scan_layout && !l.sample_ms) {
		fprintf(stderr, "mevi-run: --layout=scan needs --sample\n");
		return 2;
	}
	if (exact && l.sample_ms) {
		fprintf(stderr, "mevi-run: --exact and --sample exclude each other\n");
		return 2;
	}
	if (!socket_path[0] && link_default_socket(socket_path, sizeof(socket_path))) {
		fprintf(stderr, "mevi-run: socket path too long\n");
		return 2;
	}
	l.argv = argv + optind;
	if (l.attach_pid) {
		l.argv = attach_argv = read_proc_argv(l.attach_pid, &attach_text);
		if (!l.argv) {
			fprintf(stderr, "mevi-run: --pid %d: %s\n", (int)l.attach_pid,
				errno == ENOENT ? "no such process" : strerror(errno));
			return 1;
		}
		if (!l.sample_ms && !exact)
			l.sample_ms = 50; /* attaching is sampled unless --exact */
	}
	if (l.sample_ms) {
		mm_set_sampled(true);
		traced_syscalls_select(SYSCALLS_SAMPLED);
	}
	l.self = getpid();
	l.started_at = realtime_ns();
	l.base = event_base_new();
	if (!l.base) {
		fprintf(stderr, "mevi-run: cannot create the event loop\n");
		return 125;
	}
	if (record_path) {
		int err = recorder_open(&l.rec, record_path, l.started_at);

		if (err) {
			fprintf(stderr, "mevi-run: cannot record to %s: %s\n", record_path,
				strerror(-err));
			return 2;
		}
	}
	l.to_link = true;
	l.to_recorder = l.rec.f != NULL;
	outbox_init(&l.out, send_batch, &l);
	link_init(&l.link, l.base, socket_path, may_spawn, on_snapshot, &l);
	l.tracees = tracee_table_new(l.base, &l.out, on_tracee_notify, &l);
	MEVI_ASSERT(l.tracees);
	tracee_set_backtraces(l.tracees, bt_mode, (unsigned)bt_depth);
	if (heat_ms) {
		char why[256];

		if (heat_probe(why, sizeof(why)))
			fprintf(stderr, "mevi-run: %s; carrying on without it\n", why);
		else if (heat_start(l.base, &l.out, heat_ms, l.sample_ms != 0))
			log_warn("cannot start --heat: out of memory");
	}

	/* SIGCHLD must be caught before the first child can report a stop. */
	struct event *chld_ev = evsignal_new(l.base, SIGCHLD, sigchld_cb, &l);
	event_add(chld_ev, NULL);

	link_start(&l.link, 3000);
	emit_session_start(&l, false);
	status = l.attach_pid ? attach(&l) : launch(&l);
	if (status >= 0)
		goto done;
	/* Sampled mode scans residency; an exact attach has no syscall stops and
	 * re-reads layouts at the same pace. */
	if ((l.sample_ms || l.attach_pid) &&
	    tracee_start_sampling(l.tracees, l.sample_ms ? l.sample_ms : 50, l.self,
				  l.sample_ms != 0, l.scan_layout || l.attach_pid))
		log_warn("cannot start the sampler: out of memory");

	/* The terminal's signals reach the program directly; mevi-run stays out
	 * of their way, and forwards the polite requests to terminate. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	if (l.attach_pid) {
		/* Attached: Ctrl-C, SIGTERM and --detach-after let the process go. */
		struct timeval after = {detach_after, 0};

		detach_ev = evsignal_new(l.base, SIGINT, detach_cb, &l);
		event_add(detach_ev, NULL);
		detach_timer = evtimer_new(l.base, detach_cb, &l);
		if (detach_after)
			evtimer_add(detach_timer, &after);
	}
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	struct event *term_ev =
	    evsignal_new(l.base, SIGTERM, l.attach_pid ? detach_cb : forward_cb, &l);
	struct event *hup_ev = evsignal_new(l.base, SIGHUP, forward_cb, &l);
	event_add(term_ev, NULL);
	event_add(hup_ev, NULL);
	struct timeval flush_tv = {0, FLUSH_MS * 1000};
	l.flush_ev = event_new(l.base, -1, EV_PERSIST, flush_cb, &l);
	event_add(l.flush_ev, &flush_tv);
	l.stop_self_ev = evtimer_new(l.base, stop_self_cb, &l);

	tracee_reap(l.tracees);
	if (!tracee_all_gone(l.tracees))
		event_base_dispatch(l.base);

	status = tracee_main_status(l.tracees);
	if (l.attach_pid && tracee_detached(l.tracees)) {
		fprintf(stderr, "mevi: detached from %d, which carries on\n", (int)l.attach_pid);
		status = 0;
		end_status = -1; /* still running: its exit status is not ours to know */
	} else if (status < 0) {
		status = 125;
	}
	if (l.sample_ms) {
		uint64_t cpu_ns, ticks;

		tracee_sampler_cost(l.tracees, &cpu_ns, &ticks);
		log_info("sampler: %llu scans, %.3f ms of CPU each on average, last interval %u ms",
			 (unsigned long long)ticks,
			 ticks ? (double)cpu_ns / 1e6 / (double)ticks : 0.0,
			 tracee_sample_ms(l.tracees));
	}
	{
		const struct mm_stats *st = tracee_stats(l.tracees);

		log_debug("stops %lu, faults served %lu, resyncs %lu, untracked VMAs %lu, "
			  "events %lu, bytes sent %lu",
			  (unsigned long)st->stops, (unsigned long)st->faults,
			  (unsigned long)st->resyncs, (unsigned long)st->untracked,
			  (unsigned long)l.out.events_total, l.link.bytes_sent);
	}
	event_free(term_ev);
	if (detach_ev)
		event_free(detach_ev);
	if (detach_timer)
		event_free(detach_timer);
	event_free(hup_ev);
	event_free(l.flush_ev);
	event_free(l.stop_self_ev);
done:
	tracee_finish(l.tracees); /* source lines still being looked up */
	struct mevi_event end = {.type = MEVI_EV_SESSION_END, .pid = l.self};

	end.session_end.status = end_status == -2 ? status : end_status;
	outbox_emit(&l.out, &end);
	outbox_flush(&l.out);
	link_finish(&l.link, 2000);
	if (record_path) {
		int err = recorder_close(&l.rec);

		if (err)
			fprintf(stderr, "mevi: the recording %s is incomplete: %s\n", record_path,
				strerror(-err));
		else
			fprintf(stderr, "mevi: recorded %llu bytes to %s\n",
				(unsigned long long)l.rec.bytes, record_path);
	}
	event_free(chld_ev);
	heat_stop();
	tracee_table_free(l.tracees);
	outbox_destroy(&l.out);
	event_base_free(l.base);
	free(attach_argv);
	free(attach_text);
	return status;
}
