/*
 * event — the mevi event model and its msgpack wire encoding.
 *
 * Everything a launcher tells mevid, and everything mevid forwards to browser
 * tabs, is a struct mevi_event. On the wire an event is a msgpack array whose
 * first three elements are always [type, pid, ts]; the rest depends on the
 * type. A batch is a msgpack array of events. proto/PROTOCOL.md documents the
 * bytes; this header is the C view of the same thing, generated from
 * proto/events.def (one line per event type: its number, name and fields).
 *
 * Encoding appends to a msgpack_sbuffer. Decoding is in proto/decoder.h.
 */
#ifndef MEVI_PROTO_EVENT_H
#define MEVI_PROTO_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Bumped on every incompatible change of the wire format. */
#define MEVI_PROTO_VERSION 3

/* Exclusive upper bound of user addresses we accept (x86-64 with 5-level
 * paging tops out at 2^56; 4-level at 2^47). */
#define MEVI_ADDR_LIMIT (UINT64_C(1) << 56)
#define MEVI_PAGE_SIZE	UINT64_C(4096)

/* Event types: MEVI_EV_SESSION_START = 0, MEVI_EV_SESSION_END, ... as
 * proto/events.def numbers them. */
enum mevi_event_type {
#define MEVI_EVENT(NAME, name, type, fields) MEVI_EV_##NAME = type,
#include "events.def"
#undef MEVI_EVENT
};
/* One more than the highest type. */
#define MEVI_EV_TYPE_COUNT (MEVI_EV_WRITTEN + 1)

/* The longest engine name (MEVI_EV_ENGINE) the decoder accepts. */
#define MEVI_ENGINE_NAME_MAX 32

/* Frames in one stack event at most (the decoder refuses more). */
#define MEVI_STACK_MAX_FRAMES 256

/* What kind of memory a mapping is (MEVI_EV_VMA). */
enum mevi_kind {
	MEVI_KIND_ANON = 0,	    /* private anonymous, no better name */
	MEVI_KIND_HEAP = 1,	    /* [heap]: brk */
	MEVI_KIND_STACK = 2,	    /* [stack]: the main thread's stack */
	MEVI_KIND_THREAD_STACK = 3, /* a thread's stack (name: "TID") */
	MEVI_KIND_FILE = 4,	    /* file-backed (name: the path) */
	MEVI_KIND_SHMEM = 5,	    /* shared memory: MAP_SHARED anon, memfd, /dev/shm, SysV */
	MEVI_KIND_SPECIAL = 6,	    /* [vdso], [vvar], [vsyscall], ... */
};
#define MEVI_KIND_COUNT 7

/* Returns "anon", "heap", "stack", "thread_stack", "file", "shmem",
 * "special", or NULL if out of range. */
const char *mevi_kind_name(unsigned kind);

/* Returns the event type's name ("map", "session_start", ...) or NULL. */
const char *mevi_event_type_name(unsigned type);

/* Returns the number of elements of the type's array on the wire
 * ([type, pid, ts] included), or 0 for an unknown type. */
unsigned mevi_event_arity(unsigned type);

/* The wire's exit status (proc_exit, session_end) of a wait(2) status:
 * the exit code, 128 + N when killed by signal N, else -1. */
int32_t mevi_exit_status(int wstatus);

/* Tracking modes announced in session start. */
enum mevi_mode {
	MEVI_MODE_EXACT = 0,   /* userfaultfd: every first touch is seen */
	MEVI_MODE_SAMPLED = 1, /* residency sampled from pagemap */
};

/* PROC_START flags. */
#define MEVI_PROC_INHERIT_MAP 0x1u /* fork: start from a copy of the parent's map */

/* A byte string that is not NUL-terminated. Decoded strings point into the
 * decoder's buffer; see proto/decoder.h for their lifetime. */
struct mevi_str {
	const char *ptr;
	uint32_t len;
};

struct mevi_strv {
	uint32_t count;
	struct mevi_str *items;
};

struct mevi_range {
	uint64_t start;
	uint64_t end;
};

/* One frame of a call stack, innermost first. Strings are empty when unknown;
 * source.ptr is NULL when there is no file:line (nil on the wire). */
struct mevi_frame {
	uint64_t pc;		/* the frame's program counter (a return address above frame 0) */
	struct mevi_str func;	/* "function+0x1a" */
	struct mevi_str module; /* "libc.so.6" */
	struct mevi_str source; /* "file.c:42" */
};

/* The C type of each field kind of proto/events.def. */
#define MEVI_CTYPE_version(m) uint32_t m
#define MEVI_CTYPE_u8max(m)   uint8_t m
#define MEVI_CTYPE_bool(m)    bool m
#define MEVI_CTYPE_u32(m)     uint32_t m
#define MEVI_CTYPE_u64(m)     uint64_t m
#define MEVI_CTYPE_tsrel(m)   uint64_t m
#define MEVI_CTYPE_flags(m)   uint32_t m
#define MEVI_CTYPE_status(m)  int32_t m
#define MEVI_CTYPE_pid(m)     int32_t m
#define MEVI_CTYPE_tidrep(m)  int32_t m
#define MEVI_CTYPE_range(m)   struct mevi_range m
#define MEVI_CTYPE_state(m)   uint8_t m
#define MEVI_CTYPE_str(m)     struct mevi_str m
#define MEVI_CTYPE_strv(m)    struct mevi_strv m
#define MEVI_CTYPE_frames(m)                                                                       \
	uint32_t n##m;                                                                             \
	struct mevi_frame *m

/*
 * One event: [type, pid, ts] and, in the union member named after its type,
 * the fields proto/events.def lists, in wire order ("map": range, state;
 * "stack": id, nframes + frames; ...). Their meaning: PROTOCOL.md section 3.
 */
struct mevi_event {
	uint8_t type; /* enum mevi_event_type */
	int32_t pid;  /* the process (tgid); the launcher's pid for session events */
	uint64_t ts;  /* ns since the session began */
	union {
#define MEVI_F(kind, member, wire, arg) MEVI_CTYPE_##kind(member);
#define MEVI_EVENT(NAME, name, type, fields)                                                       \
	struct {                                                                                   \
		fields                                                                             \
	} name;
#include "events.def"
#undef MEVI_EVENT
#undef MEVI_F
	};
};

/*
 * For the generators of proto/events.def: one switch case per event type,
 * with f pointing at ev's union member of that type (const when ev is), then
 * the fields' code. Use as
 *   #define MEVI_EVENT(NAME, name, type, fields) MEVI_EVENT_CASE(ev, NAME, name, fields)
 */
#define MEVI_EVENT_CASE(ev, NAME, name, fields)                                                    \
	case MEVI_EV_##NAME: {                                                                     \
		__typeof__(&(ev)->name) f = &(ev)->name;                                           \
		(void)f;                                                                           \
		fields break;                                                                      \
	}

/*
 * Appends one event, as a msgpack array, to pk. The event is not validated
 * (the encoder trusts its caller; the decoder trusts nobody).
 * Returns 0 or -ENOMEM.
 */
int mevi_event_pack(msgpack_packer *pk, const struct mevi_event *ev);

/*
 * A batch under construction. Events are packed as they are added; the array
 * header is written when the batch is finished, so the count need not be
 * known in advance.
 */
struct mevi_batch_encoder {
	msgpack_sbuffer body;
	msgpack_packer pk;
	uint32_t count;
};

void mevi_batch_encoder_init(struct mevi_batch_encoder *enc);
void mevi_batch_encoder_destroy(struct mevi_batch_encoder *enc);

/* Adds an event. Returns 0 or -ENOMEM. */
int mevi_batch_encoder_add(struct mevi_batch_encoder *enc, const struct mevi_event *ev);

/*
 * Appends the finished batch (array header, then the events) to out and
 * resets enc for the next batch. An empty batch appends nothing.
 * Returns 0 or -ENOMEM.
 */
int mevi_batch_encoder_finish(struct mevi_batch_encoder *enc, msgpack_sbuffer *out);

/*
 * The daemon's greeting, sent once to every launcher right after it connects,
 * before anything else: the msgpack array ["mevid", version, url], where url
 * is where the daemon serves the frontend ("http://127.0.0.1:5001/").
 * A launcher that sees another version says so and carries on untracked.
 */
struct mevi_hello {
	uint32_t version;
	struct mevi_str url;
};

/* Appends the greeting to pk. Returns 0 or -ENOMEM. */
int mevi_hello_pack(msgpack_packer *pk, const struct mevi_hello *h);

#endif /* MEVI_PROTO_EVENT_H */
