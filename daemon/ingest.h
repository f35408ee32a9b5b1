/*
 * ingest — the one driver that feeds an event stream into the session
 * registry (daemon/session.h), whatever the stream comes from. A small policy
 * says what differs:
 *
 *  - INGEST_LIVE: a launcher connection (daemon/launcher_conn.c). Bytes come
 *    in through ingest_feed() and proto's streaming decoder. The first event
 *    must be session_start, which creates a session or resumes one by its
 *    key, taking it over from another connection if need be
 *    (session_registry_start; the session is attached to `owner`); a second
 *    session_start is refused, so is anything after session_end.
 *  - INGEST_LOAD: a recording (daemon/loader.c). The first session_start
 *    creates a new, pinned session marked `recorded`, whatever its key; a
 *    later session_start of the same session is a launcher reconnect
 *    (session_resume), one of another session is refused; so is anything
 *    after session_end.
 *  - INGEST_REPLAY: a session's history (daemon/checkpoint.c), into a
 *    throw-away registry. As LOAD, but the session gets the id `replay_id`
 *    and is not marked recorded, events the live session refused (-EPROTO)
 *    are skipped, and ingest_continue() starts from a restored checkpoint.
 *
 * Every failure is one sentence in `why` (without position: the caller
 * knows the batch and the event) and a negative errno: -EBADMSG (input the
 * decoder rejects), -EPROTO (a protocol violation), -EINVAL (an event the
 * model rejects), -ENOMEM. After a failure every later call fails again.
 *
 * No I/O here: the connection, the loader and the replay hand it events or
 * bytes, and the fuzz target tests/daemon/fuzz_ingest.c feeds it anything.
 *
 * Ownership: an ingest belongs to its caller. The session it created stays
 * in the registry: a live connection detaches it when it closes
 * (session_registry_detach) unless a takeover moved it elsewhere; the loader
 * unpins it (session_registry_detach_how) or discards it.
 */
#ifndef MEVI_DAEMON_INGEST_H
#define MEVI_DAEMON_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "decoder.h"

struct session;
struct session_registry;

enum ingest_policy {
	INGEST_LIVE,
	INGEST_LOAD,
	INGEST_REPLAY,
};

/* Called when a session_start resumed a session attached to another
 * connection: that connection (other) must be closed without detaching. */
typedef void (*ingest_takeover_fn)(void *ctx, void *other);

struct ingest {
	struct session_registry *reg;
	enum ingest_policy policy;
	struct session *session; /* NULL before session_start */
	void *owner;		 /* LIVE: the connection, as the registry knows it */
	ingest_takeover_fn takeover;
	void *takeover_ctx;
	int32_t
	    peer_pid; /* LIVE: the launcher's pid (SO_PEERCRED) in mevid's namespace; 0: unknown */
	uint64_t replay_id; /* REPLAY: the id of the session replayed */
	bool has_decoder;   /* ingest_init() made dec */
	struct mevi_decoder dec;
	char why[200];	 /* why the last call failed */
	uint64_t events; /* events taken (applied, dropped or skipped) */
};

/* Prepares in for events of the given policy handed to ingest_event(); no
 * decoder. Cannot fail. */
void ingest_start(struct ingest *in, struct session_registry *reg, enum ingest_policy policy);

/* A live connection owner (non-NULL): ingest_start(INGEST_LIVE) and a
 * decoder with limits (NULL for the defaults). Returns 0 or -ENOMEM. */
int ingest_init(struct ingest *in, struct session_registry *reg, void *owner,
		const struct mevi_decoder_limits *limits, ingest_takeover_fn takeover,
		void *takeover_ctx);

/* Frees the decoder, if any. Does not detach the session. */
void ingest_destroy(struct ingest *in);

/* REPLAY from a checkpoint: s (restored in in->reg) takes the events that
 * follow; no session_start is expected first. */
void ingest_continue(struct ingest *in, struct session *s);

/*
 * Applies one event as the policy says. Returns 0 when applied, 1 when not
 * (session_apply dropped it: an event for an exited process, a stack over
 * the bound; or a replay skipped what the live session refused too), or a
 * negative errno with in->why set.
 */
int ingest_event(struct ingest *in, const struct mevi_event *ev);

/*
 * Decodes len bytes and applies every complete batch (ingest_init only).
 * Returns 0, or on the first failure a negative errno with in->why set
 * ("bad input: ..." for what the decoder rejects). After a failure the
 * caller closes the connection; further calls fail again.
 */
int ingest_feed(struct ingest *in, const void *buf, size_t len);

#endif /* MEVI_DAEMON_INGEST_H */
