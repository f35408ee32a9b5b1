/*
 * backtrace — who mapped memory and which thread first touched it
 * (protocol version 2: stack, origin, thread and touch events).
 *
 * At the exit stops of anonymous mmap, mremap and brk (and, in mode "all",
 * of the madvise calls that drop pages) the calling thread's user stack is
 * unwound (unwind.h), interned in the session's stack table (stackintern.h) and
 * the newly mapped range gets an origin event naming it: for mmap the
 * returned [addr, addr + len), for brk the growth [old end, new end), for
 * mremap the whole new range when it moved, else its grown tail. A stack is
 * sent once, before the first origin naming it. In exact mode every page
 * fault served is attributed to the faulting thread (UFFD_FEATURE_THREAD_ID):
 * a touch event follows the state event of each coalesced run of pages (see
 * outbox_state_touch), and a thread event (its name, /proc/PID/task/TID/comm)
 * precedes the first touch of each thread in an address space, and follows
 * a rename, checked at most every BACKTRACE_NAME_CHECK_NS while the thread
 * faults.
 *
 * State: one struct backtrace per session (owned by the tracee table), one
 * struct backtrace_mm per address space (owned by its struct mm; a fork
 * child's starts as a copy of its parent's, an exec'd image starts empty:
 * new modules, new thread names). With mode off neither exists and nothing
 * here runs.
 *
 * Reliability: any trouble (a thread that exited or exec'd meanwhile,
 * unreadable memory, a libdwfl error) gives a shorter stack or none, and
 * one debug line; the tracee is never harmed or held longer than the unwind.
 */
#ifndef MEVI_LAUNCHER_BACKTRACE_H
#define MEVI_LAUNCHER_BACKTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct outbox;
struct memmap;
struct backtrace;
struct backtrace_mm;

enum backtrace_mode {
	BACKTRACE_OFF,	/* no stack, origin, thread or touch events */
	BACKTRACE_MMAP, /* mmap, mremap, brk (the default) */
	BACKTRACE_ALL,	/* ... also in the first 2 ms of an exec'd image, and
			 * madvise calls that drop pages */
};

#define BACKTRACE_DEFAULT_DEPTH 32
#define BACKTRACE_NAME_CHECK_NS (5 * 1000 * 1000)

/* Parses "off", "mmap" or "all"; returns the mode or -1. */
int backtrace_mode_parse(const char *s);

/* The session's state, emitting into out (which outlives it); source lines
 * are looked up in a thread whose results base delivers (srcline.h). depth:
 * frames kept at most, 1..MEVI_STACK_MAX_FRAMES. Returns NULL for mode off
 * or on out-of-memory (logged). */
struct backtrace *backtrace_new(struct outbox *out, struct event_base *base,
				enum backtrace_mode mode, unsigned depth);

/* The end of the session: waits (2 s at most) for the source lines still
 * being looked up and emits the stacks they complete. bt may be NULL. */
void backtrace_finish(struct backtrace *bt);

/* Logs the statistics line (debug) and frees bt. NULL is allowed. */
void backtrace_free(struct backtrace *bt);

/* An anonymous mapping at least this big is unwound even in the first 2 ms
 * of an exec'd image: the loader and libc's start-up map nothing that
 * large, so it is the program's own work (a main() that maps at once). */
#define BACKTRACE_YOUNG_MIN_BYTES (1u << 20)

/* True when the exit stop of this syscall (enum syscall_kind, with its
 * arguments) is wanted for a backtrace where tracking would not need it: in
 * an address space still pending (its first 2 ms), with BACKTRACE_ALL every
 * mapping call, else only an anonymous mmap or an mremap to at least
 * BACKTRACE_YOUNG_MIN_BYTES (a stop and an unwinder for every short-lived
 * program would cost a fork+exec-heavy workload about a quarter of its
 * speed; tracee.c also stops a young fork child). bt may be NULL. */
bool backtrace_wants_exit(const struct backtrace *bt, int kind, const uint64_t args[6]);

/*
 * The state of a new address space owned by process pid, whose memory map
 * (owned by its struct mm, which outlives b) is map; parent: the state of
 * the address space it is a fork of, or NULL (exec, or the first image).
 * Returns NULL when bt is NULL or on out-of-memory. Freed by
 * backtrace_mm_free (NULL allowed).
 */
struct backtrace_mm *backtrace_mm_new(struct backtrace *bt, pid_t pid, const struct memmap *map,
				      const struct backtrace_mm *parent);
void backtrace_mm_free(struct backtrace_mm *b);

/* Reads the address space's layout (/proc/PID/maps) now, for an unwinder
 * opened later when the process may be gone: the eBPF engine unwinds stacks
 * it copied a few ms before, and a short-lived program has often exited by
 * then. A fork child starts with its parent's copy. The unwinder's own reads
 * (when it meets code it does not know) replace it as well. b may be NULL. */
void backtrace_mm_save_layout(struct backtrace_mm *b);

/* The same with text, that file's text read by the caller (a walk of the
 * whole address space, mm.h): b takes it (malloc'd, NUL-terminated; freed
 * here when b is NULL or text is empty). */
void backtrace_mm_set_layout(struct backtrace_mm *b, char *text);

/*
 * The exit of a traced syscall (kind: enum syscall_kind) of thread tid, in
 * the address space of b: unwinds the thread and emits the stack (if new)
 * and the origin of the range it mapped. args are the syscall's arguments.
 * snap: NULL when the thread is in its exit stop (ptrace), else the state
 * the eBPF engine captured at the exit (the thread may have run on). b may
 * be NULL.
 */
struct unwind_snapshot;
void backtrace_syscall_exit(struct backtrace_mm *b, pid_t tid, int kind, const uint64_t args[6],
			    int64_t rval, bool is_error, const struct unwind_snapshot *snap);

/*
 * Page [page, page + 4096) of b's address space was faulted in by thread tid
 * and is now resident: queues its state and touch (and the thread's name
 * when first seen or renamed). tid <= 0: unknown, state only. comm: the
 * thread's name at the fault (the eBPF engine's record), or NULL to read it
 * from /proc now (the thread is stopped in its fault).
 */
void backtrace_fault(struct backtrace_mm *b, pid_t tid, uint64_t page, const char *comm);

/* The program break is brk now (a brk that was not unwound): the next
 * growth's origin starts there. b may be NULL. */
void backtrace_brk_seen(struct backtrace_mm *b, uint64_t brk);

/* After a reconnect: emits every stack of the session (before any origin). */
void backtrace_snapshot(struct backtrace *bt);

/* After backtrace_snapshot, for each process: re-emits the origins of the
 * ranges of map (the process's memory map) and forgets which thread names
 * were sent, so that they are sent again before their next touch. */
void backtrace_mm_snapshot(struct backtrace_mm *b, const struct memmap *map, pid_t pid);

#endif /* MEVI_LAUNCHER_BACKTRACE_H */
