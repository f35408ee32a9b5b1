/*
 * ws_client — one browser tab on /stream: its bounded outgoing queue and the
 * writes to its websocket.
 *
 * Messages are shared rcbufs (daemon/rcbuf.h), sent as websocket binary
 * messages cut into fragments of at most WS_CLIENT_FRAGMENT bytes, one per
 * writable callback (libwebsockets 4.1 allows one write per callback), so a
 * large snapshot never sits whole in libwebsockets' own buffers: what the
 * kernel does not take of one fragment is all it ever copies.
 *
 * Backpressure: `backlog` counts the bytes of queued messages not started
 * yet. When a new message would take a non-zero backlog past the tab's limit
 * (a tab with an empty backlog takes any message, so a tab that keeps up is
 * never resynchronised, however large one delta is), every message
 * not started is dropped and the tab is marked want_snapshot: it receives no
 * more deltas, and once its queue has drained (the message in flight, if any,
 * is finished: a websocket message cannot be cut short) the stream queues a
 * fresh snapshot for it. A tab that accepts nothing for the stall timeout
 * while it has data queued is closed by the stream (stream_tick). So a tab
 * holds at most limit + two messages (the one in flight and the one that
 * overflowed), however slow it is.
 *
 * Ownership: the stream allocates and frees ws_clients; the tab holds one
 * reference on every rcbuf in its queue. Callbacks from libwebsockets reach
 * a tab through daemon/http.c.
 */
#ifndef MEVI_DAEMON_WS_CLIENT_H
#define MEVI_DAEMON_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws;
struct rcbuf;
struct stream;

#define WS_CLIENT_FRAGMENT (256 * 1024)
/* SO_SNDBUF of a tab's socket (kernel memory, not counted in the queue). */
#define WS_CLIENT_SNDBUF (1024 * 1024)
/* Browser -> mevid: messages up to this size are ignored, larger ones close
 * the connection (proto/PROTOCOL.md). */
#define WS_CLIENT_MAX_RX 4096

struct ws_msg {
	struct ws_msg *next;
	struct rcbuf *buf; /* one reference */
	bool counted;	   /* a delta not started yet: part of the backlog */
};

struct ws_client {
	struct ws_client *prev, *next; /* the stream's tabs */
	struct stream *stream;
	struct lws *wsi;
	uint64_t id;
	struct ws_msg *head, *tail;
	size_t off;		   /* bytes of head already written */
	size_t backlog;		   /* bytes of queued messages not started */
	size_t queued;		   /* bytes still to write, in-flight message included */
	bool want_snapshot;	   /* resync pending: no deltas until a snapshot is queued */
	bool closing;		   /* the next writable callback closes the connection */
	uint64_t progress_ms;	   /* uv_now() of the last write (or of the queue filling up) */
	size_t rx_len;		   /* size of the incoming message so far */
	bool rx_binary;		   /* the incoming message is binary (ignored) */
	char rx[WS_CLIENT_MAX_RX]; /* the incoming message (text requests) */
	uint64_t resyncs;
	uint64_t bytes_sent;
};

/* Initialises c for wsi (c is zeroed by the caller). */
void ws_client_init(struct ws_client *c, struct stream *st, struct lws *wsi, uint64_t id,
		    uint64_t now_ms);

/* Drops every queued message. */
void ws_client_destroy(struct ws_client *c);

/*
 * Queues a reference to b, unless the tab is waiting for a snapshot (returns
 * 1, nothing queued) or b would take the backlog past limit (returns 1 after
 * dropping the backlog and marking want_snapshot). Returns 0 when queued,
 * or -ENOMEM.
 */
int ws_client_enqueue(struct ws_client *c, struct rcbuf *b, size_t limit, uint64_t now_ms);

/* Queues a snapshot, ending a resync. Snapshots are not counted in the
 * backlog (only the deltas that pile up behind one are), so a snapshot larger
 * than the limit still goes through. Returns 0, 1 if c is closing, -ENOMEM. */
int ws_client_enqueue_snapshot(struct ws_client *c, struct rcbuf *b, uint64_t now_ms);

/* Marks c for resync, dropping the messages not started. */
void ws_client_resync(struct ws_client *c);

/*
 * Writes the next fragment (LWS_CALLBACK_SERVER_WRITEABLE). Returns 0, or -1
 * when the connection must be closed (the callback returns -1).
 */
int ws_client_writable(struct ws_client *c, uint64_t now_ms);

/*
 * Takes len received bytes (LWS_CALLBACK_RECEIVE); final tells whether they
 * end a message, binary whether it is a binary one. Returns 0, 1 when a
 * complete text message is in c->rx[0..c->rx_len) (valid until the next
 * call), or -1 when the message is over WS_CLIENT_MAX_RX (the close reason
 * is set; the callback returns -1).
 */
int ws_client_receive(struct ws_client *c, const void *in, size_t len, bool final, bool binary);

/* Queues a reply to a request of this tab (not counted in the backlog, like
 * a snapshot; does not end a resync). Returns 0, 1 if c is closing, -ENOMEM. */
int ws_client_enqueue_reply(struct ws_client *c, struct rcbuf *b, uint64_t now_ms);

/* Asks for a close frame with "going away" at the next writable callback. */
void ws_client_shutdown(struct ws_client *c);

#endif /* MEVI_DAEMON_WS_CLIENT_H */
