/* sandbox — the tracee's own seccomp filters, run on a syscall before injecting it. */
#include "sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000U
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif

#define MAX_FILTERS	     64 /* the kernel allows 32k instructions in all */
#define BPF_MEMWORDS_SECCOMP 16 /* BPF_MEMWORDS */

/* Applies the ALU operation op to *a with operand src. Returns true to go
 * on, or false with the verdict that ends the program in *verdict: 0 for a
 * division by zero (as the kernel's interpreter), kill for an unknown op. */
static bool alu(uint32_t op, uint32_t *a, uint32_t src, uint32_t *verdict)
{
	*verdict = 0;
	switch (op) {
	case BPF_ADD:
		*a += src;
		return true;
	case BPF_SUB:
		*a -= src;
		return true;
	case BPF_MUL:
		*a *= src;
		return true;
	case BPF_DIV:
		if (!src)
			return false;
		*a /= src;
		return true;
	case BPF_MOD:
		if (!src)
			return false;
		*a %= src;
		return true;
	case BPF_OR:
		*a |= src;
		return true;
	case BPF_AND:
		*a &= src;
		return true;
	case BPF_XOR:
		*a ^= src;
		return true;
	case BPF_LSH:
		*a = src < 32 ? *a << src : 0;
		return true;
	case BPF_RSH:
		*a = src < 32 ? *a >> src : 0;
		return true;
	case BPF_NEG:
		*a = -*a;
		return true;
	}
	*verdict = SECCOMP_RET_KILL_THREAD;
	return false;
}

uint32_t sandbox_run(const struct sock_filter *prog, size_t len, const void *data)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS_SECCOMP] = {0};
	const size_t dlen = sizeof(struct seccomp_data);

	for (size_t pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k;

		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
		case BPF_LDX: {
			uint32_t v;

			switch (BPF_MODE(f->code)) {
			case BPF_ABS:
				if (BPF_SIZE(f->code) != BPF_W || k % 4 || k + 4 > dlen)
					return SECCOMP_RET_KILL_THREAD;
				memcpy(&v, (const char *)data + k, 4);
				break;
			case BPF_LEN:
				v = (uint32_t)dlen;
				break;
			case BPF_IMM:
				v = k;
				break;
			case BPF_MEM:
				if (k >= BPF_MEMWORDS_SECCOMP)
					return SECCOMP_RET_KILL_THREAD;
				v = mem[k];
				break;
			default:
				return SECCOMP_RET_KILL_THREAD;
			}
			if (BPF_CLASS(f->code) == BPF_LD)
				a = v;
			else
				x = v;
			break;
		}
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS_SECCOMP)
				return SECCOMP_RET_KILL_THREAD;
			mem[k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
			break;
		case BPF_ALU: {
			uint32_t verdict;

			if (!alu(BPF_OP(f->code), &a, src, &verdict))
				return verdict;
			break;
		}
		case BPF_JMP: {
			bool cond;

			switch (BPF_OP(f->code)) {
			case BPF_JA:
				pc += k;
				continue;
			case BPF_JEQ:
				cond = a == src;
				break;
			case BPF_JGT:
				cond = a > src;
				break;
			case BPF_JGE:
				cond = a >= src;
				break;
			case BPF_JSET:
				cond = (a & src) != 0;
				break;
			default:
				return SECCOMP_RET_KILL_THREAD;
			}
			pc += cond ? f->jt : f->jf;
			break;
		}
		case BPF_RET:
			return BPF_RVAL(f->code) == BPF_A ? a : k;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		default:
			return SECCOMP_RET_KILL_THREAD;
		}
	}
	return SECCOMP_RET_KILL_THREAD;
}

/* Seccomp mode and filter count from /proc/TID/status. */
static int read_seccomp(pid_t tid, int *mode, unsigned *nfilters)
{
	char buf[4096];
	long m = 0, n = 0;
	int err = procfs_status_read(tid, buf, sizeof(buf));

	if (err)
		return err;
	procfs_status_field(buf, "Seccomp", &m);
	*mode = (int)m;
	/* Seccomp_filters: Linux 5.9+; without it, assume the worst. */
	if (!procfs_status_field(buf, "Seccomp_filters", &n))
		n = m == SECCOMP_MODE_FILTER ? MAX_FILTERS : 0;
	*nfilters = (unsigned)n;
	return 0;
}

bool sandbox_has_foreign_filters(pid_t pid, unsigned own)
{
	unsigned n = 0;
	int mode = 0;

	return read_seccomp(pid, &mode, &n) == 0 &&
	       (mode == SECCOMP_MODE_STRICT || (mode == SECCOMP_MODE_FILTER && n > own));
}

/* Higher precedence first, as the kernel orders actions. */
static int32_t precedence(uint32_t ret)
{
	return (int32_t)(ret & SECCOMP_RET_ACTION_FULL);
}

static const char *action_name(uint32_t ret)
{
	switch (ret & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS:
		return "kills the process";
	case SECCOMP_RET_KILL_THREAD:
		return "kills the thread";
	case SECCOMP_RET_TRAP:
		return "sends SIGSYS";
	case SECCOMP_RET_ERRNO:
		return "fails it";
	case SECCOMP_RET_USER_NOTIF:
		return "hands it to a supervisor";
	case SECCOMP_RET_TRACE:
		return "stops it for a tracer";
	default:
		return "refuses it";
	}
}

int sandbox_check(pid_t tid, unsigned own, uint64_t ip, const struct sandbox_call *calls, size_t n,
		  const char **why)
{
	static char reason[160];
	struct sock_filter *progs[MAX_FILTERS] = {0};
	size_t lens[MAX_FILTERS] = {0};
	unsigned nfilters = 0;
	int mode = 0, err;

	err = read_seccomp(tid, &mode, &nfilters);
	if (err)
		return err;
	if (mode == SECCOMP_MODE_STRICT) {
		*why = "it runs in strict seccomp mode";
		return -EPERM;
	}
	if (mode != SECCOMP_MODE_FILTER || nfilters <= own)
		return 0;
	if (nfilters > MAX_FILTERS)
		nfilters = MAX_FILTERS;
	for (unsigned i = 0; i < nfilters; i++) {
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)i, NULL);

		if (len <= 0) {
			err = len < 0 ? -errno : -EINVAL;
			goto out;
		}
		progs[i] = calloc((size_t)len, sizeof(struct sock_filter));
		if (!progs[i]) {
			err = -ENOMEM;
			goto out;
		}
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)i, progs[i]) != len) {
			err = -errno;
			goto out;
		}
		lens[i] = (size_t)len;
	}
	for (size_t c = 0; c < n; c++) {
		struct seccomp_data d = {
		    .nr = calls[c].nr, .arch = AUDIT_ARCH_X86_64, .instruction_pointer = ip};
		uint32_t verdict = SECCOMP_RET_ALLOW;

		memcpy(d.args, calls[c].args, sizeof(d.args));
		for (unsigned i = 0; i < nfilters; i++) {
			uint32_t r = sandbox_run(progs[i], lens[i], &d);

			if (precedence(r) < precedence(verdict))
				verdict = r;
		}
		uint32_t action = verdict & SECCOMP_RET_ACTION_FULL;

		if (action != SECCOMP_RET_ALLOW && action != SECCOMP_RET_LOG) {
			snprintf(reason, sizeof(reason),
				 "its own seccomp filter %s when it calls syscall %d",
				 action_name(verdict), calls[c].nr);
			*why = reason;
			err = -EPERM;
			goto out;
		}
	}
	err = 0;
out:
	if (err && err != -EPERM) {
		/* EACCES without CAP_SYS_ADMIN, EMEDIUMTYPE for an eBPF filter. */
		log_debug("tid %d: cannot read its seccomp filters: %s", tid, strerror(-err));
		*why = "it has seccomp filters mevi-run cannot read";
		err = -EACCES;
	}
	for (unsigned i = 0; i < nfilters; i++)
		free(progs[i]);
	return err;
}
