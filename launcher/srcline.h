/*
 * srcline — the function and "file.c:42" of code addresses, looked up in a
 * worker thread.
 *
 * Reading a module's symbols and line table can take milliseconds to tens of
 * milliseconds the first time (libc's separate debug file: decompressing and
 * indexing its DWARF, 77 ms measured on Debian 12 for the first line
 * lookup). Done at the exit stop that needed it, that time would hold the
 * tracee's thread and the event loop (every page fault of the program waits
 * for the loop). So a new stack event is sent at once with program counters
 * and module names only, and its functions and sources are looked up here,
 * by module file and link-time address, in a thread with its own offline
 * libdwfl session (one per session: a library's debug information is read
 * once, not once per process). Results come back to the event loop, which
 * sends the stack again, complete (proto/PROTOCOL.md: a later stack with a
 * known id replaces it).
 *
 * The worker touches files only, never the tracee, and shares no libdwfl
 * object with the loop thread.
 *
 * Ownership: srcline_new allocates and starts nothing (the thread starts at
 * the first request); srcline_free stops and joins it and drops what is
 * still queued.
 */
#ifndef MEVI_LAUNCHER_SRCLINE_H
#define MEVI_LAUNCHER_SRCLINE_H

#include <stdint.h>

struct event_base;
struct srcline;

/* Called on the loop thread for each finished lookup: func is
 * "function+0xoff", source "file.c:42", each "" when unknown. */
typedef void (*srcline_done_fn)(void *ctx, uint32_t cookie, const char *func, const char *source);

/* NULL on out-of-memory. */
struct srcline *srcline_new(struct event_base *base, srcline_done_fn done, void *ctx);
void srcline_free(struct srcline *s);

/*
 * Queues the lookup of link-time address vaddr in the ELF file path; the
 * function's offset is reported plus adjust (1 for a return address looked
 * up one byte early). Returns 0, or -errno (queue full, no thread): the
 * caller then has no name for it.
 */
int srcline_request(struct srcline *s, const char *path, uint64_t vaddr, unsigned adjust,
		    uint32_t cookie);

/* Waits up to timeout_ms for the queued lookups to finish and delivers
 * their results (the end of the session). */
void srcline_drain(struct srcline *s, unsigned timeout_ms);

#endif /* MEVI_LAUNCHER_SRCLINE_H */
