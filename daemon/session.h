/*
 * session — mevid's authoritative state: every session, its processes and
 * their memory maps.
 *
 * A session is what one launcher (mevi-run) reports about one traced program
 * tree. The registry owns every session; a session owns its processes; a
 * process owns its memmap (proto/memmap.h) and its RSS history.
 *
 * Session semantics (the frontend's model mirrors them; see also
 * proto/PROTOCOL.md):
 *
 *  - The first event on a launcher connection must be session_start
 *    (session_registry_start). Its (launcher_pid, started_at) identifies the
 *    session across reconnects: a session_start whose key matches a known
 *    session reattaches to it (normally with resume = true, after a launcher
 *    reconnect or a daemon restart), revives it (alive = true,
 *    exit_status = null) and clears its processes: a full snapshot follows.
 *    If that session is still attached to another connection, the other
 *    connection is taken over (the caller closes it). An unknown key creates a
 *    new session, whatever resume says (the daemon may have restarted).
 *  - session_end sets alive = false and exit_status, and end_how from the
 *    status (daemon/ending.h). Every process still alive then is marked
 *    alive = false without an exit status, end_how detached (status -1) or
 *    untracked.
 *  - A connection that closes without session_end leaves its session
 *    alive = false, exit_status = null, end_how launcher_lost, and every
 *    process still alive alive = false, end_how launcher_lost; a later
 *    resume revives it. Whether such processes still run is asked of the
 *    kernel (probe_kernel; running), never assumed: alive means tracked.
 *  - proc_start always adds a new process entry, in arrival order. If the pid
 *    already has a live entry, that entry is marked alive = false (exit_status
 *    stays null): the pid was reused without us seeing the exit. A pid whose
 *    previous process has exited keeps its old entry (alive = false) next to
 *    the new one. With flags & MEVI_PROC_INHERIT_MAP the new process starts
 *    with a copy of the map of its parent's current entry (same session);
 *    an unknown parent gives an empty map.
 *  - proc_exec clears the map and sets the new cmdline.
 *  - proc_exit sets alive = false and exit_status.
 *  - map / unmap / remap / state are memmap_set / memmap_remove /
 *    memmap_remap / memmap_update on the pid's current entry.
 *  - Annotations (version 2, events 9..14; bounds in vmanames.h, stacktab.h,
 *    threadtab.h): vma / origin / touch set [start, end) of the process's
 *    vma map (value: an id interned in the session's vmanames) / origin map
 *    (stack_id) / touch map (tid), replacing what was there; thread names a
 *    tid in the process's thread table. stack defines a stack of the
 *    session's table and sampling replaces its sample_ms (both
 *    session-wide: they neither create nor need a live process). unmap
 *    removes the range from the three maps, remap moves their contents
 *    (proto/tagmap.h), proc_exec clears them (the thread table stays), a
 *    fork copies the parent's three maps (not its threads), map leaves them
 *    alone, and a resume clears them with the processes (stacks and names
 *    stay: ids are session-wide and a resumed launcher re-sends its stacks).
 *    Annotations never change rss, vsz or the rss history. A vma whose name
 *    is over the bound is applied (and forwarded) with an empty name; a
 *    stack or thread over the bound is dropped (return 1).
 *  - An event for a pid the session has never seen creates the process
 *    implicitly (ppid = the launcher's pid, empty cmdline, empty map; logged
 *    at debug) and the
 *    observer is told as if a proc_start had arrived first, so websocket
 *    deltas never carry an event for an unknown pid.
 *  - An event other than proc_start for a pid whose current entry has exited
 *    is dropped (logged at debug): the process is gone.
 *  - Sessions not attached to any connection (ended, or left by a launcher
 *    that vanished) are bounded: at most max_detached are kept, the one that
 *    was detached first is evicted first. session_registry_forget() drops one
 *    on request (DELETE /api/sessions/ID).
 *
 * RSS: a process's rss is memmap_rss() of its map (its final map once it has
 * exited). A session's rss is the sum over its live processes.
 *
 * Thread safety: none; everything runs on mevid's one loop.
 */
#ifndef MEVI_DAEMON_SESSION_H
#define MEVI_DAEMON_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "history.h"
#include "stacktab.h"
#include "threadtab.h"
#include "vmanames.h"

struct eventlog;
struct eventlog_budget;

struct memmap;
struct session;
struct tagmap;

/* A process entry. Owned by its session; freed with it. */
struct process {
	struct process *next; /* the session's entries, in creation order */
	int32_t pid;
	int32_t ppid;
	struct mevi_strv cmdline; /* owned: one allocation, items then bytes */
	bool alive;
	bool has_exit_status;
	int32_t exit_status;
	struct memmap *map;
	struct history rss_history;
	/* Annotation maps (proto/tagmap.h), owned: value = an id of the
	 * session's vmanames, a stack_id, a tid. */
	struct tagmap *vmas, *origins, *touches;
	struct threadtab threads;
	/* How it ended (daemon/ending.h); ENDING_NONE while alive. */
	uint8_t end_how;
	/* For a process that ended without an exit seen (detached, launcher
	 * lost, untracked): 1 the kernel still runs it, 0 it is gone, -1 not
	 * known. Checked at the end and again every second while 1. */
	int8_t running;
	int32_t host_pid;    /* its pid in mevid's pid namespace; 0: not known */
	uint64_t start_time; /* /proc/PID/stat field 22 when first seen; 0: not known */
	/* Version 3: last-write times (heatmap.h), owned; same rules as the
	 * annotation maps above. */
	struct tagmap *written;
};

/*
 * Told about every change so that websocket tabs can follow. Every callback
 * may be NULL. The registry never calls back into itself from a callback, and
 * a callback must not modify the registry.
 */
struct session_observer {
	/* ev has been applied to s (events are passed exactly as they should be
	 * forwarded; an implicit creation is reported as a synthetic proc_start
	 * first). ev and its strings are only valid during the call. */
	void (*applied)(void *ctx, const struct session *s, const struct mevi_event *ev);
	/* Something changed that no event describes (a session detached without
	 * session_end, was evicted or forgotten): tabs need a fresh snapshot. */
	void (*reshaped)(void *ctx);
	/* s is about to be freed. */
	void (*freeing)(void *ctx, const struct session *s);
};

struct pid_table {
	struct pid_slot *slots; /* open addressing, linear probing */
	uint32_t cap;		/* power of two, or 0 */
	uint32_t used;
};

struct session {
	struct session *prev, *next; /* registry order: ascending id */
	uint64_t id;		     /* 1, 2, ... never reused */
	int32_t launcher_pid;
	uint64_t started_at; /* CLOCK_REALTIME ns, from session_start */
	uint8_t mode;	     /* enum mevi_mode */
	uint32_t sample_ms;  /* session_start's, replaced by sampling; 0 in exact mode */
	/* The launcher's engine ("ptrace", "ebpf"; "" until said) and its counters,
	 * from the newest engine event. */
	char engine[MEVI_ENGINE_NAME_MAX + 1];
	uint64_t engine_corrections, engine_drops;
	struct mevi_strv argv;
	bool alive;
	bool has_exit_status;
	int32_t exit_status;
	bool ended;	     /* session_end seen since the last (re)start */
	void *conn;	     /* the attached launcher connection (opaque), or NULL */
	bool pinned;	     /* held by a load or a replay: attached without a connection */
	uint64_t detach_seq; /* eviction order of detached sessions */
	struct process *procs_head, *procs_tail;
	uint32_t nprocs;
	struct pid_table pids; /* pid -> current entry */
	struct process *last;  /* lookup cache */
	uint64_t rss;	       /* sum of live processes' rss */
	uint64_t last_ts;
	struct history rss_history;
	/* History (daemon/eventlog.h): owned; NULL when the registry keeps none
	 * or when it was evicted (history_lost then says why ?at fails). */
	struct eventlog *log;
	bool history_lost;
	bool recorded;		   /* loaded from a recording file (daemon/loader.h) */
	uint8_t end_how;	   /* daemon/ending.h; ENDING_NONE while alive */
	int32_t launcher_host_pid; /* the launcher's pid in mevid's namespace; 0: not known */
	bool launcher_same_pidns;  /* the launcher's pids are mevid's (no pid namespace) */
	bool cut;		   /* a recording cut short: loaded up to cut_at */
	uint64_t cut_at;	   /* the byte offset where the loaded recording stops */
	struct vmanames names;	   /* (kind, name) of every vma annotation */
	struct stacktab stacks;
};

struct session_registry {
	struct session *head, *tail;
	uint32_t count;
	uint32_t detached; /* sessions neither attached to a connection nor pinned */
	uint32_t max_detached;
	uint64_t next_id;
	uint64_t next_detach_seq;
	const struct session_observer *obs;
	void *obs_ctx;
	/* When set, every session keeps an event log charged to this budget,
	 * which the registry enforces (see session_registry_enforce_budget).
	 * Borrowed; must outlive the registry. NULL: no history (replays). */
	struct eventlog_budget *budget;
	/* With a budget: takes a checkpoint of s into its log when the log says
	 * one is due (daemon/checkpoint.h sets it with the budget). Returns 0 or
	 * -ENOMEM. */
	int (*checkpoint)(struct eventlog *lg, const struct session *s);
	bool quiet; /* log session life cycle at debug, not info (replays) */
	/* Live registry: read each new process's start time (and host pid)
	 * from /proc, and check with the kernel whether the processes of a
	 * session that ends without their exit still run (daemon/procfs.h). */
	bool probe_kernel;
	uint32_t running_lost; /* processes with running == 1 */
};

/* Initialises an empty registry. obs may be NULL; it is not copied. */
void session_registry_init(struct session_registry *reg, uint32_t max_detached,
			   const struct session_observer *obs, void *obs_ctx);

/* Frees every session (without calling the observer). */
void session_registry_destroy(struct session_registry *reg);

/* Returns the session with that id, or NULL. */
struct session *session_registry_find(const struct session_registry *reg, uint64_t id);

/*
 * Handles the session_start event ev for connection conn (non-NULL, opaque).
 * On success *out is the session, now attached to conn, and *taken_over is the
 * connection it was attached to before (the caller closes it without calling
 * session_registry_detach) or NULL. Returns 0, -EINVAL if ev is not a
 * session_start, or -ENOMEM. On -ENOMEM *out may still be set: the session is
 * then attached to conn and the caller detaches it when it closes conn.
 */
int session_registry_start(struct session_registry *reg, const struct mevi_event *ev, void *conn,
			   struct session **out, void **taken_over);

/*
 * Applies one event (anything but session_start) to s. Returns 0 when applied,
 * 1 when dropped (an event for an exited process), -EPROTO when the event is
 * not acceptable here (session_start, or anything after session_end),
 * -EINVAL when memmap rejects it, -ENOMEM.
 */
int session_apply(struct session_registry *reg, struct session *s, const struct mevi_event *ev);

/*
 * The connection attached to s has closed: s keeps its state, alive = false
 * unless session_end already set it, and becomes subject to eviction. The
 * observer is told. s may be freed by this call (eviction); do not use it
 * afterwards.
 */
void session_registry_detach(struct session_registry *reg, struct session *s);

/*
 * As session_registry_detach, saying how s ended when no session_end did
 * (ENDING_LAUNCHER_LOST or ENDING_RECORDING_CUT); also unpins a pinned
 * session. Recorded sessions are detached without a log line.
 */
void session_registry_detach_how(struct session_registry *reg, struct session *s, uint8_t how);

/*
 * Drops s, still attached, as if it had never been created: no observer
 * call, no log line, and its id is given back when it was the newest (a
 * recording that failed to load uses up no id).
 */
void session_registry_discard(struct session_registry *reg, struct session *s);

/*
 * Checks again with the kernel every process that ended without an exit and
 * was still running: those now gone get running = 0. Returns how many still
 * run. Cheap when none does.
 */
uint32_t session_registry_recheck(struct session_registry *reg);

/*
 * Forgets session id. Returns 0, -ENOENT if unknown, -EBUSY if a launcher is
 * still attached to it.
 */
int session_registry_forget(struct session_registry *reg, uint64_t id);

/*
 * Like session_registry_start, but always creates a new session, whatever
 * its key (a recording loaded twice gives two sessions), pinned: attached
 * without a connection (never evicted, not counted as detached) until
 * session_registry_detach_how() or session_registry_discard(). Returns 0,
 * -EINVAL or -ENOMEM (*out as in session_registry_start).
 */
int session_registry_start_pinned(struct session_registry *reg, const struct mevi_event *ev,
				  struct session **out);

/*
 * Applies a session_start to the known session s as a resume (processes
 * cleared, revived) without looking its key up: a recording holding a
 * launcher reconnect. Returns 0, -EINVAL (not a session_start, or its key
 * differs from s's) or -ENOMEM.
 */
int session_resume(struct session_registry *reg, struct session *s, const struct mevi_event *ev);

/*
 * Checkpoint restore (daemon/checkpoint.c): creates a pinned session with the
 * given identity, without processes and without notifying the observer or
 * starting a log. NULL on out-of-memory.
 */
struct session *session_registry_restore(struct session_registry *reg, uint64_t id,
					 int32_t launcher_pid, uint64_t started_at, uint8_t mode,
					 const struct mevi_strv *argv);

/* Checkpoint restore: appends a process entry (taking map over, even on
 * failure; with empty annotation maps, which the caller may fill through
 * *out) and makes it its pid's current entry. Returns 0 or -ENOMEM. */
int session_restore_process(struct session *s, int32_t pid, int32_t ppid,
			    const struct mevi_strv *cmdline, bool alive, bool has_exit_status,
			    int32_t exit_status, struct memmap *map, struct process **out);

/*
 * Brings the bytes of every log of reg back under the budget's limit: first
 * drops the history of detached sessions, the one detached first first
 * (their state stays visible); then spills the logs of attached sessions,
 * oldest first, to files. Called by the registry when a log grows; exposed
 * for tests.
 */
void session_registry_enforce_budget(struct session_registry *reg);

/* Bytes of p's map in the swapped state (a walk of the map). */
uint64_t process_swapped(const struct process *p);

/*
 * Resident bytes of p per vma kind into bytes (zeroed first): a resident
 * range counts under the kind of the vma annotation covering it, and as
 * MEVI_KIND_ANON where none does, so the values add up to p's rss. s is p's
 * session (its vma names). A walk of the map and of the vma map under it.
 */
void process_rss_by_kind(const struct session *s, const struct process *p,
			 uint64_t bytes[MEVI_KIND_COUNT]);

/* The current entry of pid in s, or NULL. */
struct process *session_find_process(struct session *s, int32_t pid);

#endif /* MEVI_DAEMON_SESSION_H */
