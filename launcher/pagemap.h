/*
 * pagemap — which pages of a range are present, read from the kernel.
 *
 * "Present" is mevi's meaning of resident (see DESIGN.md, "Truth"): the
 * present bit of /proc/PID/pagemap. Uses the PAGEMAP_SCAN ioctl (Linux 6.7+,
 * ~10 ns per present page, ~10 us per empty GiB) when the kernel has it,
 * otherwise reads 8-byte pagemap entries.
 */
#ifndef MEVI_LAUNCHER_PAGEMAP_H
#define MEVI_LAUNCHER_PAGEMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct pagemap {
	int fd; /* /proc/PID/pagemap, opened for this mm (-1: not yet) */
	pid_t pid;
	bool use_scan;
};

/* Opens /proc/PID/pagemap; whether the kernel has PAGEMAP_SCAN is probed at
 * the first open that can tell. Returns 0 or -errno. */
int pagemap_open(struct pagemap *pm, pid_t pid);

/* As pagemap_open, but the file is opened at the first read (see
 * vma_source_defer): then -ESRCH when pid has gone. */
void pagemap_defer(struct pagemap *pm, pid_t pid);

/* pm's descriptor, opened now if it was deferred: the fd, or -errno. */
int pagemap_fd(struct pagemap *pm);
void pagemap_close(struct pagemap *pm);

/*
 * Calls fn(start, end, ctx) for every maximal run of present pages inside
 * [start, end), in address order, each page exactly once. fn returns 0 to
 * continue or a negative error to stop. Returns 0 or -errno.
 */
typedef int (*pagemap_run_fn)(uint64_t start, uint64_t end, void *ctx);
int pagemap_present(struct pagemap *pm, uint64_t start, uint64_t end, pagemap_run_fn fn, void *ctx);

/*
 * Sampled mode: calls fn(start, end, state, ctx) for every maximal run of
 * pages of [start, end) that are present (MEVI_STATE_RESIDENT) or in swap
 * (MEVI_STATE_SWAPPED), in address order; pages in neither state are not
 * reported. Returns 0 or -errno.
 */
typedef int (*pagemap_state_fn)(uint64_t start, uint64_t end, uint8_t state, void *ctx);
int pagemap_states(struct pagemap *pm, uint64_t start, uint64_t end, pagemap_state_fn fn,
		   void *ctx);

#endif /* MEVI_LAUNCHER_PAGEMAP_H */
