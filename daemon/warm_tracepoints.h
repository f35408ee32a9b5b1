/*
 * warm_tracepoints — keeps the kernel's process-tree tracepoints ready for
 * the launchers' eBPF engine.
 *
 * Attaching the first program to a tracepoint patches the kernel's text (its
 * static key and its static call, each synchronised across every CPU with
 * interrupts), and so does attaching the second (the static call turns to
 * the iterator over the list); from the third on, attaching or detaching is
 * an update of the list under RCU. A launcher attaches its three process-tree
 * programs (sched_process_fork, _exec and _exit) before PROGRAM may exec:
 * 0.5-0.7 ms of every launch's start-up on this project's VM when those
 * tracepoints are cold, 0.03-0.08 ms when they are warm. mevid keeps them
 * warm: one empty program (raw tracepoint, two instructions: return 0)
 * attached twice to each of the three. It reads nothing and writes nothing;
 * it runs twice on each fork, exec and exit of the machine (tens of ns,
 * against the hundreds of µs a fork or an exec costs).
 *
 * Not the memory-syscall and page-fault tracepoints for good: a program on a
 * syscall tracepoint puts every thread of the machine on the syscall slow
 * path, and one on the fault tracepoints runs on every page fault. Those are
 * held only while launchers come and go (warm_syscalls.h), with the helpers
 * below.
 *
 * Only where mevid may load eBPF programs (root, or CAP_BPF and
 * CAP_PERFMON): the engine stock starts it after its first load
 * (engine_stock.h). The links are file descriptors: they go with mevid,
 * however it ends, and leave nothing attached behind.
 */
#ifndef MEVI_DAEMON_WARM_TRACEPOINTS_H
#define MEVI_DAEMON_WARM_TRACEPOINTS_H

#include <stdbool.h>

#define WARM_TRACEPOINTS_N     3 /* sched_process_fork, _exec, _exit */
#define WARM_TRACEPOINTS_LINKS 2 /* per tracepoint: the list's third entry is ours */

/* All zeros: stopped. */
struct warm_tracepoints {
	bool started;
	int prog_fd;
	int link_fds[WARM_TRACEPOINTS_N][WARM_TRACEPOINTS_LINKS];
};

/* The names of the tracepoints kept warm, in link_fds' order. */
extern const char *const warm_tracepoint_names[WARM_TRACEPOINTS_N];

/*
 * Loads the empty program and attaches it. Returns 0, or a negative errno
 * with nothing left loaded or attached: -EPERM (not permitted), -ENOENT (a
 * tracepoint the kernel does not have), -EALREADY (started already).
 * Logs nothing: the caller says what it means.
 */
int warm_tracepoints_start(struct warm_tracepoints *w);

/* Whether w holds its programs' links. */
bool warm_tracepoints_started(const struct warm_tracepoints *w);

/* Detaches and unloads (closes every descriptor); w is stopped (zeros)
 * after. Idempotent. */
void warm_tracepoints_stop(struct warm_tracepoints *w);

/* Loads the empty program (r0 = 0; exit) as a raw tracepoint program named
 * mevi_warm. Returns its fd (close-on-exec), or a negative errno. */
int warm_tracepoints_load_empty(void);

/* Links prog_fd to the raw tracepoint name. Returns the link's fd
 * (close-on-exec: closing it detaches), or a negative errno. */
int warm_tracepoints_link(int prog_fd, const char *name);

#endif /* MEVI_DAEMON_WARM_TRACEPOINTS_H */
