/*
 * checkpoint — a session's whole state as a blob in its event log
 * (daemon/eventlog.h), and the state at any time T rebuilt from the log: the
 * last checkpoint at or before T restored, then the events that follow
 * replayed through the ingest driver (daemon/ingest.h, INGEST_REPLAY), so
 * the rebuilt state cannot diverge from the live semantics of session.c.
 *
 * A checkpoint holds the session (launcher pid, started_at, mode, alive /
 * exit status, argv, sample_ms), its vma names in id order and its stacks,
 * and per process its pid, ppid, status, cmdline, memory map, the four
 * annotation maps (vma, origin, touch, written) as delta-coded ranges and
 * its thread table: varints (daemon/varbuf.h), read back only by the mevid
 * that wrote them.
 *
 * This module depends on both eventlog and session; neither includes it:
 * checkpoint_keep_history() gives the registry the budget and
 * checkpoint_take() as its checkpoint hook.
 */
#ifndef MEVI_DAEMON_CHECKPOINT_H
#define MEVI_DAEMON_CHECKPOINT_H

#include <stdint.h>

struct eventlog;
struct eventlog_budget;
struct eventlog_pos;
struct session;
struct session_registry;

/* Every session of reg keeps an event log charged to budget (borrowed, must
 * outlive reg), with checkpoints; NULL: no history. */
void checkpoint_keep_history(struct session_registry *reg, struct eventlog_budget *budget);

/*
 * Writes s's state as a checkpoint of lg, which must be at a chunk boundary
 * (eventlog_append said EVENTLOG_CKPT_DUE). Returns 0 or -ENOMEM.
 */
int checkpoint_take(struct eventlog *lg, const struct session *s);

/*
 * Rebuilds the state at time at into tmp, a registry the caller initialised
 * (no observer, no budget) and destroys: on success *out is its one session,
 * with id (the live session's id), pinned. Returns 0, -ENOMEM, or -EIO /
 * -EBADMSG when the stored history cannot be read.
 */
int checkpoint_replay(const struct eventlog *lg, uint64_t id, uint64_t at,
		      struct session_registry *tmp, struct session **out, struct eventlog_pos *pos);

/*
 * The state of the live session s at time at: initialises *tmp (no observer,
 * no budget, quiet) and replays into it; the caller destroys *tmp with
 * session_registry_destroy() in every case. When every event is applied (at
 * at or beyond the end) the session's alive / exit status are the live
 * session's (a launcher that vanished leaves alive = false without an event).
 * Returns 0, -ENOENT when s keeps no history, or as checkpoint_replay().
 */
int checkpoint_state_at(const struct session *s, uint64_t at, struct session_registry *tmp,
			struct session **out, struct eventlog_pos *pos);

#endif /* MEVI_DAEMON_CHECKPOINT_H */
