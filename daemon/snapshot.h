/*
 * snapshot — the websocket snapshot message of proto/PROTOCOL.md:
 *
 *   [0, version, now, sessions]
 *   session: [id, argv, launcher_pid, alive, exit_status|nil, mode, started_at,
 *             processes, rss_history, sample_ms, stacks]
 *   process: [pid, ppid, cmdline, alive, exit_status|nil, ranges, rss_history,
 *             vmas, origins, touches, threads, written]
 *   ranges:  [start0, end0, state0, ...] (memmap order: sorted, merged)
 *   rss_history: [ts0, rss0, ...] (daemon/history.h, oldest first)
 *   vmas:    [start0, end0, kind0, name0, ...]; origins: [start0, end0,
 *            stack_id0, ...]; touches: [start0, end0, tid0, ...] (tagmap
 *            order); threads: [tid0, name0, ...] (by tid); written (version
 *            3): [start0, end0, t_ms0, ...] (daemon/heatmap.h)
 *   stacks:  [[stack_id, [[pc, func, module, source|nil], ...]], ...] in the
 *            order the ids were first defined
 *
 * Every session and process the registry holds is included, exited ones too.
 */
#ifndef MEVI_DAEMON_SNAPSHOT_H
#define MEVI_DAEMON_SNAPSHOT_H

#include <stdint.h>

#include <msgpack.h>

struct eventlog_pos;
struct session;
struct session_registry;

/* Appends the snapshot of reg, stamped now (CLOCK_REALTIME ns), to out.
 * Returns 0 or -ENOMEM (out then holds a partial message: discard it). */
int snapshot_encode(const struct session_registry *reg, uint64_t now, msgpack_sbuffer *out);

/*
 * Appends the reply to a tab's seek request (proto/PROTOCOL.md, "moment"):
 *   [2, version, now, session_id, at, ts, prev_ts, next_ts, end_ts, session]
 * where session is the snapshot's session array for s, the replayed state
 * (pos says where it was found). With s NULL, session is the str why (the
 * pos fields are then 0). Returns 0 or -ENOMEM.
 */
int snapshot_encode_moment(uint64_t session_id, uint64_t at, const struct session *s,
			   const struct eventlog_pos *pos, const char *why, uint64_t now,
			   msgpack_sbuffer *out);

#endif /* MEVI_DAEMON_SNAPSHOT_H */
