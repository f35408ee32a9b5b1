/*
 * tracee — every thread and process of the traced program tree, and what
 * happens at each of their ptrace stops.
 *
 * The table follows fork, vfork, clone (threads and CLONE_VM children) and
 * exec across the whole tree, gives every new address space its own mm (see
 * mm.h), decodes the exit stops of the syscalls in syscalls.h, passes signals
 * and job control through untouched (group-stops are parked with
 * PTRACE_LISTEN, so Ctrl-Z and SIGCONT behave as without mevi), and emits
 * process events into the outbox.
 *
 * All of it runs on the launcher's one event loop; nothing here blocks except
 * for the few microseconds of a syscall injection into a stopped thread.
 */
#ifndef MEVI_LAUNCHER_TRACEE_H
#define MEVI_LAUNCHER_TRACEE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mm.h"

struct event_base;
struct outbox;
struct tracee_table;

/* The ptrace options every tracee is seized with. */
#define TRACEE_PTRACE_OPTIONS                                                                      \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |  \
	 PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)

/* Called when a tracee enters a group-stop or a process exits, so that the
 * caller can flush what is queued. */
typedef void (*tracee_notify_fn)(void *ctx);

/* Called when the adopted program has died, before its parent can know
 * (see tracee_hold_main); others_alive: processes it started are still
 * traced, and the session goes on without it. */
typedef void (*tracee_main_exit_fn)(void *ctx, bool others_alive);

/* How the session traces, decided once by the command line and handed down
 * to each tracee, its filter and its address space (no process-wide state). */
struct trace_mode {
	bool sampled;	      /* no userfaultfd: residency is sampled */
	unsigned syscalls;    /* SYSCALLS_EXACT or SYSCALLS_SAMPLED (syscalls.h) */
	unsigned own_filters; /* seccomp filters of ours each tracee carries (sandbox.h) */
};

/* Allocates the table, tracing as mode says (copied). Returns NULL on
 * out-of-memory. */
struct tracee_table *tracee_table_new(struct event_base *base, struct outbox *out,
				      const struct trace_mode *mode, tracee_notify_fn notify,
				      void *notify_ctx);
void tracee_table_free(struct tracee_table *t);

/*
 * Registers the program mevi-run just forked and seized (not yet exec'd):
 * emits its proc_start with ppid = launcher_pid and cmdline = argv.
 * Returns 0 or -ENOMEM.
 */
int tracee_adopt(struct tracee_table *t, pid_t pid, pid_t launcher_pid, char *const argv[]);

/*
 * Attaches to the running process pid: seizes all its threads (attach.h: with
 * ATTACH_PTRACE_OPTIONS, none left behind; from then on its children are
 * followed), emits its proc_start and reads its whole
 * address space. In sampled mode that is all; in exact mode a userfaultfd is
 * injected at the first stop it asks for (PTRACE_INTERRUPT after the attach
 * delay). No syscall stops happen in an attached process, so the sampler
 * re-reads layouts (tracee_start_sampling). Returns 0, or -errno when not
 * even its main thread could be seized.
 */
int tracee_attach(struct tracee_table *t, pid_t pid, pid_t launcher_pid);

/*
 * Detaches from every traced thread, leaving the processes running as they
 * were (a pending signal is delivered). Asynchronous: the threads are let go
 * at their next stop, asked for with PTRACE_INTERRUPT; tracee_detached()
 * and tracee_all_gone() say when it is done.
 */
void tracee_detach(struct tracee_table *t);
bool tracee_detached(const struct tracee_table *t);

/*
 * Sampled mode: re-reads every address space each ms milliseconds
 * (mm_sample(), or, with scan_layout, mm_resync() of everything: an attached
 * process, or one run with --layout=scan, makes no syscall stops), doubling the interval while a
 * tick costs more than 2% of a core and coming back, with hysteresis, when it
 * is cheap again; the first change is logged, and each one, with announce
 * (sampled mode), sent as a
 * sampling event from launcher_pid. An exact-mode attach uses it only to
 * re-read layouts (announce false).
 * Returns 0 or -ENOMEM.
 */
int tracee_start_sampling(struct tracee_table *t, unsigned ms, pid_t launcher_pid, bool announce,
			  bool scan_layout);
unsigned tracee_sample_ms(const struct tracee_table *t);
/* What sampling cost so far: CPU time, ticks, and changes of the interval. */
void tracee_sampler_cost(const struct tracee_table *t, uint64_t *cpu_ns, uint64_t *ticks,
			 unsigned *changes);

/*
 * Reaps and handles every pending wait status (call on SIGCHLD). Each status
 * is looked at with WNOWAIT before it is reaped, so that the adopted
 * program's death can be held (tracee_hold_main).
 */
void tracee_reap(struct tracee_table *t);

/*
 * Holds the adopted program's death: when it is reported, its proc_exit is
 * emitted and fn called before the zombie is reaped — reaping it is what tells
 * its parent (the shell: see spawn.h). If nothing else is traced then, the
 * zombie stays until tracee_release_main(), so that the session can end first;
 * otherwise it is reaped at once and the others are followed on.
 */
void tracee_hold_main(struct tracee_table *t, tracee_main_exit_fn fn, void *ctx);
void tracee_release_main(struct tracee_table *t);

/* How many traced processes are alive; the first max of their pids (in
 * creation order) go to pids. */
size_t tracee_alive(const struct tracee_table *t, pid_t *pids, size_t max);

/* True once every traced process has exited. */
bool tracee_all_gone(const struct tracee_table *t);

/* The exit status of the adopted program (0..255, 128+N for signal N), or -1
 * while it runs. */
int tracee_main_status(const struct tracee_table *t);

/* Emits every known process (started, its map, exited) into the outbox. */
void tracee_snapshot(struct tracee_table *t);

/*
 * Chooses backtraces (enum backtrace_mode of backtrace.h, frames kept at most)
 * for the address spaces created from now on: call it before tracee_adopt.
 * Without a call, backtraces are off.
 */
void tracee_set_backtraces(struct tracee_table *t, int mode, unsigned depth);

/* Before session_end: finishes what is still in flight (the source lines of
 * call stacks, 2 s at most) so that it reaches the stream. */
void tracee_finish(struct tracee_table *t);

/* Counters for the closing log line. */
const struct mm_stats *tracee_stats(const struct tracee_table *t);

#endif /* MEVI_LAUNCHER_TRACEE_H */
