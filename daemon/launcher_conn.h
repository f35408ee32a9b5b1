/*
 * launcher_conn — the launcher side of mevid: the Unix socket launchers
 * (mevi-run) connect to, and one connection per launcher.
 *
 * On accept, the peer's uid (SO_PEERCRED) must be ours (a root peer is
 * accepted too); anyone else is refused with a log line. An accepted launcher
 * first gets the greeting ["mevid", version, url], then sends event batches,
 * which daemon/ingest.h decodes and applies to the session registry
 * (daemon/session.h). Every byte is untrusted: a decode error, a
 * protocol violation (first event not session_start, a second session_start,
 * events after session_end) or a rejected event closes that one connection
 * with one log line naming the connection, its session and the reason; other
 * connections and sessions are unaffected.
 *
 * Ownership: the server owns its connections; a connection is freed from its
 * uv_close callback (never inside its own read callback).
 */
#ifndef MEVI_DAEMON_LAUNCHER_CONN_H
#define MEVI_DAEMON_LAUNCHER_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "decoder.h"

struct launcher_conn;
struct session_registry;

struct launcher_server {
	uv_loop_t *loop;
	uv_pipe_t listener;
	bool listening;
	struct session_registry *reg;
	char *url;  /* greeting URL (owned) */
	char *path; /* socket path (owned), unlinked on close */
	uid_t uid;
	struct mevi_decoder_limits limits;
	struct launcher_conn *conns; /* open connections */
	uint32_t nconns;
	uint64_t next_conn_id;
	uint64_t events; /* events applied since start (statistics) */
	/* Rechecks the processes of lost or detached sessions that still ran
	 * (session_registry_recheck) every LAUNCHER_RECHECK_MS. */
	uv_timer_t recheck;
	bool recheck_init;
};

#define LAUNCHER_RECHECK_MS 500

/*
 * Initialises srv. url is copied. Nothing listens until
 * launcher_server_listen(). Returns 0 or -ENOMEM.
 */
int launcher_server_init(struct launcher_server *srv, uv_loop_t *loop, struct session_registry *reg,
			 const char *url);

/*
 * Binds and listens on the Unix socket path (nothing may exist there: see
 * daemon/sockpath.h). The socket file is created with mode 0600.
 * Returns 0 or a negative errno (libuv error codes are negative errnos).
 */
int launcher_server_listen(struct launcher_server *srv, const char *path);

/*
 * Reads and applies, without blocking, every byte already waiting on every
 * launcher connection. Called before /api/state is answered, so that the
 * answer reflects everything a launcher had written before the request.
 */
void launcher_server_drain(struct launcher_server *srv);

/*
 * Stops listening, closes every connection (detaching its session) and
 * unlinks the socket file. Handles close asynchronously: the loop must run
 * afterwards. Then frees what srv owns.
 */
void launcher_server_close(struct launcher_server *srv);

#endif /* MEVI_DAEMON_LAUNCHER_CONN_H */
