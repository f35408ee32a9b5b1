/*
 * mevi_bpf.h — the records the eBPF engine's kernel programs (mevi.bpf.c) put
 * in their ring buffer, read by launcher/ebpf.c. Shared by both sides: plain
 * fixed-size integers only, no pointers, the same layout on both.
 */
#ifndef MEVI_LAUNCHER_BPF_MEVI_BPF_H
#define MEVI_LAUNCHER_BPF_MEVI_BPF_H

enum mevi_bpf_rec_type {
	MEVI_BPF_FAULT = 1,	    /* a first touch: struct mevi_bpf_fault */
	MEVI_BPF_FORK = 2,	    /* a new process or thread: struct mevi_bpf_rec */
	MEVI_BPF_EXEC = 3,	    /* an exec: struct mevi_bpf_exec */
	MEVI_BPF_EXIT = 4,	    /* the last thread of a process exited */
	MEVI_BPF_SYSCALL = 5,	    /* a layout syscall returned: struct mevi_bpf_rec */
	MEVI_BPF_SYSCALL_STACK = 6, /* the same, with the caller's registers and
				     * the top of its stack: struct mevi_bpf_stack */
};

/* MEVI_BPF_FAULT flags. */
#define MEVI_BPF_F_WRITE  0x1u /* a write fault */
#define MEVI_BPF_F_KERNEL 0x2u /* the kernel touched user memory (copy_to_user...) */

/* MEVI_BPF_FORK flags. */
#define MEVI_BPF_F_THREAD    0x1u /* a thread of the same process */
#define MEVI_BPF_F_SAMEVM    0x2u /* a process sharing its parent's mm (vfork, CLONE_VM) */
#define MEVI_BPF_F_UNTRACKED 0x4u /* not added: the tracked set was full */

/* The syscalls whose exits are reported (MEVI_BPF_SYSCALL's nr). */
enum mevi_bpf_sc {
	MEVI_BPF_SC_MMAP = 1,
	MEVI_BPF_SC_MUNMAP,
	MEVI_BPF_SC_MREMAP,
	MEVI_BPF_SC_BRK,
	MEVI_BPF_SC_MADVISE,
	MEVI_BPF_SC_MPROTECT,
	MEVI_BPF_SC_MLOCK,
	MEVI_BPF_SC_MLOCKALL,
	MEVI_BPF_SC_SHMAT,
	MEVI_BPF_SC_SHMDT,
};

/* Every record starts with this header. */
struct mevi_bpf_hdr {
	__u32 type; /* enum mevi_bpf_rec_type */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 flags;
	__u64 seq; /* the process's layout sequence when the record was made */
};

/*
 * First touches: the pages from addr's to end, faulted one after the other
 * by one thread (h.tid), in address order, with no layout change of its
 * process in between (all at h.seq): a run (struct mevi_bpf_run), or one
 * page.
 */
struct mevi_bpf_fault {
	struct mevi_bpf_hdr h;
	__u64 addr;    /* in the first page */
	__u64 end;     /* the last page's end */
	char comm[16]; /* the faulting thread's name (backtraces on; else unset) */
};

/*
 * A run of first touches being gathered on one CPU: the fault program
 * extends it while the next fault on that CPU is the next page, of the same
 * thread, at the same layout sequence, and sends it as one MEVI_BPF_FAULT
 * record (one record per page cost 150-250 ns a fault) when
 *  - a fault on that CPU does not extend it, or it has MEVI_BPF_RUN_PAGES;
 *  - its thread leaves the CPU (sched_switch), so a run is only ever open on
 *    the CPU its thread is running on;
 *  - its thread makes a layout syscall, forks, execs or ends its process:
 *    the run's record comes before that one's, as each fault's did.
 * One slot per CPU (map `runs`, indexed by CPU number; a CPU past
 * MEVI_BPF_RUN_CPUS sends every fault on its own). User space maps the slots
 * read-only and peeks at the open ones (a thread that runs on without
 * leaving its CPU keeps its run open): gen is odd while a new run is being
 * written over a slot; end alone grows, or drops to start (closed), in one
 * store.
 */
struct mevi_bpf_run {
	__u64 gen;
	__u32 tgid, tid;
	__u32 flags, pad;
	__u64 seq;
	__u64 start, end; /* start == end: no run open */
	char comm[16];
};

#define MEVI_BPF_RUN_PAGES 512
#define MEVI_BPF_RUN_CPUS  1024

struct mevi_bpf_rec {
	struct mevi_bpf_hdr h;
	__u32 nr;     /* SYSCALL: enum mevi_bpf_sc; FORK: child tgid; EXIT: wait status */
	__u32 aux;    /* FORK: child tid; SYSCALL_STACK: the process's code_maps then */
	__u64 ret;    /* SYSCALL: its return value; FORK: the child thread's stack pointer */
	__u64 arg[4]; /* SYSCALL: its first arguments */
};

/*
 * The top of the user stack copied at a mapping syscall's exit (backtraces
 * on): from the stack pointer to the end of its page, and the page above
 * when it is readable, so 4 to 8 KiB.
 */
#define MEVI_BPF_STACK_BYTES 8192

/* The user registers a backtrace starts from (x86-64). */
enum mevi_bpf_reg {
	MEVI_BPF_REG_IP,
	MEVI_BPF_REG_SP,
	MEVI_BPF_REG_BP,
	MEVI_BPF_REG_BX,
	MEVI_BPF_REG_R12,
	MEVI_BPF_REG_R13,
	MEVI_BPF_REG_R14,
	MEVI_BPF_REG_R15,
	MEVI_BPF_NREGS,
};

struct mevi_bpf_stack {
	struct mevi_bpf_rec rec; /* the syscall, as in a MEVI_BPF_SYSCALL record */
	__u64 regs[MEVI_BPF_NREGS];
	__u32 len; /* bytes of stack[] copied from [regs[SP], regs[SP] + len) */
	__u32 pad;
	__u8 stack[MEVI_BPF_STACK_BYTES];
};

/*
 * An exec, with the new image's command line (its argument strings, each
 * ending in a NUL, as /proc/PID/cmdline gives them) copied from its stack by
 * the exec tracepoint: a program that runs for a millisecond is gone before
 * user space could read /proc. Only the first MEVI_BPF_ARGS_BYTES.
 */
#define MEVI_BPF_ARGS_BYTES 1024

struct mevi_bpf_exec {
	struct mevi_bpf_rec rec; /* arg: the new stack's VMA start and end, and
				  * its start_stack (argc: the exec wrote every
				  * page from there to the end); nr, aux, ret,
				  * arg[3] unused */
	__u32 len;		 /* bytes of args[] copied */
	__u32 full;		 /* the whole command line's length (arg_end - arg_start) */
	char args[MEVI_BPF_ARGS_BYTES];
};

/* Values of the tracked map: one per traced process (tgid). */
struct mevi_bpf_proc {
	__u64 seq;	       /* bumped by every layout syscall's exit */
	__u64 young_until;     /* bpf_ktime_get_ns() before which an exec'd image is young */
	__u32 code_maps;       /* executable file mappings made (a library loaded); see aux */
	__u32 code_maps_woken; /* code_maps at the last stack copy that woke user
				* space; ~0 after a fork or an exec */
	__u64 brk_end;	       /* the break its last brk returned; 0: unknown (an
				* exec, or a process attached) */
};

#endif /* MEVI_LAUNCHER_BPF_MEVI_BPF_H */
