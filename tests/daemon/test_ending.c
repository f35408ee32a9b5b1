/*
 * Unit tests of how sessions and processes end (daemon/ending.h): the named
 * ways in the registry and in /api/state, no ended process counted as live,
 * the kernel check of a lost launcher's processes (daemon/procfs.h: a real
 * child, then a recycled pid), recordings cut mid-batch (daemon/loader.h),
 * and failed loads that use up no id.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <msgpack.h>

#include "api_state.h"
#include "ending.h"
#include "loader.h"
#include "log.h"
#include "memmap.h"
#include "procfs.h"
#include "recording.h"
#include "session.h"

#define PG   4096u
#define BASE UINT64_C(0x10000000)

static struct mevi_str argv_items[] = {{"prog", 4}};
static const struct mevi_strv prog_argv = {1, argv_items};

static struct mevi_event start_ev(int32_t lpid, uint64_t started_at)
{
	struct mevi_event ev = {.type = MEVI_EV_SESSION_START, .pid = lpid};

	ev.session_start.version = MEVI_PROTO_VERSION;
	ev.session_start.started_at = started_at;
	ev.session_start.argv = prog_argv;
	return ev;
}

static struct mevi_event pstart(int32_t pid, int32_t ppid)
{
	struct mevi_event ev = {.type = MEVI_EV_PROC_START, .pid = pid, .ts = 10};

	ev.proc_start.ppid = ppid;
	ev.proc_start.cmdline = prog_argv;
	return ev;
}

static struct mevi_event resident(int32_t pid, uint64_t pages)
{
	struct mevi_event ev = {.type = MEVI_EV_MAP, .pid = pid, .ts = 20};

	ev.map.range.start = BASE;
	ev.map.range.end = BASE + pages * PG;
	ev.map.state = MEVI_STATE_RESIDENT;
	return ev;
}

static struct mevi_event status_ev(uint8_t type, int32_t pid, int32_t status)
{
	struct mevi_event ev = {.type = type, .pid = pid, .ts = 30};

	ev.session_end.status = status; /* proc_exit.status: same place */
	if (type == MEVI_EV_PROC_EXIT)
		ev.proc_exit.status = status;
	return ev;
}

static struct session *start(struct session_registry *reg, void *conn, int32_t lpid)
{
	struct mevi_event ev = start_ev(lpid, 1000 + (uint64_t)lpid);
	struct session *s = NULL;
	void *other = NULL;

	assert_int_equal(session_registry_start(reg, &ev, conn, &s, &other), 0);
	assert_non_null(s);
	return s;
}

static void apply_ok(struct session_registry *reg, struct session *s, struct mevi_event ev)
{
	assert_int_equal(session_apply(reg, s, &ev), 0);
}

/* The "end" object of session idx (proc < 0) or of its process proc, as JSON text. */
static char *end_json(struct session_registry *reg, int idx, int proc)
{
	struct json_object *root = api_state_build(reg, false, 0);
	struct json_object *s, *o, *end;
	char *text;

	assert_non_null(root);
	s = json_object_array_get_idx(json_object_object_get(root, "sessions"), (size_t)idx);
	assert_non_null(s);
	o = proc < 0
		? s
		: json_object_array_get_idx(json_object_object_get(s, "processes"), (size_t)proc);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "end", &end));
	text = strdup(end ? json_object_to_json_string_ext(end, JSON_C_TO_STRING_PLAIN) : "null");
	json_object_put(root);
	return text;
}

static void assert_end(struct session_registry *reg, int idx, int proc, const char *want)
{
	char *got = end_json(reg, idx, proc);

	if (strcmp(got, want))
		fail_msg("session %d process %d: end %s, want %s", idx, proc, got, want);
	free(got);
}

static void test_names(void **state)
{
	assert_int_equal(ending_from_status(0), ENDING_EXITED);
	assert_int_equal(ending_from_status(3), ENDING_EXITED);
	assert_int_equal(ending_from_status(128), ENDING_EXITED);
	assert_int_equal(ending_from_status(137), ENDING_KILLED);
	assert_int_equal(ending_from_status(192), ENDING_KILLED);
	assert_int_equal(ending_from_status(255), ENDING_EXITED);
	assert_int_equal(ending_from_status(-1), ENDING_DETACHED);
	assert_string_equal(ending_name(ENDING_LAUNCHER_LOST), "launcher_lost");
	assert_string_equal(ending_name(ENDING_RECORDING_CUT), "recording_cut");
	assert_null(ending_name(ENDING_NONE));
	assert_null(ending_name(ENDING_COUNT));
}

/* exited / killed / detached: one named way each, no live process left. */
static void test_session_end_ways(void **state)
{
	struct session_registry reg;
	int c1, c2, c3;
	struct session *s;

	session_registry_init(&reg, 8, NULL, NULL);

	s = start(&reg, &c1, 100);
	apply_ok(&reg, s, pstart(101, 100));
	apply_ok(&reg, s, resident(101, 4));
	apply_ok(&reg, s, status_ev(MEVI_EV_PROC_EXIT, 101, 3));
	apply_ok(&reg, s, status_ev(MEVI_EV_SESSION_END, 100, 3));
	assert_end(&reg, 0, -1, "{\"how\":\"exited\",\"status\":3}");
	assert_end(&reg, 0, 0, "{\"how\":\"exited\",\"status\":3}");

	s = start(&reg, &c2, 200);
	apply_ok(&reg, s, pstart(201, 200));
	apply_ok(&reg, s, status_ev(MEVI_EV_PROC_EXIT, 201, 137));
	apply_ok(&reg, s, status_ev(MEVI_EV_SESSION_END, 200, 137));
	assert_end(&reg, 1, -1, "{\"how\":\"killed\",\"status\":137,\"signal\":9}");
	assert_end(&reg, 1, 0, "{\"how\":\"killed\",\"status\":137,\"signal\":9}");

	/* --pid ... --detach-after: session_end -1 with the process still
	 * tracked: it is no longer alive, and the session is not "exit -1". */
	s = start(&reg, &c3, 300);
	apply_ok(&reg, s, pstart(301, 300));
	apply_ok(&reg, s, resident(301, 8));
	assert_int_equal(s->rss, 8 * PG);
	apply_ok(&reg, s, status_ev(MEVI_EV_SESSION_END, 300, -1));
	assert_false(s->procs_head->alive);
	assert_false(s->procs_head->has_exit_status);
	assert_int_equal(s->procs_head->end_how, ENDING_DETACHED);
	assert_int_equal(s->rss, 0);
	assert_end(&reg, 2, -1, "{\"how\":\"detached\"}");
	/* Not probed (no kernel checks in this registry): running unknown. */
	assert_end(&reg, 2, 0, "{\"how\":\"detached\",\"running\":null}");

	session_registry_destroy(&reg);
}

/* A launcher that vanishes: launcher_lost, processes not alive, rss 0; a
 * pid started again without an exit: replaced. */
static void test_launcher_lost(void **state)
{
	struct session_registry reg;
	int c1;
	struct session *s;

	session_registry_init(&reg, 8, NULL, NULL);
	s = start(&reg, &c1, 400);
	apply_ok(&reg, s, pstart(401, 400));
	apply_ok(&reg, s, resident(401, 16));
	apply_ok(&reg, s, pstart(402, 401));
	apply_ok(&reg, s, pstart(402, 401)); /* pid reused, exit unseen */
	apply_ok(&reg, s, resident(402, 2));
	assert_int_equal(s->rss, 18 * PG);
	session_registry_detach(&reg, s);
	assert_false(s->alive);
	assert_int_equal(s->rss, 0);
	for (struct process *p = s->procs_head; p; p = p->next)
		assert_false(p->alive);
	assert_end(&reg, 0, -1, "{\"how\":\"launcher_lost\"}");
	assert_end(&reg, 0, 0, "{\"how\":\"launcher_lost\",\"running\":null}");
	assert_end(&reg, 0, 1, "{\"how\":\"replaced\"}");
	assert_end(&reg, 0, 2, "{\"how\":\"launcher_lost\",\"running\":null}");

	/* A resume revives the session: no end while it runs. */
	{
		struct mevi_event ev = start_ev(400, 1400);
		struct session *r = NULL;
		void *other = NULL;
		int c2;

		ev.session_start.resume = true;
		assert_int_equal(session_registry_start(&reg, &ev, &c2, &r, &other), 0);
		assert_ptr_equal(r, s);
		assert_end(&reg, 0, -1, "null");
	}
	session_registry_destroy(&reg);
}

/* The kernel check: a real child that runs on is running = true (not alive),
 * is found gone once it exits; a recycled pid (another start time) is never
 * mistaken for the process. */
static void test_kernel_check(void **state)
{
	struct session_registry reg;
	struct session *s;
	struct process *p;
	uint64_t st;
	char letter;
	int c1;
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	session_registry_init(&reg, 8, NULL, NULL);
	reg.probe_kernel = true;
	s = start(&reg, &c1, getpid());
	s->launcher_host_pid = getpid(); /* same pid namespace */
	apply_ok(&reg, s, pstart(child, getpid()));
	apply_ok(&reg, s, pstart(child + 1000000, getpid())); /* no such pid */
	p = s->procs_head;
	assert_int_equal(p->host_pid, child);
	assert_int_equal(procfs_stat(child, &letter, &st), 0);
	assert_int_equal(p->start_time, st);
	assert_int_equal(procfs_running(child, st), 1);
	assert_int_equal(procfs_running(child, st + 1), 0); /* recycled */

	session_registry_detach(&reg, s);
	assert_false(p->alive);
	assert_int_equal(p->running, 1);
	assert_int_equal(p->next->running, -1); /* never seen by the kernel */
	assert_end(&reg, 0, 0, "{\"how\":\"launcher_lost\",\"running\":true}");
	assert_int_equal(session_registry_recheck(&reg), 1);

	kill(child, SIGKILL);
	/* Before it is reaped it is a zombie: gone all the same. */
	for (int i = 0; i < 200 && procfs_running(child, st) == 1; i++)
		usleep(5000);
	assert_int_equal(session_registry_recheck(&reg), 0);
	assert_int_equal(p->running, 0);
	assert_end(&reg, 0, 0, "{\"how\":\"launcher_lost\",\"running\":false}");
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(procfs_running(child, st), 0);

	/* A pid that now names another process (start time differs). Not this
	 * test's own pid: start times count clock ticks (10 ms), and the child
	 * may have been forked within the tick this process started in (CI saw
	 * it once). init started long before. */
	s->procs_head->running = 1;
	reg.running_lost = 1;
	s->procs_head->host_pid = 1;
	assert_int_equal(session_registry_recheck(&reg), 0);
	session_registry_destroy(&reg);
}

/* A recording of three batches. *cuts gets the offsets where batches 2 and 3
 * begin. with_end: the last batch ends the session. */
static void make_recording(msgpack_sbuffer *out, size_t cuts[2], bool with_end)
{
	struct mevi_recording_header h = {MEVI_RECORDING_FORMAT, MEVI_PROTO_VERSION, 1};
	struct mevi_batch_encoder enc;
	struct mevi_event ev;
	msgpack_packer pk;

	msgpack_sbuffer_init(out);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	assert_int_equal(mevi_recording_header_pack(&pk, &h), 0);
	mevi_batch_encoder_init(&enc);
	ev = start_ev(500, 5000);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	ev = pstart(501, 500);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	ev = resident(501, 4);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, out), 0);
	cuts[0] = out->size;
	ev = resident(501, 10);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, out), 0);
	cuts[1] = out->size;
	ev = resident(501, 20);
	assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	if (with_end) {
		ev = status_ev(MEVI_EV_SESSION_END, 500, 0);
		assert_int_equal(mevi_batch_encoder_add(&enc, &ev), 0);
	}
	assert_int_equal(mevi_batch_encoder_finish(&enc, out), 0);
	mevi_batch_encoder_destroy(&enc);
}

/* SIGKILL during --record leaves a partial last batch: everything before it
 * loads, the session says where it was cut. */
static void test_recording_cut(void **state)
{
	struct session_registry reg;
	msgpack_sbuffer rec;
	struct session *s;
	size_t cuts[2];
	char err[300];

	session_registry_init(&reg, 8, NULL, NULL);
	make_recording(&rec, cuts, true);

	/* Whole: ends normally. */
	assert_int_equal(loader_load(&reg, rec.data, rec.size, &s, err, sizeof(err)), 0);
	assert_false(s->cut);
	assert_end(&reg, 0, -1, "{\"how\":\"exited\",\"status\":0}");

	/* Cut 3 bytes into the last batch: the state of batch 2 (10 pages). */
	assert_int_equal(loader_load(&reg, rec.data, cuts[1] + 3, &s, err, sizeof(err)), 0);
	assert_non_null(s);
	assert_int_equal(s->id, 2);
	assert_true(s->cut);
	assert_int_equal(s->cut_at, cuts[1]);
	assert_int_equal(memmap_rss(s->procs_head->map), 10 * PG);
	assert_false(s->procs_head->alive);
	{
		char want[80];

		snprintf(want, sizeof(want), "{\"how\":\"recording_cut\",\"offset\":%zu}", cuts[1]);
		assert_end(&reg, 1, -1, want);
	}
	/* The process of a recording is never checked against this kernel. */
	assert_end(&reg, 1, 0, "{\"how\":\"recording_cut\",\"running\":null}");

	/* Cut on a batch boundary, before the session's end: cut too. */
	assert_int_equal(loader_load(&reg, rec.data, cuts[0], &s, err, sizeof(err)), 0);
	assert_true(s->cut);
	assert_int_equal(s->cut_at, cuts[0]);
	assert_int_equal(memmap_rss(s->procs_head->map), 4 * PG);

	/* Cut inside the first batch: nothing to load, and no id used up. */
	assert_int_equal(loader_load(&reg, rec.data, cuts[0] - 2, &s, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "truncated recording"));
	msgpack_sbuffer_destroy(&rec);
	session_registry_destroy(&reg);
}

/* A load that fails after its session began (a bad batch) gives its id back
 * and leaves the registry as it was. */
static void test_failed_load_uses_no_id(void **state)
{
	struct session_registry reg;
	msgpack_sbuffer rec;
	struct session *s;
	size_t cuts[2];
	char err[300];
	char *bad;

	session_registry_init(&reg, 8, NULL, NULL);
	make_recording(&rec, cuts, true);
	bad = malloc(rec.size);
	assert_non_null(bad);
	memcpy(bad, rec.data, rec.size);
	bad[cuts[1]] = (char)0xc1; /* never used in msgpack */
	assert_int_equal(loader_load(&reg, bad, rec.size, &s, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "byte offset"));
	assert_int_equal(reg.count, 0);
	assert_int_equal(loader_load(&reg, rec.data, rec.size, &s, err, sizeof(err)), 0);
	assert_int_equal(s->id, 1);
	free(bad);
	msgpack_sbuffer_destroy(&rec);
	session_registry_destroy(&reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),	  cmocka_unit_test(test_session_end_ways),
	    cmocka_unit_test(test_launcher_lost), cmocka_unit_test(test_kernel_check),
	    cmocka_unit_test(test_recording_cut), cmocka_unit_test(test_failed_load_uses_no_id),
	};

	log_init("test_ending");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
