/*
 * inject — runs a syscall inside a stopped tracee thread.
 *
 * Used to create a userfaultfd inside the tracee's address space (a
 * userfaultfd belongs to the mm of the process that created it) and to close
 * the tracee's copy of it afterwards.
 */
#ifndef MEVI_LAUNCHER_INJECT_H
#define MEVI_LAUNCHER_INJECT_H

#include <stdint.h>
#include <sys/types.h>

/*
 * Makes thread tid execute syscall nr(args) and returns its result in
 * *result (a negative errno value on failure of the syscall itself).
 *
 * Precondition: tid is in a ptrace-stop at a user-mode boundary — a
 * syscall-exit-stop, or the initial stop of a new child — and insn is the
 * address of a syscall instruction mapped executable in its address space.
 * The thread single-steps over the syscall instruction (one ptrace stop per
 * injected syscall). Its registers are restored afterwards and it is left in
 * the SIGTRAP stop of that step; the caller resumes it with signal 0 (which
 * discards the SIGTRAP), as it would have resumed the original stop.
 *
 * Signals that arrive meanwhile are suppressed and re-queued with tgkill
 * afterwards (their siginfo becomes SI_TKILL).
 *
 * Returns 0, or -ESRCH if the thread died meanwhile — then *death_status holds
 * the status waitpid() reported, which the caller must handle as if it had
 * reaped it itself, or INJECT_EXITING if the thread was found in its exit stop
 * (it has been resumed into its death, which the caller's wait loop reaps
 * later) — or another -errno from ptrace.
 */
#define INJECT_EXITING (-1)

int inject_syscall(pid_t tgid, pid_t tid, uint64_t insn, long nr, const uint64_t args[6],
		   long *result, int *death_status);

#endif /* MEVI_LAUNCHER_INJECT_H */
