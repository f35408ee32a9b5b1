/*
 * upload — one POST /api/recordings body on its way in, kept out of memory.
 *
 * The body is streamed into an anonymous 0600 temporary file (O_TMPFILE in
 * /var/tmp, else /tmp: it has no name anyone could open), so a connection
 * costs a few KiB of mevid's memory however large or slow its upload. The
 * recording header (magic, format and protocol version) is checked as soon as
 * its bytes are in: a body that is not a recording, or of another version, is
 * refused before the rest of it is read. Once complete, the file is mapped
 * read-only and handed to daemon/loader.h.
 *
 * Limits (sizes, concurrency, time) are the caller's (daemon/http.c); this
 * module refuses only more bytes than announced.
 *
 * Ownership: struct upload is the caller's; upload_close() releases the file.
 */
#ifndef MEVI_DAEMON_UPLOAD_H
#define MEVI_DAEMON_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "recording.h"

struct session;
struct session_registry;

struct upload {
	int fd;		/* the temporary file, or -1 */
	uint64_t want;	/* Content-Length */
	uint64_t got;	/* bytes written so far */
	bool header_ok; /* the recording header was checked */
	unsigned char head[MEVI_RECORDING_HEADER_MAX];
	size_t head_len;
	uint64_t started_ms; /* the caller's clock, for its deadline */
};

/* Sets u to "no upload" (fd -1). */
void upload_init(struct upload *u);

/* Opens the temporary file for a body of len bytes. Returns 0 or -errno. */
int upload_open(struct upload *u, uint64_t len);

/*
 * Appends data[0..len). Returns 0; -EMSGSIZE when more than announced
 * arrives; -EBADMSG or -EPROTONOSUPPORT when the first bytes are not a
 * recording this build reads (one sentence in err); or the -errno of
 * writing.
 */
int upload_write(struct upload *u, const void *data, size_t len, char *err, size_t errlen);

/*
 * The body is complete: loads it (daemon/loader.h) and closes the file.
 * Returns 0 with *out set, or as loader_load() (-ENODATA for a short body),
 * with one sentence in err.
 */
int upload_finish(struct upload *u, struct session_registry *reg, struct session **out, char *err,
		  size_t errlen);

/* Releases the file (idempotent). */
void upload_close(struct upload *u);

#endif /* MEVI_DAEMON_UPLOAD_H */
