/*
 * warm_syscalls — keeps the layout syscalls' tracepoints registered while
 * eBPF launchers come and go, so that their attaching and detaching there
 * cost neither kernel text patching nor grace periods; and the page-fault
 * tracepoints too, for launchers in exact mode.
 *
 * A launcher attaches its layout program to ten classic tracepoints
 * (syscalls:sys_exit_mmap, ...: launcher/bpfskel.h) with one perf event each.
 * The kernel registers a tracepoint for perf when its first perf event opens
 * (kernel text patched with IPIs, and every task of the machine put on the
 * slower syscall-exit path) and unregisters it when its last one closes,
 * after a tracepoint grace period: ~25 ms each here, the ten one after the
 * other under the kernel's event_mutex, 0.25-0.3 s in all. A launcher
 * starting meanwhile waits for all of it in perf_event_open (a loop of short
 * `mevi-run` calls paid ~0.25 s each).
 *
 * mevid holds one perf event on each of them from a launcher's request
 * (engine_stock.h) until linger_ms after the last request: a launcher's
 * events are then neither a tracepoint's first nor its last, and its attach
 * and detach are list updates. mevid's events are opened disabled and have
 * no program: they are never scheduled and nothing runs for them. The price,
 * for as long as they are held: every syscall of the machine takes the
 * slower exit path (tens of ns a syscall), as it does anyway while a
 * launcher's events are attached; nothing after the linger.
 *
 * An exact-mode launcher's tracker also links its fault programs to
 * exceptions:page_fault_user and _kernel, and the program that sends a
 * thread's run of faults when it leaves its CPU to sched:sched_switch,
 * right after PROGRAM's exec. Cold,
 * each link patches the kernel's text twice (warm_tracepoints.h), every CPU
 * interrupted each time, PROGRAM's too: `mevi-run -- /tmp/mcs 1 10` (0.3 ms
 * of work) ended 0.64 ms later than with them warm (medians of 96 rounds
 * each). On an exact-mode launcher's request (touch's faults), mevid links
 * one empty program twice to each
 * (warm_tracepoints_link), for the same linger: a launcher's link is then
 * each one's third. The price while held: the empty program runs twice on
 * every page fault and every context switch of the machine (tens of ns,
 * against the 3-16 us a fault costs here).
 *
 * Opening and closing run on libuv's thread pool (a close that unregisters
 * waits those grace periods), never on mevid's loop. A machine or mevid
 * where the events cannot be opened (no right, another kernel) is said once
 * at debug level and never tried again; launchers work as before. So are
 * the fault links, on their own.
 */
#ifndef MEVI_DAEMON_WARM_SYSCALLS_H
#define MEVI_DAEMON_WARM_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define WARM_SYSCALLS_LINGER_MS 10000
#define WARM_SYSCALLS_MAX	16
#define WARM_FAULTS_N		3 /* exceptions:page_fault_user, _kernel; sched:sched_switch */
#define WARM_FAULTS_LINKS	2 /* per tracepoint: a launcher's is the third */

struct warm_syscalls {
	uv_loop_t *loop;
	uv_timer_t timer;
	uv_work_t work;
	unsigned linger_ms;
	bool timer_init;
	bool busy;	 /* a work item is queued or running: fds are its */
	bool wanted;	 /* a request came while closing: open again after */
	bool stopping;	 /* warm_syscalls_close(): close, never open again */
	bool disabled;	 /* an open failed for good */
	int64_t last_ms; /* the last request (mono_ms) */
	uint32_t ids[WARM_SYSCALLS_MAX];
	size_t nids;
	int fds[WARM_SYSCALLS_MAX];
	size_t nfds; /* held (0: cold) */
	int err;     /* the last open's: 0, or a negative errno */
	unsigned opens, closes;
	/* The fault tracepoints: wanted by a request (opened with the events,
	 * or by an open of their own when those are held already), held (the
	 * empty program and its links), given up for good. */
	bool faults_wanted, faults_disabled;
	bool faults_job;   /* the queued open links them (set on the loop) */
	int fault_prog;	   /* -1: none */
	size_t nfault_fds; /* held (0: cold) */
	int fault_fds[WARM_FAULTS_N * WARM_FAULTS_LINKS];
	int fault_err; /* the last open's: 0, or a negative errno */
};

/* Ready to hold, on loop, until linger_ms after the last request. */
void warm_syscalls_init(struct warm_syscalls *w, uv_loop_t *loop, unsigned linger_ms);

/* The raw tracepoints held warm for exact-mode launchers. */
extern const char *const warm_fault_names[WARM_FAULTS_N];

/*
 * A launcher's request: the tracepoints with these n ids (at most
 * WARM_SYSCALLS_MAX; others are ignored) are opened if they are not held,
 * and held linger_ms from now; with faults, the fault tracepoints' links
 * too (from the next open, when the events are held already). Returns at
 * once.
 */
void warm_syscalls_touch(struct warm_syscalls *w, const uint32_t *ids, size_t n, bool faults);

/* How many events are held now (0 while opening or closing). */
size_t warm_syscalls_held(const struct warm_syscalls *w);

/* How many fault links are held now (0 while opening or closing). */
size_t warm_syscalls_faults_held(const struct warm_syscalls *w);

/* Lets them go (on the pool) and closes the timer: the loop must run
 * afterwards, until the close is done. Idempotent. */
void warm_syscalls_close(struct warm_syscalls *w);

#endif /* MEVI_DAEMON_WARM_SYSCALLS_H */
