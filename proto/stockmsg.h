/*
 * stockmsg — the two messages of mevid's engine stock socket (PROTOCOL.md,
 * section 5b): a launcher asks for the set of eBPF programs mevid loaded
 * ahead of time, naming the build and configuration it needs (an id:
 * launcher/bpfskel.h); mevid hands the set over, its descriptors riding with
 * the answer (SCM_RIGHTS), or says in a sentence why not. The request
 * carries the configuration too, so that mevid may load a set for it ahead
 * of the next launcher configured alike.
 *
 *   request: ["mevi-stock", version, id, config]
 *            config: [exact, thp_always, want_stacks, stacks_all,
 *            wake_mark, ring_bytes, tracked_max]: four bools and three
 *            uints (the last two at most 2^32 - 1), what the launcher
 *            configures its programs with (launcher/bpfskel.h); mevid
 *            checks that they make the id before it believes them.
 *   reply:   ["mevi-stock", version, mask, why, tracepoints]
 *            mask: uint (granted: bit i set for each descriptor slot filled,
 *            in the order they ride), or nil (refused); why: str, "" when
 *            granted; tracepoints: the ids of the syscall tracepoints the
 *            skeleton's layout program attaches to (launcher/bpfskel.h:
 *            bpfskel_sys_exit_names, in that order), an array of uint, or
 *            nil when mevid could not read them. Sent with a refusal too:
 *            a launcher that loads its own programs still attaches them.
 *
 * Both sides refuse another version. Decoding is strict: anything else is
 * -EPROTO, never a crash (the bytes come from another process).
 */
#ifndef MEVI_PROTO_STOCKMSG_H
#define MEVI_PROTO_STOCKMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEVI_STOCK_VERSION 3
/* The longest message either side sends or accepts, in bytes. */
#define MEVI_STOCK_MSG_MAX 320
/* The longest reason a reply carries, terminator included. */
#define MEVI_STOCK_WHY_MAX 160
/* The most tracepoint ids a reply carries, and the largest id accepted
 * (tracefs numbers events from a small counter). */
#define MEVI_STOCK_TP_MAX    16
#define MEVI_STOCK_TP_ID_MAX (1u << 24)

/* Everything a set of programs is loaded with (their read-only data and
 * their maps' sizes: launcher/bpfskel.h). Fixed when loaded: another
 * configuration is another load. The request carries it as it is. */
struct mevi_stock_config {
	bool exact;	    /* exact mode: the fault programs have work to do */
	bool thp_always;    /* THP "always": a fault may fill 2 MiB */
	bool want_stacks;   /* backtraces: copy stacks at anonymous mappings */
	bool stacks_all;    /* --backtraces=all: in a young image's window too */
	uint64_t wake_mark; /* force a wake-up past this much unread data */
	uint32_t ring_bytes;
	uint32_t tracked_max;
};

struct mevi_stock_request {
	uint32_t version;
	uint64_t id;			 /* the build and configuration wanted */
	struct mevi_stock_config config; /* that configuration */
};

struct mevi_stock_reply {
	uint32_t version;
	bool granted;
	uint64_t mask;		      /* granted: which slots the descriptors fill */
	char why[MEVI_STOCK_WHY_MAX]; /* refused: why; "" when granted */
	uint32_t ntp;		      /* tracepoint ids in tp (0: nil, unknown) */
	uint32_t tp[MEVI_STOCK_TP_MAX];
};

/* Encode into buf (len bytes): the message's length, or -ENOSPC. */
int mevi_stock_request_encode(const struct mevi_stock_request *r, char *buf, size_t len);
int mevi_stock_reply_encode(const struct mevi_stock_reply *r, char *buf, size_t len);

/* Decode the message at the start of buf: its length (> 0), 0 when more
 * bytes are needed, or -EPROTO when it is not such a message (a longer why
 * is cut to MEVI_STOCK_WHY_MAX - 1 bytes; more than MEVI_STOCK_TP_MAX ids,
 * an id of 0 or above MEVI_STOCK_TP_ID_MAX, or an empty array is -EPROTO;
 * encoding such a reply is -EINVAL). The version is returned as found,
 * and the caller compares it: a message of another version (an array that
 * starts with the magic and a version) decodes to its version alone, the
 * other fields zero. A config that is not four bools and three uints
 * (ring_bytes and tracked_max within 32 bits) is -EPROTO; its values are the
 * reader's to judge. */
int mevi_stock_request_decode(const char *buf, size_t len, struct mevi_stock_request *r);
int mevi_stock_reply_decode(const char *buf, size_t len, struct mevi_stock_reply *r);

#endif /* MEVI_PROTO_STOCKMSG_H */
