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
 * The program is never stopped, traced or injected into: it is forked, waits
 * on a pipe until its pid is in the tracked set, and execs. mevi-run waits for
 * it like any parent, so exit status, signals and the terminal are untouched.
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

/* Why the engine could not be used, for the one line auto prints. */
#define EBPF_WHY_LEN 256

struct ebpf_config {
	struct event_base *base;
	struct outbox *out; /* where events go; not owned */
	pid_t self;	    /* mevi-run's pid: the launched program's ppid */
	unsigned sample_ms; /* sampled mode: residency scans every sample_ms; 0: exact */
	/* Notified after the last process has gone (the loop may end). */
	void (*on_done)(void *ctx);
	void *ctx;
};

/*
 * Loads and attaches the kernel programs. Returns 0 and *out, or -errno with a
 * one-sentence reason in why (EBPF_WHY_LEN bytes): not built in, not
 * permitted (root or CAP_BPF + CAP_PERFMON is needed), or what the kernel
 * refused. Environment: MEVI_BPF_RINGBUF (bytes, a power of two >= 4096)
 * sizes the ring buffer (default 4 MiB): tests force drops with a tiny one.
 */
int ebpf_open(const struct ebpf_config *cfg, struct ebpf **out, char *why);

/* Detaches every program (nothing is left tracking anyone) and frees. */
void ebpf_close(struct ebpf *e);

/*
 * Forks argv, adds the child to the tracked set, lets it exec. Emits its
 * proc_start. Returns 0, or an exit status for mevi-run (125: could not
 * fork; 126/127: could not exec, said on stderr).
 */
int ebpf_launch(struct ebpf *e, char *const argv[]);

/* Call on SIGCHLD: reaps the launched program. */
void ebpf_reap(struct ebpf *e);

/* True once the launched program has been reaped and every process it
 * spawned has exited. */
bool ebpf_all_gone(const struct ebpf *e);

/* The launched program's exit status (0..255, 128+N for signal N), or -1. */
int ebpf_main_status(const struct ebpf *e);

/* Sends sig to the launched program (SIGTERM, SIGHUP forwarded). */
void ebpf_forward_signal(struct ebpf *e, int sig);

/* Emits every known process (started, its map, exited) into the outbox. */
void ebpf_snapshot(struct ebpf *e);

/* Emits the engine event: "ebpf", reconcile corrections and lost records
 * (after session_start; the engine sends it again when a count changes). */
void ebpf_emit_engine(struct ebpf *e);

/* Drains the ring buffer now (e.g. before session_end). */
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
};
const struct ebpf_stats *ebpf_stats(const struct ebpf *e);

/* True when mevi-run was built with the eBPF engine. */
bool ebpf_built_in(void);

#endif /* MEVI_LAUNCHER_EBPF_H */
