/*
 * summary — the end-of-run report of one session (`mevi-run --summary`,
 * `mevid --summary FILE.mevi`): the peak RSS of the session and of each
 * process and when it happened, the call sites holding the most resident
 * memory at the session's peak, what was still resident when each process
 * exited (or when the session ended), the tracking mode, overhead figures
 * with hints, and the session's URL.
 *
 * It is fed the events of the session, exactly as they go on the wire
 * (proto/PROTOCOL.md), one at a time (summary_feed) or as msgpack batches
 * (summary_feed_batch, what the launcher's outbox hands its sink), and keeps
 * its own model: per process a memmap (proto/memmap.h) and an origin map
 * (proto/tagmap.h), per session the stacks. The apply rules are
 * daemon/session.h's: fork copies the parent's map and origins, exec clears
 * them, an event for an unknown pid creates it (ppid = the launcher), an
 * event for an exited pid is dropped, a resume clears the processes.
 *
 * The session's RSS is the sum over its live processes. "At the peak": the
 * call sites are counted just before the first event that could lower the
 * RSS after a new maximum, so the breakdown is the state at the peak. Each
 * count walks the live maps; while all counts together have visited at most
 * 8 ranges per event fed (plus 100,000), every new maximum is counted;
 * beyond that budget, only a maximum at least 1 % above the last counted one
 * is: a program oscillating near a peak over a huge map then costs a walk per
 * 1 % of growth, not per event, and its breakdown is of a state within 1 %
 * of the peak. `peak.rss` itself is always exact.
 *
 * Output goes to a FILE the caller owns; the text form is for people, the
 * JSON form (one object, documented in the top-level README) for scripts.
 *
 * Ownership: summary_new allocates, summary_free frees everything, strings
 * passed in are copied. Thread safety: none.
 */
#ifndef MEVI_PROTO_SUMMARY_H
#define MEVI_PROTO_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "event.h"

/* Call sites listed at the peak and at exit. */
#define SUMMARY_TOP 10

enum summary_format {
	SUMMARY_TEXT = 0,
	SUMMARY_JSON = 1,
};

/* What the launcher knows about its own cost; zero fields are left out. */
struct summary_overhead {
	uint64_t wall_ns;    /* the session's length as the launcher saw it */
	uint64_t events;     /* events sent, after coalescing */
	uint64_t bytes_sent; /* bytes of batches */
	uint64_t stops;	     /* ptrace stops handled */
	uint64_t faults;     /* page faults served through userfaultfd */
	uint64_t samples;    /* address spaces scanned by the sampler */
	uint64_t sampler_ns; /* CPU time of the sampler */
	uint64_t untracked;  /* VMAs that could not be registered */
};

struct summary;

/* A new, empty summary. NULL on out-of-memory. */
struct summary *summary_new(void);
void summary_free(struct summary *sm);

/* Applies one event. Returns 0 or -ENOMEM (the event is then ignored;
 * later figures may be low). Invalid ranges are ignored. */
int summary_feed(struct summary *sm, const struct mevi_event *ev);

/* Decodes one msgpack batch (an array of events) and feeds its events.
 * Returns 0, -EBADMSG (undecodable: ignored) or -ENOMEM. */
int summary_feed_batch(struct summary *sm, const void *batch, size_t len);

/* The session's URL ("http://127.0.0.1:5001/"); NULL or "" for none. */
void summary_set_url(struct summary *sm, const char *url);

/* A short note on where the data came from ("recording FILE"). */
void summary_set_source(struct summary *sm, const char *source);

/* The launcher's cost figures (copied). */
void summary_set_overhead(struct summary *sm, const struct summary_overhead *oh);

/*
 * Finishes the counts (what live processes still hold counts as "at exit")
 * and writes the report to f. May be called once; later feeds are ignored.
 * Returns 0 or -EIO when f reports a write error.
 */
int summary_write(struct summary *sm, FILE *f, enum summary_format fmt);

/* Parses "text" or "json". Returns the format or -EINVAL. */
int summary_format_parse(const char *s);

#endif /* MEVI_PROTO_SUMMARY_H */
