/*
 * decoder — streaming, validating decoder of mevi event batches.
 *
 * Two passes over every byte:
 *
 * 1. mevi_decoder_feed() runs a structural pre-scan (struct mevi_decoder_scan)
 *    over the raw bytes before they are copied into the msgpack_unpacker's
 *    buffer. msgpack-c allocates count * sizeof(msgpack_object) bytes the
 *    moment it reads an array or map header, so a five-byte header
 *    (dd ff ff ff ff) would make it allocate 96 GiB, and it waits for a whole
 *    str/bin payload before going on, so a str32 header makes it buffer up to
 *    4 GiB. The scan refuses any top-level object whose announced contents
 *    (items still to come, one byte each at least, plus payload bytes) cannot
 *    fit in max_batch_bytes, and any top-level array of more than
 *    max_batch_events elements, at the header that announces them. It also
 *    refuses the one byte that is never msgpack (0xc1), nesting deeper than
 *    MEVI_SCAN_MAX_DEPTH, and the ext32 length msgpack-c cannot represent.
 *    What the unpacker builds is therefore bounded by a small multiple of
 *    max_batch_bytes, and everything msgpack-c could reject as a parse error
 *    has been rejected first, with a better message.
 *
 *    A scan error belongs to the top-level object it was found in. The bytes
 *    from the failing one on are never given to the unpacker; the error is
 *    reported by mevi_decoder_next() once every object before it has been
 *    returned, so the outcome is the same whatever the input's split.
 *
 * 2. mevi_decoder_next() lets msgpack_unpacker_next() build the object tree
 *    and converts it, validating every field, into struct mevi_event.
 *
 * Lifetimes: str payloads are not copied; msgpack-c points them into its
 * buffer and keeps that buffer alive with a reference held by the zone it
 * hands out with the object (d->unpacked.zone; msgpack-c 4 creates zones
 * lazily, so an object that needed no memory comes with none). argv/cmdline
 * item arrays are allocated in the same zone. The zone is freed at the start
 * of the next mevi_decoder_next() or in mevi_decoder_destroy().
 */
#include "decoder.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "memmap.h" /* enum mevi_state: its values are the wire's */

const struct mevi_decoder_limits mevi_decoder_default_limits = {
    .max_batch_bytes = (size_t)16 << 20,
    .max_batch_events = 65536,
    .max_string_bytes = UINT32_C(1) << 20,
    .max_strings = 65536,
};

static const char *const decode_error_names[] = {
    [MEVI_DECODE_OK] = "ok",
    [MEVI_DECODE_MALFORMED] = "malformed",
    [MEVI_DECODE_NOT_BATCH] = "not_batch",
    [MEVI_DECODE_BATCH_TOO_BIG] = "batch_too_big",
    [MEVI_DECODE_NOT_EVENT] = "not_event",
    [MEVI_DECODE_UNKNOWN_TYPE] = "unknown_type",
    [MEVI_DECODE_ARITY] = "arity",
    [MEVI_DECODE_FIELD_TYPE] = "field_type",
    [MEVI_DECODE_RANGE_INVERTED] = "range_inverted",
    [MEVI_DECODE_RANGE_UNALIGNED] = "range_unaligned",
    [MEVI_DECODE_RANGE_LIMIT] = "range_limit",
    [MEVI_DECODE_BAD_STATE] = "bad_state",
    [MEVI_DECODE_STRING_TOO_BIG] = "string_too_big",
    [MEVI_DECODE_VERSION] = "version",
};

const char *mevi_decode_error_name(enum mevi_decode_error err)
{
	if ((unsigned)err >= sizeof(decode_error_names) / sizeof(decode_error_names[0]))
		return "unknown";
	return decode_error_names[err];
}

/* ------------------------------------------------------------------------ */
/* Structural pre-scan                                                      */
/* ------------------------------------------------------------------------ */

/* A batch nests at most four containers deep (batch, stack event, frames,
 * frame). msgpack-c gives
 * up at 32 with an error it also uses for out-of-memory; stopping well before
 * keeps the two apart. */
#define MEVI_SCAN_MAX_DEPTH 16

enum scan_state {
	SCAN_HEADER, /* the next byte starts a value */
	SCAN_TRAIL,  /* reading a big-endian length or count into acc */
	SCAN_SKIP,   /* skipping scalar or payload bytes */
	SCAN_FAILED, /* found an error; accepts nothing more */
};

/* What a header byte starts. */
enum scan_kind {
	SK_SCALAR,   /* complete in one byte: fixint, nil, false, true */
	SK_SKIP,     /* arg more bytes follow: int, float, fixext */
	SK_FIXSTR,   /* the low 5 bits are the length */
	SK_FIXARRAY, /* the low 4 bits are the count */
	SK_FIXMAP,
	SK_TRAIL, /* an arg-byte length or count follows, then what `then` says */
	SK_BAD,	  /* 0xc1, never used by msgpack */
};

/* What a length or count read in SCAN_TRAIL announces. */
enum scan_then {
	THEN_PAYLOAD, /* str or bin: acc bytes */
	THEN_EXT,     /* ext: a type byte and acc bytes */
	THEN_ARRAY,   /* acc items */
	THEN_MAP,     /* acc keys and acc values */
};

struct scan_tok {
	uint8_t kind; /* enum scan_kind */
	uint8_t arg;
	uint8_t then; /* enum scan_then */
};

/* Every msgpack header byte (msgpack spec, "Formats"). */
static const struct scan_tok scan_toks[256] = {
    [0x00 ... 0x7f] = {SK_SCALAR, 0, 0},
    [0x80 ... 0x8f] = {SK_FIXMAP, 0, 0},
    [0x90 ... 0x9f] = {SK_FIXARRAY, 0, 0},
    [0xa0 ... 0xbf] = {SK_FIXSTR, 0, 0},
    [0xc0] = {SK_SCALAR, 0, 0},
    [0xc1] = {SK_BAD, 0, 0},
    [0xc2] = {SK_SCALAR, 0, 0},
    [0xc3] = {SK_SCALAR, 0, 0},
    [0xc4] = {SK_TRAIL, 1, THEN_PAYLOAD},
    [0xc5] = {SK_TRAIL, 2, THEN_PAYLOAD},
    [0xc6] = {SK_TRAIL, 4, THEN_PAYLOAD},
    [0xc7] = {SK_TRAIL, 1, THEN_EXT},
    [0xc8] = {SK_TRAIL, 2, THEN_EXT},
    [0xc9] = {SK_TRAIL, 4, THEN_EXT},
    [0xca] = {SK_SKIP, 4, 0},
    [0xcb] = {SK_SKIP, 8, 0},
    [0xcc] = {SK_SKIP, 1, 0},
    [0xcd] = {SK_SKIP, 2, 0},
    [0xce] = {SK_SKIP, 4, 0},
    [0xcf] = {SK_SKIP, 8, 0},
    [0xd0] = {SK_SKIP, 1, 0},
    [0xd1] = {SK_SKIP, 2, 0},
    [0xd2] = {SK_SKIP, 4, 0},
    [0xd3] = {SK_SKIP, 8, 0},
    [0xd4] = {SK_SKIP, 2, 0}, /* fixext: a type byte and 1..16 data bytes */
    [0xd5] = {SK_SKIP, 3, 0},
    [0xd6] = {SK_SKIP, 5, 0},
    [0xd7] = {SK_SKIP, 9, 0},
    [0xd8] = {SK_SKIP, 17, 0},
    [0xd9] = {SK_TRAIL, 1, THEN_PAYLOAD},
    [0xda] = {SK_TRAIL, 2, THEN_PAYLOAD},
    [0xdb] = {SK_TRAIL, 4, THEN_PAYLOAD},
    [0xdc] = {SK_TRAIL, 2, THEN_ARRAY},
    [0xdd] = {SK_TRAIL, 4, THEN_ARRAY},
    [0xde] = {SK_TRAIL, 2, THEN_MAP},
    [0xdf] = {SK_TRAIL, 4, THEN_MAP},
    [0xe0 ... 0xff] = {SK_SCALAR, 0, 0},
};

int mevi_msgpack_measure(const void *buf, size_t len, size_t *objlen)
{
	const unsigned char *p = buf;
	uint64_t pending = 1; /* values still to begin */
	size_t off = 0;

	while (pending) {
		struct scan_tok tok;
		uint64_t n = 0, payload = 0, children = 0;
		unsigned char b;

		/* Every pending value needs at least one byte. */
		if (pending > len - off)
			return -ENODATA;
		b = p[off++];
		pending--;
		tok = scan_toks[b];
		switch ((enum scan_kind)tok.kind) {
		case SK_SCALAR:
			break;
		case SK_SKIP:
			payload = tok.arg;
			break;
		case SK_FIXSTR:
			payload = b & 0x1f;
			break;
		case SK_FIXARRAY:
			children = b & 0x0f;
			break;
		case SK_FIXMAP:
			children = 2u * (b & 0x0f);
			break;
		case SK_TRAIL:
			if (len - off < tok.arg)
				return -ENODATA;
			for (unsigned i = 0; i < tok.arg; i++)
				n = (n << 8) | p[off++];
			if (tok.then == THEN_ARRAY)
				children = n;
			else if (tok.then == THEN_MAP)
				children = 2 * n;
			else
				payload = n + (tok.then == THEN_EXT); /* ext: a type byte first */
			break;
		case SK_BAD:
		default:
			return -EBADMSG;
		}
		if (payload > len - off)
			return -ENODATA;
		off += (size_t)payload;
		pending += children;
	}
	*objlen = off;
	return 0;
}

struct mevi_decoder_scan {
	uint64_t offset;      /* stream offset of the next byte to scan */
	uint64_t obj_start;   /* stream offset where the current top-level object began */
	uint64_t outstanding; /* items announced by open containers and not begun */
	uint64_t skip;	      /* bytes still to skip in SCAN_SKIP */
	uint64_t acc;	      /* the length or count being read in SCAN_TRAIL */
	uint64_t objects;     /* complete top-level objects scanned */
	uint64_t left[MEVI_SCAN_MAX_DEPTH]; /* items not begun, per open container */
	uint8_t depth;			    /* open containers */
	uint8_t state;			    /* enum scan_state */
	uint8_t trail;			    /* bytes of acc still to read */
	uint8_t then;			    /* enum scan_then */

	/* The first structural error and the top-level object it belongs to. */
	enum mevi_decode_error err;
	uint64_t err_object;
	char errmsg[sizeof(((struct mevi_decoder *)0)->errmsg)];

	/* mevi_decoder_next()'s side: top-level objects taken from the unpacker. */
	uint64_t objects_out;
	bool nomem; /* an allocation failed; the decoder is unusable */
};

static void scan_fail(struct mevi_decoder_scan *s, enum mevi_decode_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void scan_fail(struct mevi_decoder_scan *s, enum mevi_decode_error err, const char *fmt, ...)
{
	va_list ap;

	s->state = SCAN_FAILED;
	s->err = err;
	s->err_object = s->objects;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

/*
 * Whether the current top-level object can still fit in the limit. It has
 * used the bytes up to and including the one at pos, and needs at least
 * `extra` more for the value being read plus one per announced item. Checked
 * whenever that minimum grows; fails the scan if it does not fit.
 */
static inline bool scan_fits(struct mevi_decoder_scan *s, const struct mevi_decoder_limits *lim,
			     uint64_t pos, uint64_t extra)
{
	uint64_t need = pos + 1 - s->obj_start + extra + s->outstanding;

	if (need <= lim->max_batch_bytes)
		return true;
	scan_fail(s, MEVI_DECODE_BATCH_TOO_BIG,
		  "batch %" PRIu64 " needs at least %" PRIu64 " bytes, over the limit of %zu bytes",
		  s->objects, need, lim->max_batch_bytes);
	return false;
}

/* A value is complete: close every container it completed. */
static inline void scan_value_done(struct mevi_decoder_scan *s)
{
	while (s->depth > 0 && s->left[s->depth - 1] == 0)
		s->depth--;
	if (s->depth == 0)
		s->objects++;
}

/*
 * A container of count items (count pairs for a map) begins with the header
 * ending at pos. Returns false if the scan failed.
 */
static bool scan_container(struct mevi_decoder_scan *s, const struct mevi_decoder_limits *lim,
			   uint64_t pos, uint64_t count, bool map)
{
	uint64_t n = map ? 2 * count : count;

	if (s->depth == 0 && !map && count > lim->max_batch_events) {
		scan_fail(s, MEVI_DECODE_BATCH_TOO_BIG,
			  "batch %" PRIu64 " has %" PRIu64 " events, over the limit of %" PRIu32,
			  s->objects, count, lim->max_batch_events);
		return false;
	}
	if (n == 0) {
		scan_value_done(s);
		return scan_fits(s, lim, pos, 0);
	}
	if (s->depth == MEVI_SCAN_MAX_DEPTH) {
		scan_fail(s, MEVI_DECODE_MALFORMED,
			  "msgpack nested deeper than %d levels at stream offset %" PRIu64,
			  MEVI_SCAN_MAX_DEPTH, pos);
		return false;
	}
	s->left[s->depth++] = n;
	s->outstanding += n;
	return scan_fits(s, lim, pos, 0);
}

/*
 * The length or count field ending at pos is complete: start what it
 * announces. Returns false if the scan failed.
 */
static bool scan_trail_done(struct mevi_decoder_scan *s, const struct mevi_decoder_limits *lim,
			    uint64_t pos)
{
	uint64_t n = s->acc;

	s->state = SCAN_HEADER;
	switch ((enum scan_then)s->then) {
	case THEN_ARRAY:
		return scan_container(s, lim, pos, n, false);
	case THEN_MAP:
		return scan_container(s, lim, pos, n, true);
	case THEN_EXT:
		/* msgpack-c computes the payload size as len + 1 in 32 bits. */
		if (n == UINT32_MAX) {
			scan_fail(s, MEVI_DECODE_MALFORMED,
				  "ext32 length 0xffffffff at stream offset %" PRIu64
				  " is not supported",
				  pos);
			return false;
		}
		n++;
		break;
	case THEN_PAYLOAD:
		break;
	}
	if (!scan_fits(s, lim, pos, n))
		return false;
	if (n == 0) {
		scan_value_done(s);
	} else {
		s->skip = n;
		s->state = SCAN_SKIP;
	}
	return true;
}

/*
 * Scans len bytes. Returns how many of them may be given to the unpacker:
 * len, or, once an error is found, the number of bytes before the one that
 * revealed it. The common tokens (one-byte values, fixed-size scalars, short
 * strings and fixarrays wholly inside the chunk) take a fast path.
 */
static size_t scan_bytes(struct mevi_decoder_scan *s, const struct mevi_decoder_limits *lim,
			 const uint8_t *p, size_t len)
{
	const uint64_t base = s->offset; /* stream offset of p[0] */
	size_t i = 0;

	while (i < len) {
		struct scan_tok tok;
		uint64_t n;
		uint8_t b;

		switch ((enum scan_state)s->state) {
		case SCAN_FAILED:
			return i;
		case SCAN_SKIP:
			n = s->skip < len - i ? s->skip : len - i;
			s->skip -= n;
			i += (size_t)n;
			if (s->skip == 0) {
				s->state = SCAN_HEADER;
				scan_value_done(s);
			}
			continue;
		case SCAN_TRAIL:
			s->acc = (s->acc << 8) | p[i];
			if (--s->trail == 0 && !scan_trail_done(s, lim, base + i))
				return i;
			i++;
			continue;
		case SCAN_HEADER:
			break;
		}

		b = p[i];
		tok = scan_toks[b];
		if (s->depth > 0) {
			s->left[s->depth - 1]--;
			s->outstanding--;
		} else {
			s->obj_start = base + i;
		}
		switch ((enum scan_kind)tok.kind) {
		case SK_SCALAR:
			if (s->depth == 0 && !scan_fits(s, lim, base + i, 0))
				return i;
			scan_value_done(s);
			i++;
			continue;
		case SK_SKIP:
			n = tok.arg;
			break;
		case SK_FIXSTR:
			n = b & 0x1f;
			break;
		case SK_FIXARRAY:
		case SK_FIXMAP:
			if (!scan_container(s, lim, base + i, b & 0x0f, tok.kind == SK_FIXMAP))
				return i;
			i++;
			continue;
		case SK_TRAIL:
			if (!scan_fits(s, lim, base + i, tok.arg))
				return i;
			s->state = SCAN_TRAIL;
			s->trail = tok.arg;
			s->then = tok.then;
			s->acc = 0;
			i++;
			continue;
		case SK_BAD:
		default:
			scan_fail(s, MEVI_DECODE_MALFORMED,
				  "byte 0x%02x at stream offset %" PRIu64 " is not msgpack", b,
				  base + i);
			return i;
		}

		/* n more bytes belong to this value. */
		if (!scan_fits(s, lim, base + i, n))
			return i;
		if (n < len - i) { /* all here */
			i += 1 + (size_t)n;
			scan_value_done(s);
		} else {
			s->skip = n - (len - i - 1);
			s->state = SCAN_SKIP;
			i = len;
		}
	}
	s->offset = base + len;
	return len;
}

/* ------------------------------------------------------------------------ */
/* Event validation                                                         */
/* ------------------------------------------------------------------------ */

/* Returned by the internal converters when the zone is out of memory. */
#define CONV_NOMEM (-1)

struct conv {
	const struct mevi_decoder_limits *lim;
	msgpack_zone *zone;
	const char *what; /* the event type's name, NULL before it is known */
	char *err;
	size_t errlen;
};

static const char *obj_type_name(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return "nil";
	case MSGPACK_OBJECT_BOOLEAN:
		return "a bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return "an unsigned integer";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return "a negative integer";
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return "a float";
	case MSGPACK_OBJECT_STR:
		return "a str";
	case MSGPACK_OBJECT_ARRAY:
		return "an array";
	case MSGPACK_OBJECT_MAP:
		return "a map";
	case MSGPACK_OBJECT_BIN:
		return "a bin";
	case MSGPACK_OBJECT_EXT:
		return "an ext";
	}
	return "an unknown object";
}

static int conv_fail(struct conv *c, enum mevi_decode_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "<what>: <message>" (or just the message before the type is known)
 * into the error buffer and returns err. */
static int conv_fail(struct conv *c, enum mevi_decode_error err, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (c->errlen == 0)
		return err;
	c->err[0] = '\0';
	if (c->what)
		n = snprintf(c->err, c->errlen, "%s: ", c->what);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return err;
}

static int wrong_type(struct conv *c, const char *field, const msgpack_object *o,
		      const char *expected)
{
	return conv_fail(c, MEVI_DECODE_FIELD_TYPE, "%s is %s, expected %s", field,
			 obj_type_name(o), expected);
}

/* An unsigned integer no greater than max. */
static int get_uint(struct conv *c, const msgpack_object *o, const char *field, uint64_t max,
		    uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(c, field, o, "an unsigned integer");
	if (o->via.u64 > max)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE, "%s %" PRIu64 " is above %" PRIu64,
				 field, o->via.u64, max);
	*out = o->via.u64;
	return MEVI_DECODE_OK;
}

/* A process id: 1 .. INT32_MAX. */
static int get_pid(struct conv *c, const msgpack_object *o, const char *field, int32_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE, "%s %" PRId64 " is not 1..%" PRId32,
				 field, o->via.i64, INT32_MAX);
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(c, field, o, "an integer 1..2147483647");
	if (o->via.u64 == 0 || o->via.u64 > INT32_MAX)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE, "%s %" PRIu64 " is not 1..%" PRId32,
				 field, o->via.u64, INT32_MAX);
	*out = (int32_t)o->via.u64;
	return MEVI_DECODE_OK;
}

/* An exit status: -1 (unknown) .. 255. */
static int get_status(struct conv *c, const msgpack_object *o, int32_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		if (o->via.i64 != -1)
			return conv_fail(c, MEVI_DECODE_FIELD_TYPE,
					 "status %" PRId64 " is not -1..255", o->via.i64);
		*out = -1;
		return MEVI_DECODE_OK;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(c, "status", o, "an integer -1..255");
	if (o->via.u64 > 255)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE, "status %" PRIu64 " is not -1..255",
				 o->via.u64);
	*out = (int32_t)o->via.u64;
	return MEVI_DECODE_OK;
}

/* An array of str (or bin) within the string limits, items in the zone. */
static int get_strv(struct conv *c, const msgpack_object *o, const char *field,
		    struct mevi_strv *out)
{
	const msgpack_object_array *a = &o->via.array;
	struct mevi_str *items = NULL;

	if (o->type != MSGPACK_OBJECT_ARRAY)
		return wrong_type(c, field, o, "an array of str");
	if (a->size > c->lim->max_strings)
		return conv_fail(c, MEVI_DECODE_STRING_TOO_BIG,
				 "%s has %" PRIu32 " strings, over the limit of %" PRIu32, field,
				 a->size, c->lim->max_strings);
	for (uint32_t i = 0; i < a->size; i++) {
		const msgpack_object *it = &a->ptr[i];

		if (it->type != MSGPACK_OBJECT_STR && it->type != MSGPACK_OBJECT_BIN)
			return conv_fail(c, MEVI_DECODE_FIELD_TYPE,
					 "%s[%" PRIu32 "] is %s, expected a str", field, i,
					 obj_type_name(it));
		/* str and bin share a layout in msgpack_object's union. */
		if (it->via.str.size > c->lim->max_string_bytes)
			return conv_fail(c, MEVI_DECODE_STRING_TOO_BIG,
					 "%s[%" PRIu32 "] is %" PRIu32
					 " bytes, over the limit of %" PRIu32,
					 field, i, it->via.str.size, c->lim->max_string_bytes);
	}
	if (a->size > 0) {
		MEVI_ASSERT(c->zone != NULL);
		items = msgpack_zone_malloc(c->zone, (size_t)a->size * sizeof(*items));
		if (!items)
			return CONV_NOMEM;
		for (uint32_t i = 0; i < a->size; i++) {
			const msgpack_object *it = &a->ptr[i];

			if (it->type == MSGPACK_OBJECT_STR) {
				items[i].ptr = it->via.str.ptr;
				items[i].len = it->via.str.size;
			} else {
				items[i].ptr = it->via.bin.ptr;
				items[i].len = it->via.bin.size;
			}
		}
	}
	out->count = a->size;
	out->items = items;
	return MEVI_DECODE_OK;
}

/* A page state 0..3. */
static int get_state(struct conv *c, const msgpack_object *o, uint8_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(c, "state", o, "an integer 0..3");
	if (o->via.u64 >= MEVI_STATE_COUNT)
		return conv_fail(c, MEVI_DECODE_BAD_STATE, "state %" PRIu64 " is not 0..3",
				 o->via.u64);
	*out = (uint8_t)o->via.u64;
	return MEVI_DECODE_OK;
}

/*
 * A range from two elements named start_name and end_name; name ("range",
 * "from range", ...) names it in messages. Checked in this order: types,
 * end > start, page alignment, end <= MEVI_ADDR_LIMIT.
 */
static int get_range(struct conv *c, const msgpack_object *o, const char *name,
		     const char *start_name, const char *end_name, struct mevi_range *out)
{
	uint64_t start = 0, end = 0;
	int err;

	err = get_uint(c, &o[0], start_name, UINT64_MAX, &start);
	if (err)
		return err;
	err = get_uint(c, &o[1], end_name, UINT64_MAX, &end);
	if (err)
		return err;
	if (end <= start)
		return conv_fail(c, MEVI_DECODE_RANGE_INVERTED,
				 "%s [0x%" PRIx64 ", 0x%" PRIx64 ") is empty or inverted", name,
				 start, end);
	if (start % MEVI_PAGE_SIZE || end % MEVI_PAGE_SIZE)
		return conv_fail(c, MEVI_DECODE_RANGE_UNALIGNED,
				 "%s [0x%" PRIx64 ", 0x%" PRIx64 ") is not 4096-aligned", name,
				 start, end);
	if (end > MEVI_ADDR_LIMIT)
		return conv_fail(c, MEVI_DECODE_RANGE_LIMIT,
				 "%s [0x%" PRIx64 ", 0x%" PRIx64 ") ends above 0x%" PRIx64, name,
				 start, end, MEVI_ADDR_LIMIT);
	out->start = start;
	out->end = end;
	return MEVI_DECODE_OK;
}

/* A str (or bin) within the string limit; nil too when nil_ok (ptr NULL).
 * field names it in messages ("name", "frames[3] func"). */
static int get_str(struct conv *c, const msgpack_object *o, const char *field, bool nil_ok,
		   struct mevi_str *out)
{
	out->ptr = NULL;
	out->len = 0;
	if (nil_ok && o->type == MSGPACK_OBJECT_NIL)
		return MEVI_DECODE_OK;
	if (o->type != MSGPACK_OBJECT_STR && o->type != MSGPACK_OBJECT_BIN)
		return wrong_type(c, field, o, nil_ok ? "a str or nil" : "a str");
	if (o->via.str.size > c->lim->max_string_bytes)
		return conv_fail(c, MEVI_DECODE_STRING_TOO_BIG,
				 "%s is %" PRIu32 " bytes, over the limit of %" PRIu32, field,
				 o->via.str.size, c->lim->max_string_bytes);
	/* str and bin share a layout in msgpack_object's union; an empty
	 * string keeps a non-NULL pointer so that it is not taken for nil. */
	out->ptr = o->via.str.size ? o->via.str.ptr : "";
	out->len = o->via.str.size;
	return MEVI_DECODE_OK;
}

/* A stack's frames: an array of at most MEVI_STACK_MAX_FRAMES
 * [pc, func, module, source|nil], in the zone. */
static int get_frames(struct conv *c, const msgpack_object *o, uint32_t *nframes,
		      struct mevi_frame **out)
{
	const msgpack_object_array *a = &o->via.array;
	struct mevi_frame *fr = NULL;
	char field[32];
	int err;

	if (o->type != MSGPACK_OBJECT_ARRAY)
		return wrong_type(c, "frames", o, "an array of frames");
	if (a->size > MEVI_STACK_MAX_FRAMES)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE,
				 "%" PRIu32 " frames, over the limit of %d", a->size,
				 MEVI_STACK_MAX_FRAMES);
	if (a->size > 0) {
		MEVI_ASSERT(c->zone != NULL);
		fr = msgpack_zone_malloc(c->zone, (size_t)a->size * sizeof(*fr));
		if (!fr)
			return CONV_NOMEM;
	}
	for (uint32_t i = 0; i < a->size; i++) {
		const msgpack_object *it = &a->ptr[i], *e;

		if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size != 4)
			return conv_fail(c, MEVI_DECODE_FIELD_TYPE,
					 "frames[%" PRIu32 "] is not [pc, func, module, source]",
					 i);
		e = it->via.array.ptr;
		snprintf(field, sizeof(field), "frames[%" PRIu32 "] pc", i);
		if ((err = get_uint(c, &e[0], field, UINT64_MAX, &fr[i].pc)))
			return err;
		snprintf(field, sizeof(field), "frames[%" PRIu32 "] func", i);
		if ((err = get_str(c, &e[1], field, false, &fr[i].func)))
			return err;
		snprintf(field, sizeof(field), "frames[%" PRIu32 "] module", i);
		if ((err = get_str(c, &e[2], field, false, &fr[i].module)))
			return err;
		snprintf(field, sizeof(field), "frames[%" PRIu32 "] source", i);
		if ((err = get_str(c, &e[3], field, true, &fr[i].source)))
			return err;
	}
	*nframes = a->size;
	*out = fr;
	return MEVI_DECODE_OK;
}

/* An unsigned integer that fits in a uint32_t. */
static int get_u32(struct conv *c, const msgpack_object *o, const char *field, uint32_t *out)
{
	uint64_t v = 0;
	int err = get_uint(c, o, field, UINT32_MAX, &v);

	if (!err)
		*out = (uint32_t)v;
	return err;
}

/* An unsigned integer no greater than max (< 256). */
static int get_u8max(struct conv *c, const msgpack_object *o, const char *field, uint64_t max,
		     uint8_t *out)
{
	uint64_t v = 0;
	int err = get_uint(c, o, field, max, &v);

	if (!err)
		*out = (uint8_t)v;
	return err;
}

static int get_bool(struct conv *c, const msgpack_object *o, const char *field, bool *out)
{
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return wrong_type(c, field, o, "a bool");
	*out = o->via.boolean;
	return MEVI_DECODE_OK;
}

/* A uint32 bit set with no bit outside mask. */
static int get_flags(struct conv *c, const msgpack_object *o, const char *field, uint32_t mask,
		     uint32_t *out)
{
	uint64_t v = 0;
	int err = get_uint(c, o, field, UINT32_MAX, &v);

	if (err)
		return err;
	if (v & ~(uint64_t)mask)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE, "%s 0x%" PRIx64 " has unknown bits",
				 field, v);
	*out = (uint32_t)v;
	return MEVI_DECODE_OK;
}

/* A str of at most max bytes (0: only the decoder's string limit). */
static int get_str_max(struct conv *c, const msgpack_object *o, const char *field, uint32_t max,
		       struct mevi_str *out)
{
	int err = get_str(c, o, field, false, out);

	if (!err && max && out->len > max)
		return conv_fail(c, MEVI_DECODE_FIELD_TYPE,
				 "%s is %" PRIu32 " bytes, over %" PRIu32, field, out->len, max);
	return err;
}

/*
 * How each field kind of proto/events.def is converted: o points at the
 * field's first element and is advanced past it; f is the event's union
 * member. Each evaluates to MEVI_DECODE_OK or an error.
 */
#define RANGE_NAMES(start, end)	       start, end
#define CONV_version(c, o, w, a, f, m) ((f)->m = MEVI_PROTO_VERSION, o++, MEVI_DECODE_OK)
#define CONV_u8max(c, o, w, a, f, m)   get_u8max(c, o++, w, a, &(f)->m)
#define CONV_bool(c, o, w, a, f, m)    get_bool(c, o++, w, &(f)->m)
#define CONV_u32(c, o, w, a, f, m)     get_u32(c, o++, w, &(f)->m)
#define CONV_u64(c, o, w, a, f, m)     get_uint(c, o++, w, UINT64_MAX, &(f)->m)
#define CONV_tsrel(c, o, w, a, f, m)   get_uint(c, o++, w, UINT64_MAX, &(f)->m)
#define CONV_flags(c, o, w, a, f, m)   get_flags(c, o++, w, a, &(f)->m)
#define CONV_status(c, o, w, a, f, m)  get_status(c, o++, &(f)->m)
#define CONV_pid(c, o, w, a, f, m)     get_pid(c, o++, w, &(f)->m)
#define CONV_tidrep(c, o, w, a, f, m)  get_pid(c, o++, w, &(f)->m)
#define CONV_range(c, o, w, a, f, m)   get_range(c, (o += 2) - 2, w, RANGE_NAMES a, &(f)->m)
#define CONV_state(c, o, w, a, f, m)   get_state(c, o++, &(f)->m)
#define CONV_str(c, o, w, a, f, m)     get_str_max(c, o++, w, a, &(f)->m)
#define CONV_strv(c, o, w, a, f, m)    get_strv(c, o++, w, &(f)->m)
#define CONV_frames(c, o, w, a, f, m)  get_frames(c, o++, &(f)->n##m, &(f)->m)

/* The per-type fields, elements 3.. of the event array (arity checked), in
 * the order proto/events.def lists them. */
static int conv_fields(struct conv *c, const msgpack_object *o, struct mevi_event *ev)
{
	int err = MEVI_DECODE_OK;

	switch ((enum mevi_event_type)ev->type) {
#define MEVI_F(kind, member, wire, arg)                                                            \
	if ((err = CONV_##kind(c, o, wire, arg, f, member)))                                       \
		break;
#define MEVI_EVENT(NAME, name, type, fields) MEVI_EVENT_CASE(ev, NAME, name, fields)
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
	}
	return err;
}

/*
 * Converts one event. Returns MEVI_DECODE_OK, an error code (message in
 * c->err), or CONV_NOMEM. Checks, in order: an array of >= 3 elements; the
 * type; for session_start the version (before the arity, so that a newer
 * launcher is told "version" even if it added fields); the arity; pid; ts;
 * the fields in wire order.
 */
static int conv_event(struct conv *c, const msgpack_object *obj, struct mevi_event *ev)
{
	const msgpack_object *e;
	uint32_t n;
	uint64_t type;
	int err;

	memset(ev, 0, sizeof(*ev));
	c->what = NULL;
	if (obj->type != MSGPACK_OBJECT_ARRAY)
		return conv_fail(c, MEVI_DECODE_NOT_EVENT, "%s, not an array [type, pid, ts, ...]",
				 obj_type_name(obj));
	e = obj->via.array.ptr;
	n = obj->via.array.size;
	if (n < 3)
		return conv_fail(c, MEVI_DECODE_NOT_EVENT,
				 "an array of %" PRIu32 " elements, not [type, pid, ts, ...]", n);
	if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(c, "type", &e[0], "an unsigned integer");
	type = e[0].via.u64;
	if (type >= MEVI_EV_TYPE_COUNT)
		return conv_fail(c, MEVI_DECODE_UNKNOWN_TYPE, "unknown event type %" PRIu64, type);
	ev->type = (uint8_t)type;
	c->what = mevi_event_type_name(ev->type);

	if (ev->type == MEVI_EV_SESSION_START && n >= 4 &&
	    e[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER && e[3].via.u64 != MEVI_PROTO_VERSION) {
		ev->session_start.version =
		    e[3].via.u64 > UINT32_MAX ? UINT32_MAX : (uint32_t)e[3].via.u64;
		return conv_fail(c, MEVI_DECODE_VERSION,
				 "protocol version %" PRIu64 ", this side speaks version %d",
				 e[3].via.u64, MEVI_PROTO_VERSION);
	}
	if (n != mevi_event_arity(type))
		return conv_fail(c, MEVI_DECODE_ARITY, "%" PRIu32 " elements, expected %u", n,
				 (unsigned)mevi_event_arity(type));
	if (ev->type == MEVI_EV_SESSION_START && e[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wrong_type(c, "version", &e[3], "an unsigned integer");

	if ((err = get_pid(c, &e[1], "pid", &ev->pid)))
		return err;
	if ((err = get_uint(c, &e[2], "ts", UINT64_MAX, &ev->ts)))
		return err;
	return conv_fields(c, &e[3], ev);
}

enum mevi_decode_error mevi_event_from_object(const msgpack_object *obj, msgpack_zone *zone,
					      const struct mevi_decoder_limits *limits,
					      struct mevi_event *ev, char *errbuf, size_t errlen)
{
	struct conv c = {
	    .lim = limits ? limits : &mevi_decoder_default_limits,
	    .zone = zone,
	    .err = errbuf,
	    .errlen = errbuf ? errlen : 0,
	};
	int err = conv_event(&c, obj, ev);

	if (err == CONV_NOMEM) {
		log_error("out of memory decoding an event");
		abort();
	}
	return (enum mevi_decode_error)err;
}

enum mevi_decode_error mevi_hello_from_object(const msgpack_object *obj, struct mevi_hello *h)
{
	static const char magic[] = "mevid";
	const msgpack_object *e;

	memset(h, 0, sizeof(*h));
	if (obj->type != MSGPACK_OBJECT_ARRAY)
		return MEVI_DECODE_FIELD_TYPE;
	e = obj->via.array.ptr;
	if (obj->via.array.size < 2)
		return MEVI_DECODE_ARITY;
	if (e[0].type != MSGPACK_OBJECT_STR || e[0].via.str.size != sizeof(magic) - 1 ||
	    memcmp(e[0].via.str.ptr, magic, sizeof(magic) - 1) != 0)
		return MEVI_DECODE_FIELD_TYPE;
	if (e[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return MEVI_DECODE_FIELD_TYPE;
	h->version = e[1].via.u64 > UINT32_MAX ? UINT32_MAX : (uint32_t)e[1].via.u64;
	/* Before the arity: a newer daemon may have added elements. */
	if (e[1].via.u64 != MEVI_PROTO_VERSION)
		return MEVI_DECODE_VERSION;
	if (obj->via.array.size != 3)
		return MEVI_DECODE_ARITY;
	if (e[2].type != MSGPACK_OBJECT_STR)
		return MEVI_DECODE_FIELD_TYPE;
	h->url.ptr = e[2].via.str.ptr;
	h->url.len = e[2].via.str.size;
	return MEVI_DECODE_OK;
}

/* ------------------------------------------------------------------------ */
/* The streaming decoder                                                    */
/* ------------------------------------------------------------------------ */

static int poison(struct mevi_decoder *d, enum mevi_decode_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error; every later call returns -EBADMSG. */
static int poison(struct mevi_decoder *d, enum mevi_decode_error err, const char *fmt, ...)
{
	va_list ap;

	d->err = err;
	va_start(ap, fmt);
	vsnprintf(d->errmsg, sizeof(d->errmsg), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int mevi_decoder_init(struct mevi_decoder *d, const struct mevi_decoder_limits *limits)
{
	memset(d, 0, sizeof(*d));
	d->limits = limits ? *limits : mevi_decoder_default_limits;
	snprintf(d->errmsg, sizeof(d->errmsg), "no error");
	d->scan = calloc(1, sizeof(*d->scan));
	if (!d->scan)
		goto err;
	if (!msgpack_unpacker_init(&d->unpacker, MSGPACK_UNPACKER_INIT_BUFFER_SIZE))
		goto err_scan;
	msgpack_unpacked_init(&d->unpacked);
	return 0;

err_scan:
	free(d->scan);
	d->scan = NULL;
err:
	return -ENOMEM;
}

void mevi_decoder_destroy(struct mevi_decoder *d)
{
	if (!d->scan)
		return; /* init failed, or already destroyed */
	msgpack_unpacked_destroy(&d->unpacked);
	msgpack_unpacker_destroy(&d->unpacker);
	free(d->events);
	d->events = NULL;
	d->events_cap = 0;
	free(d->scan);
	d->scan = NULL;
}

int mevi_decoder_feed(struct mevi_decoder *d, const void *buf, size_t len)
{
	struct mevi_decoder_scan *s = d->scan;
	size_t pending, n;

	if (s->nomem)
		return -ENOMEM;
	if (d->err != MEVI_DECODE_OK)
		return -EBADMSG;
	if (len == 0)
		return 0;
	/* Only a caller that does not drain the decoder gets here with more
	 * than one batch's worth of bytes: the scan caps each batch. */
	pending = msgpack_unpacker_message_size(&d->unpacker);
	if (pending > d->limits.max_batch_bytes)
		return poison(d, MEVI_DECODE_BATCH_TOO_BIG,
			      "%zu bytes buffered and not decoded, over the limit of %zu bytes",
			      pending, d->limits.max_batch_bytes);

	n = scan_bytes(s, &d->limits, buf, len);
	if (n == 0)
		return 0;
	if (!msgpack_unpacker_reserve_buffer(&d->unpacker, n)) {
		s->nomem = true;
		return -ENOMEM;
	}
	memcpy(msgpack_unpacker_buffer(&d->unpacker), buf, n);
	msgpack_unpacker_buffer_consumed(&d->unpacker, n);
	return 0;
}

/* Makes room for n events. Returns 0 or -ENOMEM. */
static int reserve_events(struct mevi_decoder *d, uint32_t n)
{
	struct mevi_event *events;
	uint32_t cap = d->events_cap ? d->events_cap : 64;

	if (n <= d->events_cap)
		return 0;
	while (cap < n)
		cap = cap > UINT32_MAX / 2 ? n : cap * 2;
	events = realloc(d->events, (size_t)cap * sizeof(*events));
	if (!events)
		return -ENOMEM;
	d->events = events;
	d->events_cap = cap;
	return 0;
}

int mevi_decoder_next(struct mevi_decoder *d, const struct mevi_event **events, uint32_t *count)
{
	struct mevi_decoder_scan *s = d->scan;
	char detail[sizeof(d->errmsg)];
	const msgpack_object *obj;
	uint64_t batch;
	uint32_t n;
	int ret;

	if (s->nomem)
		return -ENOMEM;
	if (d->err != MEVI_DECODE_OK)
		return -EBADMSG;
	/* The previous batch's events die here; so do their strings. */
	msgpack_unpacked_destroy(&d->unpacked);
	if (s->err != MEVI_DECODE_OK && s->err_object == s->objects_out)
		return poison(d, s->err, "%s", s->errmsg);

	ret = msgpack_unpacker_next(&d->unpacker, &d->unpacked);
	if (ret == MSGPACK_UNPACK_CONTINUE)
		return 0;
	/*
	 * The scan has rejected everything msgpack-c could call a parse error,
	 * so a failure here is msgpack-c failing to allocate. msgpack-c 4 creates
	 * zones lazily: an object that needed no memory comes with a NULL zone,
	 * while a NULL zone next to a zone still held by the unpacker means that
	 * handing the zone over failed for want of memory.
	 */
	if (ret != MSGPACK_UNPACK_SUCCESS || (!d->unpacked.zone && d->unpacker.z)) {
		s->nomem = true;
		return -ENOMEM;
	}
	batch = s->objects_out++;

	obj = &d->unpacked.data;
	if (obj->type != MSGPACK_OBJECT_ARRAY)
		return poison(d, MEVI_DECODE_NOT_BATCH,
			      "batch %" PRIu64 " is %s, expected an array", batch,
			      obj_type_name(obj));
	n = obj->via.array.size;
	if (n > d->limits.max_batch_events) /* the scan caught it; kept for clarity */
		return poison(d, MEVI_DECODE_BATCH_TOO_BIG,
			      "batch %" PRIu64 " has %" PRIu32
			      " events, over the limit of %" PRIu32,
			      batch, n, d->limits.max_batch_events);
	if (reserve_events(d, n)) {
		s->nomem = true;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct conv c = {
		    .lim = &d->limits,
		    .zone = d->unpacked.zone,
		    .err = detail,
		    .errlen = sizeof(detail),
		};

		ret = conv_event(&c, &obj->via.array.ptr[i], &d->events[i]);
		if (ret == CONV_NOMEM) {
			s->nomem = true;
			return -ENOMEM;
		}
		if (ret != MEVI_DECODE_OK)
			return poison(d, (enum mevi_decode_error)ret, "event %" PRIu32 ": %.140s",
				      i, detail);
	}
	*events = d->events;
	*count = n;
	return 1;
}

enum mevi_decode_error mevi_decoder_error(const struct mevi_decoder *d)
{
	return d->err;
}

const char *mevi_decoder_errmsg(const struct mevi_decoder *d)
{
	return d->errmsg;
}
