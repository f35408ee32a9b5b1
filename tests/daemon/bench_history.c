/*
 * bench_history — prints the cost of mevid's history (daemon/eventlog.h):
 * bytes kept per event (log + checkpoints) and the latency of rebuilding the
 * state at a random time, for a session of N events (default 10,000,000;
 * argv[1] overrides). Not a test: it prints numbers.
 *
 * Workload: 4 processes, each with a 1 GiB mapping, faulting runs of 1-4
 * pages mostly in sequence (10 % random jumps, 2 % MADV_DONTNEED-style drops
 * of 16 pages), 100-2000 ns apart, as a coalescing launcher sends them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "api_state.h"
#include "checkpoint.h"
#include "eventlog.h"
#include "memmap.h"
#include "session.h"

#include <json-c/json.h>

#define PG    UINT64_C(4096)
#define PAGES (UINT64_C(1) << 18) /* 1 GiB */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static char conn;
	static struct mevi_str arg0 = {"bench", 5};
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
	struct eventlog_budget budget;
	struct session_registry reg;
	struct session *s;
	struct mevi_event ev = {
	    .type = MEVI_EV_SESSION_START,
	    .pid = 1,
	    .session_start = {.version = MEVI_PROTO_VERSION, .started_at = 1, .argv = {1, &arg0}}};
	uint64_t cursor[4] = {0, 0, 0, 0}, ts = 0, base = UINT64_C(0x7f0000000000);
	double t0, t1, lat[200];
	void *other;

	eventlog_budget_init(&budget, SIZE_MAX);
	session_registry_init(&reg, 10, NULL, NULL);
	checkpoint_keep_history(&reg, &budget);
	reg.quiet = true;
	session_registry_start(&reg, &ev, &conn, &s, &other);
	for (int p = 0; p < 4; p++) {
		ev = (struct mevi_event){.type = MEVI_EV_MAP, .pid = 100 + p, .ts = ts};
		ev.map.range.start = base + (uint64_t)p * PAGES * PG;
		ev.map.range.end = ev.map.range.start + PAGES * PG;
		ev.map.state = 0;
		session_apply(&reg, s, &ev);
	}
	t0 = now_s();
	for (uint64_t i = 5; i < n; i++) {
		int p = (int)(rnd() % 4);
		uint64_t r = rnd() % 100, len = 1 + rnd() % 4;
		uint64_t start;

		ts += 100 + rnd() % 1900;
		if (r < 10)
			cursor[p] = rnd() % (PAGES - 16);
		if (cursor[p] + 16 >= PAGES)
			cursor[p] = 0;
		start = base + ((uint64_t)p * PAGES + cursor[p]) * PG;
		ev = (struct mevi_event){.type = MEVI_EV_STATE, .pid = 100 + p, .ts = ts};
		if (r < 2) {
			ev.state.range.start = start >= 16 * PG ? start - 16 * PG : start;
			ev.state.range.end = ev.state.range.start + 16 * PG;
			ev.state.state = 0;
		} else {
			ev.state.range.start = start;
			ev.state.range.end = start + len * PG;
			ev.state.state = 1;
			cursor[p] += len;
		}
		session_apply(&reg, s, &ev);
	}
	t1 = now_s();
	printf("events: %llu (ingest with history: %.2f M events/s)\n",
	       (unsigned long long)eventlog_events(s->log),
	       (double)eventlog_events(s->log) / (t1 - t0) / 1e6);
	printf("history: %zu bytes = %.2f bytes/event (checkpoints %zu bytes in %u, %.2f "
	       "bytes/event; log %.2f bytes/event); %.1f MiB per million events\n",
	       eventlog_total_bytes(s->log),
	       (double)eventlog_total_bytes(s->log) / (double)eventlog_events(s->log),
	       eventlog_ckpt_bytes(s->log), eventlog_ckpt_count(s->log),
	       (double)eventlog_ckpt_bytes(s->log) / (double)eventlog_events(s->log),
	       (double)(eventlog_total_bytes(s->log) - eventlog_ckpt_bytes(s->log)) /
		   (double)eventlog_events(s->log),
	       (double)eventlog_total_bytes(s->log) / (double)eventlog_events(s->log) * 1e6 /
		   1048576.0);
	printf("final state: %zu ranges in process 100\n",
	       memmap_count(session_find_process(s, 100)->map));
	for (int i = 0; i < 200; i++) {
		struct session_registry tmp;
		struct eventlog_pos pos;
		struct session *at;
		uint64_t t = rnd() % (ts + 1);
		double a = now_s();

		checkpoint_state_at(s, t, &tmp, &at, &pos);
		lat[i] = (now_s() - a) * 1e3;
		session_registry_destroy(&tmp);
	}
	qsort(lat, 200, sizeof(lat[0]), cmp_double);
	printf("seek (rebuild the state at a random T, 200 seeks): median %.2f ms, p90 %.2f ms, "
	       "max %.2f ms\n",
	       lat[100], lat[180], lat[199]);
	{
		struct session_registry tmp;
		struct eventlog_pos pos;
		struct session *at;
		struct json_object *j;
		size_t len;
		double a = now_s();

		checkpoint_state_at(s, ts / 2, &tmp, &at, &pos);
		j = api_state_build_at(at, &pos);
		api_json_string(j, &len);
		printf("seek + /api/state JSON at T/2: %.2f ms (%zu bytes of JSON, %u events "
		       "replayed after the checkpoint)\n",
		       (now_s() - a) * 1e3, len, pos.replayed);
		json_object_put(j);
		session_registry_destroy(&tmp);
	}
	session_registry_destroy(&reg);
	return 0;
}
