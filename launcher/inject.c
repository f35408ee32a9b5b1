#include "inject.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"

#define MAX_PENDING_SIGNALS 8

struct inject_ctx {
	pid_t tgid;
	pid_t tid;
	int signals[MAX_PENDING_SIGNALS];
	int nsignals;
	int death_status;
};

/*
 * Resumes the thread with PTRACE_SYSCALL and waits for its next syscall stop
 * of the wanted kind (entry or exit), swallowing signal-delivery stops and
 * group-stops on the way. Returns 0, -ESRCH if it died, or -errno.
 */
static int step_to_syscall_stop(struct inject_ctx *ctx, uint8_t want_op)
{
	for (;;) {
		struct __ptrace_syscall_info info;
		int status;
		pid_t got;

		if (ptrace(PTRACE_SYSCALL, ctx->tid, NULL, NULL) < 0)
			return -errno;
		do
			got = waitpid(ctx->tid, &status, __WALL);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return -errno;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			ctx->death_status = status;
			return -ESRCH;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GET_SYSCALL_INFO, ctx->tid, sizeof(info), &info) < 0)
				return -errno;
			if (info.op == want_op)
				return 0;
			continue;
		}
		if ((status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP) {
			/* A signal-delivery-stop: keep it for later. */
			if (ctx->nsignals < MAX_PENDING_SIGNALS)
				ctx->signals[ctx->nsignals++] = WSTOPSIG(status);
			else
				log_warn("tid %d: dropped signal %d during injection", ctx->tid,
					 WSTOPSIG(status));
			continue;
		}
		/* Group-stop or other event stop: carry on, the stop is re-requested
		 * by the kernel's job control when the thread returns to user mode. */
		log_debug("tid %d: stop 0x%x during injection", ctx->tid, status);
	}
}

int inject_syscall(pid_t tgid, pid_t tid, uint64_t insn, long nr, const uint64_t args[6],
		   long *result, int *death_status)
{
	struct inject_ctx ctx = {.tgid = tgid, .tid = tid};
	struct arch_regs saved, regs;
	int err;

	err = arch_get_regs(tid, &saved);
	if (err)
		return err;
	regs = saved;
	arch_prepare_syscall(&regs, insn, nr, args);
	err = arch_set_regs(tid, &regs);
	if (err)
		return err;

	err = step_to_syscall_stop(&ctx, PTRACE_SYSCALL_INFO_ENTRY);
	if (err)
		goto out;
	err = step_to_syscall_stop(&ctx, PTRACE_SYSCALL_INFO_EXIT);
	if (err)
		goto out;
	err = arch_get_regs(tid, &regs);
	if (err)
		goto out;
	*result = arch_syscall_result(&regs);
	err = arch_set_regs(tid, &saved);
out:
	if (err == -ESRCH && death_status)
		*death_status = ctx.death_status;
	for (int i = 0; i < ctx.nsignals && err != -ESRCH; i++)
		syscall(SYS_tgkill, ctx.tgid, ctx.tid, ctx.signals[i]);
	return err;
}
