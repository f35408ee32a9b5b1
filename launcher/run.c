/*
 * run — one run of mevi-run, from a parsed command line to the exit status:
 * checking the target, choosing the engine, splitting off the tracer
 * (spawn.h) or attaching, the libevent loop, and the session's end.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
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
#include "mm.h"
#include "options.h"
#include "outbox.h"
#include "procfs.h"
#include "pace.h"
#include "recorder.h"
#include "spawn.h"
#include "summary.h"
#include "syscalls.h"
#include "target.h"
#include "tracee.h"

/* The outbox's flush: every FLUSH_MS while it has something to send, its
 * period doubling up to FLUSH_IDLE_MS while it has nothing (pace.h). */
#define FLUSH_MS      4
#define FLUSH_IDLE_MS 64

struct launcher {
	const struct launcher_options *opt;
	struct trace_mode mode; /* what tracees, their filter and mm know of the mode */
	struct event_base *base;
	struct outbox out;
	bool out_ready; /* out was initialised */
	struct pace flush_pace;
	struct link link;
	bool link_ready; /* link was initialised */
	struct tracee_table *tracees;
	char **argv;	    /* PROGRAM ARGS... */
	char **attach_argv; /* --pid: argv, pointing into attach_text */
	char *attach_text;
	uint64_t started_at;
	pid_t self;
	struct event *events[16]; /* signals and timers of the loop (add_event) */
	size_t nevents;
	int sigchld_fd; /* SIGCHLD, blocked, read from this signalfd; -1 when not */
	struct recorder rec;
	struct spawn spawn;  /* launched (not --pid): PROGRAM and its handshake */
	bool spawned;	     /* spawn_tracer() split us: this is the tracer */
	bool ebpf_split;     /* the eBPF engine loads while the tracker is made */
	bool resume_pending; /* the successor: the engine is to be resumed */
	bool to_link;	     /* batches go to the daemon link */
	bool to_recorder;    /* ... and to the recording */
	unsigned sample_ms;  /* --sample: the interval; 0 in exact mode */
	pid_t attach_pid;    /* --pid */
	bool scan_layout;    /* --layout=scan: no filter, layouts re-read each tick */
	/* No session yet: the program has not exec'd (or the attach not
	 * succeeded). Nothing leaves the launcher until session_begin(), so a
	 * launch that fails creates no session and no recording. */
	bool held;
	bool exec_failed;	 /* the program could not be executed */
	struct summary *summary; /* --summary: fed every batch (proto/summary.h) */
	struct ebpf *bpf;	 /* the eBPF engine, when it runs the program (else tracees) */
};

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
	/* The address waited for the session (see start()). */
	if (l->link.url[0])
		fprintf(stderr, "mevi: watching at %s\n", l->link.url);
	else
		l->link.url_printed = false;
}

/* One line saying what is wrong with the command line, and where to look. */
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
		return; /* the session ends now; launcher_run() finishes it */
	/* Processes it started live on (daemons): the shell gets PROGRAM's
	 * status now, and the tracer follows them on in the background, out
	 * of the way of whatever reads the terminal or a pipe next. */
	pid_t pids[SPAWN_NAMED];
	size_t n = l->bpf ? ebpf_alive(l->bpf, pids, SPAWN_NAMED)
			  : tracee_alive(l->tracees, pids, SPAWN_NAMED);

	if (l->spawn.init)
		spawn_init_end(l->argv[0], n);
	else
		spawn_background(l->argv[0], pids, n);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;
	bool busy = outbox_pending(&l->out);

	if (busy)
		outbox_flush(&l->out);
	pace_tick(&l->flush_pace, busy);
}

/*
 * A child changed state: every stop of a tracee comes this way. SIGCHLD is
 * blocked and read from a signalfd (watch_sigchld), not caught: a caught
 * signal costs each stop a signal frame, a write to libevent's pipe, a second
 * wake-up of the loop and a read (4 of the ~15 syscalls the tracer made per
 * stop). Signals coalesce; the reap loops below take every pending change.
 */
static void sigchld_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;
	struct signalfd_siginfo si[16];

	while (read(fd, si, sizeof(si)) == (ssize_t)sizeof(si))
		; /* drained: a short read or EAGAIN */
	if (l->bpf) {
		if (l->spawn.init)
			spawn_init_reap();
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

/* While PROGRAM has not exec'd yet: its stops are handled, so a traced
 * syscall before exec cannot deadlock the wait (spawn_wait_exec). */
static void reap_while_waiting(void *arg)
{
	struct launcher *l = arg;

	tracee_reap(l->tracees);
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
	exec_err = spawn_wait_exec(&l->spawn, reap_while_waiting, l);
	/* On an exec failure PROGRAM said why and exits 127/126; the loop
	 * reaps it, and no session is begun. */
	l->exec_failed = exec_err != 0;
	return -1;
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

/* --pid on the eBPF engine: put the process in the tracked set and read it.
 * Returns -1 to run the loop, or an exit status. */
static int attach_ebpf(struct launcher *l)
{
	int err = ebpf_attach(l->bpf, l->attach_pid);

	if (err == -ESRCH)
		fprintf(stderr, "mevi-run: --pid %d: no such process\n", (int)l->attach_pid);
	else if (err)
		fprintf(stderr, "mevi-run: cannot attach to %d: %s\n", (int)l->attach_pid,
			strerror(-err));
	return err ? 1 : -1;
}

/* Whether the attached process was let go (the session ends "detached"). */
static bool detached(const struct launcher *l)
{
	return l->bpf ? ebpf_detached(l->bpf) : tracee_detached(l->tracees);
}

/* Ctrl-C, SIGTERM or --detach-after with --pid: let the process go. */
static void detach_cb(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;

	if (l->bpf) {
		ebpf_detach(l->bpf);
		outbox_flush(&l->out);
		event_base_loopbreak(l->base);
		return;
	}
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

/* The program to run exists, or the process to attach to can be traced and
 * its command line read. Returns -1 to go on, or an exit status after saying
 * why not. */
static int check_target(struct launcher *l)
{
	char why[200];
	int err;

	if (!l->attach_pid) {
		err = target_resolve(l->argv[0]);
		return err ? target_report(l->argv[0], err) : -1;
	}
	err = target_check_pid(l->attach_pid, l->self, why, sizeof(why));
	if (err == -EPERM) {
		fprintf(stderr, "mevi-run: --pid %d: %s\n", (int)l->attach_pid, why);
		return 1;
	}
	if (err == -ENOENT) {
		fprintf(stderr, "mevi-run: --pid %d: no such process\n", (int)l->attach_pid);
		return 1;
	}
	size_t len;

	err = procfs_cmdline(l->attach_pid, &l->attach_text, &len);
	if (!err && !(l->attach_argv = procfs_cmdline_argv(l->attach_text, len)))
		err = -ENOMEM;
	if (err) {
		fprintf(stderr, "mevi-run: --pid %d: %s\n", (int)l->attach_pid,
			err == -ENOENT ? "no such process" : strerror(-err));
		return 1;
	}
	l->argv = l->attach_argv;
	return -1;
}

/* What the engine's choice says (after the programs have loaded). */
static const char ebpf_line[] =
    "engine ebpf: tracepoints on faults, memory syscalls and the process tree; no ptrace";

/*
 * --engine=auto|ebpf: opens the eBPF engine when it loads (see ebpf.h), for a
 * launched program or --pid. What it lacks yet (--heat) stays with ptrace;
 * so does, under auto, a run that writes a file which must be complete when mevi-run
 * returns (--record, --summary=FILE): the eBPF tracker is not PROGRAM's
 * parent and cannot hold its exit, so the shell may see PROGRAM end a few ms
 * before the file is. Launched (not as pid 1), the engine is only prepared
 * here, and split_ebpf() loads it. Returns -1 to go on (l->bpf set or not),
 * or an exit status.
 */
static int open_ebpf(struct launcher *l)
{
	const struct launcher_options *o = l->opt;
	char why[EBPF_WHY_LEN] = "";
	bool forced = o->engine == ENGINE_EBPF;

	if (o->engine == ENGINE_PTRACE)
		return -1;
	if (o->heat_ms)
		snprintf(why, sizeof(why), "--heat needs a userfaultfd in the program, for now");
	else if (!forced && (o->record || o->summary_path))
		snprintf(why, sizeof(why),
			 "--record and --summary=FILE want the file complete when mevi-run "
			 "returns, which ebpf cannot promise yet");
	if (why[0]) {
		fprintf(stderr, "mevi: engine ptrace: %s\n", why);
		return -1;
	}
	/* Launched (not as pid 1, spawn.h), the programs load while the
	 * tracker is being made (split_ebpf), and the tracker makes its own
	 * loop; attached, or as pid 1, everything is done now. */
	l->ebpf_split = !l->attach_pid && getpid() != 1;

	struct ebpf_config bc = {.out = &l->out,
				 .self = l->self,
				 .sample_ms = l->sample_ms,
				 .on_done = ebpf_done_cb,
				 /* Attached, nothing is held or put in the background. */
				 .on_main_exit = l->attach_pid ? NULL : on_main_exit,
				 .ctx = l,
				 .bt_mode = o->bt_mode,
				 .bt_depth = o->bt_depth,
				 .stock_socket = o->socket_path};

	if (!l->ebpf_split && !(l->base = event_base_new())) {
		fprintf(stderr, "mevi-run: cannot create the event loop\n");
		return 125;
	}
	bc.base = l->base;
	if (l->ebpf_split && ebpf_prepare(&bc, &l->bpf, why) == 0) {
		return -1;
	} else if (!l->ebpf_split && ebpf_open(&bc, &l->bpf, why) == 0) {
		log_info("%s", ebpf_line);
	} else if (forced) {
		fprintf(stderr, "mevi-run: --engine=ebpf: %s\n", why);
		return 125;
	} else {
		fprintf(stderr, "mevi: engine ptrace: %s\n", why);
	}
	return -1;
}

/* In the successor split_ebpf() made, once its loop is set up: finishes
 * opening the engine. Returns -1 to go on, or an exit status (PROGRAM then
 * runs untracked: the programs go with this process). */
static int resume_ebpf(struct launcher *l)
{
	char why[EBPF_WHY_LEN] = "";

	l->resume_pending = false;
	if (ebpf_resume(l->bpf, l->base, why) == 0)
		return -1;
	log_error("%s; the program runs untracked", why);
	return 125;
}

static int track(struct launcher *l);

/* The successor (spawn_hand_off), once PROGRAM has exec'd: the tracker,
 * with everything the original had. */
static int successor(void *arg)
{
	struct launcher *l = arg;

	spawn_handed(&l->spawn);
	l->spawned = true;
	l->self = l->spawn.program;
	l->resume_pending = true; /* start() resumes the engine */
	return track(l);
}

/*
 * Launched with the eBPF engine (not as pid 1): the original process starts
 * making its successor (spawn_hand_off), loads the programs meanwhile, puts
 * itself in the tracked set and becomes PROGRAM; the successor wakes as the
 * tracker. With no successor, the tracker is forked as the ptrace engine's
 * tracer is (spawn_tracer). When the programs do not load, or PROGRAM cannot
 * be tracked, the original goes on alone (auto: with ptrace; forced: it
 * exits). Returns -1 to go on (the forked tracker; the original without
 * l->bpf), or an exit status.
 */
static int split_ebpf(struct launcher *l)
{
	char why[EBPF_WHY_LEN] = "";
	int handed = spawn_hand_off(&l->spawn, successor, l);
	int err = ebpf_load(l->bpf, why);

	if (!handed && err)
		spawn_call_off(&l->spawn);
	else if (!handed)
		handed = spawn_hand_off_wait(&l->spawn);
	if (!err && !handed) {
		err = ebpf_track(l->bpf, getpid(), why);
		if (!err) {
			log_info("%s", ebpf_line);
			spawn_exec_handed(l->argv);
		}
		spawn_call_off(&l->spawn);
	} else if (!err) {
		/* No successor: the engine is finished here, then forked. */
		log_debug("no successor (%s): the tracker is forked", strerror(-handed));
		l->base = event_base_new();
		if (!l->base)
			snprintf(why, sizeof(why), "cannot create the event loop: out of memory");
		else if (ebpf_resume(l->bpf, l->base, why) == 0) {
			log_info("%s", ebpf_line);
			spawn_tracer(&l->spawn, l->argv, NULL);
			l->spawned = true;
			l->self = l->spawn.program;
			return -1;
		}
	}
	ebpf_close(l->bpf);
	l->bpf = NULL;
	if (l->opt->engine == ENGINE_EBPF) {
		fprintf(stderr, "mevi-run: --engine=ebpf: %s\n", why);
		return 125;
	}
	fprintf(stderr, "mevi: engine ptrace: %s\n", why);
	return -1;
}

/* From here on this process is the tracer; the one the shell started becomes
 * PROGRAM (spawn.h). Returns -1 to go on, or an exit status. */
static int become_tracer(struct launcher *l)
{
	struct sock_fprog prog = {0};
	int err = filter_build(&prog, l->mode.syscalls);

	if (err) {
		fprintf(stderr, "mevi-run: cannot build the seccomp filter: %s\n", strerror(-err));
		return 125;
	}
	spawn_tracer(&l->spawn, l->argv, &prog);
	l->spawned = true;
	filter_free(&prog);
	l->self = l->spawn.init ? getpid() : l->spawn.program; /* spawn.h */
	return -1;
}

/* Creates, adds and remembers one event of the loop; l->events owns it. */
static int add_event(struct launcher *l, evutil_socket_t fd, short what, event_callback_fn cb,
		     const struct timeval *tv)
{
	struct event *ev;

	if (l->nevents == sizeof(l->events) / sizeof(l->events[0]))
		return -ENOSPC;
	ev = event_new(l->base, fd, what, cb, l);
	if (!ev)
		return -ENOMEM;
	if (event_add(ev, tv) < 0) {
		event_free(ev);
		return -ENOMEM;
	}
	l->events[l->nevents++] = ev;
	return 0;
}

/* SIGCHLD, blocked in this process (the tracer: PROGRAM was forked before,
 * and children mevi-run starts later unblock it: link.c), on a signalfd in
 * the loop. Returns 0 or -errno. */
static int watch_sigchld(struct launcher *l)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	l->sigchld_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigchld_fd < 0)
		return -errno;
	return add_event(l, l->sigchld_fd, EV_READ | EV_PERSIST, sigchld_cb, NULL);
}

/* The libevent loop, the outbox, the link and the tracee table, and SIGCHLD
 * (watched before the first child can report a stop). Returns 0 or -errno. */
static int setup_loop(struct launcher *l)
{
	const struct launcher_options *o = l->opt;

	if (!l->base)
		l->base = event_base_new();
	if (!l->base)
		return -ENOMEM;
	if (o->summary && !(l->summary = summary_new()))
		return -ENOMEM;
	l->to_link = true;
	l->to_recorder = l->rec.f != NULL;
	outbox_init(&l->out, send_batch, l);
	l->out_ready = true;
	if (link_init(&l->link, l->base, o->socket_path, o->may_spawn, on_snapshot, l))
		return -ENOMEM;
	l->link_ready = true;
	link_set_listen(&l->link, o->listen);
	l->tracees = tracee_table_new(l->base, &l->out, &l->mode, on_tracee_notify, l);
	if (!l->tracees)
		return -ENOMEM;
	tracee_set_backtraces(l->tracees, o->bt_mode, o->bt_depth);
	if (o->heat_ms) {
		char why[256];

		if (heat_probe(why, sizeof(why)))
			fprintf(stderr, "mevi-run: %s; carrying on without it\n", why);
		else if (heat_start(l->base, &l->out, o->heat_ms, l->sample_ms != 0))
			log_warn("cannot start --heat: out of memory");
	}
	return watch_sigchld(l);
}

/*
 * Launched, the tracer is in a session of its own and the program gets every
 * signal itself (spawn.h): the tracer ignores whatever is sent to it, since it
 * cannot leave a program whose filter needs it. Attached, Ctrl-C, SIGTERM,
 * SIGHUP and --detach-after let the process go. The eBPF tracker is placed
 * the same way (it never stops the program, but its session must outlive
 * it). As pid 1 of a pid namespace the tracer is what `docker stop` and
 * `kill 1` reach: it passes on what PROGRAM catches (spawn.h). Returns 0 or
 * -ENOMEM.
 */
static void forward_cb(evutil_socket_t sig, short what, void *arg)
{
	struct launcher *l = arg;

	if (spawn_init_forward(&l->spawn, (int)sig))
		log_debug("signal %d sent to pid 1: passed to %d", (int)sig, (int)l->spawn.program);
}

static int setup_signals(struct launcher *l)
{
	static const int detach[] = {SIGINT, SIGTERM, SIGHUP};
	/* What is sent to a container's init; an init tracer passes it on. */
	static const int forward[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
	struct timeval after = {l->opt->detach_after, 0}, flush_tv = {0, FLUSH_MS * 1000};
	int err = 0;

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; l->attach_pid && !err && i < 3; i++)
		err = add_event(l, detach[i], EV_SIGNAL | EV_PERSIST, detach_cb, NULL);
	for (size_t i = 0; l->spawn.init && !err && i < sizeof(forward) / sizeof(*forward); i++)
		err = add_event(l, forward[i], EV_SIGNAL | EV_PERSIST, forward_cb, NULL);
	if (!err && l->attach_pid && l->opt->detach_after)
		err = add_event(l, -1, 0, detach_cb, &after);
	if (!err)
		err = add_event(l, -1, EV_PERSIST, flush_cb, &flush_tv);
	if (!err)
		pace_init(&l->flush_pace, l->events[l->nevents - 1], FLUSH_MS, FLUSH_IDLE_MS);
	return err;
}

/* Starts PROGRAM (or attaches, or hands it to the eBPF engine). Returns -1
 * when the loop is to run, or an exit status. */
static int start(struct launcher *l)
{
	int status;

	/* The successor split_ebpf() made: nothing has reached mevid yet. */
	if (l->resume_pending && (status = resume_ebpf(l)) >= 0)
		return status;
	/* The address is printed when the session begins, not for a program
	 * that turns out not to start. */
	l->held = true;
	l->link.url_printed = true;
	link_start(&l->link, 3000);
	if (l->bpf && l->attach_pid) {
		status = attach_ebpf(l);
	} else if (l->bpf) {
		status = ebpf_launch(l->bpf, &l->spawn, l->argv) ?: -1;
	} else {
		status = l->attach_pid ? attach(l) : launch(l);
	}
	if (status >= 0)
		return status;
	if (!l->exec_failed)
		session_begin(l);
	/* Sampled mode scans residency; an exact attach has no syscall stops and
	 * re-reads layouts at the same pace. */
	if (!l->bpf && (l->sample_ms || l->attach_pid) &&
	    tracee_start_sampling(l->tracees, l->sample_ms ? l->sample_ms : 50, l->self,
				  l->sample_ms != 0, l->scan_layout || l->attach_pid))
		log_warn("cannot start the sampler: out of memory");
	return -1;
}

/* Runs the loop until every tracee is gone (or detached). */
static void run_loop(struct launcher *l)
{
	if (l->bpf) {
		if (l->spawn.init)
			spawn_init_reap();
		ebpf_reap(l->bpf);
		if (!ebpf_all_gone(l->bpf))
			event_base_dispatch(l->base);
		ebpf_drain(l->bpf);
	} else {
		tracee_reap(l->tracees);
		if (!tracee_all_gone(l->tracees))
			event_base_dispatch(l->base);
	}
}

/* The launcher's own cost, at debug level (and the sampler's at info). */
static void log_costs(struct launcher *l)
{
	if (l->bpf) {
		const struct ebpf_stats *bs = ebpf_stats(l->bpf);
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
	} else if (l->sample_ms) {
		uint64_t cpu_ns, ticks;
		unsigned changes;

		tracee_sampler_cost(l->tracees, &cpu_ns, &ticks, &changes);
		log_info("sampler: %llu scans, %.3f ms of CPU each on average, last interval %u ms "
			 "(changed %u times)",
			 (unsigned long long)ticks,
			 ticks ? (double)cpu_ns / 1e6 / (double)ticks : 0.0,
			 tracee_sample_ms(l->tracees), changes);
	}
	const struct mm_stats *st = tracee_stats(l->tracees);

	log_debug(
	    "stops %lu (%lu first stops held for their clone event, %lu of them "
	    "adopted from /proc), faults served %lu, resyncs %lu (%lu read again: a "
	    "piece changed before its registration), untracked VMAs %lu, "
	    "events %lu, bytes sent %lu",
	    (unsigned long)st->stops, (unsigned long)st->parked, (unsigned long)st->unparked_late,
	    (unsigned long)st->faults, (unsigned long)st->resyncs, (unsigned long)st->raced,
	    (unsigned long)st->untracked, (unsigned long)l->out.events_total, l->link.bytes_sent);
}

/* The session's end, the summary, the recording's last words. */
static void finish_session(struct launcher *l, int status)
{
	const char *record = l->opt->record;

	if (l->tracees)
		tracee_finish(l->tracees); /* source lines still being looked up */
	if (l->bpf)
		ebpf_finish(l->bpf);
	if (!l->held && l->out_ready) {
		struct mevi_event end = {.type = MEVI_EV_SESSION_END, .pid = l->self};

		end.session_end.status = status;
		outbox_emit(&l->out, &end);
		outbox_flush(&l->out);
	}
	if (l->link_ready)
		link_finish(&l->link, 2000);
	if (l->summary && !l->held)
		launcher_summary(l, l->opt->summary_path, l->opt->summary_fmt);
	if (record && l->held) {
		/* Nothing ran: no recording (it would hold only a header). */
		recorder_close(&l->rec);
		unlink(record);
	} else if (record) {
		int err = recorder_close(&l->rec);

		if (err)
			fprintf(stderr, "mevi: the recording %s is incomplete: %s\n", record,
				strerror(-err));
		else
			fprintf(stderr, "mevi: recorded %llu bytes to %s\n",
				(unsigned long long)l->rec.bytes, record);
	}
}

/*
 * The spawned tracer has said its last words (finish_session): it lets go of
 * the stderr it shares with PROGRAM, so that a pipe on it (`mevi-run PROGRAM
 * 2>&1 | less`, a test harness reading PROGRAM's stderr) sees EOF when
 * PROGRAM's tree ends, not when the tracer's teardown does. That can take a
 * while: detaching the eBPF engine's syscall tracepoints waits for kernel
 * grace periods (tracepoint.h). At debug level the teardown's own lines are
 * worth the wait, and so are a sanitizer build's reports at exit.
 */
static void release_stderr(const struct launcher *l)
{
	int devnull;

#ifdef __SANITIZE_ADDRESS__
	return;
#endif
	if (!l->spawned || log_threshold >= LOG_LEVEL_DEBUG)
		return;
	devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (devnull < 0)
		return;
	dup2(devnull, STDERR_FILENO);
	close(devnull);
}

/* Frees everything l holds, in reverse order of creation. */
static void teardown(struct launcher *l)
{
	release_stderr(l);
	/* Only now may PROGRAM's parent see it end (tracee_hold_main). */
	if (l->tracees)
		tracee_release_main(l->tracees);
	for (size_t i = l->nevents; i-- > 0;)
		event_free(l->events[i]);
	if (l->sigchld_fd >= 0)
		close(l->sigchld_fd);
	ebpf_close(l->bpf);
	heat_stop();
	tracee_table_free(l->tracees);
	summary_free(l->summary);
	if (l->out_ready)
		outbox_destroy(&l->out);
	if (l->base)
		event_base_free(l->base);
	free(l->attach_argv);
	free(l->attach_text);
}

/*
 * The eBPF tracker never holds the program up (nothing of it waits for us),
 * so it should never take the program's CPU from it either: SCHED_BATCH keeps
 * its fair share but gives up preempting on wake-up, the drain timer's or a
 * ring's. On this project's two vCPUs, where a two-thread program fills both,
 * that took malloc churn's in-run cost from 1.109x to 1.080x over 25 rounds
 * (1.148x -> 1.100x and 1.109x -> 1.083x in two other sets). Threads it
 * makes (the symbolizer's) inherit it. Not for the
 * ptrace tracer: a stopped thread waits for it, and the sooner it runs the
 * sooner that thread does. The policy is anyone's to take: nothing fails.
 */
static void yield_to_program(const struct launcher *l)
{
	struct sched_param none = {0};

	if (l->bpf && sched_setscheduler(0, SCHED_BATCH, &none) != 0)
		log_debug("SCHED_BATCH: %s", strerror(errno));
}

/*
 * The tracker's (or tracer's) life, once the split is made: the loop, the
 * session, the ending. In the successor (spawn_hand_off) l is the original's,
 * where its exec left it. Returns the exit status.
 */
static int track(struct launcher *l)
{
	int status, end_status;

	yield_to_program(l);
	if (setup_loop(l)) {
		fprintf(stderr, "mevi-run: cannot create the event loop: out of memory\n");
		if (l->spawned)
			spawn_release(&l->spawn, false); /* PROGRAM runs on, untracked */
		l->held = true;
		finish_session(l, 125);
		teardown(l);
		return 125;
	}
	status = start(l);
	end_status = status;
	if (status < 0) {
		if (setup_signals(l))
			log_error(
			    "cannot watch signals and timers: out of memory; tracking goes on");
		run_loop(l);
		status = l->bpf ? ebpf_main_status(l->bpf) : tracee_main_status(l->tracees);
		end_status = status;
		if (l->attach_pid && detached(l)) {
			fprintf(stderr, "mevi: detached from %d, which carries on\n",
				(int)l->attach_pid);
			status = 0;
			end_status = -1; /* still running: its exit status is not ours */
		} else if (status < 0) {
			status = end_status = 125;
		}
		log_costs(l);
	}
	finish_session(l, end_status);
	teardown(l);
	return status;
}

int launcher_run(const struct launcher_options *o)
{
	struct launcher l = {.opt = o,
			     .argv = o->argv,
			     .self = getpid(),
			     .sample_ms = o->sample_ms,
			     .attach_pid = o->attach_pid,
			     .scan_layout = o->scan_layout,
			     .sigchld_fd = -1};
	int status;

	/* Launched, each tracee carries our seccomp filter (none with
	 * --layout=scan); attached, none. */
	l.mode.sampled = o->sample_ms != 0;
	l.mode.syscalls = o->sample_ms ? SYSCALLS_SAMPLED : SYSCALLS_EXACT;
	l.mode.own_filters = !o->attach_pid && !o->scan_layout ? 1 : 0;
	status = check_target(&l);
	if (status < 0)
		status = open_ebpf(&l);
	l.started_at = realtime_ns();
	if (status < 0 && o->record) {
		int err = recorder_open(&l.rec, o->record, l.started_at);

		if (err) {
			fprintf(stderr, "mevi-run: cannot record to %s: %s\n", o->record,
				strerror(-err));
			status = 2;
		}
	}
	if (status < 0 && !l.attach_pid && l.bpf && l.ebpf_split) {
		status = split_ebpf(&l);
	} else if (status < 0 && !l.attach_pid && l.bpf) {
		/* The same split, with no filter and no ptrace (ebpf.h). */
		spawn_tracer(&l.spawn, l.argv, NULL);
		l.spawned = true;
		l.self = l.spawn.init ? getpid() : l.spawn.program;
	}
	if (status < 0 && !l.attach_pid && !l.bpf)
		status = become_tracer(&l);
	if (status >= 0) {
		teardown(&l);
		return status;
	}
	return track(&l);
}
