/*
 * ebpf — mevi-run's eBPF engine: the program and every process it spawns,
 * observed through tracepoints (launcher/bpf/mevi.bpf.c) instead of ptrace
 * stops and a userfaultfd round trip per first touch.
 *
 * The kernel programs report first touches (page faults on pages that were
 * not present), the process tree (fork, exec, exit; children are added to the
 * tracked set inside the kernel, before they run) and the exits of the
 * syscalls that change layouts or fill pages without a fault (mmap, munmap,
 * mremap, brk, madvise, mlock*, shmat, shmdt). Each layout record is answered
 * the way the ptrace engine answers a syscall exit stop: the range is re-read
 * from the kernel (mm_resync: /proc/PID/maps or PROCMAP_QUERY, and
 * PAGEMAP_SCAN), so what the kernel populated without a fault (MAP_POPULATE,
 * mlock, a fork child's inherited pages, exec's argv and environment) is seen.
 * Faults are applied to the map directly. A reconcile pass once a second
 * compares every address space with the kernel and counts what it corrects;
 * records the ring buffer could not hold are counted in the kernel and
 * answered by a rescan of everything.
 *
 * A running process can be attached instead (--pid, ebpf_attach): it is put
 * in the tracked set, then read in full; detaching (ebpf_detach) takes it and
 * every process added because of it out again.
 *
 * The program is never stopped, traced or injected into. It is started as
 * the ptrace engine starts it (spawn.h): mevi-run itself becomes PROGRAM (same
 * pid, same parent: the shell waits for it, job control and signals are the
 * kernel's), and the hidden grandchild that runs this engine puts PROGRAM's
 * pid in the tracked set before letting it exec. The grandchild is not
 * PROGRAM's parent: PROGRAM's wait status comes from the kernel program
 * (sched_process_exit), and the session ends when PROGRAM and every process
 * it started have ended; processes left running are followed in the
 * background (spawn_background).
 *
 * Everything runs on the launcher's libevent loop and feeds the same outbox
 * (the same events, daemon and page) as the ptrace engine.
 */
#ifndef MEVI_LAUNCHER_EBPF_H
#define MEVI_LAUNCHER_EBPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct outbox;
struct ebpf;
struct spawn;

/* Why the engine could not be used, for the one line auto prints. */
#define EBPF_WHY_LEN 256

struct ebpf_config {
	/* The loop; ebpf_prepare() may be given none (ebpf_resume() is). */
	struct event_base *base;
	struct outbox *out; /* where events go; not owned */
	pid_t self; /* the session's launcher pid: PROGRAM's (spawn.h), or mevi-run's (--pid) */
	unsigned sample_ms; /* sampled mode: residency scans every sample_ms; 0: exact */
	/* Notified after the last process has gone (the loop may end). */
	void (*on_done)(void *ctx);
	/* Notified once when PROGRAM has ended (its exit is in the outbox),
	 * with whether processes it started are still alive. May be NULL
	 * (--pid: nothing is held). */
	void (*on_main_exit)(void *ctx, bool others_alive);
	void *ctx;
	/* Backtraces (backtrace.h): enum backtrace_mode (0: off) and depth. The
	 * kernel programs copy the registers and the top of the stack at each
	 * anonymous mmap, mremap and brk; the stack is unwound here, from that
	 * copy, while the program runs on. */
	int bt_mode;
	unsigned bt_depth;
	/* The launcher socket of the mevid whose preloaded programs ebpf_load()
	 * asks for first (launcher/stock.h); NULL: always loads them itself. */
	const char *stock_socket;
};

/*
 * Loads and attaches the kernel programs. Returns 0 and *out, or -errno with a
 * one-sentence reason in why (EBPF_WHY_LEN bytes): not built in, not
 * permitted (root or CAP_BPF + CAP_PERFMON is needed), run inside a pid
 * namespace (records name the host's pids; not followed yet), or what the kernel
 * refused. Environment: MEVI_BPF_RINGBUF (bytes, a power of two >= 4096)
 * sizes the ring buffer (default 4 MiB); MEVI_BPF_DRAIN_MS (1..1000) drains
 * it on that period only, with no wake-ups from the kernel. Tests force drops
 * with a tiny ring drained seldom. MEVI_BPF_TRACKED (1..2^22) sets how
 * many processes may be tracked at once (default 8,192; a child that finds
 * the set full is left out, said once).
 */
int ebpf_open(const struct ebpf_config *cfg, struct ebpf **out, char *why);

/*
 * ebpf_open() in steps, for the hand-off (spawn_hand_off, handoff.h): the
 * original process loads the programs and becomes PROGRAM; its successor,
 * which shares its memory and descriptors, carries on with e.
 *  - ebpf_prepare(), before: the checks, the skeleton configured, mevid's
 *    stock asked (nothing is in the kernel yet, and cfg->base may be NULL);
 *    returns as ebpf_open() does.
 *  - ebpf_load(), in the original: loads (or takes mevid's stock), and
 *    attaches all but the fault programs; 0, or -errno with why.
 *  - ebpf_track(), in the original: attaches the fault programs (exact
 *    mode) and puts pid (its own: it becomes PROGRAM) in the tracked set as
 *    the launched program, so the kernel records its exec and everything
 *    after, first touches included, while the successor is still waking.
 *    0, or -errno with why.
 *  - ebpf_resume(), in the successor (or in the original, before a fork),
 *    with the loop's base: attaches the fault programs if not yet (exact
 *    mode) and finishes what ebpf_open() does (the backtraces, the ring buffer, the
 *    loop's events); 0, or -errno with why.
 * ebpf_close() frees e after any of them.
 */
int ebpf_prepare(const struct ebpf_config *cfg, struct ebpf **out, char *why);
int ebpf_load(struct ebpf *e, char *why);
int ebpf_track(struct ebpf *e, pid_t pid, char *why);
int ebpf_resume(struct ebpf *e, struct event_base *base, char *why);

/* Detaches every program (nothing is left tracking anyone) and frees. */
void ebpf_close(struct ebpf *e);

/*
 * In the tracker spawn_tracer() made (sp, with a NULL filter): adds PROGRAM
 * (sp->program) to the tracked set, emits its proc_start, lets it exec
 * (spawn_release) and waits until it has. After a hand-off (spawn_hand_off:
 * sp->handed) PROGRAM is in the set (ebpf_track) and has exec'd already:
 * only the proc_start is left. Returns 0, or PROGRAM's exit
 * status when it could not exec (126/127: PROGRAM said why; the caller begins
 * no session), or 125 when it could not be tracked (it runs untracked, said
 * on stderr; no session either). What is emitted before the exec is emitted again by
 * ebpf_snapshot() when the session begins.
 */
int ebpf_launch(struct ebpf *e, struct spawn *sp, char *const argv[]);

/*
 * --pid: adds the running process pid (its tgid: every thread) to the tracked
 * set, emits its proc_start and reads its address space in full, in that
 * order, so that nothing between the read and the registration is lost. From
 * then on its faults (exact mode) or residency scans (sampled), layout
 * syscalls, exec and exit are recorded, and children it creates afterwards
 * are added in the kernel as a launched program's are; children that existed
 * before are not followed (as with ptrace's attach). Its exit is what
 * ebpf_main_status() reports. Returns 0, or -errno (-ESRCH: it is gone).
 */
int ebpf_attach(struct ebpf *e, pid_t pid);

/*
 * Lets the attached process go: empties the tracked set (it and every process
 * added because of it; the kernel programs add no child from then on), stops
 * the timers and ignores records still in the ring. Nothing of it is left in
 * the kernel's maps, and its later exit is not reported. Logs (debug) how
 * many entries were removed and how many remain. The caller ends the
 * session as detached.
 */
void ebpf_detach(struct ebpf *e);

/* True once ebpf_detach() has run. */
bool ebpf_detached(const struct ebpf *e);

/* Notes PROGRAM's end when the kernel has reported it (the tracker is not its
 * parent: nothing is reaped). Call before the loop and on SIGCHLD. It drains
 * for 20 ms at most; the rest is drained from the loop. */
void ebpf_reap(struct ebpf *e);

/* True once the launched program has ended and every process it spawned
 * has exited. */
bool ebpf_all_gone(const struct ebpf *e);

/* The launched program's exit status (0..255, 128+N for signal N), or -1. */
int ebpf_main_status(const struct ebpf *e);

/* The pids of the processes alive (up to max of them); returns how many are
 * alive in all. */
size_t ebpf_alive(const struct ebpf *e, pid_t *pids, size_t max);

/* The session's end: waits (2 s at most) for source lines still being
 * looked up for backtraces and emits the stacks they complete. */
void ebpf_finish(struct ebpf *e);

/* Emits every known process (started, its map, exited) into the outbox. */
void ebpf_snapshot(struct ebpf *e);

/* Emits the engine event: "ebpf", reconcile corrections and lost records
 * (after session_start; the engine sends it again when a count changes). */
void ebpf_emit_engine(struct ebpf *e);

/* Drains the ring buffer now, once the loop is over (before session_end):
 * for 1 s at most; what is left then is not shown (logged at info). */
void ebpf_drain(struct ebpf *e);

struct ebpf_stats {
	uint64_t records;     /* ring buffer records handled */
	uint64_t faults;      /* first touches applied */
	uint64_t resyncs;     /* layout records answered by a re-read */
	uint64_t drops;	      /* records the ring buffer could not hold (kernel count) */
	uint64_t rescans;     /* full rescans made to answer drops */
	uint64_t reconciles;  /* reconcile passes */
	uint64_t corrections; /* ranges a reconcile pass found wrong and corrected */
	uint64_t stale;	      /* faults re-read because a layout change overtook them */
	uint64_t untracked;   /* new processes left out: the tracked set was full */
};
const struct ebpf_stats *ebpf_stats(const struct ebpf *e);

/* True when mevi-run was built with the eBPF engine. */
bool ebpf_built_in(void);

#endif /* MEVI_LAUNCHER_EBPF_H */
