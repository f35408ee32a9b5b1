/*
 * engine_stock — mevi-run's eBPF programs, loaded ahead of time and handed
 * to the next mevi-run that asks for them (proto/stockmsg.h;
 * launcher/stock.h takes them).
 *
 * Loading the programs (the kernel runs the light skeleton's loader,
 * verifies eight programs and allocates a 4 MiB ring buffer) costs 6-7 ms
 * on this project's VM. A launcher that takes a loaded set only attaches it,
 * so that cost is no longer on its program's start-up. Each set's ring is
 * primed too (bpfskel_prime_ring, 5-7 ms more): the kernel's first write to
 * each of its pages, ~10-15 us a page here, is paid now rather than by the
 * programs' records while the launcher's program runs. Two sets are kept,
 * one for each configuration a launcher has with no option but --sample or
 * --pid and no MEVI_BPF_* variable (launcher/bpfskel.h:
 * bpfskel_config_default): exact and sampled. A launcher configured
 * otherwise (--backtraces=off or all, a MEVI_BPF_* variable) is told so and
 * loads its own, and mevid learns its configuration from the request: a set
 * is loaded for it once that launcher has ended, for the next one
 * configured alike (`mevi-run --backtraces=off` started 4-5 ms later than
 * the default and ran on an unprimed ring before). At most
 * ENGINE_STOCK_LEARNED are kept, the one asked for the longest time ago
 * making room, each let go ENGINE_STOCK_LEARNED_IDLE_MS after its last
 * request (MEVI_STOCK_LEARNED_MS, 1..86400000, sets it: for tests). Only a
 * configuration that makes the id it came with (mevid computes it), with a
 * ring of at most ENGINE_STOCK_LEARNED_RING_MAX, is learned: a peer cannot
 * make mevid hold what it did not ask for. Nothing is attached here: until a
 * launcher attaches them, the programs run nowhere and cost the machine
 * only their memory (a 4 MiB ring buffer each).
 *
 * Only when mevid may load them (root, or CAP_BPF and CAP_PERFMON): else
 * the stock stays empty, said once at debug level, and launchers load their
 * own as before. A set is handed only to a peer of mevid's own uid
 * (SO_PEERCRED): never to another user, and not to root talking to another
 * user's mevid. The socket is the launcher socket's path with ".stock"
 * appended (proto/sockpath.h), in the same 0700 directory, closed to group
 * and others like it.
 * After a hand-over the set is loaded again once the process that took it
 * has ended (a pidfd of the peer, polled), or ENGINE_STOCK_RELOAD_MAX_MS
 * after the hand-over for a long-lived one: the 6-10 ms of CPU a load costs
 * never competes with the short program it just equipped (on two CPUs, 200
 * fork + exec ran ~15 ms longer with the load in its middle). Without a
 * pidfd (a peer in another pid namespace), ENGINE_STOCK_RELOAD_MS after.
 * Sets are loaded one at a time, each on a thread of its own at SCHED_IDLE
 * (the loop goes on meanwhile): the load does not take a CPU another thread
 * wants, such as the ended program's parent's; on a machine with no idle CPU
 * for ENGINE_STOCK_IDLE_MS, it goes on at SCHED_BATCH.
 * Once mevid has loaded a set (it may), it also keeps the process-tree
 * tracepoints warm (warm_tracepoints.h), so that a launcher's attach there
 * patches no kernel text, and reads the ids of the syscall tracepoints the
 * launcher attaches its layout program to (launcher/tracepoint.h): every
 * answer carries them, so that no launcher reads tracefs on its program's
 * start-up (where none is mounted, that is a child mounting one privately:
 * 2-3 ms here). From each request on, until WARM_SYSCALLS_LINGER_MS after
 * the last one (MEVI_WARM_SYSCALLS_MS, 1..600000, sets it: for tests), it
 * holds those syscall tracepoints registered (warm_syscalls.h), so that
 * launchers following each other neither patch kernel text nor wait for
 * grace periods there.
 *
 * Every byte from the socket is untrusted: a request that is not one ends
 * that connection with one log line; so does silence past
 * ENGINE_STOCK_TIMEOUT_MS. At most ENGINE_STOCK_CONNS connections are open.
 */
#ifndef MEVI_DAEMON_ENGINE_STOCK_H
#define MEVI_DAEMON_ENGINE_STOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "stockmsg.h"
#include "warm_syscalls.h"
#include "warm_tracepoints.h"

#define ENGINE_STOCK_IDLE_MS	   50 /* then a load goes on at SCHED_BATCH */
#define ENGINE_STOCK_RELOAD_MS	   250
#define ENGINE_STOCK_RELOAD_MAX_MS 2000
#define ENGINE_STOCK_TIMEOUT_MS	   1000
#define ENGINE_STOCK_CONNS	   16
#define ENGINE_STOCK_DEFAULTS	   2 /* exact, sampled */
#define ENGINE_STOCK_LEARNED	   4 /* other configurations launchers asked for */
#define ENGINE_STOCK_SETS	   (ENGINE_STOCK_DEFAULTS + ENGINE_STOCK_LEARNED)
/* A learned configuration no launcher has asked for in this long is let go. */
#define ENGINE_STOCK_LEARNED_IDLE_MS (10 * 60 * 1000)
/* The largest ring buffer a learned configuration may have (4x the default). */
#define ENGINE_STOCK_LEARNED_RING_MAX (16u << 20)

struct mevi_bpf;
struct stock_conn;
struct stock_taker;

/* One loaded set, or an empty slot for one. The first ENGINE_STOCK_DEFAULTS
 * hold the default configurations; the others, when learned, one that a
 * launcher asked for. */
struct stock_set {
	struct mevi_bpf *skel;	      /* NULL: not loaded (yet, or again) */
	uint64_t id;		      /* bpfskel_id() of skel, or of cfg (learned) */
	bool sampled;		      /* its configuration is sampled mode's */
	bool learned;		      /* a learned slot in use: cfg says what to load */
	struct mevi_stock_config cfg; /* learned: as the request carried it */
	int64_t asked_ms;	      /* learned: the last request for it (mono_ms) */
};

/* A load under way, on a thread of its own (engine_stock.c: load_thread):
 * the thread writes only skel, err, open_failed, prime_err, cpu_ms and tid, and the loop
 * reads them only once the thread has said it is done. */
struct stock_load {
	struct engine_stock *st;
	size_t slot;		      /* the set it is for */
	bool learned;		      /* that slot's, when it started */
	uint64_t id_asked;	      /* that slot's id then: what it loads */
	struct mevi_stock_config cfg; /* what is loaded */
	uint64_t t0_ns;		      /* mono_ns() at its start */
	struct mevi_bpf *skel;	      /* loaded, or NULL */
	int err;		      /* negative errno, 0 when loaded */
	bool open_failed;	      /* err came from bpfskel_open(), not the kernel */
	int prime_err;		      /* bpfskel_prime_ring()'s */
	double cpu_ms;		      /* the thread's CPU time */
	pid_t tid;		      /* the thread's while it runs, else 0 (load_lock) */
	bool boosted;		      /* moved to SCHED_BATCH (boost_cb) */
};

struct engine_stock {
	uv_loop_t *loop;
	uv_pipe_t listener;
	uv_timer_t reload;
	uv_timer_t expire; /* lets learned configurations go (timer_init) */
	bool listening;
	bool timer_init;
	bool disabled; /* mevid may not load them: never tried again */
	bool closing;  /* engine_stock_close() has begun: nothing more is loaded */
	bool loading;  /* job is under way, on load_tid */
	bool async_init;
	uv_async_t load_async; /* load_thread() -> load_done() */
	uv_thread_t load_tid;
	uv_timer_t boost;     /* ENGINE_STOCK_IDLE_MS into a load (timer_init) */
	uv_mutex_t load_lock; /* job.tid, between the thread and boost_cb */
	struct stock_load job;
	char *path; /* the stock socket (owned), unlinked on close */
	struct stock_set sets[ENGINE_STOCK_SETS];
	struct stock_conn *conns;
	unsigned nconns;
	struct stock_taker *takers;   /* processes holding a handed-over set */
	struct warm_tracepoints warm; /* started after the first load */
	struct warm_syscalls wsys;    /* held from a request to the linger's end */
	/* The ids of the layout program's syscall tracepoints, read after the
	 * first load and sent with every answer (ntp 0: unknown). */
	uint32_t tp_ids[MEVI_STOCK_TP_MAX];
	unsigned ntp;
	bool tp_tried;
	/* Statistics, logged at exit. */
	unsigned loads, grants, refusals, learned;
	unsigned learned_ms; /* ENGINE_STOCK_LEARNED_IDLE_MS, or MEVI_STOCK_LEARNED_MS */
	double load_ms;	     /* the last load's wall time, from its start to the loop's */
	double load_cpu_ms;  /* and its CPU time */
};

/*
 * Listens on the stock socket beside launcher_socket and loads the sets
 * from the loop (not here: mevid's start is not delayed). Returns 0, or a
 * negative errno when the socket cannot be made (mevid runs on without a
 * stock; the caller logs it). Without the eBPF engine built in, does nothing
 * and returns 0.
 */
int engine_stock_start(struct engine_stock *st, uv_loop_t *loop, const char *launcher_socket);

/* Closes every connection and the socket (unlinked), unloads the sets. Handles
 * close asynchronously: the loop must run afterwards. */
void engine_stock_close(struct engine_stock *st);

#endif /* MEVI_DAEMON_ENGINE_STOCK_H */
