/*
 * history — a bounded, downsampled time series of (ts, value) points, used
 * for the RSS-over-time chart of processes and sessions.
 *
 * At most cap points are kept, oldest first. Points are at least `spacing`
 * ns apart, except the last one, which always holds the latest value: a new
 * sample closer than `spacing` to the previous point overwrites the last
 * point. When the series is full, every other point is dropped (the first and
 * the last are kept) and `spacing` doubles, so a long-running process keeps a
 * history of its whole life at a coarser and coarser resolution, in bounded
 * memory.
 *
 * Memory is allocated lazily on the first sample and grown in steps up to
 * cap points. Thread safety: none.
 */
#ifndef MEVI_DAEMON_HISTORY_H
#define MEVI_DAEMON_HISTORY_H

#include <stdint.h>

struct history_point {
	uint64_t ts;
	uint64_t value;
};

struct history {
	struct history_point *pts; /* owned */
	uint32_t n;
	uint32_t alloc;
	uint32_t cap;	  /* maximum number of points, >= 4 */
	uint64_t spacing; /* ns */
};

/* Initial spacing between points: 1 ms. */
#define HISTORY_INITIAL_SPACING_NS UINT64_C(1000000)

/* Initialises an empty series holding at most cap points (>= 4). */
void history_init(struct history *h, uint32_t cap);

/* Frees the points; h may be reused after history_init(). */
void history_destroy(struct history *h);

/* Removes every point; keeps cap. */
void history_reset(struct history *h);

/*
 * Records value at ts. A ts lower than the last point's is treated as equal
 * to it (time never goes backwards in a series). Returns 0 or -ENOMEM.
 */
int history_add(struct history *h, uint64_t ts, uint64_t value);

#endif /* MEVI_DAEMON_HISTORY_H */
