/*
 * link — the launcher's connection to mevid.
 *
 * The link never blocks the tracee and never grows without bound. Batches
 * from the outbox are written to the Unix socket through a libevent
 * bufferevent; when the daemon is slow and more than a hard limit is queued,
 * or the daemon goes away, the link drops the connection and everything
 * queued, and reconnects with backoff. On every (re)connection the snapshot
 * callback re-emits the whole session (session_start with resume, every
 * process and its map), so nothing is lost: the daemon ends up with the
 * launcher's own state.
 *
 * Trust (proto/sockpath.h): before a byte is sent, the socket's directory
 * must belong to us or root and be closed to others, and the peer must run as
 * our uid or root. Otherwise, and when mevid hangs up before its greeting
 * because we are of another uid, the link prints one sentence, gives up for
 * good (refused) and the program runs on untracked.
 */
#ifndef MEVI_LAUNCHER_LINK_H
#define MEVI_LAUNCHER_LINK_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct bufferevent;
struct event;

/* Emits session_start(resume) and the full state into the outbox and flushes. */
typedef void (*link_snapshot_fn)(bool resume, void *ctx);

struct link {
	struct event_base *base;
	char socket_path[108];
	bool may_spawn;
	char listen[80]; /* --listen for a spawned mevid, or "" */
	struct bufferevent *bev;
	bool up;
	bool ever_up;
	bool refused; /* incompatible daemon: give up for good */
	bool hello_seen;
	struct event *retry_ev;
	int backoff_ms;
	size_t hard_limit;
	link_snapshot_fn snapshot;
	void *snapshot_ctx;
	char url[256];
	bool url_printed;
	unsigned long bytes_sent;
	unsigned drops;
};

/* Resolves the socket path: $MEVI_SOCKET, else the default (proto/sockpath.h). */
int link_default_socket(char *buf, size_t len);

/* Sets up l (nothing is connected yet). Returns 0, or -ENOMEM when its
 * retry timer cannot be allocated. */
int link_init(struct link *l, struct event_base *base, const char *socket_path, bool may_spawn,
	      link_snapshot_fn snapshot, void *ctx);

/* Sets the --listen HOST:PORT a spawned mevid is given ("" or NULL: none). */
void link_set_listen(struct link *l, const char *listen);

/*
 * Connects once, synchronously, before the program starts: spawns mevid when
 * nothing answers (unless may_spawn is false), waits up to timeout_ms for it
 * and reads the greeting, which fills url. "mevi: watching at URL" is printed
 * here only while url_printed is false: mevi-run sets it first and prints the
 * URL itself when the session begins (not for a program that fails to start).
 * On failure prints one line saying tracking continues and the link retries
 * in the background. Does not call the snapshot callback (the caller starts
 * the session).
 */
void link_start(struct link *l, int timeout_ms);

/* Sends a finished batch (the outbox sink). Dropped while the link is down. */
void link_send(const void *data, size_t len, void *ctx);

/* Writes out what is queued (waiting at most timeout_ms) and closes. */
void link_finish(struct link *l, int timeout_ms);

#endif /* MEVI_LAUNCHER_LINK_H */
