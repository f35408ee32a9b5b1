/*
 * stream — the /stream websocket fan-out: every browser tab gets a snapshot,
 * then a delta every MEVI_INTERVAL ms when something happened
 * (proto/PROTOCOL.md).
 *
 * The stream observes the session registry (daemon/session.h): each applied
 * event is appended, per session, to a pending batch (only while at least one
 * tab is connected). Every interval (stream_tick) the pending batches are
 * encoded ONCE into one delta message, an rcbuf queued by reference to every
 * tab (daemon/ws_client.h for the per-tab bounds). A tab that needs a
 * snapshot (new, or resynchronising after it fell behind or after a change no
 * event describes) skips deltas; once its queue is empty it gets a snapshot,
 * encoded at most once per tick and shared by every tab that needs one. A new
 * tab's snapshot is taken at the next tick, which is run at once, so events
 * pending at connect time are never applied twice.
 *
 * Ownership: the stream owns its tabs (ws_client) and pending batches;
 * libwebsockets owns the connections.
 */
#ifndef MEVI_DAEMON_STREAM_H
#define MEVI_DAEMON_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "session.h"

struct lws;
struct ws_client;
struct stream_pending;

struct stream {
	uv_loop_t *loop;
	uv_timer_t timer;
	bool timer_active;
	bool timer_closed;
	struct session_registry *reg;
	unsigned interval_ms;
	size_t tab_limit;
	unsigned stall_ms;
	struct ws_client *tabs;
	uint32_t ntabs;
	uint64_t next_tab_id;
	struct stream_pending *pending; /* array */
	uint32_t npending, cap_pending;
	uint32_t last_pending; /* lookup cache */
	bool stopping;
	/* statistics */
	uint64_t deltas, snapshots, delta_bytes, snapshot_bytes, resyncs;
	uint64_t stalled; /* tabs closed by the stall timeout */
};

/* The observer to give session_registry_init(), with the stream as ctx. */
extern const struct session_observer stream_observer;

/* Initialises st. Returns 0 or a negative errno. */
int stream_init(struct stream *st, uv_loop_t *loop, struct session_registry *reg,
		unsigned interval_ms, size_t tab_limit, unsigned stall_ms);

/* A websocket connected: returns its tab (owned by st), or NULL on OOM. */
struct ws_client *stream_tab_open(struct stream *st, struct lws *wsi);

/* A websocket closed: frees its tab. */
void stream_tab_closed(struct stream *st, struct ws_client *tab);

/*
 * The tab has a complete text message in tab->rx (proto/PROTOCOL.md section
 * 6, "Browser to mevid"): {"type":"seek","session":S,"at":T} is answered
 * with a moment message (the state of S at T, rebuilt from its history);
 * {"type":"live"} with a fresh snapshot. Anything else is ignored with a
 * debug line. Live deltas keep flowing to the tab either way.
 */
void stream_tab_message(struct stream *st, struct ws_client *tab);

/* Flushes pending deltas and snapshots now (the timer calls it too). */
void stream_tick(struct stream *st);

/* Shutdown, step 1: every tab gets a close frame ("going away"). */
void stream_shutdown(struct stream *st);

/* Shutdown, step 2: stops the timer (closed asynchronously) and frees what st
 * owns. Tabs must be closed already (lws_context_destroy). */
void stream_destroy(struct stream *st);

#endif /* MEVI_DAEMON_STREAM_H */
