/*
 * Unit tests of mevid's history (daemon/eventlog.h, daemon/loader.h,
 * proto/recording.h): the state rebuilt at time T equals a naive replay of
 * the events up to T, across chunk and checkpoint boundaries; the budget
 * spills live sessions and evicts ended ones; recordings round-trip and bad
 * files are refused with a clear message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <msgpack.h>

#include "api_state.h"
#include "checkpoint.h"
#include "eventlog.h"
#include "loader.h"
#include "memmap.h"
#include "recording.h"
#include "session.h"
#include "snapshot.h"

#define PG   4096u
#define BASE UINT64_C(0x10000000)

static struct mevi_str argv_items[] = {{"prog", 4}, {"--flag", 6}};
static const struct mevi_strv prog_argv = {2, argv_items};
static struct mevi_str exec_items[] = {{"child", 5}};
static const struct mevi_strv exec_cmd = {1, exec_items};

static char conn_a, conn_b;

/* Strings and frames of the annotation events (version 2). */
static const char *const vma_names[] = {"",	"/usr/lib/libc.so.6", "[anon:arena]",
					"1234", "/dev/shm/x",	      "[vdso]"};
static struct mevi_frame gen_frames[4] = {
    {0x401000, {"main+0x10", 9}, {"prog", 4}, {"prog.c:42", 9}},
    {0x7f0000001000, {"malloc+0x2a", 11}, {"libc.so.6", 9}, {NULL, 0}},
    {0x7f0000002000, {"", 0}, {"libc.so.6", 9}, {"", 0}},
    {0x7f0000003000, {"start", 5}, {"", 0}, {NULL, 0}},
};
static const char *const thread_names[] = {"main", "worker-1", "worker-2", ""};

/* --- a random session ------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static struct mevi_range rnd_range(void)
{
	uint64_t s = rnd() % 200, len = 1 + rnd() % 24;

	return (struct mevi_range){BASE + s * PG, BASE + (s + len) * PG};
}

/* Generates n events (the first a session_start, the last a session_end when
 * end) into evs. Timestamps mostly grow, sometimes repeat, rarely go back. */
static void gen_events(struct mevi_event *evs, size_t n, bool end)
{
	int32_t pids[32] = {1000};
	int npids = 1, next_pid = 1001;
	uint64_t ts = 0;

	evs[0] = (struct mevi_event){.type = MEVI_EV_SESSION_START,
				     .pid = 999,
				     .ts = 0,
				     .session_start = {.version = MEVI_PROTO_VERSION,
						       .started_at = 1700000000000000000ull,
						       .argv = prog_argv,
						       .sample_ms = (uint32_t)(rnd() % 3) * 50}};
	for (size_t i = 1; i < n; i++) {
		struct mevi_event *e = &evs[i];
		unsigned r = (unsigned)(rnd() % 100);
		int32_t pid = pids[rnd() % (uint64_t)npids];

		switch (rnd() % 10) {
		case 0:
			break; /* same ts */
		case 1:
			ts = ts > 500 ? ts - 500 : 0; /* backwards: counts as the max */
			break;
		default:
			ts += 1 + rnd() % 1000;
		}
		memset(e, 0, sizeof(*e));
		e->pid = pid;
		e->ts = ts;
		if (end && i == n - 1) {
			e->type = MEVI_EV_SESSION_END;
			e->pid = 999;
			e->session_end.status = 3;
		} else if (r < 4 && npids < 32) {
			e->type = MEVI_EV_PROC_START;
			e->pid = next_pid++;
			e->proc_start.ppid = pid;
			e->proc_start.flags = rnd() % 2;
			e->proc_start.cmdline = prog_argv;
			pids[npids++] = e->pid;
		} else if (r < 6) {
			e->type = MEVI_EV_PROC_EXEC;
			e->proc_exec.cmdline = exec_cmd;
		} else if (r < 8) {
			e->type = MEVI_EV_PROC_EXIT;
			e->proc_exit.status = (int32_t)(rnd() % 256);
		} else if (r < 9) {
			e->type = MEVI_EV_STATE; /* an unknown pid: implicit creation */
			e->pid = 5000 + (int32_t)(rnd() % 4);
			e->state.range = rnd_range();
			e->state.state = 1;
		} else if (r < 30) {
			e->type = MEVI_EV_MAP;
			e->map.range = rnd_range();
			e->map.state = (uint8_t)(rnd() % 3);
		} else if (r < 38) {
			e->type = MEVI_EV_UNMAP;
			e->unmap.range = rnd_range();
		} else if (r < 44) {
			e->type = MEVI_EV_REMAP;
			e->remap.from = rnd_range();
			e->remap.to = rnd_range();
		} else if (r < 50) {
			const char *name = vma_names[rnd() % 6];

			e->type = MEVI_EV_VMA;
			e->vma.range = rnd_range();
			e->vma.kind = (uint8_t)(rnd() % MEVI_KIND_COUNT);
			e->vma.name = (struct mevi_str){name, (uint32_t)strlen(name)};
		} else if (r < 54) {
			e->type = MEVI_EV_ORIGIN;
			e->origin.range = rnd_range();
			e->origin.stack_id = (uint32_t)(rnd() % 8); /* some never defined */
		} else if (r < 60) {
			e->type = MEVI_EV_TOUCH;
			e->touch.range = rnd_range();
			e->touch.tid = rnd() % 2 ? pid : pid + 1 + (int32_t)(rnd() % 3);
		} else if (r < 62) {
			const char *name = thread_names[rnd() % 4];

			e->type = MEVI_EV_THREAD;
			e->thread.tid = pid + (int32_t)(rnd() % 3);
			e->thread.name = (struct mevi_str){name, (uint32_t)strlen(name)};
		} else if (r < 64) {
			e->type = MEVI_EV_STACK; /* ids 0..5, redefined now and then */
			e->stack.id = (uint32_t)(rnd() % 6);
			e->stack.nframes = (uint32_t)(rnd() % 5);
			e->stack.frames = gen_frames;
		} else if (r < 65) {
			e->type = MEVI_EV_SAMPLING;
			e->pid = 999;
			e->sampling.sample_ms = (uint32_t)(1 + rnd() % 1000);
		} else if (r < 70) {
			e->type = MEVI_EV_WRITTEN; /* version 3: heat */
			e->written.range = rnd_range();
			e->written.t = ts * 1000 + rnd() % 3000000; /* ms resolution kept */
		} else {
			e->type = MEVI_EV_STATE;
			e->state.range = rnd_range();
			e->state.state = (uint8_t)(rnd() % MEVI_STATE_COUNT);
		}
	}
}

/* Applies evs[0..n) to reg with connection conn. Returns the session. */
static struct session *apply_all(struct session_registry *reg, const struct mevi_event *evs,
				 size_t n, void *conn)
{
	struct session *s = NULL;
	void *other;

	assert_int_equal(session_registry_start(reg, &evs[0], conn, &s, &other), 0);
	for (size_t i = 1; i < n; i++)
		assert_true(session_apply(reg, s, &evs[i]) >= 0);
	return s;
}

/* The JSON of the one session of root, without the fields a replay or a
 * reload may change (id, history, recorded). Returned string is malloc'd. */
static char *session_json(struct json_object *root)
{
	struct json_object *s =
	    json_object_array_get_idx(json_object_object_get(root, "sessions"), 0);
	char *out;

	assert_non_null(s);
	json_object_object_del(s, "id");
	json_object_object_del(s, "history");
	json_object_object_del(s, "recorded");
	out = strdup(json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return out;
}

/* json + "\n" + the hex of the annotation fields of reg's websocket
 * snapshot: per session sample_ms and stacks (all of them, also those no
 * origin names, which the JSON leaves out), per process vmas, origins,
 * touches, threads and written. (The snapshot's rss_history is not compared: a
 * replay from a checkpoint starts its rss history there.) Takes json. */
static char *with_snapshot(char *json, const struct session_registry *reg)
{
	msgpack_sbuffer sb, sel;
	msgpack_packer pk;
	msgpack_unpacked up;
	msgpack_object sessions;
	size_t off = 0, len = strlen(json);
	char *out;

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&sel);
	msgpack_packer_init(&pk, &sel, msgpack_sbuffer_write);
	assert_int_equal(snapshot_encode(reg, 0, &sb), 0);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	sessions = up.data.via.array.ptr[3];
	for (uint32_t i = 0; i < sessions.via.array.size; i++) {
		msgpack_object s = sessions.via.array.ptr[i], procs;

		assert_int_equal(s.via.array.size, 12);
		msgpack_pack_object(&pk, s.via.array.ptr[9]);
		msgpack_pack_object(&pk, s.via.array.ptr[10]);
		procs = s.via.array.ptr[7];
		for (uint32_t j = 0; j < procs.via.array.size; j++) {
			assert_int_equal(procs.via.array.ptr[j].via.array.size, 12);
			for (uint32_t k = 7; k < 12; k++) /* annotations, threads, written */
				msgpack_pack_object(&pk, procs.via.array.ptr[j].via.array.ptr[k]);
		}
	}
	out = malloc(len + 2 + 2 * sel.size);
	assert_non_null(out);
	memcpy(out, json, len);
	out[len++] = '\n';
	for (size_t i = 0; i < sel.size; i++)
		len += (size_t)sprintf(out + len, "%02x", (unsigned char)sel.data[i]);
	out[len] = '\0';
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&sel);
	free(json);
	return out;
}

/* The naive answer: a fresh registry fed the events whose time <= at. */
static char *naive_at(const struct mevi_event *evs, size_t n, uint64_t at)
{
	struct session_registry reg;
	struct session *s = NULL;
	uint64_t max = 0;
	void *other;
	char *json;

	session_registry_init(&reg, 100, NULL, NULL);
	reg.quiet = true;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = evs[i].ts > max ? evs[i].ts : max;

		if (i > 0) {
			struct process *p = session_find_process(s, evs[i].pid);

			/* mevid drops (and does not log) an event for an exited
			 * process: it changes nothing and its ts does not count. */
			if (evs[i].type != MEVI_EV_PROC_START &&
			    evs[i].type != MEVI_EV_SESSION_END && evs[i].type != MEVI_EV_STACK &&
			    evs[i].type != MEVI_EV_SAMPLING && p && !p->alive && !s->ended)
				continue;
			if (t > at)
				break;
		}
		/* An event mevid drops (for an exited process) changes nothing and
		 * is not logged: its ts does not count either. */
		if (i == 0) {
			assert_int_equal(session_registry_start(&reg, &evs[0], &conn_b, &s, &other),
					 0);
			max = t;
		} else {
			int ret = session_apply(&reg, s, &evs[i]);

			assert_true(ret >= 0);
			if (ret == 0)
				max = t;
		}
	}
	json = session_json(api_state_build(&reg, false, 0));
	s->id = 1;
	json = with_snapshot(json, &reg);
	session_registry_destroy(&reg);
	return json;
}

static char *replayed_at(const struct session *live, uint64_t at, struct eventlog_pos *pos)
{
	struct session_registry tmp;
	struct eventlog_pos p;
	struct session *s;
	char *json;

	assert_int_equal(checkpoint_state_at(live, at, &tmp, &s, pos ? pos : &p), 0);
	json = session_json(api_state_build_at(s, pos ? pos : &p));
	s->id = 1;
	json = with_snapshot(json, &tmp);
	session_registry_destroy(&tmp);
	return json;
}

/* Checks every distinct time of evs (and one before, one after). */
static void check_all_times(const struct session *live, const struct mevi_event *evs, size_t n,
			    size_t step)
{
	uint64_t max = 0;

	for (size_t i = 0; i < n; i += step) {
		/* the same probe times as naive_at's own: by event order */
		uint64_t t = evs[i].ts > max ? evs[i].ts : max;
		uint64_t probes[3] = {t ? t - 1 : 0, t, t + 1};

		max = t;
		for (int k = 0; k < 3; k++) {
			char *want = naive_at(evs, n, probes[k]);
			char *got = replayed_at(live, probes[k], NULL);

			if (strcmp(want, got) != 0)
				fprintf(stderr, "at %llu (event %zu):\nwant %s\ngot  %s\n",
					(unsigned long long)probes[k], i, want, got),
				    fail();
			free(want);
			free(got);
		}
	}
}

/* Every event time is checked, unless MEVI_HISTORY_STEP=K asks for every K-th
 * (the valgrind pass of .ci/test: the naive replay is quadratic, and every code
 * path is still crossed with K = 7). */
static size_t time_step(void)
{
	const char *v = getenv("MEVI_HISTORY_STEP");
	long k = v ? strtol(v, NULL, 10) : 1;

	return k > 1 ? (size_t)k : 1;
}

/* --- tests ------------------------------------------------------------------- */

/* Replay equals naive replay at every time, with tiny chunks and checkpoint
 * intervals so that many chunk and checkpoint boundaries are crossed. */
static void test_replay_matches_naive(void **state)
{
	enum { N = 1500 };
	static struct mevi_event evs[N];
	struct eventlog_budget budget;
	struct session_registry reg;
	struct session *s;

	for (int round = 0; round < 3; round++) {
		eventlog_budget_init(&budget, SIZE_MAX);
		budget.chunk_bytes = round == 0 ? 64 : 512;
		budget.ckpt_events = round == 2 ? 1 : 20;
		session_registry_init(&reg, 100, NULL, NULL);
		reg.quiet = true;
		checkpoint_keep_history(&reg, &budget);
		gen_events(evs, N, round != 1);
		s = apply_all(&reg, evs, N, &conn_a);
		assert_non_null(s->log);
		assert_true(eventlog_events(s->log) <= N); /* dropped events are not kept */
		assert_true(eventlog_ckpt_count(s->log) > 3);
		check_all_times(s, evs, N, time_step());
		session_registry_destroy(&reg);
		assert_int_equal(budget.used, 0);
	}
}

/* The position fields: prev / next event times, beyond the end. */
static void test_positions(void **state)
{
	struct eventlog_budget budget;
	struct session_registry reg;
	struct eventlog_pos pos;
	struct mevi_event evs[4];
	struct session *s;
	char *a, *b;

	gen_events(evs, 1, false);
	evs[1] = (struct mevi_event){
	    .type = MEVI_EV_MAP, .pid = 7, .ts = 100, .map = {{BASE, BASE + 4 * PG}, 0}};
	evs[2] = (struct mevi_event){
	    .type = MEVI_EV_STATE, .pid = 7, .ts = 200, .state = {{BASE, BASE + PG}, 1}};
	evs[3] = (struct mevi_event){
	    .type = MEVI_EV_STATE, .pid = 7, .ts = 300, .state = {{BASE + PG, BASE + 2 * PG}, 1}};
	eventlog_budget_init(&budget, SIZE_MAX);
	session_registry_init(&reg, 100, NULL, NULL);
	checkpoint_keep_history(&reg, &budget);
	s = apply_all(&reg, evs, 4, &conn_a);
	free(replayed_at(s, 250, &pos));
	assert_int_equal(pos.ts, 200);
	assert_int_equal(pos.prev_ts, 100);
	assert_int_equal(pos.next_ts, 300);
	assert_int_equal(pos.end_ts, 300);
	/* session_start, the implicit proc_start of pid 7, map, state */
	assert_int_equal(pos.applied, 4);
	assert_int_equal(pos.events, 5);
	/* Beyond the end: the latest state. */
	a = replayed_at(s, UINT64_MAX, &pos);
	assert_int_equal(pos.applied, 5);
	assert_int_equal(pos.next_ts, 300);
	b = with_snapshot(session_json(api_state_build(&reg, false, 0)), &reg);
	assert_string_equal(a, b);
	free(a);
	free(b);
	session_registry_destroy(&reg);
}

static void make_tmpdir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/mevi-hist-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

static void rm_rf(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A tiny budget: the ended session loses its history first, the live one
 * spills to a 0600 file in a 0700 directory and still replays exactly. */
static void test_budget_evict_and_spill(void **state)
{
	enum { N = 3000 };
	static struct mevi_event evs[N];
	struct eventlog_budget budget;
	struct session_registry reg;
	struct session *ended, *live;
	char dir[64];
	struct stat st;
	const char *path;

	make_tmpdir(dir, sizeof(dir));
	eventlog_budget_init(&budget, 4096);
	budget.chunk_bytes = 256;
	budget.ckpt_events = 50;
	snprintf(budget.spill_dir, sizeof(budget.spill_dir), "%s/state/mevi", dir);
	session_registry_init(&reg, 100, NULL, NULL);
	reg.quiet = true;
	checkpoint_keep_history(&reg, &budget);

	gen_events(evs, 200, true);
	evs[0].session_start.started_at = 1;
	ended = apply_all(&reg, evs, 200, &conn_b);
	session_registry_detach(&reg, ended);
	assert_non_null(ended->log);

	gen_events(evs, N, false);
	live = apply_all(&reg, evs, N, &conn_a);
	assert_null(ended->log);
	assert_true(ended->history_lost);
	assert_non_null(live->log);
	assert_true(eventlog_spilled(live->log));
	/* What stays in memory is bookkeeping (chunk index, markers, the open
	 * chunk): far less than the history itself. */
	assert_true(budget.used < eventlog_total_bytes(live->log) / 2);
	path = eventlog_spill_path(live->log);
	assert_non_null(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(budget.spill_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	check_all_times(live, evs, N, 37);

	/* Freeing the session removes its file. */
	{
		char copy[320];

		snprintf(copy, sizeof(copy), "%s", path);
		session_registry_destroy(&reg);
		assert_int_equal(access(copy, F_OK), -1);
	}
	assert_int_equal(budget.used, 0);
	rm_rf(dir);
}

/* Download -> load into a fresh registry -> identical states. */
static void test_recording_round_trip(void **state)
{
	enum { N = 2500 };
	static struct mevi_event evs[N];
	struct eventlog_budget budget, budget2;
	struct session_registry reg, reg2;
	struct session *s, *loaded;
	msgpack_sbuffer sb;
	char err[300];

	eventlog_budget_init(&budget, SIZE_MAX);
	budget.chunk_bytes = 1024;
	budget.ckpt_events = 100;
	session_registry_init(&reg, 100, NULL, NULL);
	reg.quiet = true;
	checkpoint_keep_history(&reg, &budget);
	gen_events(evs, N, true);
	s = apply_all(&reg, evs, N, &conn_a);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(loader_encode(s, &sb), 0);
	assert_memory_equal(sb.data, MEVI_RECORDING_MAGIC, 8);

	eventlog_budget_init(&budget2, SIZE_MAX);
	session_registry_init(&reg2, 100, NULL, NULL);
	reg2.quiet = true;
	checkpoint_keep_history(&reg2, &budget2);
	assert_int_equal(loader_load(&reg2, sb.data, sb.size, &loaded, err, sizeof(err)), 0);
	assert_non_null(loaded);
	assert_true(loaded->recorded);
	assert_null(loaded->conn);
	for (int i = 0; i < 40; i++) {
		uint64_t t = rnd() % (evs[N - 1].ts + 10);
		char *a = replayed_at(s, t, NULL), *b = replayed_at(loaded, t, NULL);

		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	/* Loading it twice gives two sessions. */
	assert_int_equal(loader_load(&reg2, sb.data, sb.size, &loaded, err, sizeof(err)), 0);
	assert_int_equal(reg2.count, 2);
	msgpack_sbuffer_destroy(&sb);
	session_registry_destroy(&reg);
	session_registry_destroy(&reg2);
}

static int load_err(const void *buf, size_t len, char *err, size_t errlen)
{
	struct eventlog_budget budget;
	struct session_registry reg;
	struct session *s;
	int ret;

	eventlog_budget_init(&budget, SIZE_MAX);
	session_registry_init(&reg, 100, NULL, NULL);
	reg.quiet = true;
	checkpoint_keep_history(&reg, &budget);
	ret = loader_load(&reg, buf, len, &s, err, errlen);
	if (ret)
		assert_int_equal(reg.count, 0);
	session_registry_destroy(&reg);
	return ret;
}

/* Bad magic, truncated header, future versions, a bad batch, a truncated
 * final batch: refused, with a message naming the problem. */
static void test_bad_recordings(void **state)
{
	static struct mevi_event evs[50];
	struct eventlog_budget budget;
	struct session_registry reg;
	struct mevi_recording_header h;
	msgpack_sbuffer sb, other;
	msgpack_packer pk;
	struct session *s;
	char err[300];
	char *bad;

	gen_events(evs, 50, true);
	eventlog_budget_init(&budget, SIZE_MAX);
	session_registry_init(&reg, 100, NULL, NULL);
	reg.quiet = true;
	checkpoint_keep_history(&reg, &budget);
	s = apply_all(&reg, evs, 50, &conn_a);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(loader_encode(s, &sb), 0);
	assert_int_equal(load_err(sb.data, sb.size, err, sizeof(err)), 0);

	/* Header round trip. */
	assert_true(mevi_recording_header_parse(sb.data, sb.size, &h, err, sizeof(err)) > 8);
	assert_int_equal(h.format_version, 1);
	assert_int_equal(h.proto_version, MEVI_PROTO_VERSION);
	assert_int_equal(h.created_at, 1700000000000000000ull);

	bad = malloc(sb.size);
	memcpy(bad, sb.data, sb.size);
	bad[0] = 'X';
	assert_int_equal(load_err(bad, sb.size, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "not a mevi recording"));

	assert_int_equal(load_err(sb.data, 5, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "truncated"));
	assert_int_equal(load_err(sb.data, 12, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "truncated"));

	/* Future format and protocol versions. */
	msgpack_sbuffer_init(&other);
	msgpack_packer_init(&pk, &other, msgpack_sbuffer_write);
	h = (struct mevi_recording_header){2, MEVI_PROTO_VERSION, 1};
	assert_int_equal(mevi_recording_header_pack(&pk, &h), 0);
	assert_int_equal(load_err(other.data, other.size, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "format version 2"));
	assert_non_null(strstr(err, "newer"));
	msgpack_sbuffer_clear(&other);
	h = (struct mevi_recording_header){1, MEVI_PROTO_VERSION + 1, 1};
	assert_int_equal(mevi_recording_header_pack(&pk, &h), 0);
	assert_int_equal(load_err(other.data, other.size, err, sizeof(err)), -EPROTONOSUPPORT);
	{
		char want[64];

		snprintf(want, sizeof(want), "protocol version %d", MEVI_PROTO_VERSION + 1);
		assert_non_null(strstr(err, want));
	}

	/* Truncated final batch. */
	assert_int_equal(load_err(sb.data, sb.size - 3, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "truncated recording: the batch at byte offset"));

	/* A batch the decoder rejects: an unknown event type. */
	memcpy(bad, sb.data, sb.size);
	{
		/* the first event's type byte: magic (8) + header + batch header (1..3) + event
		 * array header (1) */
		int hl = mevi_recording_header_parse(sb.data, sb.size, &h, err, sizeof(err));
		size_t off = (size_t)hl + (((unsigned char)bad[hl] == 0xdc) ? 3 : 1) + 1;

		bad[off] = MEVI_EV_TYPE_COUNT;
		assert_int_equal(load_err(bad, sb.size, err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "bad batch at byte offset"));
		assert_non_null(strstr(err, "unknown_type"));
	}
	/* Garbage after the header. */
	memcpy(bad, sb.data, sb.size);
	bad[sb.size - 1] = (char)0xc1;
	assert_true(load_err(bad, sb.size, err, sizeof(err)) < 0);
	free(bad);
	msgpack_sbuffer_destroy(&other);
	msgpack_sbuffer_destroy(&sb);
	session_registry_destroy(&reg);
}

static void test_parse_size(void **state)
{
	size_t v;

	assert_int_equal(eventlog_parse_size("512M", &v), 0);
	assert_int_equal(v, 512u << 20);
	assert_int_equal(eventlog_parse_size("1G", &v), 0);
	assert_int_equal(v, 1u << 30);
	assert_int_equal(eventlog_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(eventlog_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(eventlog_parse_size("2MiB", &v), 0);
	assert_int_equal(v, 2u << 20);
	assert_int_equal(eventlog_parse_size("-1", &v), -EINVAL);
	assert_int_equal(eventlog_parse_size("12X", &v), -EINVAL);
	assert_int_equal(eventlog_parse_size("", &v), -EINVAL);
	assert_int_equal(eventlog_parse_size("99999999999999999999G", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replay_matches_naive),
	    cmocka_unit_test(test_positions),
	    cmocka_unit_test(test_budget_evict_and_spill),
	    cmocka_unit_test(test_recording_round_trip),
	    cmocka_unit_test(test_bad_recordings),
	    cmocka_unit_test(test_parse_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
