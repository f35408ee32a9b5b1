/* x86-64 implementation of launcher/arch.h. */
#include "../arch.h"

#include <errno.h>
#include <linux/audit.h>
#include <string.h>
#include <sys/ptrace.h>

const uint8_t arch_syscall_insn[] = {0x0f, 0x05}; /* syscall */
const size_t arch_syscall_insn_len = 2;
const uint32_t arch_audit_native = AUDIT_ARCH_X86_64;

int arch_get_regs(pid_t tid, struct arch_regs *regs)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, &regs->r) < 0)
		return -errno;
	return 0;
}

int arch_set_regs(pid_t tid, const struct arch_regs *regs)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, &regs->r) < 0)
		return -errno;
	return 0;
}

void arch_prepare_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr,
			  const uint64_t args[6])
{
	regs->r.rip = insn_addr;
	regs->r.rax = (uint64_t)nr;
	/* orig_rax = -1: not inside a syscall, so no -ERESTART* rewriting of
	 * rip/rax happens on the way back to user mode (as CRIU does). */
	regs->r.orig_rax = (uint64_t)-1;
	regs->r.rdi = args[0];
	regs->r.rsi = args[1];
	regs->r.rdx = args[2];
	regs->r.r10 = args[3];
	regs->r.r8 = args[4];
	regs->r.r9 = args[5];
}

long arch_syscall_result(const struct arch_regs *regs)
{
	return (long)regs->r.rax;
}

uint64_t arch_regs_ip(const struct arch_regs *regs)
{
	return regs->r.rip;
}

uint64_t arch_regs_sp(const struct arch_regs *regs)
{
	return regs->r.rsp;
}

long arch_find_syscall_insn(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == 0x0f && buf[i + 1] == 0x05)
			return (long)i;
	return -1;
}

unsigned arch_dwarf_regs(const struct arch_regs *regs, uint64_t *out, unsigned max)
{
	const struct user_regs_struct *r = &regs->r;
	const uint64_t v[17] = {r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi,
				r->rbp, r->rsp, r->r8,	r->r9,	r->r10, r->r11,
				r->r12, r->r13, r->r14, r->r15, r->rip};
	unsigned n = max < 17 ? max : 17;

	memcpy(out, v, n * sizeof(*out));
	return n;
}
