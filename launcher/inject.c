/* inject — running one syscall inside a stopped thread. */
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
 * Single-steps the thread over the syscall instruction at insn: one stop per
 * injected syscall (the kernel reports the step after the syscall returned,
 * as a SIGTRAP). Signal-delivery stops and group-stops met on the way are
 * swallowed (signals are kept for re-queueing). Returns 0, -ESRCH if the
 * thread died, or -errno.
 */
static int step_over_syscall(struct inject_ctx *ctx, uint64_t insn, struct arch_regs *regs)
{
	for (;;) {
		int status;
		pid_t got;

		if (ptrace(PTRACE_SINGLESTEP, ctx->tid, NULL, NULL) < 0)
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
		if ((status >> 16) == 0 && WSTOPSIG(status) == SIGTRAP) {
			int err = arch_get_regs(ctx->tid, regs);

			if (err)
				return err;
			if (arch_regs_ip(regs) == insn + arch_syscall_insn_len)
				return 0; /* stepped over the syscall */
			continue;
		}
		if ((status >> 16) == 0) {
			/* A signal-delivery-stop before the step: keep it for later. */
			if (ctx->nsignals < MAX_PENDING_SIGNALS)
				ctx->signals[ctx->nsignals++] = WSTOPSIG(status);
			else
				log_warn("tid %d: dropped signal %d during injection", ctx->tid,
					 WSTOPSIG(status));
			continue;
		}
		if ((status >> 16) == PTRACE_EVENT_EXIT) {
			/* Killed meanwhile (a group exit, an exec by another
			 * thread): let it die. Waiting for its death here would
			 * deadlock when it is a leader, whose death is reported
			 * only after every other thread's, and those may be
			 * waiting in their own exit stops for us. */
			ptrace(PTRACE_CONT, ctx->tid, NULL, NULL);
			ctx->death_status = INJECT_EXITING;
			return -ESRCH;
		}
		/* Group-stop or other event stop: carry on; job control re-requests
		 * the stop when the thread next returns to user mode. */
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
	err = step_over_syscall(&ctx, insn, &regs);
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
