/*
 * attach — taking hold of a process that is already running (mevi-run --pid)
 * and letting it go again, as far as the kernel is concerned: the options its
 * threads are seized with, seizing every one of them, what /proc says about a
 * process mevi-run did not start, and releasing each thread. Which threads
 * and processes are traced is the caller's bookkeeping (tracee.c, whose
 * tracee_attach() and tracee_detach() drive this module).
 *
 * Promises:
 *  - Attaching installs nothing in the process: no seccomp filter (it could
 *    not be removed at detach, and a SECCOMP_RET_TRACE filter without a
 *    tracer fails the syscalls it names with ENOSYS), and no EXITKILL: the
 *    process outlives mevi-run, however mevi-run ends.
 *  - attach_seize_threads() leaves no thread behind: it goes round
 *    /proc/PID/task until a pass finds no thread it has not seized, so a
 *    thread created meanwhile is seized too; one that exits meanwhile is
 *    skipped.
 *  - attach_release_thread() lets a thread in a ptrace stop go and delivers
 *    the signal it was stopped with; a thread already gone is no error.
 *
 * Nothing here keeps state; every call reads /proc or makes one ptrace
 * request per thread.
 */
#ifndef MEVI_LAUNCHER_ATTACH_H
#define MEVI_LAUNCHER_ATTACH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>

/* The ptrace options of an attached process: no seccomp stops and no
 * EXITKILL (see above); forks, clones and execs are followed. */
#define ATTACH_PTRACE_OPTIONS                                                                      \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |  \
	 PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT)

/* The caller's answer: is tid traced already? */
typedef bool (*attach_known_fn)(void *ctx, pid_t tid);
/* Tells the caller that tid has just been seized. */
typedef void (*attach_seized_fn)(void *ctx, pid_t tid);

/*
 * Seizes, with ATTACH_PTRACE_OPTIONS, every thread of pid that known() does
 * not know, calling seized() for each, until a pass over /proc/PID/task finds
 * none new. Returns 0, or the -errno that stopped it (the task directory
 * unreadable, a PTRACE_SEIZE refused: -EPERM for another tracer or no
 * permission) when pid's own thread is not known afterwards; a failure after
 * the main thread is held only stops the rounds.
 */
int attach_seize_threads(pid_t pid, attach_known_fn known, attach_seized_fn seized, void *ctx);

/* The parent pid of pid (1 for none), from /proc/PID/stat, or -errno. */
pid_t attach_parent(pid_t pid);

/* Lets thread tid, in a ptrace stop, go with PTRACE_DETACH, delivering sig
 * (0: none). Logs a failure other than ESRCH (the thread is gone). */
void attach_release_thread(pid_t tid, int sig);

#endif /* MEVI_LAUNCHER_ATTACH_H */
