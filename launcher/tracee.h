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
 * caller can flush what is queued. terminal_stop: the adopted program was
 * stopped by SIGTSTP, SIGTTIN or SIGTTOU (job control from the terminal). */
typedef void (*tracee_notify_fn)(void *ctx, bool terminal_stop);

/* Allocates the table. Returns NULL on out-of-memory. */
struct tracee_table *tracee_table_new(struct event_base *base, struct outbox *out,
				      tracee_notify_fn notify, void *notify_ctx);
void tracee_table_free(struct tracee_table *t);

/*
 * Registers the program mevi-run just forked and seized (not yet exec'd):
 * emits its proc_start with ppid = launcher_pid and cmdline = argv.
 * Returns 0 or -ENOMEM.
 */
int tracee_adopt(struct tracee_table *t, pid_t pid, pid_t launcher_pid, char *const argv[]);

/* Reaps and handles every pending wait status (call on SIGCHLD). */
void tracee_reap(struct tracee_table *t);

/* True once every traced process has exited. */
bool tracee_all_gone(const struct tracee_table *t);

/* The exit status of the adopted program (0..255, 128+N for signal N), or -1
 * while it runs. */
int tracee_main_status(const struct tracee_table *t);

/* Emits every known process (started, its map, exited) into the outbox. */
void tracee_snapshot(struct tracee_table *t);

/* Sends sig to the adopted program (forwarding SIGTERM / SIGHUP). */
void tracee_forward_signal(struct tracee_table *t, int sig);

/* Counters for the closing log line. */
const struct mm_stats *tracee_stats(const struct tracee_table *t);

#endif /* MEVI_LAUNCHER_TRACEE_H */
