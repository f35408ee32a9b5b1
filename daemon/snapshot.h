/*
 * snapshot — the websocket snapshot message of proto/PROTOCOL.md:
 *
 *   [0, version, now, sessions]
 *   session: [id, argv, launcher_pid, alive, exit_status|nil, mode, started_at,
 *             processes, rss_history]
 *   process: [pid, ppid, cmdline, alive, exit_status|nil, ranges, rss_history]
 *   ranges:  [start0, end0, state0, ...] (memmap order: sorted, merged)
 *   rss_history: [ts0, rss0, ...] (daemon/history.h, oldest first)
 *
 * Every session and process the registry holds is included, exited ones too.
 */
#ifndef MEVI_DAEMON_SNAPSHOT_H
#define MEVI_DAEMON_SNAPSHOT_H

#include <stdint.h>

#include <msgpack.h>

struct session_registry;

/* Appends the snapshot of reg, stamped now (CLOCK_REALTIME ns), to out.
 * Returns 0 or -ENOMEM (out then holds a partial message: discard it). */
int snapshot_encode(const struct session_registry *reg, uint64_t now, msgpack_sbuffer *out);

#endif /* MEVI_DAEMON_SNAPSHOT_H */
