/*
 * handoff — a successor that carries on as this process once it has exec'd,
 * without a fork: the eBPF engine's tracker, which costs PROGRAM's start-up
 * no copy of mevi-run.
 *
 *   shell ── mevi-run (pid X) ─────────────────────exec──> PROGRAM (pid X)
 *                │                                   │
 *                └ clone ─ clone ─> successor: asleep ┴─> the tracker
 *                  (the memory and the descriptor table shared, not copied)
 *
 * A fork copies the page tables, and makes each first write after it a
 * copy-on-write fault in both processes (12-16 us each on a VM): 1.6 ms of
 * PROGRAM's start-up before its exec, and more in the exec, which tore the
 * copied address space down. Here the successor shares the address space and
 * the descriptor table and sleeps. At the exec the kernel gives PROGRAM a new
 * address space and a private copy of the table (its close-on-exec
 * descriptors are closed in that copy only) and leaves the old ones whole to
 * the successor, which it wakes: the futex word set with set_tid_address(2)
 * is cleared and woken when a task leaves an address space others still use
 * (kernel/fork.c, mm_release: vfork's mechanism). The successor then has
 * everything this process had at the exec: the loaded engine, its
 * descriptors, the options, the event loop.
 *
 * While the two share the memory the successor runs no library code (they
 * share thread-local storage too, errno included), with every signal blocked.
 * When it wakes it takes over what the kernel keeps per thread for glibc (the
 * thread's tid word, its robust-futex list, its restartable-sequence area),
 * moves to a session of its own (no terminal signals, as spawn.h's tracer),
 * restores the signal mask, and is an ordinary process from then on. It is
 * this process's grandchild (the middle process is reaped before the exec),
 * so PROGRAM never sees a child it did not make.
 *
 * The middle makes the successor while this process goes on preparing
 * (handoff_start() does not wait for it; handoff_ready() does, just before
 * the exec): ~0.4 ms of two process creations and an exit, with the
 * wake-ups between two CPUs, off PROGRAM's start-up. The one thing the
 * middle may write that this process reads is errno (they share the
 * thread-local storage): only when its clone() fails, when the original
 * then reads, at worst, that failure's number for one of its own.
 */
#ifndef MEVI_LAUNCHER_HANDOFF_H
#define MEVI_LAUNCHER_HANDOFF_H

/* What the successor runs; its return value is the successor's exit status
 * (exit(): atexit handlers run, stdio is flushed). */
typedef int handoff_fn(void *arg);

/*
 * Starts making the successor, asleep. Returns 0, or -errno when it cannot be
 * made (-ENOSYS: the kernel cannot say where glibc keeps the thread's tid,
 * PR_GET_TID_ADDRESS needing CONFIG_CHECKPOINT_RESTORE), with nothing to undo.
 * One at a time. fn(arg) runs in the successor only after a successful
 * handoff_exec(); this process keeps errno. After 0, either handoff_ready()
 * or handoff_cancel().
 */
int handoff_start(handoff_fn *fn, void *arg);

/*
 * Waits until the successor is made: 0, or -EAGAIN when the middle could not
 * make it (then nothing is left to undo, and neither handoff_exec() nor
 * handoff_cancel() is called).
 */
int handoff_ready(void);

/*
 * After handoff_ready(): flushes stdio and execs argv (execvp). Returns only when that failed: the
 * successor has left by then (fn was not run), and the errno is returned. A
 * process killed during its exec looks to the successor like one that exec'd
 * and died at once.
 */
int handoff_exec(char *const argv[]);

/* Sends the successor away without running fn (this process goes on alone);
 * it has left when this returns. When this process dies instead, it leaves
 * the same way: the kernel clears and wakes the word at any exit, dumping
 * core included (seen on this project's kernel, 6.18; kernels before 5.16,
 * which skipped the wake-up for a core dump, killed every process sharing
 * the memory of one that dumps core). */
void handoff_cancel(void);

#endif /* MEVI_LAUNCHER_HANDOFF_H */
