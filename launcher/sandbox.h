/*
 * sandbox — what a tracee's own seccomp filters would do to a syscall that
 * mevi-run wants to inject into it.
 *
 * Injecting userfaultfd() into a process that has forbidden it (OpenSSH's
 * privilege-separated child, minijail, systemd's SystemCallFilter=, a
 * browser's sandbox) would get it killed (KILL), signalled (TRAP) or would
 * fail (ERRNO). So before injecting, mevi-run reads the process's filters
 * with PTRACE_SECCOMP_GET_FILTER and runs them, as the kernel would, on the
 * exact syscalls and arguments it is about to inject. Filters it cannot read
 * (without CAP_SYS_ADMIN) count as forbidding, unless they are only the ones
 * mevi-run installed itself.
 */
#ifndef MEVI_LAUNCHER_SANDBOX_H
#define MEVI_LAUNCHER_SANDBOX_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A syscall as a filter sees it. */
struct sandbox_call {
	int nr;
	uint64_t args[6];
};

/*
 * Whether thread tid (stopped) may run each of the n calls at instruction
 * address ip without its seccomp filters stopping it. Returns 0 when all are
 * allowed, -EPERM when a filter forbids one (*why then names the syscall and
 * the action, in a static buffer), -EACCES when filters that are not
 * mevi-run's cannot be read, or another -errno. own: how many of the
 * thread's filters are mevi-run's own (struct trace_mode, tracee.h), the
 * first ones installed: those are not checked.
 */
int sandbox_check(pid_t tid, unsigned own, uint64_t ip, const struct sandbox_call *calls, size_t n,
		  const char **why);

/*
 * True when process pid carries seccomp filters that are not mevi-run's. Such
 * a process is not interrupted to be attached (PTRACE_INTERRUPT makes a
 * sleeping thread call restart_syscall, which a strict allow-list may punish):
 * it is attached at a traced syscall's stop, if its filters allow it.
 */
bool sandbox_has_foreign_filters(pid_t pid, unsigned own);

/*
 * Runs the classic BPF seccomp program prog (len instructions) on data (a
 * struct seccomp_data) and returns its verdict, as the kernel would: an
 * out-of-range load or a fall off the end returns SECCOMP_RET_KILL_THREAD.
 */
uint32_t sandbox_run(const struct sock_filter *prog, size_t len, const void *data);

#endif /* MEVI_LAUNCHER_SANDBOX_H */
