/*
 * arch — the few architecture-specific operations the launcher needs:
 * saving and restoring a stopped thread's registers, and turning them into a
 * syscall to inject. Syscall numbers and arguments of a stopped tracee are
 * read arch-neutrally with PTRACE_GET_SYSCALL_INFO (see tracee.c); only
 * register surgery lives here. The one implementation is arch/x86_64.c.
 */
#ifndef MEVI_LAUNCHER_ARCH_H
#define MEVI_LAUNCHER_ARCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct arch_regs {
	struct user_regs_struct r;
};

/* The machine code of the syscall instruction and its length. */
extern const uint8_t arch_syscall_insn[];
extern const size_t arch_syscall_insn_len;

/* The AUDIT_ARCH_* value of native tracees (PTRACE_GET_SYSCALL_INFO's arch). */
extern const uint32_t arch_audit_native;

/* Reads / writes the registers of a ptrace-stopped thread. 0 or -errno. */
int arch_get_regs(pid_t tid, struct arch_regs *regs);
int arch_set_regs(pid_t tid, const struct arch_regs *regs);

/*
 * Rewrites regs so that, when the thread returns to user mode, it executes
 * the syscall instruction at insn_addr as syscall nr with args. The kernel
 * must not treat the registers as an interrupted syscall to restart, so the
 * "original syscall number" is cleared.
 */
void arch_prepare_syscall(struct arch_regs *regs, uint64_t insn_addr, long nr,
			  const uint64_t args[6]);

/* The return value of the syscall just executed, as the kernel stored it. */
long arch_syscall_result(const struct arch_regs *regs);

/* The instruction pointer and the stack pointer. */
uint64_t arch_regs_ip(const struct arch_regs *regs);
uint64_t arch_regs_sp(const struct arch_regs *regs);

/* Returns the offset of the first syscall instruction in buf, or -1. */
long arch_find_syscall_insn(const uint8_t *buf, size_t len);

/* The registers in DWARF numbering (0..16 on x86-64: rax rdx rcx rbx rsi rdi
 * rbp rsp r8..r15, then the return address column, the pc), for unwinding.
 * Writes at most max values into out and returns how many. */
unsigned arch_dwarf_regs(const struct arch_regs *regs, uint64_t *out, unsigned max);

#endif /* MEVI_LAUNCHER_ARCH_H */
