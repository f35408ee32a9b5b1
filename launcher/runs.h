/*
 * runs — merges a sorted stream of address ranges into maximal runs.
 *
 * Producers (the pagemap scan, the VMA walk) hand over ranges in address
 * order; adjacent ones are joined and each maximal run is passed once to the
 * consumer's callback.
 */
#ifndef MEVI_LAUNCHER_RUNS_H
#define MEVI_LAUNCHER_RUNS_H

#include <stdint.h>

/* Receives one run; returns 0 to continue or a negative error to stop. */
typedef int (*run_fn)(uint64_t start, uint64_t end, void *ctx);

struct run_merger {
	uint64_t start, end; /* the run being built; empty when start == end */
	run_fn fn;
	void *ctx;
};

/* Adds [s, e), which must not start before the previous range ended.
 * Returns 0 or the callback's error. */
static inline int run_merger_add(struct run_merger *m, uint64_t s, uint64_t e)
{
	int err;

	if (m->end == s && m->end > m->start) {
		m->end = e;
		return 0;
	}
	if (m->end > m->start) {
		err = m->fn(m->start, m->end, m->ctx);
		if (err)
			return err;
	}
	m->start = s;
	m->end = e;
	return 0;
}

/* Passes on the last run. Returns 0 or the callback's error. */
static inline int run_merger_finish(struct run_merger *m)
{
	if (m->end > m->start)
		return m->fn(m->start, m->end, m->ctx);
	return 0;
}

#endif /* MEVI_LAUNCHER_RUNS_H */
