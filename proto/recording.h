/*
 * recording — the header of a `.mevi` recording file (proto/PROTOCOL.md,
 * section 8), shared by mevi-run --record (writer) and mevid (reader).
 *
 * A recording is the 8-byte magic "MEVIREC\n", one msgpack array
 * [format_version, proto_version, created_at], then the session's launcher
 * batches exactly as on the launcher socket (section 5), back to back. Only
 * the header is handled here; the batches are read with proto/decoder.h.
 *
 * The header is parsed by hand, byte by byte: a hostile file cannot make the
 * reader allocate anything.
 */
#ifndef MEVI_PROTO_RECORDING_H
#define MEVI_PROTO_RECORDING_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#define MEVI_RECORDING_MAGIC	 "MEVIREC\n"
#define MEVI_RECORDING_MAGIC_LEN 8
/* Bumped on every incompatible change of the file layout. */
#define MEVI_RECORDING_FORMAT 1
/* The longest header this version writes or reads: magic, fixarray, three
 * uint64s. */
#define MEVI_RECORDING_HEADER_MAX (MEVI_RECORDING_MAGIC_LEN + 1 + 3 * 9)

struct mevi_recording_header {
	uint32_t format_version; /* MEVI_RECORDING_FORMAT */
	uint32_t proto_version;	 /* MEVI_PROTO_VERSION of the batches */
	uint64_t created_at;	 /* CLOCK_REALTIME ns when the recording began */
};

/*
 * Appends the magic and the header array for h to pk (whose buffer should be
 * empty: the magic must be the file's first bytes). Returns 0 or -ENOMEM.
 */
int mevi_recording_header_pack(msgpack_packer *pk, const struct mevi_recording_header *h);

/*
 * Parses the header at the start of buf[0..len). Returns the header's length
 * in bytes (> 0) and fills *h, or a negative errno with one sentence in err
 * (errlen bytes):
 *   -EBADMSG          not a recording (bad magic) or a malformed header;
 *   -ENODATA          buf ends inside the header (truncated file);
 *   -EPROTONOSUPPORT  format_version or proto_version newer or other than
 *                     this build reads (*h is filled: both versions are
 *                     named in the message).
 * Checks run in this order: magic, array header, format_version (so that a
 * future format with more fields is reported as a version, not as
 * malformed), element count, proto_version.
 */
int mevi_recording_header_parse(const void *buf, size_t len, struct mevi_recording_header *h,
				char *err, size_t errlen);

#endif /* MEVI_PROTO_RECORDING_H */
