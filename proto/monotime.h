/*
 * monotime — CLOCK_MONOTONIC in the units its callers count in: the one copy
 * both binaries use for deadlines, spans and their statistics.
 *
 * Never wall-clock time: for what a user reads as a date, see the callers of
 * CLOCK_REALTIME (recordings, history).
 */
#ifndef MEVI_PROTO_MONOTIME_H
#define MEVI_PROTO_MONOTIME_H

#include <stdint.h>
#include <time.h>

/* Now, in nanoseconds since an arbitrary point (boot, on Linux). */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The same in whole milliseconds, signed for deadline arithmetic. */
static inline int64_t mono_ms(void)
{
	return (int64_t)(mono_ns() / 1000000u);
}

#endif
