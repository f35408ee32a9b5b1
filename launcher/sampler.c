/* sampler — sampled mode's timer, and its CPU-budget backoff with hysteresis. */
#include "sampler.h"

#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "event.h"
#include "log.h"
#include "outbox.h"

#define SAMPLE_BUDGET 0.02 /* of one core: the sampler backs off above it */
#define SAMPLE_MAX_MS 10000
#define SAMPLE_SETTLE 20 /* ticks between two interval changes downwards */

struct sampler {
	struct event *ev;
	struct outbox *out;
	sampler_tick_fn tick;
	void *ctx;
	pid_t launcher_pid;
	bool announce; /* interval changes are sampling events */
	bool stopped;
	unsigned ms, base_ms; /* now, and as asked for */
	uint64_t cpu_ns, ticks;
	uint64_t ewma_ns;    /* smoothed cost of a tick */
	uint64_t changed_at; /* tick of the last interval change */
	unsigned changes;    /* interval changes, for the logs */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void arm(struct sampler *s)
{
	struct timeval tv = {s->ms / 1000, (s->ms % 1000) * 1000};

	evtimer_add(s->ev, &tv);
}

static void set_interval(struct sampler *s, unsigned ms, uint64_t cost_ns)
{
	struct mevi_event ev = {.type = MEVI_EV_SAMPLING, .pid = s->launcher_pid};

	if (ms == s->ms)
		return;
	/* The first change is news; later ones are in the closing line. */
	if (s->changes++ == 0 && ms > s->ms)
		log_info("a scan takes %.2f ms of CPU, over %.0f%% of a core at %u ms: "
			 "sampling every %u ms",
			 (double)cost_ns / 1e6, SAMPLE_BUDGET * 100, s->ms, ms);
	else
		log_debug("scans take %.2f ms: sampling every %u ms", (double)cost_ns / 1e6, ms);
	s->ms = ms;
	s->changed_at = s->ticks;
	ev.sampling.sample_ms = ms;
	if (s->announce)
		outbox_emit(s->out, &ev);
}

/* Adapts the interval to the CPU budget after a tick that cost cost ns (the
 * rule is in sampler.h). */
static void adapt(struct sampler *s, uint64_t cost)
{
	uint64_t budget = (uint64_t)((double)s->ms * 1e6 * SAMPLE_BUDGET);

	s->ewma_ns = s->ticks == 1 ? cost : (3 * s->ewma_ns + cost) / 4;
	if (cost > budget && s->ewma_ns > budget && s->ms < SAMPLE_MAX_MS)
		set_interval(s, s->ms * 2 > SAMPLE_MAX_MS ? SAMPLE_MAX_MS : s->ms * 2, cost);
	else if (s->ewma_ns * 8 < budget && s->ms > s->base_ms &&
		 s->ticks - s->changed_at >= SAMPLE_SETTLE)
		set_interval(s, s->ms / 2 < s->base_ms ? s->base_ms : s->ms / 2, s->ewma_ns);
}

/* One tick: the owner re-reads, then the interval adapts to what it cost. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sampler *s = arg;
	uint64_t t0 = thread_cpu_ns(), cost;

	s->tick(s->ctx);
	cost = thread_cpu_ns() - t0;
	s->cpu_ns += cost;
	s->ticks++;
	adapt(s, cost);
	if (!s->stopped)
		arm(s);
}

struct sampler *sampler_new(struct event_base *base, struct outbox *out, unsigned ms,
			    pid_t launcher_pid, bool announce, sampler_tick_fn tick, void *ctx)
{
	struct sampler *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->out = out;
	s->tick = tick;
	s->ctx = ctx;
	s->launcher_pid = launcher_pid;
	s->announce = announce;
	s->ms = s->base_ms = ms ? ms : 1;
	s->ev = evtimer_new(base, tick_cb, s);
	if (!s->ev) {
		free(s);
		return NULL;
	}
	arm(s);
	return s;
}

void sampler_stop(struct sampler *s)
{
	s->stopped = true;
	event_del(s->ev);
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	event_free(s->ev);
	free(s);
}

unsigned sampler_interval(const struct sampler *s)
{
	return s->ms;
}

void sampler_cost(const struct sampler *s, uint64_t *cpu_ns, uint64_t *ticks, unsigned *changes)
{
	*cpu_ns = s->cpu_ns;
	*ticks = s->ticks;
	*changes = s->changes;
}
