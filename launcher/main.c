/*
 * mevi-run — runs a program under mevi's eye.
 *
 *   mevi-run [--socket PATH] [--no-spawn] [--record FILE] [--] PROGRAM [ARGS...]
 *
 * Splits in two (spawn.h): the process the shell started installs the
 * seccomp filter that stops only memory syscalls and execs PROGRAM; a hidden
 * grandchild seizes it with ptrace and from then on runs one libevent loop
 * over the tracees' wait statuses (SIGCHLD), their userfaultfds, the daemon
 * socket and a flush timer. With --pid, this process attaches and traces.
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
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backtrace.h"
#include "ebpf.h"
#include "event.h"
#include "filter.h"
#include "heat.h"
#include "link.h"
#include "log.h"
#include "outbox.h"
#include "recorder.h"
#include "sandbox.h"
#include "spawn.h"
#include "summary.h"
#include "syscalls.h"
#include "target.h"
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
	struct recorder rec;
	struct spawn spawn; /* launched (not --pid): PROGRAM and its handshake */
	bool to_link;	    /* batches go to the daemon link */
	bool to_recorder;   /* ... and to the recording */
	unsigned sample_ms; /* --sample: the interval; 0 in exact mode */
	pid_t attach_pid;   /* --pid */
	bool scan_layout;   /* --layout=scan: no filter, layouts re-read each tick */
	bool detached;	    /* --pid: let go by Ctrl-C or --detach-after */
	/* No session yet: the program has not exec'd (or the attach not
	 * succeeded). Nothing leaves the launcher until session_begin(), so a
	 * launch that fails creates no session and no recording. */
	bool held;
	bool exec_failed;	 /* the program could not be executed */
	struct summary *summary; /* --summary: fed every batch (proto/summary.h) */
	struct ebpf *bpf;	 /* the eBPF engine, when it runs the program (else tracees) */
};

/* The outbox's sink: the daemon link and, with --record, the recording. */
static void send_batch(const void *batch, size_t len, void *arg)
{
	struct launcher *l = arg;

	if (l->held)
		return;
	if (l->to_link)
		link_send(batch, len, &l->link);
	if (l->to_recorder)
		recorder_write(&l->rec, batch, len);
	if (l->summary)
		summary_feed_batch(l->summary, batch, len);
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
	    "                [--backtrace-depth N] [--sample[=MS] [--layout=scan]]\n"
	    "                [--engine=auto|ebpf|ptrace] [--] PROGRAM [ARGS...]\n"
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
	    "  --listen HOST:PORT\n"
	    "                 where a mevid this starts serves HTTP (default 127.0.0.1:5001,\n"
	    "                 or the next free port when that one is taken)\n"
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
	    "  --engine=auto|ebpf|ptrace\n"
	    "                 how memory is observed. ebpf: kernel tracepoints (root, or\n"
	    "                 CAP_BPF + CAP_PERFMON; no ptrace, near native speed; no\n"
	    "                 backtraces, --pid and --heat yet: those use ptrace);\n"
	    "                 ptrace: ptrace + userfaultfd (works unprivileged); auto\n"
	    "                 (default): ebpf when it loads, else ptrace, saying which\n"
	    "                 and why\n"
	    "  --summary[=FILE]\n"
	    "                 at the end, print a summary (peak RSS, top call sites,\n"
	    "                 what was still resident) to stderr, or to FILE\n"
	    "  --summary-format=text|json\n"
	    "                 the summary's format (default text)\n"
	    "  --heat[=MS]    hot and cold memory: every MS milliseconds (default 1000)\n"
	    "                 the pages written since the previous scan are found\n"
	    "                 (asynchronous userfaultfd write-protect + PAGEMAP_SCAN,\n"
	    "                 Linux 6.7+; a written page costs one in-kernel fault per\n"
	    "                 interval); backs off when a scan costs more than 2%% of a core\n"
	    "  --help         this text\n"
	    "  --version      print the version\n"
	    "\n"
	    "Environment: MEVI_LOG=error|warn|info|debug|trace (default info);\n"
	    "MEVI_ENGINE=auto|ebpf|ptrace (the default of --engine).\n"
	    "mevi-run becomes PROGRAM (same pid, same parent, same signals and exit status,\n"
	    "a signal death included; 127 if not found, 126 if not executable); a hidden\n"
	    "tracer process in a session of its own does the tracking (both engines).\n");
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
	if (l->bpf) {
		ebpf_emit_engine(l->bpf);
	} else {
		struct mevi_event eng = {.type = MEVI_EV_ENGINE, .pid = l->self};

		eng.engine.name = (struct mevi_str){"ptrace", 6};
		outbox_emit(&l->out, &eng);
	}
}

/* The link (re)connected: replay the whole session. */
static void on_snapshot(bool resume, void *arg)
{
	struct launcher *l = arg;

	if (l->held)
		return; /* session_begin() sends it all */
	/* What is queued belongs to the recording, not to the new connection,
	 * which must start with session_start; the snapshot is for the daemon
	 * only (the recording already has all of it). */
	l->to_link = false;
	outbox_flush(&l->out);
	l->to_link = true;
	l->to_recorder = false;
	emit_session_start(l, resume);
	if (l->bpf)
		ebpf_snapshot(l->bpf);
	else if (l->tracees)
		tracee_snapshot(l->tracees);
	outbox_flush(&l->out);
	l->to_recorder = l->rec.f != NULL;
}

/*
 * The program runs (exec succeeded) or is attached: the session starts, with
 * a snapshot of what the tracees are now, to the daemon and the recording.
 */
static void session_begin(struct launcher *l)
{
	l->held = false;
	outbox_discard(&l->out);
	l->to_link = true;
	l->to_recorder = l->rec.f != NULL;
	emit_session_start(l, false);
	if (l->bpf)
		ebpf_snapshot(l->bpf);
	else if (l->tracees)
		tracee_snapshot(l->tracees);
	outbox_flush(&l->out);
	/* The address waited for the session (see main). */
	if (l->link.url[0])
		fprintf(stderr, "mevi: watching at %s\n", l->link.url);
	else
		l->link.url_printed = false;
}

/* One line saying what is wrong with the command line, and where to look. */
static int usage_error(const char *fmt, const char *arg)
{
	fputs("mevi-run: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\ntry 'mevi-run --help' for more information\n", stderr);
	return 2;
}

static void on_tracee_notify(void *arg)
{
	struct launcher *l = arg;

	outbox_flush(&l->out);
}

/* PROGRAM ended, and its parent does not know yet (tracee_hold_main). */
static void on_main_exit(void *arg, bool others_alive)
{
	struct launcher *l = arg;

	outbox_flush(&l->out);
	if (!others_alive)
		return; /* the session ends now; main() finishes it */
	/* Processes it started live on (daemons): the shell gets PROGRAM's
	 * status now, and the tracer follows them on in the background, out
	 * of the way of whatever reads the terminal or a pipe next. */
	pid_t pids[SPAWN_NAMED];
	size_t n = l->bpf ? ebpf_alive(l->bpf, pids, SPAWN_NAMED)
			  : tracee_alive(l->tracees, pids, SPAWN_NAMED);

	spawn_background(l->argv[0], pids, n);
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

	if (l->bpf) {
		ebpf_reap(l->bpf);
		if (ebpf_all_gone(l->bpf))
			event_base_loopbreak(l->base);
		return;
	}
	tracee_reap(l->tracees);
	if (tracee_all_gone(l->tracees))
		event_base_loopbreak(l->base);
}

static void ebpf_done_cb(void *arg)
{
	struct launcher *l = arg;

	event_base_loopbreak(l->base);
}

/*
 * Waits for PROGRAM to exec (its end of the handshake socket, close-on-exec,
 * reaches EOF) or to report why it could not (it says so itself). Stops that
 * happen meanwhile are handled, so a traced syscall before exec cannot
 * deadlock us. Returns the exec errno, or 0.
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
		if (msg[0] == 'E') {
			exec_err = msg[1];
			break; /* the child is exiting; no need to wait for EOF */
		}
	}
	return exec_err;
}

/*
 * In the tracer: seizes PROGRAM (waiting for our word in spawn.c), lets it
 * install the filter and exec. Returns -1 to run the loop, or 0 when PROGRAM
 * runs untracked (ptrace refused: it has been told to go on alone).
 */
static int launch(struct launcher *l)
{
	pid_t pid = l->spawn.program;
	int exec_err;

	if (ptrace(PTRACE_SEIZE, pid, NULL, (void *)(long)TRACEE_PTRACE_OPTIONS) < 0) {
		fprintf(stderr,
			"mevi: ptrace is not permitted here (%s), so the program runs untracked: "
			"run mevi-run as root, or allow ptrace (`sudo sysctl "
			"kernel.yama.ptrace_scope=1`)\n",
			strerror(errno));
		spawn_release(&l->spawn, false);
		return 0;
	}
	tracee_adopt(l->tracees, pid, l->spawn.program_parent, l->argv);
	tracee_hold_main(l->tracees, on_main_exit, l);
	spawn_release(&l->spawn, !l->scan_layout);
	exec_err = wait_exec(l, l->spawn.fd, true);
	close(l->spawn.fd);
	l->spawn.fd = -1;
	/* On an exec failure PROGRAM said why and exits 127/126; the loop
	 * reaps it, and no session is begun. */
	l->exec_failed = exec_err != 0;
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
	char tracer_name[32];
	pid_t tracer =
	    err == -EPERM ? target_tracer(l->attach_pid, tracer_name, sizeof(tracer_name)) : 0;

	if (tracer > 0)
		fprintf(stderr, "mevi-run: cannot attach to %d: it is already traced by %d (%s)\n",
			(int)l->attach_pid, (int)tracer, tracer_name[0] ? tracer_name : "?");
	else if (err == -EPERM)
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

/*
 * --summary: hands the summary (fed every batch by send_batch) the launcher's
 * own cost figures and the URL, writes it to path (or stderr: never the
 * program's stdout) and frees it. A file that cannot be written is reported
 * in one sentence; the exit status stays the program's.
 */
static void launcher_summary(struct launcher *l, const char *path, int fmt)
{
	const struct mm_stats *st = tracee_stats(l->tracees);
	struct summary_overhead oh = {
	    .wall_ns = outbox_now(&l->out),
	    .events = l->out.events_total,
	    .bytes_sent = l->link.bytes_sent,
	    .stops = st->stops,
	    .faults = st->faults,
	    .samples = st->samples,
	    .untracked = st->untracked,
	};
	uint64_t ticks;
	unsigned changes;
	FILE *f = stderr;

	if (l->sample_ms)
		tracee_sampler_cost(l->tracees, &oh.sampler_ns, &ticks, &changes);
	summary_set_overhead(l->summary, &oh);
	summary_set_url(l->summary, l->link.url);
	if (path && !(f = fopen(path, "w")))
		fprintf(stderr, "mevi: cannot write the summary to %s: %s\n", path,
			strerror(errno));
	else if (summary_write(l->summary, f, fmt))
		fprintf(stderr, "mevi: cannot write the summary to %s\n", path ? path : "stderr");
	if (f && f != stderr)
		fclose(f);
	summary_free(l->summary);
	l->summary = NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"no-spawn", no_argument, NULL, 'n'},
	    {"listen", required_argument, NULL, 0x300},
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
	    {"summary", optional_argument, NULL, 0x310},
	    {"summary-format", required_argument, NULL, 0x311},
	    {"engine", required_argument, NULL, 0x320},
	    {"heat", optional_argument, NULL, 0x330},
	    {NULL, 0, NULL, 0},
	};
	unsigned long num;
	unsigned detach_after = 0;
	bool exact = false;
	unsigned heat_ms = 0; /* --heat: the interval; 0 when off */
	int bt_mode = BACKTRACE_MMAP;
	bool bt_given = false;
	const char *engine = getenv("MEVI_ENGINE"); /* --engine's default */
	unsigned long bt_depth = BACKTRACE_DEFAULT_DEPTH;
	char *num_end;
	struct launcher l = {0};
	char socket_path[108] = "";
	bool may_spawn = true;
	const char *record_path = NULL;
	const char *listen_addr = NULL;
	int opt, status, end_status = -2;
	char **attach_argv = NULL, *attach_text = NULL;
	struct event *detach_ev[3] = {NULL}, *detach_timer = NULL;
	const char *summary_path = NULL;
	bool want_summary = false;
	int summary_fmt = SUMMARY_TEXT;

	log_init("mevi-run");
	if (!engine || !*engine)
		engine = "auto";
	else if (strcmp(engine, "auto") && strcmp(engine, "ebpf") && strcmp(engine, "ptrace")) {
		fprintf(stderr, "mevi-run: MEVI_ENGINE=%s is not auto, ebpf or ptrace\n", engine);
		return 2;
	}
	opterr = 0; /* our own one-line messages */
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			snprintf(socket_path, sizeof(socket_path), "%s", optarg);
			break;
		case 'n':
			may_spawn = false;
			break;
		case 0x300: /* --listen, for a spawned mevid */
			listen_addr = optarg;
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
			bt_given = true;
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
		case 0x330: /* --heat[=MS] */
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
		case 0x310: /* --summary[=FILE] */
			want_summary = true;
			summary_path = optarg;
			break;
		case 0x311: /* --summary-format=text|json */
			summary_fmt = summary_format_parse(optarg);
			if (summary_fmt < 0) {
				fprintf(stderr,
					"mevi-run: --summary-format: %s is not text or json\n",
					optarg);
				return 2;
			}
			break;
		case 0x320: /* --engine */
			if (strcmp(optarg, "auto") && strcmp(optarg, "ebpf") &&
			    strcmp(optarg, "ptrace")) {
				fprintf(stderr,
					"mevi-run: --engine: %s is not auto, ebpf or ptrace\n",
					optarg);
				return 2;
			}
			engine = optarg;
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
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			if (strncmp(argv[optind - 1], "--", 2) && optopt && optopt < 0x100) {
				char o[3] = {'-', (char)optopt, '\0'};

				return usage_error("unknown option '%s'", o);
			}
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (l.attach_pid && optind < argc) {
		fprintf(stderr, "mevi-run: --pid attaches to a running process; no PROGRAM\n");
		return 2;
	}
	if (optind >= argc && !l.attach_pid)
		return usage_error("%s",
				   "no PROGRAM to run (usage: mevi-run [OPTIONS] [--] PROGRAM "
				   "[ARGS...], or mevi-run [OPTIONS] --pid PID)");
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
	if (exact && !l.attach_pid) {
		/* A program mevi-run starts is tracked exactly already. */
		fprintf(stderr, "mevi-run: --exact needs --pid\n");
		return 2;
	}
	if (!socket_path[0] && link_default_socket(socket_path, sizeof(socket_path))) {
		fprintf(stderr, "mevi-run: socket path too long\n");
		return 2;
	}
	l.argv = argv + optind;
	l.self = getpid();
	if (!l.attach_pid) {
		int err = target_resolve(l.argv[0]);

		if (err)
			return target_report(l.argv[0], err);
	} else {
		char why[200];
		int err = target_check_pid(l.attach_pid, l.self, why, sizeof(why));

		if (err == -EPERM) {
			fprintf(stderr, "mevi-run: --pid %d: %s\n", (int)l.attach_pid, why);
			return 1;
		}
		if (err == -ENOENT) {
			fprintf(stderr, "mevi-run: --pid %d: no such process\n", (int)l.attach_pid);
			return 1;
		}
	}
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
	if (strcmp(engine, "ptrace")) {
		/* The eBPF engine when it loads (see ebpf.h); what it lacks yet
		 * (--pid, backtraces asked for) stays with ptrace. */
		char why[EBPF_WHY_LEN] = "";
		bool forced = !strcmp(engine, "ebpf");

		if (l.attach_pid)
			snprintf(why, sizeof(why), "--pid attaches with ptrace only, for now");
		else if (bt_given && bt_mode != BACKTRACE_OFF)
			snprintf(why, sizeof(why), "backtraces need ptrace stops, for now");
		else if (heat_ms)
			snprintf(why, sizeof(why),
				 "--heat needs a userfaultfd in the program, for now");
		if (why[0]) {
			fprintf(stderr, "mevi: engine ptrace: %s\n", why);
		} else {
			struct ebpf_config bc = {.out = &l.out,
						 .self = l.self,
						 .sample_ms = l.sample_ms,
						 .on_done = ebpf_done_cb,
						 .on_main_exit = on_main_exit,
						 .ctx = &l};

			l.base = event_base_new();
			if (!l.base) {
				fprintf(stderr, "mevi-run: cannot create the event loop\n");
				return 125;
			}
			bc.base = l.base;
			if (ebpf_open(&bc, &l.bpf, why) == 0) {
				log_info(
				    "engine ebpf: tracepoints on faults, memory syscalls and the "
				    "process tree; no ptrace");
			} else if (forced) {
				fprintf(stderr, "mevi-run: --engine=ebpf: %s\n", why);
				event_base_free(l.base);
				return 125;
			} else {
				fprintf(stderr, "mevi: engine ptrace: %s\n", why);
			}
		}
	}
	l.started_at = realtime_ns();
	if (record_path) {
		int err = recorder_open(&l.rec, record_path, l.started_at);

		if (err) {
			fprintf(stderr, "mevi-run: cannot record to %s: %s\n", record_path,
				strerror(-err));
			return 2;
		}
	}
	if (!l.attach_pid && l.bpf) {
		/* The same split, with no filter and no ptrace (ebpf.h). */
		spawn_tracer(&l.spawn, l.argv, NULL);
		l.self = l.spawn.program;
	} else if (!l.attach_pid) {
		/* From here on this process is the tracer; the one the shell
		 * started becomes PROGRAM (spawn.h). */
		struct sock_fprog prog = {0};
		int err = filter_build(&prog);

		if (err) {
			fprintf(stderr, "mevi-run: cannot build the seccomp filter: %s\n",
				strerror(-err));
			return 125;
		}
		spawn_tracer(&l.spawn, l.argv, &prog);
		sandbox_set_own_filters(l.scan_layout ? 0 : 1);
		filter_free(&prog);
		l.self = l.spawn.program;
	}
	if (!l.base)
		l.base = event_base_new();
	if (!l.base) {
		fprintf(stderr, "mevi-run: cannot create the event loop\n");
		return 125;
	}
	if (want_summary)
		l.summary = summary_new();
	l.to_link = true;
	l.to_recorder = l.rec.f != NULL;
	outbox_init(&l.out, send_batch, &l);
	link_init(&l.link, l.base, socket_path, may_spawn, on_snapshot, &l);
	link_set_listen(&l.link, listen_addr);
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

	/* The address is printed when the session begins, not for a program
	 * that turns out not to start. */
	l.held = true;
	l.link.url_printed = true;
	link_start(&l.link, 3000);
	if (l.bpf) {
		status = ebpf_launch(l.bpf, &l.spawn, l.argv) ?: -1;
	} else {
		status = l.attach_pid ? attach(&l) : launch(&l);
	}
	if (status >= 0)
		goto done;
	if (!l.exec_failed)
		session_begin(&l);
	/* Sampled mode scans residency; an exact attach has no syscall stops and
	 * re-reads layouts at the same pace. */
	if (!l.bpf && (l.sample_ms || l.attach_pid) &&
	    tracee_start_sampling(l.tracees, l.sample_ms ? l.sample_ms : 50, l.self,
				  l.sample_ms != 0, l.scan_layout || l.attach_pid))
		log_warn("cannot start the sampler: out of memory");

	/* Launched, the tracer is in a session of its own and the program gets
	 * every signal itself (spawn.h): the tracer ignores whatever is sent to
	 * it, since it cannot leave a program whose filter needs it. Attached,
	 * Ctrl-C, SIGTERM, SIGHUP and --detach-after let the process go. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (l.attach_pid) {
		struct timeval after = {detach_after, 0};
		static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			detach_ev[i] = evsignal_new(l.base, sigs[i], detach_cb, &l);
			MEVI_ASSERT(detach_ev[i]);
			event_add(detach_ev[i], NULL);
		}
		detach_timer = evtimer_new(l.base, detach_cb, &l);
		MEVI_ASSERT(detach_timer);
		if (detach_after)
			evtimer_add(detach_timer, &after);
	}
	struct timeval flush_tv = {0, FLUSH_MS * 1000};
	l.flush_ev = event_new(l.base, -1, EV_PERSIST, flush_cb, &l);
	MEVI_ASSERT(l.flush_ev);
	event_add(l.flush_ev, &flush_tv);

	if (l.bpf) {
		ebpf_reap(l.bpf);
		if (!ebpf_all_gone(l.bpf))
			event_base_dispatch(l.base);
		ebpf_drain(l.bpf);
	} else {
		tracee_reap(l.tracees);
		if (!tracee_all_gone(l.tracees))
			event_base_dispatch(l.base);
	}

	status = l.bpf ? ebpf_main_status(l.bpf) : tracee_main_status(l.tracees);
	if (l.attach_pid && tracee_detached(l.tracees)) {
		fprintf(stderr, "mevi: detached from %d, which carries on\n", (int)l.attach_pid);
		status = 0;
		end_status = -1; /* still running: its exit status is not ours to know */
	} else if (status < 0) {
		status = 125;
	}
	if (l.bpf) {
		const struct ebpf_stats *bs = ebpf_stats(l.bpf);
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		log_debug("engine ebpf: mevi-run used %.1f ms of CPU",
			  (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);

		log_info(
		    "engine ebpf: %llu records, %llu first touches, %llu re-reads, %llu lost "
		    "(%llu rescans), %llu reconcile passes, %llu pages corrected, %llu stale faults",
		    (unsigned long long)bs->records, (unsigned long long)bs->faults,
		    (unsigned long long)bs->resyncs, (unsigned long long)bs->drops,
		    (unsigned long long)bs->rescans, (unsigned long long)bs->reconciles,
		    (unsigned long long)bs->corrections, (unsigned long long)bs->stale);
	} else if (l.sample_ms) {
		uint64_t cpu_ns, ticks;
		unsigned changes;

		tracee_sampler_cost(l.tracees, &cpu_ns, &ticks, &changes);
		log_info("sampler: %llu scans, %.3f ms of CPU each on average, last interval %u ms "
			 "(changed %u times)",
			 (unsigned long long)ticks,
			 ticks ? (double)cpu_ns / 1e6 / (double)ticks : 0.0,
			 tracee_sample_ms(l.tracees), changes);
	}
	{
		const struct mm_stats *st = tracee_stats(l.tracees);

		log_debug("stops %lu, faults served %lu, resyncs %lu, untracked VMAs %lu, "
			  "events %lu, bytes sent %lu",
			  (unsigned long)st->stops, (unsigned long)st->faults,
			  (unsigned long)st->resyncs, (unsigned long)st->untracked,
			  (unsigned long)l.out.events_total, l.link.bytes_sent);
	}
	for (size_t i = 0; i < 3; i++)
		if (detach_ev[i])
			event_free(detach_ev[i]);
	if (detach_timer)
		event_free(detach_timer);
	event_free(l.flush_ev);
done:
	tracee_finish(l.tracees); /* source lines still being looked up */
	if (!l.held) {
		struct mevi_event end = {.type = MEVI_EV_SESSION_END, .pid = l.self};

		end.session_end.status = end_status == -2 ? status : end_status;
		outbox_emit(&l.out, &end);
		outbox_flush(&l.out);
	}
	link_finish(&l.link, 2000);
	if (l.summary && !l.held)
		launcher_summary(&l, summary_path, summary_fmt);
	if (record_path && l.held) {
		/* Nothing ran: no recording (it would hold only a header). */
		recorder_close(&l.rec);
		unlink(record_path);
	} else if (record_path) {
		int err = recorder_close(&l.rec);

		if (err)
			fprintf(stderr, "mevi: the recording %s is incomplete: %s\n", record_path,
				strerror(-err));
		else
			fprintf(stderr, "mevi: recorded %llu bytes to %s\n",
				(unsigned long long)l.rec.bytes, record_path);
	}
	/* Only now may PROGRAM's parent see it end (tracee_hold_main). */
	tracee_release_main(l.tracees);
	event_free(chld_ev);
	ebpf_close(l.bpf);
	heat_stop();
	tracee_table_free(l.tracees);
	outbox_destroy(&l.out);
	event_base_free(l.base);
	free(attach_argv);
	free(attach_text);
	return status;
}
