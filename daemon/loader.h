/*
 * loader — `.mevi` recordings in and out of the session registry
 * (format: proto/PROTOCOL.md section 8, header: proto/recording.h).
 *
 * Loading: the whole file is validated before anything is kept: the header
 * (magic, versions), then every batch with proto's validating decoder. A
 * batch the decoder rejects, a truncated final batch, a missing or second
 * session_start of another session, or an event after session_end refuse
 * the file with one sentence naming the byte offset of the batch. A valid
 * recording becomes a new, detached session marked `recorded` (its own
 * history is rebuilt as it is applied, so ?at=T works on it) and the
 * registry's observer is told once (reshaped) rather than per event.
 *
 * Saving: loader_encode() writes a session's history (daemon/eventlog.h) as
 * a recording: the header, then the events as they were applied, in batches
 * of at most LOADER_BATCH_EVENTS. Events the daemon dropped (for an exited
 * process) are not in it; an implicit process creation is an explicit
 * proc_start. Loading the result gives the same states at every time.
 *
 * Ownership: the caller owns buffers and files; sessions belong to the
 * registry.
 */
#ifndef MEVI_DAEMON_LOADER_H
#define MEVI_DAEMON_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct session;
struct session_registry;

#define LOADER_BATCH_EVENTS 4096
/* Largest recording accepted by --load and POST /api/recordings. */
#define LOADER_MAX_BYTES ((size_t)256 << 20)

/*
 * Loads the recording buf[0..len) as a new ended session. Returns 0 with *out
 * set (may be NULL), or -EBADMSG (invalid), -ENODATA (truncated),
 * -EPROTONOSUPPORT (version), -ENOMEM, with one sentence in err. On failure
 * the registry is unchanged.
 */
int loader_load(struct session_registry *reg, const void *buf, size_t len, struct session **out,
		char *err, size_t errlen);

/* Reads path (at most LOADER_MAX_BYTES) and loads it. As loader_load, plus
 * the errors of open/read (-EFBIG when too large). */
int loader_load_file(struct session_registry *reg, const char *path, struct session **out,
		     char *err, size_t errlen);

/*
 * Appends s's recording to out. Returns 0, -ENOENT when s has no history
 * (evicted or never kept), or the error of reading it.
 */
int loader_encode(const struct session *s, msgpack_sbuffer *out);

#endif /* MEVI_DAEMON_LOADER_H */
