/*
 * spawn — starting PROGRAM so that mevi-run is invisible to it and to the
 * shell: PROGRAM keeps the pid the shell started (mevi-run execs it), and the
 * tracer is a hidden grandchild in a session of its own (as `strace -D`).
 *
 *   shell ── mevi-run (pid X) ──exec──> PROGRAM (still pid X, the shell's child)
 *                 └─ fork ─ fork ─> tracer (setsid, reparented; ptrace-seizes X)
 *
 * What this buys, by construction rather than by forwarding:
 *  - job control is native: the shell waits for PROGRAM itself, so a stop or
 *    continue from any sender, to PROGRAM or to its group, acts as without
 *    mevi (the kernel tells a traced process's real parent about its
 *    group-stops and continues);
 *  - each signal reaches PROGRAM once: the tracer is in no job's process group
 *    and forwards nothing; the terminal's signals go to PROGRAM alone;
 *  - the exit status is PROGRAM's own, seen by the shell when PROGRAM ends,
 *    even while processes it left running (daemons) are still followed.
 *
 * As pid 1 of a pid namespace (`unshare --pid --fork mevi-run ...`, a
 * container's entry point) mevi-run cannot hand its pid to PROGRAM: when a
 * namespace's init ends the kernel kills everything in it, the tracer
 * included, before the session has the ending. There the roles turn over:
 *
 *   mevi-run (pid 1: the tracer, init) ── fork ──> PROGRAM (own process
 *        group, the terminal's foreground one)
 *
 * and what init is owed is kept: orphans are reaped; a signal sent to pid 1
 * reaches PROGRAM when PROGRAM catches it (the kernel delivers to init only
 * the signals it has a handler for); the terminal's signals go to PROGRAM
 * alone; when PROGRAM ends, what it left running is killed as the kernel
 * would (spawn_init_end), and mevi-run exits with PROGRAM's status.
 *
 * The ptrace engine's tracer holds PROGRAM's death (waitid WNOWAIT, see
 * tracee.h) until the session has what it needs, so a script that queries
 * mevid after mevi-run returns sees the ending. The eBPF engine's tracker
 * (ebpf.h) is a grandchild too, without ptrace, and made without a fork when
 * it can be (spawn_hand_off): it cannot hold the death, and keeps its stderr
 * open until the session has ended instead.
 */
#ifndef MEVI_LAUNCHER_SPAWN_H
#define MEVI_LAUNCHER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "handoff.h"

struct sock_fprog;

struct spawn {
	pid_t program;	      /* PROGRAM's pid (mevi-run's original one) */
	pid_t program_parent; /* its parent: the shell */
	int fd;		      /* this process's end of the handshake socket */
	bool init;	      /* the tracer is pid 1 and PROGRAM's parent (above) */
	bool handed;	      /* spawn_handed(): PROGRAM has exec'd already */
};

/*
 * Splits mevi-run in two. Returns 0 in the tracer, with *sp filled in. The
 * original process never returns: it waits for spawn_release(), installs
 * prog (when released with traced) and execs argv, or exits 127 (not found)
 * or 126 (not executable) after telling the tracer why. When the tracer
 * cannot be created it says so and execs argv untracked.
 *
 * prog NULL: PROGRAM is never ptraced (the eBPF engine, whose tracker is
 * this same grandchild): no filter is installed and the tracer is not named
 * with PR_SET_PTRACER. The tracker registers PROGRAM's pid with the kernel
 * between spawn_tracer() and spawn_release(), so it sees PROGRAM's exec and
 * everything after.
 */
int spawn_tracer(struct spawn *sp, char *const argv[], const struct sock_fprog *prog);

/*
 * The eBPF engine's split without a fork (handoff.h), not as pid 1: the
 * original loads the engine, makes a successor that shares its memory and
 * descriptors and sleeps, puts itself in the kernel's tracked set and execs
 * PROGRAM; the successor wakes as the tracker with all the original had.
 *
 * spawn_hand_off(), in the original: fills *sp for the tracker-to-be (the
 * original's pid is PROGRAM's; sp is in the shared memory) and starts making
 * the successor, which runs fn(arg) once PROGRAM has exec'd. Returns 0, or
 * -errno when none can be made (spawn_tracer() then forks one). The
 * original goes on preparing while it is made; spawn_hand_off_wait() waits
 * until it is: 0, or -errno when none was (nothing is left to call off).
 *
 * The original then calls spawn_exec_handed() (after spawn_hand_off_wait()),
 * which execs argv, or says why it cannot and exits 127 or 126 (the
 * successor leaves without running fn); or spawn_call_off() (before or after
 * the wait), after which the successor has left and the original goes on
 * alone (to try the other engine).
 *
 * spawn_handed(), first in fn: stdin and stdout on /dev/null (as the forked
 * tracer's); sp->handed is set: spawn_release() and spawn_wait_exec() return
 * at once (PROGRAM has exec'd).
 */
int spawn_hand_off(struct spawn *sp, handoff_fn *fn, void *arg);
int spawn_hand_off_wait(struct spawn *sp);
void spawn_exec_handed(char *const argv[]) __attribute__((noreturn));
void spawn_call_off(struct spawn *sp);
void spawn_handed(struct spawn *sp);

/* In the tracer: lets PROGRAM go on, traced (seized: the filter is
 * installed) or not; nothing after a hand-over (PROGRAM went on by itself). */
void spawn_release(struct spawn *sp, bool traced);

/*
 * In the tracer, after spawn_release(): waits until PROGRAM has exec'd (its
 * end of the handshake, close-on-exec, reaches EOF; also when it died before
 * exec) or said why it could not. idle, when not NULL, is called every 50 ms
 * meanwhile (the ptrace engine answers stops there). Closes sp->fd. Returns
 * the exec errno (PROGRAM then exits 127 or 126 by itself), or 0 (at once
 * after spawn_handed()).
 */
int spawn_wait_exec(struct spawn *sp, void (*idle)(void *arg), void *arg);

/*
 * In the tracer, when PROGRAM has ended but processes it started live on
 * (daemons): says so in one line, naming the first SPAWN_NAMED of the
 * total pids (pids holds min(total, SPAWN_NAMED)), and
 * points the tracer's stderr at /dev/null, so that whatever reads it (a
 * terminal, a script's pipe) is not held while they are followed in the
 * background.
 */
#define SPAWN_NAMED 8
void spawn_background(const char *program, const pid_t *pids, size_t total);

/*
 * In an init tracer, when PROGRAM has ended but left processes running: ends
 * them with SIGKILL, as the kernel does when a namespace's init ends (they
 * die now rather than when mevi-run exits, so the session records it).
 * Says so in one line, like spawn_background.
 */
void spawn_init_end(const char *program, size_t total);

/* In an init tracer: sig (sent to pid 1) is passed to PROGRAM when PROGRAM
 * catches it, as the kernel would have delivered it to PROGRAM as init;
 * otherwise dropped, as the kernel drops it. Returns whether it was sent. */
bool spawn_init_forward(const struct spawn *sp, int sig);

/* In an init tracer of the eBPF engine (which traces nothing): reaps every
 * exited child; orphans of the namespace land on pid 1. */
void spawn_init_reap(void);

#endif /* MEVI_LAUNCHER_SPAWN_H */
