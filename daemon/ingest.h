/*
 * ingest — what one launcher connection does with its bytes: decode them with
 * proto's streaming decoder (proto/decoder.h) and apply the events to the
 * session registry (daemon/session.h), enforcing the connection protocol:
 * the first event is session_start, there is no second one, nothing follows
 * session_end.
 *
 * No I/O here: daemon/launcher_conn.c feeds it what it reads, and the fuzz
 * target tests/daemon/fuzz_ingest.c feeds it anything.
 *
 * Ownership: an ingest belongs to its connection. The session it attached to
 * stays in the registry; the connection detaches it when it closes
 * (session_registry_detach), unless a takeover moved it elsewhere.
 */
#ifndef MEVI_DAEMON_INGEST_H
#define MEVI_DAEMON_INGEST_H

#include <stdint.h>

#include "decoder.h"

struct session;
struct session_registry;

/* Called when a session_start resumed a session attached to another
 * connection: that connection (other) must be closed without detaching. */
typedef void (*ingest_takeover_fn)(void *ctx, void *other);

struct ingest {
	struct session_registry *reg;
	struct mevi_decoder dec;
	struct session *session; /* NULL before session_start */
	void *owner;		 /* the connection, as the registry knows it */
	ingest_takeover_fn takeover;
	void *takeover_ctx;
	int32_t peer_pid; /* the launcher's pid (SO_PEERCRED) in mevid's namespace; 0: unknown */
	char why[200];	  /* why ingest_feed() failed */
	uint64_t events;
};

/* Initialises in for connection owner (non-NULL). limits may be NULL.
 * Returns 0 or -ENOMEM. */
int ingest_init(struct ingest *in, struct session_registry *reg, void *owner,
		const struct mevi_decoder_limits *limits, ingest_takeover_fn takeover,
		void *takeover_ctx);

/* Frees the decoder. Does not detach the session. */
void ingest_destroy(struct ingest *in);

/*
 * Decodes len bytes and applies every complete batch. Returns 0, or on the
 * first failure a negative errno with one sentence in in->why: -EBADMSG
 * (invalid input: the decoder's message), -EPROTO (a protocol violation),
 * -EINVAL (an event the model rejects) or -ENOMEM. After a failure the caller
 * closes the connection; further calls fail again.
 */
int ingest_feed(struct ingest *in, const void *buf, size_t len);

#endif /* MEVI_DAEMON_INGEST_H */
