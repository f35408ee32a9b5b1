/*
 * sampler — the timer of sampled mode: every interval it asks its owner to
 * re-read the tracees once, measures what that cost in CPU, and adapts the
 * interval so that scanning stays within a CPU budget (2% of one core).
 *
 * The interval doubles as soon as a tick and the smoothed cost (an EWMA,
 * weight 1/4) are both over budget, up to 10 s; it halves, never below the
 * interval asked for, only when the smoothed cost would still be under a
 * quarter of the budget at half the interval and 20 ticks have passed since
 * the last change, so a cost near a boundary does not flap. Each change is
 * a sampling event when announced (sampled mode, not an exact attach).
 */
#ifndef MEVI_LAUNCHER_SAMPLER_H
#define MEVI_LAUNCHER_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct outbox;
struct sampler;

/* Re-reads every traced address space once (one tick's work). */
typedef void (*sampler_tick_fn)(void *ctx);

/*
 * Starts ticking every ms milliseconds (1 when 0), calling tick(ctx). With
 * announce, interval changes are emitted into out as sampling events of
 * launcher_pid. Returns the sampler (the caller frees it with sampler_free),
 * or NULL on out-of-memory.
 */
struct sampler *sampler_new(struct event_base *base, struct outbox *out, unsigned ms,
			    pid_t launcher_pid, bool announce, sampler_tick_fn tick, void *ctx);

/* Stops ticking for good (detaching); the figures stay readable. */
void sampler_stop(struct sampler *s);

/* Stops and frees s; NULL is ignored. */
void sampler_free(struct sampler *s);

/* The current interval, in ms. */
unsigned sampler_interval(const struct sampler *s);

/* CPU spent in ticks, ticks made, and interval changes so far. */
void sampler_cost(const struct sampler *s, uint64_t *cpu_ns, uint64_t *ticks, unsigned *changes);

#endif /* MEVI_LAUNCHER_SAMPLER_H */
