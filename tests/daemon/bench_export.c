/*
 * bench_export — prints the size and time of each export of daemon/export.h
 * (trace-event, folded live and at T/2, summary JSON) for a session of N
 * events (default 10,000,000; argv[1] overrides), and the time of /metrics'
 * exposition. Not a test: it prints numbers.
 *
 * Workload (bench_history.c's, plus call stacks): 4 processes, each with 64
 * mappings of 4 MiB mapped by 64 different stacks (8 frames), faulting runs
 * of 1-4 pages mostly in sequence (10 % jumps, 2 % drops of 16 pages),
 * 100-2000 ns apart; every 20,000 events one mapping is unmapped and mapped
 * again (mmap and munmap instants).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "eventlog.h"
#include "export.h"
#include "memmap.h"
#include "metrics.h"
#include "session.h"

#define PG    UINT64_C(4096)
#define MAPS  64
#define MAPPG (UINT64_C(1024)) /* 4 MiB */

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

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* the machine is shared */
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void apply(struct session_registry *reg, struct session *s, struct mevi_event *ev)
{
	if (session_apply(reg, s, ev) < 0) {
		fprintf(stderr, "bench_export: an event was refused\n");
		exit(1);
	}
}

static void map_one(struct session_registry *reg, struct session *s, int p, int m, uint64_t ts)
{
	uint64_t start = UINT64_C(0x7f0000000000) + ((uint64_t)p * MAPS + (uint64_t)m) * MAPPG * PG;
	struct mevi_event ev = {.type = MEVI_EV_MAP, .pid = 100 + p, .ts = ts};

	ev.map.range.start = start;
	ev.map.range.end = start + MAPPG * PG;
	apply(reg, s, &ev);
	ev = (struct mevi_event){.type = MEVI_EV_ORIGIN, .pid = 100 + p, .ts = ts};
	ev.origin.range.start = start;
	ev.origin.range.end = start + MAPPG * PG;
	ev.origin.stack_id = (uint32_t)(p * MAPS + m + 1);
	apply(reg, s, &ev);
}

static void run(const char *what, const struct session *s, struct export_request *rq)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	double a = now_s();
	int ret = export_write(s, rq, f);

	fclose(f);
	printf("%-28s %s %10zu bytes in %8.1f ms CPU\n", what, ret ? "FAILED" : "", len,
	       (now_s() - a) * 1e3);
	free(buf);
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
	uint64_t cursor[4] = {0, 0, 0, 0}, ts = 0, total = (uint64_t)MAPS * MAPPG;
	char fn[8][32], mod[] = "bench";
	struct mevi_frame frames[8];
	double t0;
	void *other;

	eventlog_budget_init(&budget, SIZE_MAX);
	session_registry_init(&reg, 10, NULL, NULL);
	checkpoint_keep_history(&reg, &budget);
	reg.quiet = true;
	session_registry_start(&reg, &ev, &conn, &s, &other);
	for (uint32_t id = 1; id <= 4 * MAPS; id++) {
		for (int k = 0; k < 8; k++) {
			snprintf(fn[k], sizeof(fn[k]), k == 0 ? "leaf_%u+0x10" : "fn_%u_%d+0x4",
				 k == 0 ? id : id % (8u >> (k > 3 ? 3 : k)), k);
			frames[k] = (struct mevi_frame){0x400000 + id * 16 + (uint64_t)k,
							{fn[k], (uint32_t)strlen(fn[k])},
							{mod, 5},
							{NULL, 0}};
		}
		ev = (struct mevi_event){.type = MEVI_EV_STACK, .pid = 100};
		ev.stack.id = id;
		ev.stack.nframes = 8;
		ev.stack.frames = frames;
		apply(&reg, s, &ev);
	}
	for (int p = 0; p < 4; p++) {
		ev = (struct mevi_event){.type = MEVI_EV_PROC_START, .pid = 100 + p, .ts = ts};
		ev.proc_start.ppid = 1;
		apply(&reg, s, &ev);
		for (int m = 0; m < MAPS; m++)
			map_one(&reg, s, p, m, ts);
	}
	t0 = now_s();
	for (uint64_t i = eventlog_events(s->log); i < n; i++) {
		int p = (int)(rnd() % 4);
		uint64_t r = rnd() % 100, len = 1 + rnd() % 4;
		uint64_t start;

		ts += 100 + rnd() % 1900;
		if (i % 20000 == 0) {
			int m = (int)(rnd() % MAPS);
			uint64_t a = UINT64_C(0x7f0000000000) +
				     ((uint64_t)p * MAPS + (uint64_t)m) * MAPPG * PG;

			ev = (struct mevi_event){.type = MEVI_EV_UNMAP, .pid = 100 + p, .ts = ts};
			ev.unmap.range.start = a;
			ev.unmap.range.end = a + MAPPG * PG;
			apply(&reg, s, &ev);
			map_one(&reg, s, p, m, ts);
			i += 2;
			continue;
		}
		if (r < 10)
			cursor[p] = rnd() % (total - 16);
		if (cursor[p] + 16 >= total)
			cursor[p] = 0;
		start = UINT64_C(0x7f0000000000) + ((uint64_t)p * total + cursor[p]) * PG;
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
		apply(&reg, s, &ev);
	}
	printf(
	    "session: %llu events over %.1f s of session time, built in %.1f s CPU; %zu ranges in "
	    "process 100; history %.1f MiB\n",
	    (unsigned long long)eventlog_events(s->log), (double)ts / 1e9, now_s() - t0,
	    memmap_count(session_find_process(s, 100)->map),
	    (double)eventlog_total_bytes(s->log) / 1048576.0);
	{
		struct export_request rq = {.format = EXPORT_TRACE_EVENT};

		run("trace-event", s, &rq);
		rq.has_pid = true;
		rq.pid = 101;
		run("trace-event pid=101", s, &rq);
		rq = (struct export_request){.format = EXPORT_FOLDED};
		run("folded (live)", s, &rq);
		rq.has_at = true;
		rq.at = ts / 2;
		run("folded at=T/2", s, &rq);
		rq = (struct export_request){.format = EXPORT_SUMMARY_JSON};
		run("summary-json", s, &rq);
	}
	{
		struct metrics_daemon d = {0};
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		double a = now_s();

		metrics_write(&reg, &d, METRICS_MAX_PROCESSES, f);
		fclose(f);
		printf("%-28s  %10zu bytes in %8.1f ms CPU\n", "/metrics exposition", len,
		       (now_s() - a) * 1e3);
		free(buf);
	}
	session_registry_destroy(&reg);
	return 0;
}
