/*
 * pace — a periodic libevent timer that slows down while it finds nothing to
 * do: its period doubles from base_ms up to max_ms on each idle tick and
 * goes back to base_ms on a busy one. The launcher's timers that poll (the
 * eBPF engine's drain, the outbox's flush) would otherwise wake an idle
 * program's tracker every few milliseconds, each wake-up a context switch,
 * maybe on the CPU the program runs on.
 */
#ifndef MEVI_LAUNCHER_PACE_H
#define MEVI_LAUNCHER_PACE_H

#include <stdbool.h>

struct event;

struct pace {
	struct event *ev; /* EV_PERSIST, without a timeout until pace_start() */
	unsigned base_ms, max_ms;
	unsigned now_ms; /* the period now */
};

/* Sets p up for ev (not added yet). max_ms <= base_ms keeps base_ms fixed. */
void pace_init(struct pace *p, struct event *ev, unsigned base_ms, unsigned max_ms);

/* Adds the timer at base_ms. Returns event_add()'s result. */
int pace_start(struct pace *p);

/* After a tick (or anything that found work): the next period. Re-adding the
 * pending timer reschedules it from now. */
void pace_tick(struct pace *p, bool busy);

#endif /* MEVI_LAUNCHER_PACE_H */
