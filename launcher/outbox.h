/*
 * outbox — the launcher's outgoing events: timestamps them, coalesces
 * neighbouring page-ins into ranges, and cuts them into msgpack batches.
 *
 * Page-state changes are held in up to OUTBOX_RUNS open runs, each one pid,
 * state and first-touching thread over one range, so that the faults of
 * threads touching pages by turns (the kernel's records come in time order,
 * across CPUs) still make one range per thread: with one open run, two
 * threads of a malloc churn made one STATE and one TOUCH event per fault
 * (16,239 events for 8,100 faults). Open runs never overlap, so the order
 * they are sent in changes nothing; a change that would overlap one, and any
 * other event, sends them all first, oldest first.
 *
 * The outbox never blocks and never grows without bound: finished batches are
 * handed to a sink (the daemon link), which decides what to do with them.
 */
#ifndef MEVI_LAUNCHER_OUTBOX_H
#define MEVI_LAUNCHER_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

/* Receives one finished batch (len bytes, a msgpack array). */
typedef void (*outbox_sink_fn)(const void *batch, size_t len, void *ctx);

#define OUTBOX_RUNS 8

/* A page-state change being coalesced: [start, end) of pid is now state. */
struct outbox_run {
	pid_t pid;
	pid_t tid; /* > 0: the run's pages were first touched by this thread */
	uint8_t state;
	uint64_t start, end;
};

struct outbox {
	struct mevi_batch_encoder enc;
	msgpack_sbuffer out;
	uint64_t t0;			     /* CLOCK_MONOTONIC ns at session start */
	uint32_t max_events;		     /* a batch is cut when it reaches this size */
	struct outbox_run runs[OUTBOX_RUNS]; /* open, pairwise disjoint, oldest first */
	unsigned nruns;
	outbox_sink_fn sink;
	void *sink_ctx;
	uint64_t events_total; /* events emitted, after coalescing */
};

void outbox_init(struct outbox *ob, outbox_sink_fn sink, void *sink_ctx);
void outbox_destroy(struct outbox *ob);

/* ns since the session began. */
uint64_t outbox_now(const struct outbox *ob);

/* Queues an event; ev->ts is set by the outbox. Returns 0 or -ENOMEM. */
int outbox_emit(struct outbox *ob, struct mevi_event *ev);

/*
 * Queues a proc_start (with ppid, 1 when unknown, and flags) or a proc_exec
 * event (type) of pid carrying the command line cmdline[0..len), in
 * /proc/PID/cmdline's form (launcher/procfs.h). Returns 0 or -ENOMEM (from the
 * encoder; out of memory for the argument array aborts).
 */
int outbox_proc(struct outbox *ob, uint8_t type, pid_t pid, pid_t ppid, uint32_t flags,
		const char *cmdline, size_t len);

/*
 * Queues a page-state change of [start, end) in pid, merged with the previous
 * one when it is adjacent (either side) and of the same pid and state.
 */
int outbox_state(struct outbox *ob, pid_t pid, uint64_t start, uint64_t end, uint8_t state);

/*
 * Like outbox_state, for pages first touched (faulted in) by thread tid > 0:
 * the run is merged only with pages of the same thread, and its touch event
 * [13, pid, ts, start, end, tid] follows its state event.
 */
int outbox_state_touch(struct outbox *ob, pid_t pid, uint64_t start, uint64_t end, uint8_t state,
		       pid_t tid);

/* True when events are waiting to be flushed. */
bool outbox_pending(const struct outbox *ob);

/* Cuts the current batch and hands it to the sink. */
void outbox_flush(struct outbox *ob);

/* Drops everything not yet flushed (a snapshot will replace it). */
void outbox_discard(struct outbox *ob);

#endif /* MEVI_LAUNCHER_OUTBOX_H */
