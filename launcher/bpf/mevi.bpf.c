// SPDX-License-Identifier: (MIT OR Apache-2.0)
/*
 * mevi.bpf.c — the kernel half of mevi-run's eBPF engine (launcher/ebpf.c is
 * the other half).
 *
 * Only tracepoints: kernels under lockdown (this project's CI VM among them)
 * refuse fentry/fexit and kprobes, while tp_btf and classic tracepoints load.
 *
 *  - The tracked set (map `tracked`, keyed by tgid) holds the traced program
 *    (launched, or attached with --pid: user space adds it) and, added here at
 *    sched_process_fork before the child can run, every process it spawns
 *    from then on: no fork race, no ptrace. Detaching empties it.
 *  - exceptions:page_fault_user / page_fault_kernel report first touches:
 *    faults whose error code says the page was present (copy-on-write,
 *    protection) are dropped, and so are faults the VMA cannot satisfy
 *    (PROT_NONE, a write to read-only memory, file or shared memory in exact
 *    mode). A kernel fault under pagefault_disable() (a probe read) fills
 *    nothing and is dropped too. Consecutive first touches of a thread are
 *    gathered per CPU into one record (a run, mevi_bpf.h), sent before any
 *    later record of that thread and when it leaves the CPU
 *    (sched:sched_switch, attached with the fault programs).
 *  - syscalls:sys_exit_* (mmap, munmap, mremap, brk, madvise, mlock*, shm*)
 *    report what user space must re-read from the kernel (the range, from the
 *    syscall's arguments; raw_syscalls:sys_exit where those cannot attach). With
 *    backtraces on, the exits of anonymous mmap, mremap and brk also carry the
 *    caller's registers and the top of its stack, which user space unwinds
 *    (DWARF CFI or frame pointers) as perf --call-graph dwarf does: a stack
 *    walk here (bpf_get_stack) stops at the first function built without
 *    frame pointers, Debian's glibc among them.
 *  - sched_process_exec/exit report the rest of the lifecycle.
 *
 * Records go to one ring buffer, which orders them across CPUs as they were
 * reserved. They are submitted without a wake-up (a wake-up per record costs
 * the traced program 2-3x on a VM); user space drains the ring on a timer, and
 * a record is submitted with a forced wake-up only when the ring is filling up.
 * A record that does not fit is counted in `drops`; user space answers a
 * growing count with a rescan, so nothing is ever silently lost.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "mevi_bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by user space before loading. */
const volatile bool exact_mode = true;	  /* track private anonymous memory only */
const volatile bool thp_always = false;	  /* THP "always": every VMA may fill 2 MiB */
const volatile __u64 wake_mark = 1 << 20; /* force a wake-up past this much unread data */
const volatile bool want_stacks = false;  /* backtraces: stacks at anonymous mappings */
const volatile bool stacks_all = false;	  /* --backtraces=all: in the young window too */
const volatile __u64 young_ns = 2000000;  /* an exec'd image's young window (MM_ATTACH_DELAY_NS) */
const volatile __u64 young_min = 1 << 20; /* BACKTRACE_YOUNG_MIN_BYTES */

/* Records that did not fit in the ring (user space rescans when it grows). */
__u64 drops = 0;

/*
 * The launched program (tgid), set by user space before it execs, and its
 * wait status once it has ended: written here before its exit record, so
 * user space has it even when the ring could not take the record (mevi-run
 * is not the program's parent and cannot wait for it).
 */
__u32 main_tgid = 0;
__u32 main_status = 0;
__u32 main_ended = 0;

/*
 * Set by user space when it detaches from an attached (--pid) process, before
 * it empties `tracked`: from then on no fork adds a child, so the emptied set
 * stays empty (a fork already past this test is caught by user space's second
 * look a moment later).
 */
__u32 detaching = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* Processes alive at once; each size's buckets are made at load, 1.5-2.8
	 * ms of start-up for 65536 (the launcher may set another: ebpf.c). */
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* preallocating took 7 ms of start-up */
	__type(key, __u32);
	__type(value, struct mevi_bpf_proc);
} tracked SEC(".maps");

/* The runs of first touches being gathered, one slot per CPU (mevi_bpf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MEVI_BPF_RUN_CPUS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct mevi_bpf_run);
} runs SEC(".maps");

#define VM_READ	      0x00000001UL
#define VM_WRITE      0x00000002UL
#define VM_EXEC	      0x00000004UL
#define VM_SHARED     0x00000008UL
#define VM_HUGEPAGE   0x20000000UL
#define VM_NOHUGEPAGE 0x40000000UL
#define PF_PROT	      0x1UL
#define PF_WRITE      0x2UL
#define USER_ADDR_END (1UL << 56)
#define MAX_ERRNO     4095

static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wake_mark ? BPF_RB_FORCE_WAKEUP
									  : BPF_RB_NO_WAKEUP;
}

static __always_inline void *reserve(__u64 size)
{
	void *r = bpf_ringbuf_reserve(&events, size, 0);

	if (!r)
		__sync_fetch_and_add(&drops, 1);
	return r;
}

/* The compiler keeps stores on either side where they are; the CPU (x86:
 * stores in program order) does the rest for a reader of a run's slot. */
#define barrier() asm volatile("" ::: "memory")

/* This CPU's run slot, or NULL past MEVI_BPF_RUN_CPUS. */
static __always_inline struct mevi_bpf_run *cpu_run(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&runs, &cpu);
}

/* Sends the open run of this CPU as one record, and closes it. */
static __always_inline void run_flush(struct mevi_bpf_run *run)
{
	struct mevi_bpf_fault *r;

	if (run->end == run->start)
		return;
	r = reserve(sizeof(*r));
	if (r) {
		r->h.type = MEVI_BPF_FAULT;
		r->h.pid = run->tgid;
		r->h.tid = run->tid;
		r->h.flags = run->flags;
		r->h.seq = run->seq;
		r->addr = run->start;
		r->end = run->end;
		__builtin_memcpy(r->comm, run->comm, sizeof(r->comm));
		bpf_ringbuf_submit(r, rb_flags());
	}
	run->end = run->start;
}

/* Sends this CPU's open run, if any: before a record of its thread's that
 * must come after its faults (a syscall's, a fork's, an exec's, an exit's),
 * and when its thread leaves the CPU. */
static __always_inline void flush_cpu_run(void)
{
	struct mevi_bpf_run *run = cpu_run();

	if (run)
		run_flush(run);
}

static __always_inline int on_fault(unsigned long address, unsigned long error_code, __u32 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 page = address & ~4095UL;
	__u32 tgid = id >> 32;
	struct mevi_bpf_proc *p;
	struct mevi_bpf_fault *r;
	struct mevi_bpf_run *run;

	/*
	 * No look at the VMA here: bpf_find_vma() at this tracepoint (interrupts
	 * still disabled) defers its mmap_lock unlock to an irq_work, a
	 * self-interrupt that cost 9-17 us per fault on this project's VM.
	 * User space knows which ranges it tracks, and which it learnt are not.
	 */
	p = bpf_map_lookup_elem(&tracked, &tgid);
	if (!p || (error_code & PF_PROT))
		return 0;
	flags |= (error_code & PF_WRITE) ? MEVI_BPF_F_WRITE : 0;
	run = cpu_run();
	if (run) {
		if (run->tid == (__u32)id && run->tgid == tgid && run->seq == p->seq &&
		    run->end > run->start) {
			if (run->end == page + 4096)
				return 0; /* the same fault again (retried) */
			if (run->end == page &&
			    run->end - run->start < MEVI_BPF_RUN_PAGES * 4096UL) {
				run->end = page + 4096;
				return 0;
			}
		}
		run_flush(run);
		run->gen++;
		barrier();
		run->tgid = tgid;
		run->tid = (__u32)id;
		run->flags = flags;
		run->seq = p->seq;
		run->start = page;
		run->end = page + 4096;
		if (want_stacks) /* first touches are named by thread, as it was named then */
			bpf_get_current_comm(run->comm, sizeof(run->comm));
		barrier();
		run->gen++;
		return 0;
	}
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	r->h.type = MEVI_BPF_FAULT;
	r->h.pid = tgid;
	r->h.tid = (__u32)id;
	r->h.flags = flags;
	r->h.seq = p->seq;
	r->addr = address;
	r->end = page + 4096;
	if (want_stacks)
		bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, rb_flags());
	return 0;
}

/*
 * Priming: a discarded record at the start of each page of the ring, written
 * once by whoever loads the set, before anything is attached (bpfskel.h:
 * bpfskel_prime_ring). On this project's VM the kernel's first write to each
 * page of a new ring costs ~10-15 us (the hypervisor maps the page for the
 * kernel then, as it does for a first touch in user space); a short program
 * with backtraces on fills 2-3 MiB of ring and paid that in its fault and
 * syscall programs (~9 ms of a 0.16 s malloc churn).
 */
static long prime_page(__u64 i, void *ctx)
{
	void *r = bpf_ringbuf_reserve(&events, 4096 - 8, 0); /* with its 8-byte header: a page */

	if (!r)
		return 1; /* full: every page is written */
	bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("syscall")
int prime_ring(void *ctx)
{
	bpf_loop(1 << 18, prime_page, NULL, 0); /* the largest ring, 1 GiB, in pages */
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(fault_user, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(address, error_code, 0);
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(fault_kernel, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	struct task_struct *t = bpf_get_current_task_btf();

	if (address >= USER_ADDR_END || t->pagefault_disabled)
		return 0;
	return on_fault(address, error_code, MEVI_BPF_F_KERNEL);
}

/* A thread leaves its CPU: its run goes (attached with the fault programs). */
SEC("tp_btf/sched_switch")
int BPF_PROG(run_switch)
{
	flush_cpu_run();
	return 0;
}

static __always_inline struct mevi_bpf_rec *rec_new(__u32 type, __u32 tgid, __u32 tid, __u64 seq)
{
	struct mevi_bpf_rec *r = reserve(sizeof(*r));

	if (!r)
		return NULL;
	__builtin_memset(r, 0, sizeof(*r));
	r->h.type = type;
	r->h.pid = tgid;
	r->h.tid = tid;
	r->h.seq = seq;
	return r;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid, ctgid = child->tgid;
	struct mevi_bpf_proc *p = bpf_map_lookup_elem(&tracked, &ptgid);
	struct mevi_bpf_rec *r;
	__u32 flags = 0;

	if (!p || detaching)
		return 0;
	flush_cpu_run(); /* the child's copy of the map has its parent's touches */
	if (ctgid == ptgid) {
		flags = MEVI_BPF_F_THREAD;
	} else {
		struct mevi_bpf_proc np = {.code_maps_woken = ~0u, .brk_end = p->brk_end};

		if (bpf_map_update_elem(&tracked, &ctgid, &np, BPF_ANY))
			flags = MEVI_BPF_F_UNTRACKED; /* the set is full */
		/* Pointer fields are read, not walked: the verifier looks up
		 * each walk's trust in the kernel's BTF by name, a linear
		 * scan (with the exit program's, 4 ms of every start-up). */
		if (BPF_CORE_READ(child, mm) == BPF_CORE_READ(parent, mm))
			flags |= MEVI_BPF_F_SAMEVM;
	}
	r = rec_new(MEVI_BPF_FORK, ptgid, (__u32)bpf_get_current_pid_tgid(), p->seq);
	if (!r)
		return 0;
	r->h.flags = flags;
	r->nr = ctgid;
	r->aux = child->pid;
	if (flags & MEVI_BPF_F_THREAD) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(child);

		r->ret = BPF_CORE_READ(regs, sp);
	}
	bpf_ringbuf_submit(r, rb_flags());
	return 0;
}

/*
 * An exec, with its command line: the new image's argument strings, on its
 * stack already (mm->arg_start..arg_end). No wake-up: nothing in it needs
 * the process alive any more, and a build's thousands of short programs
 * would each cost one (but PROGRAM's own, which the launcher waits for).
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = task->tgid;
	struct mevi_bpf_proc *p = bpf_map_lookup_elem(&tracked, &tgid);
	struct mevi_bpf_exec *x;
	__u64 start, end, n;

	if (!p)
		return 0;
	flush_cpu_run(); /* the old image's */
	__sync_fetch_and_add(&p->seq, 1);
	p->young_until = bpf_ktime_get_ns() + young_ns;
	p->code_maps_woken = ~0u; /* a new image: its modules are to be read */
	p->brk_end = 0;		  /* and a new heap */
	x = reserve(sizeof(*x));
	if (!x)
		return 0;
	__builtin_memset(&x->rec, 0, sizeof(x->rec));
	x->rec.h.type = MEVI_BPF_EXEC;
	x->rec.h.pid = tgid;
	x->rec.h.tid = (__u32)old_pid;
	x->rec.h.seq = p->seq;
	/* The new stack, and where the exec's writes to it start (its argc:
	 * every page from there up holds what the exec wrote, without a fault
	 * of the program's; a program gone before it is read has them too). */
	x->rec.arg[0] = BPF_CORE_READ(bprm, vma, vm_start);
	x->rec.arg[1] = BPF_CORE_READ(bprm, vma, vm_end);
	x->rec.arg[2] = BPF_CORE_READ(task, mm, start_stack);
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	n = end > start ? end - start : 0;
	x->full = (__u32)n;
	if (n > MEVI_BPF_ARGS_BYTES)
		n = MEVI_BPF_ARGS_BYTES;
	x->len = 0;
	if (n && bpf_probe_read_user(x->args, n, (void *)start) == 0)
		x->len = (__u32)n;
	bpf_ringbuf_submit(x, tgid == main_tgid ? BPF_RB_FORCE_WAKEUP : rb_flags());
	return 0;
}

#define SIGNAL_GROUP_EXIT 0x00000004

SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *task, bool group_dead)
{
	__u32 tgid = task->tgid;
	struct mevi_bpf_proc *p;
	struct mevi_bpf_rec *r;
	__u32 code;

	if (!group_dead)
		return 0;
	p = bpf_map_lookup_elem(&tracked, &tgid);
	if (!p)
		return 0;
	flush_cpu_run(); /* the other threads' went when they left their CPUs */
	/* What wait() will report (wait_task_zombie): the group's code, or the
	 * leader's own when the threads ended one by one. (Read, not walked:
	 * see proc_fork.) */
	if (BPF_CORE_READ(task, signal, flags) & SIGNAL_GROUP_EXIT)
		code = (__u32)BPF_CORE_READ(task, signal, group_exit_code);
	else if (BPF_CORE_READ(task, group_leader))
		code = (__u32)BPF_CORE_READ(task, group_leader, exit_code);
	else
		code = (__u32)task->exit_code;
	if (tgid == main_tgid && main_tgid) {
		main_status = code;
		__sync_fetch_and_add(&main_ended, 1);
	}
	r = rec_new(MEVI_BPF_EXIT, tgid, task->pid, p->seq);
	if (r) {
		/* Only PROGRAM's end is waited for; the others wait for the
		 * next timed drain (a wake-up is an interrupt, here and on
		 * mevi-run's CPU: one per process slowed fork+exec). */
		r->nr = code;
		bpf_ringbuf_submit(r, tgid == main_tgid ? BPF_RB_FORCE_WAKEUP : rb_flags());
	}
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}

/* madvise advice that changes no page and no layout (MADV_HUGEPAGE, 14, is
 * reported: user space then watches the range for 2 MiB faults). */
static __always_inline bool advice_is_noop(__u64 a)
{
	return a <= 2 || (a >= 10 && a <= 20 && a != 12 && a != 13 && a != 14);
}

#define PROT_EXEC     0x04
#define MAP_SHARED    0x01
#define MAP_FIXED     0x10
#define MAP_ANONYMOUS 0x20

/*
 * The registers a user-space unwinder starts from, and the top of the stack:
 * to the end of the stack pointer's page, then the next page if it reads
 * (one read of both would fail whole where the stack's mapping ends).
 */
static __always_inline void stack_fill(struct mevi_bpf_stack *s, struct pt_regs *regs)
{
	__u64 sp = regs->sp;
	__u32 first = 4096 - (sp & 4095);

	s->regs[MEVI_BPF_REG_IP] = regs->ip;
	s->regs[MEVI_BPF_REG_SP] = sp;
	s->regs[MEVI_BPF_REG_BP] = regs->bp;
	s->regs[MEVI_BPF_REG_BX] = regs->bx;
	s->regs[MEVI_BPF_REG_R12] = regs->r12;
	s->regs[MEVI_BPF_REG_R13] = regs->r13;
	s->regs[MEVI_BPF_REG_R14] = regs->r14;
	s->regs[MEVI_BPF_REG_R15] = regs->r15;
	s->len = 0;
	s->pad = 0;
	if (first > 4096 || first == 0)
		return;
	if (bpf_probe_read_user(s->stack, first, (void *)sp))
		return;
	s->len = first;
	if (bpf_probe_read_user(s->stack + first, 4096, (void *)(sp + first)))
		return;
	s->len = first + 4096;
}

/*
 * Whether a mapping call of p gets its stack copied. In an exec'd image's
 * first young_ns (the dynamic loader and libc's start-up) only an anonymous
 * mmap or an mremap of young_min bytes or more does, unless stacks_all: the
 * same rule as user space's backtrace_wants_exit, applied here so that a
 * short program's loader costs no copy and no wake-up each.
 */
static __always_inline bool young_stack(struct mevi_bpf_proc *p, __u32 nr, const __u64 *a)
{
	if (stacks_all || !p->young_until || bpf_ktime_get_ns() >= p->young_until)
		return true;
	if (nr == MEVI_BPF_SC_MMAP)
		return a[1] >= young_min;
	return nr == MEVI_BPF_SC_MREMAP && a[2] >= young_min;
}

/*
 * The exit of a layout syscall: what user space must re-read (the range, from
 * the arguments in the caller's saved registers), with the caller's stack when
 * backtraces are on.
 */
static __always_inline int on_sys_exit(struct pt_regs *regs, long sysno, long ret)
{
	__u64 id, a[4];
	__u32 tgid, nr;
	struct mevi_bpf_proc *p;
	struct mevi_bpf_rec *r;
	bool wake = false, grew = false;

	switch (sysno) {
	case 9:
		nr = MEVI_BPF_SC_MMAP;
		break;
	case 11:
		nr = MEVI_BPF_SC_MUNMAP;
		break;
	case 25:
		nr = MEVI_BPF_SC_MREMAP;
		break;
	case 12:
		nr = MEVI_BPF_SC_BRK;
		break;
	case 28:
		nr = MEVI_BPF_SC_MADVISE;
		break;
	case 149: /* mlock */
	case 325: /* mlock2 */
		nr = MEVI_BPF_SC_MLOCK;
		break;
	case 151:
		nr = MEVI_BPF_SC_MLOCKALL;
		break;
	case 30:
		nr = MEVI_BPF_SC_SHMAT;
		break;
	case 67:
		nr = MEVI_BPF_SC_SHMDT;
		break;
	default:
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	tgid = id >> 32;
	p = bpf_map_lookup_elem(&tracked, &tgid);
	if (!p || (ret < 0 && ret >= -MAX_ERRNO && nr != MEVI_BPF_SC_BRK))
		return 0;
	a[0] = regs->di;
	a[1] = regs->si;
	a[2] = regs->dx;
	a[3] = regs->r10;
	/* A library mapped (a dlopen): user space re-reads the layout its
	 * stacks unwind against when the next stack copy says so. */
	if (nr == MEVI_BPF_SC_MMAP && (a[2] & PROT_EXEC) && !(a[3] & MAP_ANONYMOUS))
		__sync_fetch_and_add(&p->code_maps, 1);
	if (nr == MEVI_BPF_SC_MMAP && exact_mode && !(a[3] & MAP_FIXED) &&
	    (!(a[3] & MAP_ANONYMOUS) || (a[3] & MAP_SHARED)))
		return 0; /* cannot create or replace private anonymous memory */
	if (nr == MEVI_BPF_SC_MADVISE && advice_is_noop(a[2]))
		return 0;
	flush_cpu_run(); /* its faults before the change */
	__sync_fetch_and_add(&p->seq, 1);
	if (nr == MEVI_BPF_SC_BRK) {
		/* Only a break that moved up makes memory whose origin is
		 * asked: a query (brk(0)), a refusal or a shrink gets no stack
		 * (half of a malloc churn's brk calls give memory back). */
		grew = p->brk_end ? (__u64)ret > p->brk_end : a[0] != 0;
		p->brk_end = (__u64)ret;
	}
	if (want_stacks && ret >= 0 &&
	    ((nr == MEVI_BPF_SC_MMAP && (a[3] & MAP_ANONYMOUS)) || nr == MEVI_BPF_SC_MREMAP ||
	     grew) &&
	    young_stack(p, nr, a)) {
		struct mevi_bpf_stack *s = reserve(sizeof(*s));

		if (s) {
			stack_fill(s, regs);
			r = &s->rec;
			__builtin_memset(r, 0, sizeof(*r));
			r->h.type = MEVI_BPF_SYSCALL_STACK;
			r->aux = p->code_maps;
			if (p->code_maps_woken != r->aux) {
				p->code_maps_woken = r->aux;
				wake = true;
			}
			r->h.pid = tgid;
			r->h.tid = (__u32)id;
			r->h.seq = p->seq;
			goto fill;
		}
	}
	r = rec_new(MEVI_BPF_SYSCALL, tgid, (__u32)id, p->seq);
	if (!r)
		return 0;
fill:
	r->nr = nr;
	r->ret = (__u64)ret;
	r->arg[0] = a[0];
	r->arg[1] = a[1];
	r->arg[2] = a[2];
	r->arg[3] = a[3];
	/*
	 * The first stack copy of an image, and the first after it loaded a
	 * library, wakes user space at once (unless wake-ups are off: the
	 * fixed-period test mode): it is unwound against the process's module
	 * list, which must be read while the process lives, and a short-lived
	 * one may be gone by the next timed drain. Later copies wait for the
	 * drain: the list they need is read already, and a wake-up costs the
	 * program an interrupt to another CPU (618 brk calls of a malloc churn
	 * made it 30 ms slower, of 140).
	 */
	bpf_ringbuf_submit(r, wake && wake_mark != ~0ULL ? BPF_RB_FORCE_WAKEUP : rb_flags());
	return 0;
}

/*
 * The layout syscalls' exits: one program, attached by user space to the
 * classic syscalls:sys_exit_* tracepoint of each (the kernel runs it only for
 * those syscalls; any syscall tracepoint puts every task on the slow
 * syscall-exit path, which costs little, but a program run at every
 * syscall's exit, as raw_syscalls:sys_exit's would be, cost 0.3-0.4 us a
 * syscall on this project's VM). One program, not one each: each program
 * loaded is 0.1-0.2 ms of every start-up.
 */
struct sys_exit_args {
	__u64 common; /* common_type, common_flags, common_preempt_count, common_pid */
	int nr;	      /* __syscall_nr */
	long ret;
};

static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int sys_exit_layout(struct sys_exit_args *ctx)
{
	return on_sys_exit(user_regs(), ctx->nr, ctx->ret);
}

/*
 * The same for every syscall at once, where the classic tracepoints cannot be
 * attached (no tracefs to read their ids from): raw_syscalls:sys_exit as
 * tp_btf, which returns after one compare for the syscalls that do not matter.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, regs->orig_ax, ret);
}
