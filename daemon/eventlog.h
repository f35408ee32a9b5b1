/*
 * eventlog — one session's history: every event applied to it, in order,
 * with its timestamp, stored compactly, plus periodic checkpoints of the
 * session's whole state (opaque here), so that daemon/checkpoint.h rebuilds
 * the state at any time T by restoring the last checkpoint at or before T
 * and replaying what follows (the cost is bounded by the checkpoint
 * interval, not the session's length).
 *
 * Storage: events are appended to chunks (at most EVENTLOG chunk_bytes or
 * 65535 events each) as records (daemon/eventrec.h: a state event is
 * typically 4 to 8 bytes, 29 on the wire). Chunks decode independently.
 *
 * Checkpoints are opaque blobs here (daemon/checkpoint.h writes and reads
 * them: the whole session state). eventlog_append() says when one is due:
 * at a chunk boundary, when at least ckpt_events events AND at least as many
 * log bytes as the previous checkpoint's size have been appended since the
 * last one: checkpoints never take more memory than the log itself, and a
 * seek replays at most max(ckpt_events, the events of one checkpoint's size)
 * events. The log knows events only; it never looks at a session.
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

/* What eventlog_append() reports besides success (a bit set). */
#define EVENTLOG_CHUNK_CLOSED 1 /* the caller may enforce the budget */
#define EVENTLOG_CKPT_DUE     2 /* the caller adds a checkpoint now */

/*
 * Appends ev (as applied to its session). Returns 0, a set of
 * EVENTLOG_CHUNK_CLOSED and EVENTLOG_CKPT_DUE, or -ENOMEM / -EIO (the log is
 * then unusable: the caller frees it).
 */
int eventlog_append(struct eventlog *lg, const struct mevi_event *ev);

/*
 * Adds a checkpoint: p[0..len) (taken over, freed on failure) holds the
 * session's state after every event appended so far. Only at a chunk
 * boundary, i.e. right after an append that said EVENTLOG_CKPT_DUE.
 * Returns 0 or -ENOMEM.
 */
int eventlog_add_checkpoint(struct eventlog *lg, unsigned char *p, size_t len);

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

/* A checkpoint as eventlog_checkpoint_at() finds it. */
struct eventlog_ckpt_info {
	uint64_t events;  /* events applied when it was taken */
	uint64_t ts;	  /* time of the last of them */
	uint64_t prev_ts; /* the latest event time < ts, or ts */
	uint32_t chunk;	  /* the first chunk to replay after it */
};

struct eventlog_ckpt_view {
	struct eventlog_ckpt_info info;
	const unsigned char *p; /* its bytes: in the log, or in scratch */
	size_t len;
	unsigned char *scratch; /* owned: eventlog_ckpt_view_free() */
	size_t scratch_cap;
};

/*
 * Finds the last checkpoint whose time is <= at and its bytes (read from the
 * spill file into v->scratch when spilled). Returns 1 with *v filled, 0 when
 * there is none, or -ENOMEM / -EIO. v must be zeroed before the first use.
 */
int eventlog_checkpoint_at(const struct eventlog *lg, uint64_t at, struct eventlog_ckpt_view *v);
void eventlog_ckpt_view_free(struct eventlog_ckpt_view *v);

/*
 * Calls fn for every event of the log in order, the first max_events at
 * most. ev and its strings are valid during the call. A non-zero return of
 * fn stops the walk and is returned; otherwise returns 0, -ENOMEM, -EIO or
 * -EBADMSG.
 */
typedef int (*eventlog_event_fn)(void *ctx, const struct mevi_event *ev);
int eventlog_walk(const struct eventlog *lg, uint64_t max_events, eventlog_event_fn fn, void *ctx);

/* As eventlog_walk, from the first event of chunk `first` (a checkpoint's
 * info.chunk) to the end. */
int eventlog_walk_from(const struct eventlog *lg, uint32_t first, eventlog_event_fn fn, void *ctx);

#endif /* MEVI_DAEMON_EVENTLOG_H */
