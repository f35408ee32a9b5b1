/*
 * api_state — the JSON documents of mevid's HTTP API (json-c).
 *
 * GET /api/state is the shape README.md fixes ("Using it"), with added fields:
 *   session: "mode" ("exact" | "sampled"), "started_at" (CLOCK_REALTIME ns)
 *   process: "exit_status" (null while alive or when unknown)
 *   session: "recorded" (loaded from a .mevi file), "history" (its event log
 *   is kept: ?at=T and the recording download work)
 *   session: "sample_ms" (0 in exact mode)
 *   session (version 3): "engine" (the launcher's, "ptrace" | "ebpf"; null
 *   until it says), "reconcile_corrections" and "ring_drops" (the eBPF
 *   engine's counters, from its newest engine event; 0 otherwise)
 *   process: "swapped" (bytes in swapped ranges), "rss_by_kind" ({kind name:
 *   resident bytes} for all 7 kinds; resident bytes no vma annotation covers
 *   count as "anon", so the values add up to "rss"), "mappings" ([[start,
 *   end, "kind", "name"], ...]: the vma map), "origins" ([[start, end,
 *   stack_id], ...]), "stacks" ({"<stack_id>": [{"pc", "func", "module",
 *   "source" (null without debug info)}, ...]} for the known stacks that
 *   this process's origins name), "touches" ([[start, end, tid], ...]),
 *   "threads" ({"<tid>": "name"})
 * Numbers are JSON integers; ranges are memmap's (sorted, merged).
 * ?pid=N keeps the sessions that have an entry for pid N, each with only
 * those entries (an exited one and its successor can share a pid). An unknown
 * pid yields {"sessions": []} with status 200, so scripts can poll without
 * treating "not yet" as an error.
 *
 * Strings (argv, cmdline) are the raw bytes the kernel gave the launcher.
 * JSON needs UTF-8: every byte that is not part of a valid UTF-8 sequence is
 * replaced by U+FFFD; control characters, NUL included, are escaped as \uXXXX.
 *
 * Ownership: the builders return a json_object the caller releases with
 * json_object_put(). Range lists are serialised straight from the memmaps, so
 * a document must be serialised (api_json_string) before the registry
 * changes, i.e. in the same loop iteration.
 */
#ifndef MEVI_DAEMON_API_STATE_H
#define MEVI_DAEMON_API_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct eventlog_pos;
struct json_object;
struct session;
struct session_registry;

/* /api/state; with has_pid, only pid. NULL on out-of-memory. */
struct json_object *api_state_build(const struct session_registry *reg, bool has_pid, int32_t pid);

/*
 * /api/state?session=S&at=T: {"sessions": [s], "at": {"ts", "prev_ts",
 * "next_ts", "end_ts", "applied", "events", "replayed"}} where s is the
 * replayed session (daemon/eventlog.h) and the "at" fields are pos. NULL on
 * out-of-memory.
 */
struct json_object *api_state_build_at(const struct session *s, const struct eventlog_pos *pos);

/*
 * GET /api/sessions/S/timeline: {"id", "events", "end_ts", "history_bytes",
 * "spilled", "recorded", "markers": [[ts, "start"|"exec"|"exit", pid], ...],
 * "markers_truncated", "rss": [[ts, rss], ...]}. NULL on out-of-memory or
 * when s has no history.
 */
struct json_object *api_timeline_build(const struct session *s);

/* /api/health: {"status":"ok","sessions":N,"version":"...","pid":N,
 * "launchers":N,"tabs":N}. NULL on out-of-memory. */
struct json_object *api_health_build(const struct session_registry *reg, uint32_t launchers,
				     uint32_t tabs);

/* Serialises jso (compact). The string belongs to jso. NULL on OOM. */
const char *api_json_string(struct json_object *jso, size_t *len);

/*
 * Writes in[0..len) into out as UTF-8, replacing every byte that is not part
 * of a valid sequence by U+FFFD. out must hold 3 * len bytes. Returns the
 * number of bytes written.
 */
size_t api_utf8_sanitize(const char *in, size_t len, char *out);

#endif /* MEVI_DAEMON_API_STATE_H */
