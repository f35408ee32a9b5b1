/*
 * eventrec — the compact record of one event in mevid's history, generated
 * from proto/events.def like the wire format, but smaller (a state event is
 * typically 4 to 8 bytes; 29 on the wire).
 *
 * A record is varints (daemon/varbuf.h): a header byte (bits 0-3 the type,
 * 15 = the type follows as a byte; 0x10 "the pid changed": it follows;
 * 0x80 "ts unchanged", else the zigzag ts delta follows; bits 5-6 the page
 * state of map and state records; 0x20 in a touch record: "same tid as the
 * previous touch", none follows), then the fields in events.def order:
 * unsigned values as varints, signed ones zigzag, ranges as page numbers
 * (the start zigzag-delta-coded against the previous range's end, then the
 * length), tsrel fields against the event's ts, strings interned (a literal
 * of EVENTREC_INTERN_MIN bytes or more gets the next index of the chunk's
 * dictionary, a repeat is a reference), frames' pcs delta-coded.
 *
 * Records are coded against the state of the chunk they are in (previous
 * pid, ts, range end, touch tid and the string dictionary): a chunk's first
 * record starts from zero (eventrec_enc_reset / eventrec_dec_reset), so
 * chunks decode independently.
 *
 * Ownership: encoder and decoder own their dictionaries (…_destroy). A
 * decoded event's strings and frames point into the chunk or into the
 * decoder; they are valid until the next decode or reset.
 */
#ifndef MEVI_DAEMON_EVENTREC_H
#define MEVI_DAEMON_EVENTREC_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "slotindex.h"
#include "varbuf.h"

#define EVENTREC_INTERN_MIN 4u	       /* shorter strings are always literals */
#define EVENTREC_INTERN_MAX (1u << 20) /* strings interned per chunk at most */

/* What a record is coded against: the previous record of its chunk. */
struct eventrec_delta {
	int32_t pid;
	uint64_t ts;
	uint64_t page; /* end of the previous record's range, in pages */
	int32_t tid;   /* the previous touch record's tid */
};

struct eventrec_enc {
	struct eventrec_delta d;
	/* the chunk's strings: where they are in the chunk, found by their bytes */
	struct eventrec_sdict_entry *e;
	uint32_t n, cap;
	struct slotindex index;
};

struct eventrec_dec {
	struct eventrec_delta d;
	struct mevi_str *dict; /* the chunk's interned strings, in index order */
	uint32_t ndict, cap_dict;
	struct mevi_frame *frames; /* of the stack record being decoded */
	struct rbuf r;		   /* the chunk being read */
};

void eventrec_enc_init(struct eventrec_enc *enc);
void eventrec_enc_destroy(struct eventrec_enc *enc);

/* A new chunk begins: forget the previous records and strings. */
void eventrec_enc_reset(struct eventrec_enc *enc);

/* Bytes of memory the encoder's dictionary holds. */
size_t eventrec_enc_mem(const struct eventrec_enc *enc);

/*
 * Appends ev's record to w, which holds the chunk's previous records (the
 * dictionary refers to their bytes). On out-of-memory w->failed is set and
 * the chunk cannot be extended any more (the caller drops it).
 */
void eventrec_encode(struct eventrec_enc *enc, struct wbuf *w, const struct mevi_event *ev);

/* Starts reading the chunk p[0..len) (borrowed). */
void eventrec_dec_reset(struct eventrec_dec *dec, const unsigned char *p, size_t len);
void eventrec_dec_destroy(struct eventrec_dec *dec);

/* Decodes the next record into ev. Returns 0, -EBADMSG or -ENOMEM. */
int eventrec_decode(struct eventrec_dec *dec, struct mevi_event *ev);

#endif /* MEVI_DAEMON_EVENTREC_H */
