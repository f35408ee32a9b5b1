/*
 * Unit tests of checkpoints (daemon/checkpoint.c): a session with every kind
 * of state (processes alive and exited, maps, the four annotation maps,
 * threads, vma names, stacks, sampling, engine) is rebuilt from its last
 * checkpoint alone, equal to the live one; and at every time T the rebuilt
 * state has exactly the processes and ranges the events up to T made.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "checkpoint.h"
#include "event.h"
#include "eventlog.h"
#include "ingest.h"
#include "memmap.h"
#include "session.h"
#include "tagmap.h"

#define LPID 500
#define PG   4096u

static struct mevi_str S(const char *s) {
	return (struct mevi_str){s, (uint32_t)strlen(s)};
}

/* The events of the session, ts = index. */
static size_t
make_events(struct mevi_event *evs, size_t cap)
{
	static struct mevi_frame frames[2] = {
	    {0x401000, {"main+0x1a", 9}, {"prog", 4}, {"prog.c:42", 9}},
	    {0x402000, {"start", 5}, {"libc.so.6", 9}, {NULL, 0}},
	};
	static struct mevi_str argv0[] = {{"prog", 4}};
	size_t n = 0;

#define ADD(...) (evs[n] = (struct mevi_event){__VA_ARGS__}, evs[n].ts = n, n++)
	ADD(.type = MEVI_EV_SESSION_START, .pid = LPID,
	    .session_start = {.version = MEVI_PROTO_VERSION, .started_at = 77, .argv = {1, argv0}});
	ADD(.type = MEVI_EV_ENGINE, .pid = LPID, .engine = {S("ptrace"), 3, 4});
	ADD(.type = MEVI_EV_SAMPLING, .pid = LPID, .sampling = {.sample_ms = 250});
	ADD(.type = MEVI_EV_PROC_START, .pid = 10,
	    .proc_start = {.ppid = LPID, .cmdline = {1, argv0}});
	ADD(.type = MEVI_EV_STACK, .pid = 10, .stack = {.id = 5, .nframes = 2, .frames = frames});
	ADD(.type = MEVI_EV_THREAD, .pid = 10, .thread = {.tid = 11, .name = S("worker")});
	for (uint64_t i = 0; n + 8 < cap && i < 200; i++) {
		struct mevi_range r = {(0x100 + 4 * i) * PG, (0x102 + 4 * i) * PG};

		ADD(.type = MEVI_EV_MAP, .pid = 10,
		    .map = {.range = r, .state = MEVI_STATE_RESIDENT});
		ADD(.type = MEVI_EV_VMA, .pid = 10,
		    .vma = {.range = r,
			    .kind = MEVI_KIND_FILE,
			    .name = S(i % 2 ? "/lib/a" : "/lib/b")});
		ADD(.type = MEVI_EV_ORIGIN, .pid = 10, .origin = {.range = r, .stack_id = 5});
		ADD(.type = MEVI_EV_TOUCH, .pid = 10, .touch = {.range = r, .tid = 11});
		ADD(.type = MEVI_EV_WRITTEN, .pid = 10, .written = {.range = r, .t = n});
		if (i % 7 == 3)
			ADD(.type = MEVI_EV_UNMAP, .pid = 10, .unmap = {.range = r});
		if (i == 50)
			ADD(.type = MEVI_EV_PROC_START, .pid = 20,
			    .proc_start = {.ppid = 10, .flags = MEVI_PROC_INHERIT_MAP});
		if (i == 120)
			ADD(.type = MEVI_EV_PROC_EXIT, .pid = 20, .proc_exit = {.status = 3});
	}
#undef ADD
	return n;
}

static void assert_same_process(const struct process *a, const struct process *b)
{
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->ppid, b->ppid);
	assert_int_equal(a->alive, b->alive);
	assert_int_equal(a->has_exit_status, b->has_exit_status);
	assert_int_equal(a->exit_status, b->exit_status);
	assert_int_equal(a->cmdline.count, b->cmdline.count);
	assert_int_equal(memmap_count(a->map), memmap_count(b->map));
	assert_int_equal(memmap_rss(a->map), memmap_rss(b->map));
	assert_int_equal(tagmap_count(a->vmas), tagmap_count(b->vmas));
	assert_int_equal(tagmap_count(a->origins), tagmap_count(b->origins));
	assert_int_equal(tagmap_count(a->touches), tagmap_count(b->touches));
	assert_int_equal(tagmap_count(a->written), tagmap_count(b->written));
	assert_int_equal(a->threads.n, b->threads.n);
}

static void assert_same_session(const struct session *a, const struct session *b)
{
	const struct process *p = a->procs_head, *q = b->procs_head;

	assert_int_equal(a->id, b->id);
	assert_int_equal(a->launcher_pid, b->launcher_pid);
	assert_int_equal(a->started_at, b->started_at);
	assert_int_equal(a->sample_ms, b->sample_ms);
	assert_string_equal(a->engine, b->engine);
	assert_int_equal(a->engine_corrections, b->engine_corrections);
	assert_int_equal(a->engine_drops, b->engine_drops);
	assert_int_equal(a->argv.count, b->argv.count);
	assert_int_equal(a->nprocs, b->nprocs);
	assert_int_equal(a->rss, b->rss);
	assert_int_equal(a->names.count, b->names.count);
	assert_int_equal(a->stacks.count, b->stacks.count);
	for (; p && q; p = p->next, q = q->next)
		assert_same_process(p, q);
	assert_null(p);
	assert_null(q);
}

static void test_checkpoint_restores_everything(void **state)
{
	static struct mevi_event evs[1400];
	size_t n = make_events(evs, sizeof(evs) / sizeof(evs[0]));
	struct eventlog_budget budget;
	struct session_registry reg, tmp, naive;
	struct eventlog_pos pos;
	struct ingest in, nv;
	struct session *at;
	char conn;

	(void)state;
	eventlog_budget_init(&budget, SIZE_MAX);
	budget.chunk_bytes = 256;
	budget.ckpt_events = 16;
	session_registry_init(&reg, 4, NULL, NULL);
	checkpoint_keep_history(&reg, &budget);
	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_true(ingest_event(&in, &evs[i]) >= 0);
	assert_true(eventlog_ckpt_count(in.session->log) > 3);

	/* The latest state: from the last checkpoint and a few events. */
	assert_int_equal(checkpoint_state_at(in.session, UINT64_MAX, &tmp, &at, &pos), 0);
	assert_true(pos.replayed < pos.applied);
	assert_int_equal(pos.applied, n);
	assert_same_session(in.session, at);
	session_registry_destroy(&tmp);

	/* At every T: the events up to T, applied from scratch. */
	for (uint64_t t = 0; t < n; t += 37) {
		session_registry_init(&naive, 4, NULL, NULL);
		ingest_start(&nv, &naive, INGEST_REPLAY);
		nv.replay_id = in.session->id;
		for (size_t i = 0; i <= t; i++)
			assert_true(ingest_event(&nv, &evs[i]) >= 0);
		assert_int_equal(checkpoint_state_at(in.session, t, &tmp, &at, &pos), 0);
		assert_int_equal(pos.applied, t + 1);
		assert_int_equal(pos.ts, t);
		assert_same_session(nv.session, at);
		session_registry_destroy(&tmp);
		session_registry_destroy(&naive);
	}
	ingest_destroy(&in);
	session_registry_destroy(&reg);
	assert_int_equal(budget.used, 0);
}

/* Without a history, there is no state at T. */
static void test_no_history(void **state)
{
	struct session_registry reg, tmp;
	struct mevi_event ev = {.type = MEVI_EV_SESSION_START,
				.pid = LPID,
				.session_start = {.version = MEVI_PROTO_VERSION}};
	struct eventlog_pos pos;
	struct session *at;
	struct ingest in;
	char conn;

	(void)state;
	session_registry_init(&reg, 4, NULL, NULL);
	assert_int_equal(ingest_init(&in, &reg, &conn, NULL, NULL, NULL), 0);
	assert_int_equal(ingest_event(&in, &ev), 0);
	assert_null(in.session->log);
	assert_int_equal(checkpoint_state_at(in.session, 0, &tmp, &at, &pos), -ENOENT);
	assert_null(at);
	session_registry_destroy(&tmp);
	ingest_destroy(&in);
	session_registry_destroy(&reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checkpoint_restores_everything),
	    cmocka_unit_test(test_no_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
