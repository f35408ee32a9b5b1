/*
 * mm — one tracked address space: its userfaultfd, its memory map, and the
 * rules that keep the map equal to the kernel's truth.
 *
 * How exactness is kept:
 *  - Every private anonymous VMA is registered with the address space's
 *    userfaultfd (missing mode), so a page can only become present through a
 *    fault that mevi-run serves (UFFDIO_COPY for writes, UFFDIO_ZEROPAGE for
 *    reads) and records, or through a syscall mevi-run traces.
 *  - Syscalls that change the layout or drop pages (anonymous mmap, mremap,
 *    brk, madvise) are seen at their exit stop, and unmaps of registered
 *    memory (munmap, or a file mapped over it) arrive as UFFD_EVENT_UNMAP;
 *    either way the affected range is then re-synchronised from the kernel: which parts are private anonymous
 *    (PROCMAP_QUERY or /proc/PID/maps), registration of new parts, and their
 *    present pages (PAGEMAP_SCAN or pagemap). Races between threads (one
 *    unmapping while another maps or faults) therefore resolve to what the
 *    kernel holds, not to the order in which notifications reached us.
 *    Registering a range part of which another thread has just unmapped
 *    succeeds, with no event for that part: every resync that registers
 *    reads the layout again after it, and reads again what changed.
 *
 * An mm is shared by the processes that share the address space (vfork and
 * CLONE_VM children until they exec); events name its owner pid.
 */
#ifndef MEVI_LAUNCHER_MM_H
#define MEVI_LAUNCHER_MM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "memmap.h"
#include "pagemap.h"
#include "vma.h"

struct event_base;
struct event;
struct outbox;
struct backtrace_mm;
struct heat_mm;

struct mm_stats {
	uint64_t samples;   /* address spaces scanned by the sampler */
	uint64_t faults;    /* page faults served */
	uint64_t resyncs;   /* ranges re-synchronised */
	uint64_t untracked; /* VMAs that could not be registered */
	uint64_t stops;	    /* ptrace stops handled */
	/* First stops of new threads held for their creator's clone event
	 * (tracee.c), and those of them adopted from /proc instead. */
	uint64_t parked, unparked_late;
	/* Resyncs that found a piece they had registered changed before its
	 * registration (another thread unmapped part of it) and read it again. */
	uint64_t raced;
};

/*
 * An address space starts PENDING: no userfaultfd yet, its state is read by
 * scans. It is attached (userfaultfd injected, everything registered) at the
 * first ptrace stop where that is possible once its process has run for
 * MM_ATTACH_DELAY_NS of CPU time (its threads', since it was created by
 * fork or, for an exec's image, since the exec: the kernel's process CPU
 * clock), or
 * MM_ATTACH_WAIT_MAX_NS have passed since the
 * address space was made, whichever comes first — by then it is not a fork
 * child about to exec or a process about to exit, which would be traced for
 * nothing. CPU time, not time: the tracer's stops stretch a loader's start-up
 * (/bin/true: 1 ms alone, 2-3 ms traced, a third of them attached just
 * before their exit when the delay was 2 ms of time), and a stopped process
 * runs no code. Until then every stop that matters for truth (group-stop,
 * exit) re-reads its state from the kernel, so a stopped process is always
 * shown exactly.
 */
enum mm_state {
	MM_PENDING,
	MM_ATTACHED,
	MM_FAILED,  /* tracking given up; shown as untracked */
	MM_SAMPLED, /* sampled mode: no userfaultfd, residency read by mm_sample() */
};
/*
 * In sampled mode an address space is PENDING for its first
 * MM_ATTACH_DELAY_NS too (no stops for its layout syscalls, read in full at
 * group-stops and exit), then becomes SAMPLED without a stop: there is nothing
 * to inject, its layout is read from /proc. A fork child that execs at once,
 * the common case, is never read twice.
 */

/* Thread stacks remembered per address space (the newest win). */
#define MM_MAX_TSTACKS 4096

#define MM_ATTACH_DELAY_NS    (2 * 1000 * 1000)
#define MM_ATTACH_WAIT_MAX_NS (20 * 1000 * 1000)
#define MM_YOUNG_MAX_NS	      (5 * 1000 * 1000)

/* Runs of pages, (start, end, state) triples. */
struct run_vec {
	uint64_t *v;
	size_t n, cap;
};

struct mm_final;

struct mm {
	int refs;
	pid_t pid;	      /* owner tgid: /proc files and events */
	unsigned own_filters; /* seccomp filters of mevi-run's own (trace_mode); 0 when new */
	bool sampled;	      /* sampled mode: no userfaultfd, every kind of mapping */
	int uffd;	      /* ours; -1 when not tracking */
	struct event *uffd_ev;
	struct memmap *map;
	struct tagmap *kinds; /* what vma events said of each range (a hash) */
	struct mm_tstack {
		pid_t tid;
		uint64_t sp;
	} * tstacks; /* threads' stack pointers when they started, oldest first */
	size_t ntstacks, tstacks_cap;
	struct vma_source vmas;
	struct pagemap pm;
	/* A syscall instruction in the vdso, 0 if none; looked for when first
	 * needed (mm_syscall_insn): most images of a build or a script end
	 * before they are attached, and each look is an open, a read of auxv
	 * and a 16 KiB read of the vdso. */
	uint64_t syscall_insn;
	bool syscall_insn_known;
	uint64_t brk_end; /* page-aligned program break, 0 if not known yet */
	enum mm_state state;
	bool forked;		/* a fork child's copy of its parent's (not an exec'd image) */
	bool layout_stale;	/* sampled: re-read the layout at the next tick */
	bool size_checked;	/* sampled: a tick compares sizes (mm_sample) */
	struct run_vec recheck; /* sampled: ranges to re-read at the next tick */
	uint64_t made_ns;	/* CLOCK_MONOTONIC time it was made */
	int64_t cpu_base;	/* its CPU time then (MM_CPU_FROM_NOW), or 0 */
	bool delay_over;	/* the attach delay has passed (mm_attach_due) */
	uint64_t due_ns;	/* CLOCK_MONOTONIC time from which to attach */
	struct event *due_ev;	/* fires at due_ns if still pending */
	void (*on_due)(struct mm *mm, void *ctx); /* asks the tracer for a stop */
	void *on_due_ctx;
	uint64_t *retry; /* faults refused with EAGAIN, see mm.c */
	size_t nretry, retry_cap;
	struct event *retry_ev;
	struct event_base *base;
	struct outbox *out;
	struct mm_stats *stats;	 /* shared counters, owned by the caller */
	struct backtrace_mm *bt; /* origins, touches (backtrace.h); owned; NULL when off */
	struct heat_mm *heat;	 /* --heat (heat.h); owned; NULL when off */
	struct mm_final *final;	 /* mm_read_final()'s, until mm_apply_final(); owned */
};

/* mm_new's flags. MM_OPEN_LATER: its /proc files are opened at its first
 * read, not now (vma_source_defer): for an address space read later, if
 * ever (the eBPF engine's young ones), which then costs nothing when it has
 * gone by then, as most of a build's or a script's processes have. */
#define MM_OPEN_LATER 1u
/* MM_CPU_FROM_NOW: the attach delay's CPU time counts from now, not from the
 * thread's creation: for the image an exec makes, whose thread has already
 * run its fork child's code and the exec itself (1-1.5 ms of kernel time for
 * /bin/true here, which pushed 27-35 of 200 fork + execs past the delay just
 * before their exit, each paying an injection and a registration). */
#define MM_CPU_FROM_NOW 2u

/*
 * Creates the mm of process pid: opens its /proc files (see MM_OPEN_LATER).
 * The map starts as a copy of template (a forked parent's map) or empty.
 * Returns 0 and *out, or -errno.
 */
int mm_new(pid_t pid, const struct memmap *template, struct event_base *base, struct outbox *out,
	   struct mm_stats *stats, unsigned flags, struct mm **out_mm);

/* Takes / drops a reference; the last mm_put closes the userfaultfd. */
void mm_get(struct mm *mm);
void mm_put(struct mm *mm);

/* True when mm is pending and its attach delay has passed (above); when
 * only the time has, puts due_ns off by what CPU time is still to come. */
bool mm_attach_due(struct mm *mm);

/* True while an exec'd image is in its dynamic loader and libc's start-up
 * (backtraces skip their small mappings): its first MM_ATTACH_DELAY_NS of
 * time, and after that as long as it has run less than MM_ATTACH_DELAY_NS of
 * CPU time since it was made, up to MM_YOUNG_MAX_NS of time. The tracer's
 * stops stretch a loader: /bin/true's, 1 ms alone, takes 2-3 ms traced, and
 * its last mappings, past 2 ms of time, were each unwound (110 unwinds of
 * ~100 us and 54 unwinders opened per 200 fork + exec, the loader's
 * mappings all of them, at stops the program waited in). */
bool mm_young(const struct mm *mm);

/* Arms the timer that calls on_due(mm, ctx) when the attach delay expires
 * (and again every few milliseconds while it stays pending). In sampled mode
 * the timer makes the mm SAMPLED itself (see above) and on_due is not used. */
void mm_set_on_due(struct mm *mm, void (*on_due)(struct mm *, void *), void *ctx);

/*
 * Creates a userfaultfd inside the process by injecting syscalls into thread
 * tid of process pid (stopped at a user-mode boundary, see inject.h; pid is
 * mm->pid, or a vfork or CLONE_VM child sharing the address space), registers every
 * private anonymous VMA and reads the initial page states. insn is a syscall
 * instruction address (0: use mm->syscall_insn; if there is none either, the
 * mm stays pending).
 * On -ESRCH the thread died and *death_status is its wait status.
 * Any other failure leaves the mm untracked (its ranges marked "untracked")
 * and is logged once; returns 0 then, since the tracee must carry on.
 * In sampled mode it injects nothing: the mm becomes SAMPLED.
 */
int mm_attach(struct mm *mm, pid_t pid, pid_t tid, uint64_t insn, int *death_status);

/* The vdso's syscall instruction to inject with (0: none, or not injecting:
 * the eBPF engine), looked for the first time it is asked. */
uint64_t mm_syscall_insn(struct mm *mm);

/*
 * Chooses the tracking mode (mm->sampled) of every mm created from now on:
 * exact (the default: userfaultfd, private anonymous memory) or sampled (no
 * userfaultfd; every mapping of every kind, residency read by mm_sample()).
 * For the eBPF engine; the ptrace engine sets mm->sampled from its
 * struct trace_mode (tracee.h) instead.
 */
void mm_set_sampled(bool sampled);

/*
 * Whether mms created from now on may be attached (mm_attach injects a
 * userfaultfd): true by default. The eBPF engine, which injects nothing,
 * sets it false, and mm_new then skips locating a syscall instruction in
 * the vdso (an auxv read, a query and a 16 KiB process_vm_readv per mm).
 */
void mm_set_injecting(bool inject);

/* Re-synchronises [start, end) from the kernel (see above), and sends the
 * kind and name of each tracked mapping (vma events) when they change.
 * Returns 0, or -errno when the layout could not be read (-ESRCH: the
 * process has no address space any more; other errors are logged). */
int mm_resync(struct mm *mm, uint64_t start, uint64_t end);

/*
 * mm_resync(mm, 0, MEVI_ADDR_LIMIT) in two halves, for a process stopped at
 * its exit (its last read): mm_read_final() takes what the kernel holds
 * (one PAGEMAP_SCAN of the whole space, when it has no userfaultfd, and the
 * text of its maps), after which the process may be resumed at once;
 * mm_apply_final() turns that into the map's changes and the events,
 * touching the process no more, while it ends. The model's work (18-28 us
 * for /bin/true exact, 63-88 us sampled, every file shown there) then no
 * longer keeps the process, and the parent that waits for it, waiting.
 * mm_read_final returns 0, or -ENOMEM or -ENODATA (no PAGEMAP_SCAN of the
 * whole space: a userfaultfd, or the scan failed), nothing read then: use
 * mm_resync, at the stop;
 * mm_apply_final returns as mm_resync does (-EINVAL: nothing was read).
 * mm_drop_final lets a read go unapplied (mm_put does too).
 */
int mm_read_final(struct mm *mm);
int mm_apply_final(struct mm *mm);
void mm_drop_final(struct mm *mm);

/* After mm_resync(mm, 0, MEVI_ADDR_LIMIT) succeeded: the text of
 * /proc/PID/maps it read, a malloc'd copy (vma_copy_text), or NULL. */
char *mm_layout_text(const struct mm *mm);

/* Re-synchronises the mapping at addr, as far as it extends in the kernel's
 * layout or in the map (shmat, shmdt). */
void mm_resync_mapping(struct mm *mm, uint64_t addr);

/* The process's program break now, page-aligned, from the kernel: the end
 * of its heap, or where the heap would begin (/proc/PID/stat's start_brk)
 * when it has none. For the first brk that moves it (the filter lets the
 * loader's brk(0) query through): read at its entry stop, it is where the
 * heap grows from. Returns 0, or -errno (the process is gone). */
int mm_read_brk(struct mm *mm, uint64_t *brk);

/*
 * Sampled mode: re-reads the page states (resident, swapped, not resident)
 * of every mapped range with one pagemap scan and emits a state event for
 * each run that changed since the previous scan. The layout is not re-read.
 */
void mm_sample(struct mm *mm);

/* Sampled mode: munmap(addr, len) is about to run (its seccomp stop):
 * applies it now if the kernel will accept it, and re-reads the range at the
 * next tick. Exact mode needs nothing: UFFD_EVENT_UNMAP reports it. */
void mm_unmap_now(struct mm *mm, uint64_t addr, uint64_t len);

/*
 * For a process gone before a range could be read again (the eBPF engine
 * learns of syscalls after they ran), what its syscall's record says:
 *  - mm_unmapped: munmap(addr, len) returned 0; the kernel unmapped the
 *    range, so the map drops it too, with its unmap event;
 *  - mm_mapped: a private anonymous mmap returned addr (no MAP_POPULATE or
 *    MAP_LOCKED: no page behind it yet); the map holds it, not resident,
 *    with its map and vma events (replacing what was there: MAP_FIXED).
 */
void mm_unmapped(struct mm *mm, uint64_t addr, uint64_t len);
void mm_mapped(struct mm *mm, uint64_t addr, uint64_t len);

/*
 * An exec'd image's stack, as its exec record says (the eBPF engine): the
 * main thread's stack [start, end), resident from the page of written (its
 * start_stack, where argc is) to the end, since the exec wrote there
 * (command line, environment, auxiliary vector) and no fault of the
 * program's will say so. Nothing when the arguments are not such a range.
 */
void mm_exec_stack(struct mm *mm, uint64_t start, uint64_t end, uint64_t written);

/* Page [page, page + 4096) was first touched by thread tid (<= 0: unknown)
 * and is resident now: the map says so, and its state (with backtraces on,
 * and the touch) is queued. comm: as for backtrace_fault. The page must be
 * in the map. */
void mm_touched(struct mm *mm, pid_t tid, uint64_t page, const char *comm);

/* Thread tid of this address space started with stack pointer sp: the
 * anonymous mapping holding sp is a thread stack (re-read and re-sent). */
void mm_note_thread_stack(struct mm *mm, pid_t tid, uint64_t sp);

/* Applies a successful mremap seen at its exit stop. */
void mm_remap(struct mm *mm, uint64_t old_start, uint64_t old_len, uint64_t new_start,
	      uint64_t new_len);

/* Stops tracking: unregisters nothing (closing the userfaultfd wakes every
 * waiting fault and drops the registrations) and marks the map untracked.
 * why (NULL: already said) is logged if a userfaultfd was open. */
void mm_give_up(struct mm *mm, const char *why);

/* Closes the userfaultfd (uffd.h) and its event, if open, and forgets the
 * faults waiting to be retried: the kernel wakes every waiting fault. */
void mm_close_uffd(struct mm *mm);

/* Detach: closes the userfaultfd (which drops every registration and wakes
 * every waiting fault) and stops tracking, without events. */
void mm_release(struct mm *mm);

/* Emits the map as map events (for a snapshot). */
void mm_emit_snapshot(struct mm *mm, pid_t pid);

#endif /* MEVI_LAUNCHER_MM_H */
