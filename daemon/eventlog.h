/*
 * eventlog — one session's history: every event applied to it, in order,
 * with its timestamp, stored compactly, plus periodic checkpoints of the
 * session's whole state, so that the state at any time T is rebuilt by
 * restoring the last checkpoint at or before T and replaying what follows
 * (the cost is bounded by the checkpoint interval, not the session's length).
 *
 * Storage: events are appended to chunks (at most EVENTLOG chunk_bytes or
 * 65535 events each). Inside a chunk each event is one record of varints:
 * a header byte (type, "pid changed", "ts unchanged", page state), then the
 * pid when it changed, the zigzag ts delta when it changed, and the fields,
 * addresses as page numbers, zigzag-delta-coded against the previous
 * record's range end. Chunks decode independently (the delta state resets
 * at each chunk). A state event is typically 4 to 8 bytes (29 on the wire).
 * Version 2 records: a touch omits its tid when it repeats the previous
 * touch's; the strings of vma, thread and stack records are interned per
 * chunk (a literal of 4+ bytes gets the chunk's next index, a repeat is a
 * reference), so a repeated path, module or function name costs 1-3 bytes.
 *
 * Checkpoints hold the whole session state, annotations included (the
 * three annotation maps and thread table of every process, the session's
 * vma names in id order, its stacks and sample_ms). They are taken at chunk
 * boundaries, when at least ckpt_events
 * events AND at least as many log bytes as the previous checkpoint's size
 * have been appended since the last one: checkpoints never take more memory
 * than the log itself, and a seek replays at most max(ckpt_events, the
 * events of one checkpoint's size) events.
 *
 * Time: the time of an event is the running maximum of the ts values up to
 * it, in log order (a ts lower than an earlier one counts as equal to it).
 * The state "at T" is the state after the longest prefix of the log whose
 * times are <= T; the first event (session_start) is always included.
 *
 * Memory: every log of a registry shares one struct eventlog_budget, which
 * counts the bytes of all logs' in-memory storage. The registry enforces
 * the limit (daemon/session.h); eventlog_spill() moves a log's closed chunks
 * and checkpoints to a file (mode 0600) in the budget's spill directory
 * (0700) and frees them from memory; later chunks go straight to the file.
 *
 * Ownership: a session owns its log (session_free frees it). The budget
 * belongs to whoever owns the registry and must outlive every log.
 * Thread safety: none.
 */
#ifndef MEVI_DAEMON_EVENTLOG_H
#define MEVI_DAEMON_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct session;
struct session_registry;

#define EVENTLOG_DEFAULT_BUDGET	     (512u << 20)
#define EVENTLOG_DEFAULT_CHUNK_BYTES (64u << 10)
#define EVENTLOG_DEFAULT_CKPT_EVENTS 65536u
#define EVENTLOG_MAX_MARKERS	     8192u

struct eventlog_budget {
	size_t limit;	      /* bytes of history kept in memory, all logs together */
	size_t used;	      /* bytes currently in memory (maintained by the logs) */
	size_t chunk_bytes;   /* chunk size (tests make it tiny) */
	uint32_t ckpt_events; /* minimum events between two checkpoints */
	char spill_dir[256];  /* where spill files go; "" = the default state dir */
	uint64_t spill_seq;
	uint64_t spills, evictions; /* statistics */
};

/* Fills b with the defaults and limit. */
void eventlog_budget_init(struct eventlog_budget *b, size_t limit);

/* Parses "512M", "4096", "1G", "64k" (K/M/G are powers of 1024). Returns 0
 * or -EINVAL. */
int eventlog_parse_size(const char *s, size_t *out);

/* A process start, exec or exit: what the timeline marks. */
struct eventlog_marker {
	uint64_t ts;
	int32_t pid;
	uint8_t type; /* MEVI_EV_PROC_START / _EXEC / _EXIT */
};

struct eventlog;

/* A new, empty log charged to budget. NULL on out-of-memory. */
struct eventlog *eventlog_new(struct eventlog_budget *budget);

/* Frees lg, its memory and its spill file (unlinked). NULL is allowed. */
void eventlog_free(struct eventlog *lg);

/*
 * Appends ev, which has just been applied to s (s's state now includes it),
 * and takes a checkpoint of s when one is due. Returns 0, 1 when a chunk was
 * closed (the caller may then enforce the budget), or -ENOMEM / -EIO (the
 * log is then unusable: the caller frees it).
 */
int eventlog_append(struct eventlog *lg, const struct session *s, const struct mevi_event *ev);

/* Statistics. */
uint64_t eventlog_events(const struct eventlog *lg);
uint64_t eventlog_end_ts(const struct eventlog *lg); /* time of the last event */
size_t eventlog_mem_bytes(const struct eventlog *lg);
size_t eventlog_total_bytes(const struct eventlog *lg); /* in memory + spilled */
size_t eventlog_ckpt_bytes(const struct eventlog *lg);
uint32_t eventlog_ckpt_count(const struct eventlog *lg);
bool eventlog_spilled(const struct eventlog *lg);
const char *eventlog_spill_path(const struct eventlog *lg); /* NULL unless spilled */
const struct eventlog_marker *eventlog_markers(const struct eventlog *lg, uint32_t *n,
					       bool *truncated);

/* Moves every closed chunk and checkpoint to the spill file. Returns 0
 * (also when already spilled) or -errno (the log is unchanged). */
int eventlog_spill(struct eventlog *lg);

/* Where the state at T was found: the replay's position. */
struct eventlog_pos {
	uint64_t applied;  /* events applied (prefix length) */
	uint64_t ts;	   /* time of the last applied event */
	uint64_t prev_ts;  /* the latest event time < ts, or ts if none */
	uint64_t next_ts;  /* time of the first event not applied, or ts if none */
	uint64_t end_ts;   /* time of the last event of the log */
	uint64_t events;   /* events in the log */
	uint32_t replayed; /* events replayed after the checkpoint */
};

/*
 * Rebuilds the state at time at into tmp, a registry the caller initialised
 * (no observer, no budget) and destroys: on success *out is its one session,
 * with id (the live session's id), attached to a dummy connection. Returns 0,
 * -ENOMEM, or -EIO / -EBADMSG when the stored history cannot be read.
 */
int eventlog_replay(const struct eventlog *lg, uint64_t id, uint64_t at,
		    struct session_registry *tmp, struct session **out, struct eventlog_pos *pos);

/*
 * The state of the live session s at time at: initialises *tmp (no observer,
 * no budget, quiet) and replays into it; the caller destroys *tmp with
 * session_registry_destroy() in every case. When every event is applied (at
 * at or beyond the end) the session's alive / exit status are the live
 * session's (a launcher that vanished leaves alive = false without an event).
 * Returns 0, -ENOENT when s keeps no history, or as eventlog_replay().
 */
int eventlog_state_at(const struct session *s, uint64_t at, struct session_registry *tmp,
		      struct session **out, struct eventlog_pos *pos);

/*
 * Calls fn for every event of the log in order, the first max_events at
 * most. ev and its strings are valid during the call. A non-zero return of
 * fn stops the walk and is returned; otherwise returns 0, -ENOMEM, -EIO or
 * -EBADMSG.
 */
typedef int (*eventlog_event_fn)(void *ctx, const struct mevi_event *ev);
int eventlog_walk(const struct eventlog *lg, uint64_t max_events, eventlog_event_fn fn, void *ctx);

#endif /* MEVI_DAEMON_EVENTLOG_H */
