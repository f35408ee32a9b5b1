/*
 * decoder — a streaming, validating decoder of mevi event batches.
 *
 * Bytes arrive in any split (one byte at a time is fine) through
 * mevi_decoder_feed(); complete batches come out of mevi_decoder_next().
 * Every byte is untrusted: malformed msgpack, unknown event types, wrong
 * arity or element types, inverted, unaligned or out-of-range address ranges,
 * oversized batches or strings all produce a specific error code and a
 * human-readable message. After an error the decoder is poisoned: every later
 * call returns the same error. The caller decides what to do (mevid closes
 * that one connection).
 */
#ifndef MEVI_PROTO_DECODER_H
#define MEVI_PROTO_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "event.h"

enum mevi_decode_error {
	MEVI_DECODE_OK = 0,
	MEVI_DECODE_MALFORMED,	     /* not msgpack */
	MEVI_DECODE_NOT_BATCH,	     /* top-level object is not an array */
	MEVI_DECODE_BATCH_TOO_BIG,   /* more events or bytes than the limits allow */
	MEVI_DECODE_NOT_EVENT,	     /* an event is not an array of >= 3 elements */
	MEVI_DECODE_UNKNOWN_TYPE,    /* event type not in enum mevi_event_type */
	MEVI_DECODE_ARITY,	     /* wrong number of fields for the type */
	MEVI_DECODE_FIELD_TYPE,	     /* a field has the wrong msgpack type or value */
	MEVI_DECODE_RANGE_INVERTED,  /* end <= start */
	MEVI_DECODE_RANGE_UNALIGNED, /* start or end not a multiple of 4096 */
	MEVI_DECODE_RANGE_LIMIT,     /* end above MEVI_ADDR_LIMIT */
	MEVI_DECODE_BAD_STATE,	     /* page state not in enum mevi_state */
	MEVI_DECODE_STRING_TOO_BIG,  /* string or string list over the limit */
	MEVI_DECODE_VERSION,	     /* session_start with an unsupported version */
};

/* Returns a short, stable name for the code ("unknown_type", ...). */
const char *mevi_decode_error_name(enum mevi_decode_error err);

struct mevi_decoder_limits {
	size_t max_batch_bytes; /* one batch's encoded size */
	uint32_t max_batch_events;
	uint32_t max_string_bytes; /* one string */
	uint32_t max_strings;	   /* one argv/cmdline */
};

/* 16 MiB, 65536 events, 1 MiB, 65536. */
extern const struct mevi_decoder_limits mevi_decoder_default_limits;

struct mevi_decoder_scan; /* private to decoder.c */

struct mevi_decoder {
	msgpack_unpacker unpacker;
	msgpack_unpacked unpacked;
	struct mevi_decoder_limits limits;
	enum mevi_decode_error err;
	char errmsg[160];
	struct mevi_event *events; /* the current batch; owned by the decoder */
	uint32_t events_cap;
	/* A structural pre-scan of every fed byte that bounds what the unpacker
	 * may allocate (see decoder.c); owned by the decoder. */
	struct mevi_decoder_scan *scan;
};

/* Initialises d. limits may be NULL for the defaults. Returns 0 or -ENOMEM. */
int mevi_decoder_init(struct mevi_decoder *d, const struct mevi_decoder_limits *limits);

/* Releases everything d owns. */
void mevi_decoder_destroy(struct mevi_decoder *d);

/*
 * Copies len bytes into the decoder's buffer. Returns 0, -ENOMEM, or -EBADMSG
 * if the decoder is poisoned or if more than max_batch_bytes are already
 * buffered and not yet decoded (the error code is then
 * MEVI_DECODE_BATCH_TOO_BIG). The caller is expected to call
 * mevi_decoder_next() until it returns 0 after every feed; a caller that does
 * so never gets this error from feed, because a batch whose bytes exceed
 * max_batch_bytes is reported by mevi_decoder_next() as soon as its header or
 * its bytes prove it too big, before it is buffered. Invalid input is always
 * reported by mevi_decoder_next(), after the valid batches that precede it,
 * so the result never depends on how the input was split.
 */
int mevi_decoder_feed(struct mevi_decoder *d, const void *buf, size_t len);

/*
 * Decodes the next complete batch. Returns 1 and sets *events / *count when a
 * batch is ready (an empty batch gives *count == 0), 0 when more input is
 * needed, -EBADMSG on invalid input (see mevi_decoder_error()), -ENOMEM on
 * allocation failure. -ENOMEM is final as well: every later call returns it.
 *
 * The events and every string they point to stay valid until the next call
 * to mevi_decoder_next(), mevi_decoder_feed() or mevi_decoder_destroy().
 */
int mevi_decoder_next(struct mevi_decoder *d, const struct mevi_event **events, uint32_t *count);

/* The error that poisoned d, MEVI_DECODE_OK if none. */
enum mevi_decode_error mevi_decoder_error(const struct mevi_decoder *d);

/* A one-line description of the error, e.g.
 * "event 3: map range [0x1000, 0x1000) is empty or inverted". */
const char *mevi_decoder_errmsg(const struct mevi_decoder *d);

/*
 * Validates and converts one already-unpacked msgpack object into an event.
 * Exposed for decoders of other framings (the websocket). Strings point into
 * obj; string arrays are allocated in zone (zone may be NULL for events
 * without a non-empty argv/cmdline); running out of memory there aborts.
 * limits may be NULL for the defaults (only the string limits apply). Returns
 * MEVI_DECODE_OK or an error code, writing a one-line message without an
 * event index ("map: range [0x1000, 0x1000) is empty or inverted") into
 * errbuf (errlen bytes) on error.
 */
enum mevi_decode_error mevi_event_from_object(const msgpack_object *obj, msgpack_zone *zone,
					      const struct mevi_decoder_limits *limits,
					      struct mevi_event *ev, char *errbuf, size_t errlen);

/*
 * Validates a daemon greeting (see struct mevi_hello). url points into obj.
 * Returns MEVI_DECODE_OK, MEVI_DECODE_FIELD_TYPE / MEVI_DECODE_ARITY when it
 * is not a greeting, or MEVI_DECODE_VERSION (with h->version filled) when the
 * version differs from MEVI_PROTO_VERSION.
 */
enum mevi_decode_error mevi_hello_from_object(const msgpack_object *obj, struct mevi_hello *h);

/*
 * Measures the msgpack object at buf[0..len) with the decoder's table of
 * msgpack headers, without allocating or validating anything else (a file
 * of batches is cut into batches with it). Returns 0 with *objlen, -ENODATA
 * when the object does not end within len, or -EBADMSG on the never-valid
 * byte 0xc1.
 */
int mevi_msgpack_measure(const void *buf, size_t len, size_t *objlen);

#endif /* MEVI_PROTO_DECODER_H */
