/*
 * Unit tests of mevid's state: session semantics (daemon/session.h), RSS
 * history, the /api/state JSON, the websocket snapshot and option parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <msgpack.h>

#include "api_state.h"
#include "history.h"
#include "log.h"
#include "memmap.h"
#include "options.h"
#include "session.h"
#include "snapshot.h"
#include "tagmap.h"

#define PG 4096u

/* --- an observer that records what it is told ------------------------------ */

struct recorder {
	uint8_t types[64];
	int32_t pids[64];
	int n;
	int reshaped;
	int freed;
};

static void rec_applied(void *ctx, const struct session *s, const struct mevi_event *ev)
{
	struct recorder *r = ctx;

	if (r->n < 64) {
		r->types[r->n] = ev->type;
		r->pids[r->n] = ev->pid;
	}
	r->n++;
}

static void rec_reshaped(void *ctx)
{
	((struct recorder *)ctx)->reshaped++;
}

static void rec_freeing(void *ctx, const struct session *s)
{
	((struct recorder *)ctx)->freed++;
}

static const struct session_observer rec_obs = {rec_applied, rec_reshaped, rec_freeing};

static struct mevi_str argv_items[] = {{"prog", 4}, {"arg", 3}};
static const struct mevi_strv prog_argv = {2, argv_items};

static struct mevi_event start_ev(int32_t lpid, uint64_t started_at, bool resume)
{
	struct mevi_event ev = {.type = MEVI_EV_SESSION_START, .pid = lpid};

	ev.session_start.version = MEVI_PROTO_VERSION;
	ev.session_start.resume = resume;
	ev.session_start.started_at = started_at;
	ev.session_start.argv = prog_argv;
	return ev;
}

static struct mevi_event pstart(int32_t pid, int32_t ppid, uint32_t flags)
{
	struct mevi_event ev = {.type = MEVI_EV_PROC_START, .pid = pid, .ts = 10};

	ev.proc_start.ppid = ppid;
	ev.proc_start.flags = flags;
	ev.proc_start.cmdline = prog_argv;
	return ev;
}

static struct mevi_event mapev(uint8_t type, int32_t pid, uint64_t s, uint64_t e, uint8_t st)
{
	struct mevi_event ev = {.type = type, .pid = pid, .ts = 20};

	ev.map.range.start = s;
	ev.map.range.end = e;
	ev.map.state = st;
	return ev;
}

static struct mevi_event exitev(uint8_t type, int32_t pid, int32_t status)
{
	struct mevi_event ev = {.type = type, .pid = pid, .ts = 30};

	ev.proc_exit.status = status;
	return ev;
}

static struct session *start(struct session_registry *reg, void *conn, int32_t lpid, uint64_t at)
{
	struct mevi_event ev = start_ev(lpid, at, false);
	struct session *s = NULL;
	void *other = NULL;

	assert_int_equal(session_registry_start(reg, &ev, conn, &s, &other), 0);
	assert_null(other);
	assert_non_null(s);
	return s;
}

static void apply_ok(struct session_registry *reg, struct session *s, struct mevi_event ev)
{
	assert_int_equal(session_apply(reg, s, &ev), 0);
}

static void test_every_event_type(void **state)
{
	struct session_registry reg;
	struct recorder rec = {0};
	int conn;
	struct session *s;
	struct process *p;
	struct mevi_event ev;

	session_registry_init(&reg, 8, &rec_obs, &rec);
	s = start(&reg, &conn, 100, 1);
	assert_int_equal(s->id, 1);
	assert_true(s->alive);
	apply_ok(&reg, s, pstart(101, 100, 0));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x10000, 0x20000, MEVI_STATE_NOT_RESIDENT));
	apply_ok(&reg, s, mapev(MEVI_EV_STATE, 101, 0x10000, 0x12000, MEVI_STATE_RESIDENT));
	p = session_find_process(s, 101);
	assert_non_null(p);
	assert_int_equal(memmap_rss(p->map), 2 * PG);
	assert_int_equal(memmap_vsz(p->map), 16 * PG);
	assert_int_equal(s->rss, 2 * PG);

	ev = (struct mevi_event){.type = MEVI_EV_REMAP, .pid = 101, .ts = 25};
	ev.remap.from = (struct mevi_range){0x10000, 0x20000};
	ev.remap.to = (struct mevi_range){0x40000, 0x50000};
	apply_ok(&reg, s, ev);
	assert_int_equal(memmap_rss(p->map), 2 * PG);
	assert_int_equal(memmap_lookup(p->map, 0x10000, NULL), 0);
	assert_int_equal(memmap_lookup(p->map, 0x40000, NULL), 1);

	apply_ok(&reg, s, mapev(MEVI_EV_UNMAP, 101, 0x40000, 0x41000, 0));
	assert_int_equal(memmap_rss(p->map), PG);
	assert_int_equal(s->rss, PG);

	ev = (struct mevi_event){.type = MEVI_EV_PROC_EXEC, .pid = 101, .ts = 26};
	ev.proc_exec.cmdline = (struct mevi_strv){1, argv_items};
	apply_ok(&reg, s, ev);
	assert_int_equal(memmap_count(p->map), 0);
	assert_int_equal(p->cmdline.count, 1);
	assert_int_equal(s->rss, 0);

	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x1000, 0x3000, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, exitev(MEVI_EV_PROC_EXIT, 101, 137));
	assert_false(p->alive);
	assert_true(p->has_exit_status);
	assert_int_equal(p->exit_status, 137);
	assert_int_equal(s->rss, 0);		      /* exited processes do not count */
	assert_int_equal(memmap_rss(p->map), 2 * PG); /* but keep their last map */

	apply_ok(&reg, s, exitev(MEVI_EV_SESSION_END, 100, 3));
	assert_false(s->alive);
	assert_true(s->has_exit_status);
	assert_int_equal(s->exit_status, 3);
	/* Nothing is accepted after session_end. */
	ev = mapev(MEVI_EV_MAP, 101, 0x1000, 0x2000, 1);
	assert_int_equal(session_apply(&reg, s, &ev), -EPROTO);
	ev = start_ev(100, 1, false);
	assert_int_equal(session_apply(&reg, s, &ev), -EPROTO);

	/* session_start, proc_start, map, state, remap, unmap, exec, map, exit, end */
	assert_int_equal(rec.n, 10);
	assert_int_equal(rec.types[0], MEVI_EV_SESSION_START);
	assert_int_equal(rec.types[9], MEVI_EV_SESSION_END);
	assert_true(s->rss_history.n >= 2);
	session_registry_destroy(&reg);
}

static void test_fork_inherits_map(void **state)
{
	struct session_registry reg;
	int conn;
	struct session *s;
	struct process *parent, *child;

	session_registry_init(&reg, 8, NULL, NULL);
	s = start(&reg, &conn, 100, 1);
	apply_ok(&reg, s, pstart(101, 100, 0));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x10000, 0x14000, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, pstart(102, 101, MEVI_PROC_INHERIT_MAP));
	apply_ok(&reg, s, pstart(103, 101, 0));
	parent = session_find_process(s, 101);
	child = session_find_process(s, 102);
	assert_int_equal(memmap_rss(child->map), 4 * PG);
	assert_int_equal(memmap_count(session_find_process(s, 103)->map), 0);
	/* Independent copies. */
	apply_ok(&reg, s, mapev(MEVI_EV_UNMAP, 102, 0x10000, 0x14000, 0));
	assert_int_equal(memmap_rss(parent->map), 4 * PG);
	assert_int_equal(memmap_rss(child->map), 0);
	assert_int_equal(s->rss, 4 * PG);
	/* An unknown parent gives an empty map. */
	apply_ok(&reg, s, pstart(104, 999, MEVI_PROC_INHERIT_MAP));
	assert_int_equal(memmap_count(session_find_process(s, 104)->map), 0);
	session_registry_destroy(&reg);
}

static void test_pid_reuse_and_dead_processes(void **state)
{
	struct session_registry reg;
	int conn;
	struct session *s;
	struct process *old, *cur;
	struct mevi_event ev;

	session_registry_init(&reg, 8, NULL, NULL);
	s = start(&reg, &conn, 100, 1);
	apply_ok(&reg, s, pstart(101, 100, 0));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x1000, 0x2000, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, exitev(MEVI_EV_PROC_EXIT, 101, 0));
	old = session_find_process(s, 101);
	/* Events for an exited process are dropped. */
	ev = mapev(MEVI_EV_MAP, 101, 0x5000, 0x6000, MEVI_STATE_RESIDENT);
	assert_int_equal(session_apply(&reg, s, &ev), 1);
	assert_int_equal(memmap_count(old->map), 1);
	/* A new proc_start for the pid keeps the old entry and adds one. */
	apply_ok(&reg, s, pstart(101, 100, 0));
	cur = session_find_process(s, 101);
	assert_ptr_not_equal(cur, old);
	assert_false(old->alive);
	assert_true(cur->alive);
	assert_int_equal(s->nprocs, 2);
	/* proc_start for a live pid marks the old entry exited, status unknown. */
	apply_ok(&reg, s, pstart(101, 100, 0));
	assert_false(cur->alive);
	assert_false(cur->has_exit_status);
	assert_int_equal(s->nprocs, 3);
	session_registry_destroy(&reg);
}

static void test_implicit_process(void **state)
{
	struct session_registry reg;
	struct recorder rec = {0};
	int conn;
	struct session *s;
	struct process *p;

	session_registry_init(&reg, 8, &rec_obs, &rec);
	s = start(&reg, &conn, 100, 1);
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 555, 0x1000, 0x3000, MEVI_STATE_RESIDENT));
	p = session_find_process(s, 555);
	assert_non_null(p);
	assert_true(p->alive);
	assert_int_equal(p->ppid, 100); /* the launcher */
	assert_int_equal(p->cmdline.count, 0);
	assert_int_equal(memmap_rss(p->map), 2 * PG);
	/* The observer saw a proc_start before the map. */
	assert_int_equal(rec.n, 3);
	assert_int_equal(rec.types[1], MEVI_EV_PROC_START);
	assert_int_equal(rec.pids[1], 555);
	assert_int_equal(rec.types[2], MEVI_EV_MAP);
	session_registry_destroy(&reg);
}

static void test_resume_detach_and_takeover(void **state)
{
	struct session_registry reg;
	struct recorder rec = {0};
	int conn1, conn2, conn3;
	struct session *s, *s2;
	struct mevi_event ev;
	void *other;

	session_registry_init(&reg, 8, &rec_obs, &rec);
	s = start(&reg, &conn1, 100, 42);
	apply_ok(&reg, s, pstart(101, 100, 0));
	/* The launcher vanishes: the session stays, alive = false, no status. */
	session_registry_detach(&reg, s);
	assert_false(s->alive);
	assert_false(s->has_exit_status);
	assert_null(s->conn);
	assert_int_equal(rec.reshaped, 1);
	/* It comes back with resume: same session, processes cleared, alive. */
	ev = start_ev(100, 42, true);
	assert_int_equal(session_registry_start(&reg, &ev, &conn2, &s2, &other), 0);
	assert_ptr_equal(s2, s);
	assert_null(other);
	assert_true(s->alive);
	assert_int_equal(s->nprocs, 0);
	assert_int_equal(reg.detached, 0);
	/* A third connection resumes it while conn2 is still attached. */
	ev = start_ev(100, 42, true);
	assert_int_equal(session_registry_start(&reg, &ev, &conn3, &s2, &other), 0);
	assert_ptr_equal(other, &conn2);
	assert_ptr_equal(s->conn, &conn3);
	/* Another key makes another session, even with resume set. */
	ev = start_ev(100, 43, true);
	assert_int_equal(session_registry_start(&reg, &ev, &conn1, &s2, &other), 0);
	assert_int_equal(s2->id, 2);
	assert_int_equal(reg.count, 2);
	session_registry_destroy(&reg);
}

static void test_eviction_and_forget(void **state)
{
	struct session_registry reg;
	struct recorder rec = {0};
	int conns[5];
	struct session *s[5];

	session_registry_init(&reg, 2, &rec_obs, &rec);
	for (int i = 0; i < 5; i++)
		s[i] = start(&reg, &conns[i], 100 + i, 1);
	/* Attached sessions are never evicted. */
	assert_int_equal(reg.count, 5);
	apply_ok(&reg, s[3], exitev(MEVI_EV_SESSION_END, 103, 0));
	session_registry_detach(&reg, s[3]); /* ended first */
	session_registry_detach(&reg, s[0]);
	assert_int_equal(reg.count, 5);
	session_registry_detach(&reg, s[1]); /* third detached: s[3] goes */
	assert_int_equal(reg.count, 4);
	assert_null(session_registry_find(&reg, 4));
	assert_non_null(session_registry_find(&reg, 1));
	assert_int_equal(rec.freed, 1);

	assert_int_equal(session_registry_forget(&reg, 3), -EBUSY);
	assert_int_equal(session_registry_forget(&reg, 99), -ENOENT);
	assert_int_equal(session_registry_forget(&reg, 1), 0);
	assert_null(session_registry_find(&reg, 1));
	assert_int_equal(reg.count, 3);
	assert_int_equal(reg.detached, 1);
	session_registry_destroy(&reg);
}

static void test_history_bounded(void **state)
{
	struct history h;

	history_init(&h, 16);
	for (uint64_t i = 0; i < 100000; i++)
		assert_int_equal(history_add(&h, i * 1000000, i), 0);
	assert_true(h.n <= 16);
	assert_int_equal(h.pts[0].ts, 0);
	assert_int_equal(h.pts[h.n - 1].value, 99999); /* the latest value is kept */
	for (uint32_t i = 1; i < h.n; i++)
		assert_true(h.pts[i].ts > h.pts[i - 1].ts);
	/* Time never goes backwards. */
	assert_int_equal(history_add(&h, 5, 7), 0);
	assert_true(h.pts[h.n - 1].ts >= h.pts[h.n - 2].ts);
	history_destroy(&h);
}

static void test_utf8_sanitize(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
	    {"abc", 3, "abc"},
	    {"\xc3\xa9t\xc3\xa9", 5, "\xc3\xa9t\xc3\xa9"},
	    {"a\xff"
	     "b",
	     3,
	     "a\xef\xbf\xbd"
	     "b"},
	    {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},		 /* overlong */
	    {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	    {"\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd"},		 /* truncated */
	    {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80"},
	    {"\xf4\x90\x80\x80", 4,
	     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = api_utf8_sanitize(cases[i].in, cases[i].len, out);

		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, n);
	}
}

static void test_api_state_json(void **state)
{
	static struct mevi_str bad[] = {{"ok", 2}, {"\xff\x00z", 3}};
	struct session_registry reg;
	int conn;
	struct session *s;
	struct mevi_event ev;
	struct json_object *doc, *parsed, *sessions, *js, *procs, *jp, *ranges, *v;
	const char *text;
	size_t len;

	session_registry_init(&reg, 8, NULL, NULL);
	s = start(&reg, &conn, 100, 1234567890123456789ull);
	ev = pstart(101, 100, 0);
	ev.proc_start.cmdline = (struct mevi_strv){2, bad};
	apply_ok(&reg, s, ev);
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x7fff0000, 0x7fff4000, MEVI_STATE_NOT_RESIDENT));
	apply_ok(&reg, s, mapev(MEVI_EV_STATE, 101, 0x7fff0000, 0x7fff1000, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, pstart(102, 100, 0));

	doc = api_state_build(&reg, false, 0);
	assert_non_null(doc);
	text = api_json_string(doc, &len);
	parsed = json_tokener_parse(text);
	assert_non_null(parsed); /* valid JSON, invalid UTF-8 notwithstanding */
	sessions = json_object_object_get(parsed, "sessions");
	assert_int_equal(json_object_array_length(sessions), 1);
	js = json_object_array_get_idx(sessions, 0);
	assert_int_equal(json_object_get_int(json_object_object_get(js, "id")), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(js, "launcher_pid")), 100);
	assert_true(json_object_get_boolean(json_object_object_get(js, "alive")));
	assert_true(json_object_object_get_ex(js, "exit_status", &v));
	assert_null(v);
	assert_string_equal(json_object_get_string(json_object_object_get(js, "mode")), "exact");
	assert_int_equal(json_object_get_uint64(json_object_object_get(js, "started_at")),
			 1234567890123456789ull);
	/* No engine event yet: engine null, counters 0. */
	assert_true(json_object_object_get_ex(js, "engine", &v));
	assert_null(v);
	assert_int_equal(
	    json_object_get_uint64(json_object_object_get(js, "reconcile_corrections")), 0);
	procs = json_object_object_get(js, "processes");
	assert_int_equal(json_object_array_length(procs), 2);
	jp = json_object_array_get_idx(procs, 0);
	assert_int_equal(json_object_get_int(json_object_object_get(jp, "rss")), 4096);
	assert_int_equal(json_object_get_int(json_object_object_get(jp, "vsz")), 4 * 4096);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
				json_object_object_get(jp, "cmdline"), 1)),
			    "\xef\xbf\xbd"); /* then \u0000 and z, after the NUL */
	ranges = json_object_object_get(jp, "ranges");
	assert_int_equal(json_object_array_length(ranges), 2);
	v = json_object_array_get_idx(ranges, 0);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(v, 0)), 0x7fff0000);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(v, 1)), 0x7fff1000);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 2)), "resident");
	v = json_object_array_get_idx(ranges, 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 2)),
			    "not_resident");
	json_object_put(parsed);
	json_object_put(doc);

	/* ?pid= narrows; an unknown pid gives no session. */
	doc = api_state_build(&reg, true, 102);
	parsed = json_tokener_parse(api_json_string(doc, &len));
	sessions = json_object_object_get(parsed, "sessions");
	assert_int_equal(json_object_array_length(sessions), 1);
	procs = json_object_object_get(json_object_array_get_idx(sessions, 0), "processes");
	assert_int_equal(json_object_array_length(procs), 1);
	json_object_put(parsed);
	json_object_put(doc);
	doc = api_state_build(&reg, true, 4242);
	assert_string_equal(api_json_string(doc, &len), "{\"sessions\":[]}");
	json_object_put(doc);
	session_registry_destroy(&reg);
}

static void test_snapshot(void **state)
{
	struct session_registry reg;
	int conn;
	struct session *s;
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	size_t off = 0;
	msgpack_object root, sess, proc, ranges;

	session_registry_init(&reg, 8, NULL, NULL);
	s = start(&reg, &conn, 100, 7);
	apply_ok(&reg, s, pstart(101, 100, 0));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x1000, 0x3000, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 0x8000, 0x9000, MEVI_STATE_UNTRACKED));
	apply_ok(&reg, s, exitev(MEVI_EV_PROC_EXIT, 101, 9));

	msgpack_sbuffer_init(&sb);
	assert_int_equal(snapshot_encode(&reg, 99, &sb), 0);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, sb.size);
	root = up.data;
	assert_int_equal(root.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(root.via.array.size, 4);
	assert_int_equal(root.via.array.ptr[0].via.u64, 0);
	assert_int_equal(root.via.array.ptr[1].via.u64, MEVI_PROTO_VERSION);
	assert_int_equal(root.via.array.ptr[2].via.u64, 99);
	assert_int_equal(root.via.array.ptr[3].via.array.size, 1);
	sess = root.via.array.ptr[3].via.array.ptr[0];
	assert_int_equal(sess.via.array.size, 12);
	assert_int_equal(sess.via.array.ptr[0].via.u64, 1);
	assert_int_equal(sess.via.array.ptr[2].via.u64, 100);
	assert_true(sess.via.array.ptr[3].via.boolean);
	assert_int_equal(sess.via.array.ptr[4].type, MSGPACK_OBJECT_NIL);
	assert_int_equal(sess.via.array.ptr[6].via.u64, 7);
	assert_int_equal(sess.via.array.ptr[7].via.array.size, 1);
	assert_int_equal(sess.via.array.ptr[8].via.array.size % 2, 0);
	proc = sess.via.array.ptr[7].via.array.ptr[0];
	assert_int_equal(proc.via.array.size, 12); /* version 3: written */
	for (int i = 7; i < 12; i++) /* no annotations: vmas, origins, touches, threads, written */
		assert_int_equal(proc.via.array.ptr[i].via.array.size, 0);
	assert_int_equal(sess.via.array.ptr[9].via.u64, 0);	    /* sample_ms */
	assert_int_equal(sess.via.array.ptr[10].via.array.size, 0); /* stacks */
	assert_int_equal(proc.via.array.ptr[0].via.u64, 101);
	assert_false(proc.via.array.ptr[3].via.boolean);
	assert_int_equal(proc.via.array.ptr[4].via.u64, 9);
	ranges = proc.via.array.ptr[5];
	assert_int_equal(ranges.via.array.size, 6);
	assert_int_equal(ranges.via.array.ptr[0].via.u64, 0x1000);
	assert_int_equal(ranges.via.array.ptr[1].via.u64, 0x3000);
	assert_int_equal(ranges.via.array.ptr[2].via.u64, MEVI_STATE_RESIDENT);
	assert_int_equal(ranges.via.array.ptr[5].via.u64, MEVI_STATE_UNTRACKED);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	session_registry_destroy(&reg);
}

/* --- annotations (protocol version 2) ------------------------------------ */

static struct mevi_event vmaev(int32_t pid, uint64_t s, uint64_t e, uint8_t kind, const char *name)
{
	struct mevi_event ev = {.type = MEVI_EV_VMA, .pid = pid, .ts = 21};

	ev.vma.range = (struct mevi_range){s, e};
	ev.vma.kind = kind;
	ev.vma.name = (struct mevi_str){name, (uint32_t)strlen(name)};
	return ev;
}

static struct mevi_event originev(int32_t pid, uint64_t s, uint64_t e, uint32_t id)
{
	struct mevi_event ev = {.type = MEVI_EV_ORIGIN, .pid = pid, .ts = 22};

	ev.origin.range = (struct mevi_range){s, e};
	ev.origin.stack_id = id;
	return ev;
}

static struct mevi_event touchev(int32_t pid, uint64_t s, uint64_t e, int32_t tid)
{
	struct mevi_event ev = {.type = MEVI_EV_TOUCH, .pid = pid, .ts = 23};

	ev.touch.range = (struct mevi_range){s, e};
	ev.touch.tid = tid;
	return ev;
}

static struct mevi_event threadev(int32_t pid, int32_t tid, const char *name)
{
	struct mevi_event ev = {.type = MEVI_EV_THREAD, .pid = pid, .ts = 24};

	ev.thread.tid = tid;
	ev.thread.name = (struct mevi_str){name, (uint32_t)strlen(name)};
	return ev;
}

static struct mevi_frame test_frames[] = {
    {0x401000, {"main+0x10", 9}, {"prog", 4}, {"prog.c:42", 9}},
    {0x7f0000001000, {"", 0}, {"libc.so.6", 9}, {NULL, 0}},
};

static struct mevi_event stackev(int32_t pid, uint32_t id, uint32_t nframes)
{
	struct mevi_event ev = {.type = MEVI_EV_STACK, .pid = pid, .ts = 25};

	ev.stack.id = id;
	ev.stack.nframes = nframes;
	ev.stack.frames = test_frames;
	return ev;
}

/* The value of m at addr, or -1 when it has none. */
static int64_t tag_at(const struct tagmap *m, uint64_t addr)
{
	struct tagmap_range r;

	return tagmap_lookup(m, addr, &r) ? (int64_t)r.value : -1;
}

/* The (kind, name) of p's vma map at addr as "kind:name", or "-". */
static const char *vma_at(const struct session *s, const struct process *p, uint64_t addr)
{
	static char buf[128];
	struct tagmap_range r;
	struct mevi_str name;
	uint8_t kind;

	if (!tagmap_lookup(p->vmas, addr, &r))
		return "-";
	assert_true(vmanames_get(&s->names, r.value, &kind, &name));
	snprintf(buf, sizeof(buf), "%s:%.*s", mevi_kind_name(kind), (int)name.len, name.ptr);
	return buf;
}

static void test_annotations_apply(void **state)
{
	struct session_registry reg;
	struct recorder rec = {0};
	struct session *s;
	struct process *p, *c;
	struct mevi_event ev;
	int conn;

	session_registry_init(&reg, 8, &rec_obs, &rec);
	ev = start_ev(100, 7, false);
	ev.session_start.mode = MEVI_MODE_SAMPLED;
	ev.session_start.sample_ms = 50;
	{
		void *other = NULL;

		assert_int_equal(session_registry_start(&reg, &ev, &conn, &s, &other), 0);
	}
	assert_int_equal(s->sample_ms, 50);
	ev = (struct mevi_event){.type = MEVI_EV_SAMPLING, .pid = 100, .ts = 5};
	ev.sampling.sample_ms = 200;
	apply_ok(&reg, s, ev);
	assert_int_equal(s->sample_ms, 200);

	apply_ok(&reg, s, pstart(101, 100, 0));
	p = session_find_process(s, 101);
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 16 * PG, 32 * PG, MEVI_STATE_NOT_RESIDENT));
	apply_ok(&reg, s, vmaev(101, 16 * PG, 32 * PG, MEVI_KIND_FILE, "/lib/libc.so.6"));
	apply_ok(&reg, s, vmaev(101, 24 * PG, 28 * PG, MEVI_KIND_ANON, "arena"));
	apply_ok(&reg, s, vmaev(101, 40 * PG, 41 * PG, MEVI_KIND_HEAP, "")); /* unmapped: kept */
	assert_string_equal(vma_at(s, p, 16 * PG), "file:/lib/libc.so.6");
	assert_string_equal(vma_at(s, p, 25 * PG), "anon:arena");
	assert_string_equal(vma_at(s, p, 40 * PG), "heap:");
	assert_int_equal(s->names.count, 2); /* "" is never interned */
	apply_ok(&reg, s, vmaev(101, 28 * PG, 32 * PG, MEVI_KIND_FILE, "/lib/libc.so.6"));
	assert_int_equal(s->names.count, 2);
	assert_int_equal(tagmap_count(p->vmas), 4);

	/* Stacks are session-wide; an origin may name an unknown stack. */
	apply_ok(&reg, s, stackev(101, 5, 2));
	assert_non_null(stacktab_get(&s->stacks, 5));
	assert_int_equal(stacktab_get(&s->stacks, 5)->nframes, 2);
	assert_null(stacktab_get(&s->stacks, 5)->frames[1].source.ptr);
	assert_memory_equal(stacktab_get(&s->stacks, 5)->frames[0].source.ptr, "prog.c:42", 9);
	apply_ok(&reg, s, stackev(101, 5, 1)); /* replaces */
	assert_int_equal(stacktab_get(&s->stacks, 5)->nframes, 1);
	assert_int_equal(s->stacks.count, 1);
	apply_ok(&reg, s, originev(101, 16 * PG, 24 * PG, 5));
	apply_ok(&reg, s, originev(101, 24 * PG, 32 * PG, 999)); /* unknown stack: kept */
	assert_int_equal(tag_at(p->origins, 30 * PG), 999);

	/* Threads and touches; a touch may name an unknown thread. */
	apply_ok(&reg, s, threadev(101, 101, "main"));
	apply_ok(&reg, s, threadev(101, 102, "worker"));
	apply_ok(&reg, s, threadev(101, 102, "renamed"));
	assert_int_equal(p->threads.n, 2);
	assert_memory_equal(threadtab_get(&p->threads, 102)->ptr, "renamed", 7);
	apply_ok(&reg, s, mapev(MEVI_EV_STATE, 101, 16 * PG, 20 * PG, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, touchev(101, 16 * PG, 18 * PG, 101));
	apply_ok(&reg, s, touchev(101, 18 * PG, 20 * PG, 4242));
	assert_int_equal(tag_at(p->touches, 19 * PG), 4242);
	assert_int_equal(memmap_rss(p->map), 4 * PG);

	/* Annotations never touch rss or its history. */
	{
		uint32_t n = p->rss_history.n;

		apply_ok(&reg, s, touchev(101, 16 * PG, 17 * PG, 102));
		assert_int_equal(p->rss_history.n, n);
	}

	/* map leaves annotations alone. */
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 16 * PG, 32 * PG, MEVI_STATE_NOT_RESIDENT));
	assert_string_equal(vma_at(s, p, 16 * PG), "file:/lib/libc.so.6");
	assert_int_equal(tag_at(p->origins, 16 * PG), 5);
	assert_int_equal(tag_at(p->touches, 16 * PG), 102);

	/* unmap removes from all three maps. */
	apply_ok(&reg, s, mapev(MEVI_EV_UNMAP, 101, 16 * PG, 17 * PG, 0));
	assert_string_equal(vma_at(s, p, 16 * PG), "-");
	assert_int_equal(tag_at(p->origins, 16 * PG), -1);
	assert_int_equal(tag_at(p->touches, 16 * PG), -1);
	assert_int_equal(tag_at(p->touches, 17 * PG), 101);

	/* remap moves all three; a grown tail has no annotation. */
	ev = (struct mevi_event){.type = MEVI_EV_REMAP, .pid = 101, .ts = 40};
	ev.remap.from = (struct mevi_range){17 * PG, 20 * PG};
	ev.remap.to = (struct mevi_range){100 * PG, 104 * PG};
	apply_ok(&reg, s, ev);
	assert_string_equal(vma_at(s, p, 17 * PG), "-");
	assert_string_equal(vma_at(s, p, 100 * PG), "file:/lib/libc.so.6");
	assert_string_equal(vma_at(s, p, 103 * PG), "-");
	assert_int_equal(tag_at(p->origins, 102 * PG), 5);
	assert_int_equal(tag_at(p->origins, 103 * PG), -1);
	assert_int_equal(tag_at(p->touches, 100 * PG), 101);
	assert_int_equal(tag_at(p->touches, 101 * PG), 4242);
	assert_int_equal(tag_at(p->touches, 17 * PG), -1);

	/* fork copies the three maps (not the threads); without the flag, empty. */
	apply_ok(&reg, s, pstart(103, 101, MEVI_PROC_INHERIT_MAP));
	c = session_find_process(s, 103);
	assert_string_equal(vma_at(s, c, 100 * PG), "file:/lib/libc.so.6");
	assert_int_equal(tag_at(c->origins, 100 * PG), 5);
	assert_int_equal(tag_at(c->touches, 100 * PG), 101);
	assert_int_equal(c->threads.n, 0);
	apply_ok(&reg, s, mapev(MEVI_EV_UNMAP, 103, 100 * PG, 104 * PG, 0));
	assert_int_equal(tag_at(p->origins, 100 * PG), 5); /* the parent keeps its own */
	apply_ok(&reg, s, pstart(104, 101, 0));
	c = session_find_process(s, 104);
	assert_int_equal(
	    tagmap_count(c->vmas) + tagmap_count(c->origins) + tagmap_count(c->touches), 0);

	/* exec clears the three maps, keeps the thread table. */
	ev = (struct mevi_event){.type = MEVI_EV_PROC_EXEC, .pid = 101, .ts = 50};
	ev.proc_exec.cmdline = prog_argv;
	apply_ok(&reg, s, ev);
	assert_int_equal(
	    tagmap_count(p->vmas) + tagmap_count(p->origins) + tagmap_count(p->touches), 0);
	assert_int_equal(p->threads.n, 2);

	/* Annotations for an unknown pid create it; for an exited one, dropped. */
	rec.n = 0;
	apply_ok(&reg, s, touchev(200, 16 * PG, 17 * PG, 200));
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.types[0], MEVI_EV_PROC_START);
	assert_int_equal(rec.types[1], MEVI_EV_TOUCH);
	apply_ok(&reg, s, exitev(MEVI_EV_PROC_EXIT, 200, 0));
	ev = vmaev(200, 16 * PG, 17 * PG, MEVI_KIND_ANON, "x");
	assert_int_equal(session_apply(&reg, s, &ev), 1);
	/* ...but a stack or sampling event for an exited pid is session-wide. */
	ev = stackev(200, 6, 1);
	assert_int_equal(session_apply(&reg, s, &ev), 0);
	assert_non_null(stacktab_get(&s->stacks, 6));

	/* A resume clears processes (and their annotations), keeps the stacks. */
	{
		struct session *s2;
		void *other = NULL;

		ev = start_ev(100, 7, true);
		assert_int_equal(session_registry_start(&reg, &ev, &conn, &s2, &other), 0);
		assert_ptr_equal(s2, s);
		assert_int_equal(s->nprocs, 0);
		assert_int_equal(s->sample_ms, 0);
		assert_int_equal(s->stacks.count, 2);
	}
	session_registry_destroy(&reg);
}

/* Names of the last vma event the observer saw. */
static char last_vma_name[64];

static void vma_applied(void *ctx, const struct session *s, const struct mevi_event *ev)
{
	if (ev->type == MEVI_EV_VMA)
		snprintf(last_vma_name, sizeof(last_vma_name), "%.*s", (int)ev->vma.name.len,
			 ev->vma.name.ptr);
}

static const struct session_observer vma_obs = {vma_applied, NULL, NULL};

static void test_annotation_bounds(void **state)
{
	struct session_registry reg;
	struct session *s;
	struct process *p;
	struct mevi_event ev;
	char name[32];
	int conn;

	session_registry_init(&reg, 8, &vma_obs, NULL);
	s = start(&reg, &conn, 100, 7);
	apply_ok(&reg, s, pstart(101, 100, 0));
	p = session_find_process(s, 101);

	/* vma names: beyond the bound the kind is kept, the name dropped, and the
	 * event is forwarded as applied (with the empty name). */
	for (uint32_t i = 0; i < VMANAMES_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "name-%u", i);
		apply_ok(&reg, s, vmaev(101, 16 * PG, 17 * PG, MEVI_KIND_FILE, name));
	}
	assert_string_equal(last_vma_name, "name-65535");
	assert_int_equal(s->names.count, VMANAMES_MAX_NAMES);
	apply_ok(&reg, s, vmaev(101, 16 * PG, 17 * PG, MEVI_KIND_SHMEM, "one too many"));
	assert_string_equal(last_vma_name, "");
	assert_string_equal(vma_at(s, p, 16 * PG), "shmem:");
	apply_ok(&reg, s, vmaev(101, 16 * PG, 17 * PG, MEVI_KIND_FILE, "name-7")); /* known */
	assert_string_equal(vma_at(s, p, 16 * PG), "file:name-7");

	/* stacks: beyond the bound, new stacks are dropped (return 1). */
	for (uint32_t i = 0; i < STACKTAB_MAX_STACKS; i++) {
		ev = stackev(101, i, 0);
		if (session_apply(&reg, s, &ev) != 0)
			fail_msg("stack %u refused", i);
	}
	ev = stackev(101, STACKTAB_MAX_STACKS, 0);
	assert_int_equal(session_apply(&reg, s, &ev), 1);
	assert_null(stacktab_get(&s->stacks, STACKTAB_MAX_STACKS));
	ev = stackev(101, 3, 2); /* replacing a known one still works */
	assert_int_equal(session_apply(&reg, s, &ev), 0);
	assert_int_equal(stacktab_get(&s->stacks, 3)->nframes, 2);
	{
		/* The byte bound: a big stack that does not fit is dropped. */
		static struct mevi_frame big[MEVI_STACK_MAX_FRAMES];
		static char func[40000];

		memset(func, 'f', sizeof(func));
		for (int i = 0; i < MEVI_STACK_MAX_FRAMES; i++)
			big[i] = (struct mevi_frame){
			    (uint64_t)i, {func, sizeof(func)}, {"m", 1}, {NULL, 0}};
		ev = stackev(101, 3, MEVI_STACK_MAX_FRAMES);
		ev.stack.frames = big;
		assert_int_equal(session_apply(&reg, s, &ev), 1);
		assert_int_equal(stacktab_get(&s->stacks, 3)->nframes, 2);
		assert_true(s->stacks.bytes <= STACKTAB_MAX_BYTES);
	}

	/* threads: beyond the bound, new threads are dropped. */
	for (int32_t tid = 1; tid <= (int32_t)THREADTAB_MAX_THREADS; tid++) {
		ev = threadev(101, tid, "t");
		if (session_apply(&reg, s, &ev) != 0)
			fail_msg("thread %d refused", tid);
	}
	ev = threadev(101, THREADTAB_MAX_THREADS + 1, "t");
	assert_int_equal(session_apply(&reg, s, &ev), 1);
	ev = threadev(101, 7, "renamed"); /* a rename of a known thread still works */
	assert_int_equal(session_apply(&reg, s, &ev), 0);
	session_registry_destroy(&reg);
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

/* The engine event (version 3): the newest one names the engine and its
 * counters in /api/state; an over-long name is clipped, never trusted. */
static void test_engine(void **state)
{
	struct session_registry reg;
	struct session *s;
	struct mevi_event ev;
	struct json_object *doc, *js;
	int conn;

	session_registry_init(&reg, 8, NULL, NULL);
	s = start(&reg, &conn, 100, 1);
	ev = (struct mevi_event){.type = MEVI_EV_ENGINE, .pid = 100, .ts = 2};
	ev.engine.name = (struct mevi_str){"ebpf", 4};
	apply_ok(&reg, s, ev);
	ev.ts = 3;
	ev.engine.corrections = 7;
	ev.engine.drops = 123456789012ull;
	apply_ok(&reg, s, ev);
	doc = api_state_build(&reg, false, 0);
	js = json_object_array_get_idx(jget(doc, "sessions"), 0);
	assert_string_equal(json_object_get_string(jget(js, "engine")), "ebpf");
	assert_int_equal(json_object_get_uint64(jget(js, "reconcile_corrections")), 7);
	assert_int_equal(json_object_get_uint64(jget(js, "ring_drops")), 123456789012ull);
	json_object_put(doc);
	ev.engine.name = (struct mevi_str){"0123456789012345678901234567890123456789", 40};
	apply_ok(&reg, s, ev);
	assert_int_equal(strlen(s->engine), MEVI_ENGINE_NAME_MAX);
	session_registry_destroy(&reg);
}

static void test_annotations_json_and_snapshot(void **state)
{
	struct session_registry reg;
	struct session *s;
	struct json_object *doc, *parsed, *proc, *sess, *v, *kinds;
	struct mevi_event ev;
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	msgpack_object snap_s, snap_p, a;
	size_t len, off = 0;
	uint64_t sum = 0;
	int conn;

	session_registry_init(&reg, 8, NULL, NULL);
	ev = start_ev(100, 7, false);
	ev.session_start.mode = MEVI_MODE_SAMPLED;
	ev.session_start.sample_ms = 100;
	{
		void *other = NULL;

		assert_int_equal(session_registry_start(&reg, &ev, &conn, &s, &other), 0);
	}
	apply_ok(&reg, s, pstart(101, 100, 0));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 16 * PG, 32 * PG, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 40 * PG, 44 * PG, MEVI_STATE_SWAPPED));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 50 * PG, 52 * PG, MEVI_STATE_RESIDENT));
	apply_ok(&reg, s, vmaev(101, 16 * PG, 20 * PG, MEVI_KIND_HEAP, ""));
	apply_ok(&reg, s, vmaev(101, 20 * PG, 30 * PG, MEVI_KIND_FILE, "/x\xff\"y"));
	apply_ok(&reg, s, vmaev(101, 40 * PG, 44 * PG, MEVI_KIND_THREAD_STACK, "102"));
	apply_ok(&reg, s, stackev(101, 5, 2));
	apply_ok(&reg, s, stackev(101, 6, 1)); /* not referenced by any origin */
	apply_ok(&reg, s, originev(101, 16 * PG, 20 * PG, 5));
	apply_ok(&reg, s, originev(101, 20 * PG, 24 * PG, 77)); /* unknown stack */
	apply_ok(&reg, s, threadev(101, 101, "main"));
	apply_ok(&reg, s, touchev(101, 16 * PG, 18 * PG, 101));
	ev = (struct mevi_event){.type = MEVI_EV_SAMPLING, .pid = 100, .ts = 30};
	ev.sampling.sample_ms = 400;
	apply_ok(&reg, s, ev);

	doc = api_state_build(&reg, false, 0);
	parsed = json_tokener_parse(api_json_string(doc, &len));
	assert_non_null(parsed);
	sess = json_object_array_get_idx(jget(parsed, "sessions"), 0);
	assert_int_equal(json_object_get_int64(jget(sess, "sample_ms")), 400);
	assert_string_equal(json_object_get_string(jget(sess, "mode")), "sampled");
	proc = json_object_array_get_idx(jget(sess, "processes"), 0);
	assert_int_equal(json_object_get_int64(jget(proc, "swapped")), 4 * PG);
	assert_int_equal(json_object_get_int64(jget(proc, "rss")), 18 * PG);
	kinds = jget(proc, "rss_by_kind");
	assert_int_equal(json_object_object_length(kinds), MEVI_KIND_COUNT);
	for (unsigned k = 0; k < MEVI_KIND_COUNT; k++)
		sum += (uint64_t)json_object_get_int64(jget(kinds, mevi_kind_name(k)));
	assert_int_equal(sum, 18 * PG);
	assert_int_equal(json_object_get_int64(jget(kinds, "heap")), 4 * PG);
	assert_int_equal(json_object_get_int64(jget(kinds, "file")), 10 * PG);
	assert_int_equal(json_object_get_int64(jget(kinds, "anon")), 4 * PG);	 /* uncovered */
	assert_int_equal(json_object_get_int64(jget(kinds, "thread_stack")), 0); /* swapped */
	v = jget(proc, "mappings");
	assert_int_equal(json_object_array_length(v), 3);
	assert_string_equal(
	    json_object_to_json_string_ext(json_object_array_get_idx(v, 1), JSON_C_TO_STRING_PLAIN),
	    "[81920,122880,\"file\",\"\\/x\xef\xbf\xbd\\\"y\"]");
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(v, 0), 2)),
	    "heap");
	v = jget(proc, "origins");
	assert_int_equal(json_object_array_length(v), 2);
	assert_int_equal(
	    json_object_get_int64(json_object_array_get_idx(json_object_array_get_idx(v, 1), 2)),
	    77);
	v = jget(proc, "stacks");
	assert_int_equal(json_object_object_length(v), 1); /* 5 only: 6 unreferenced, 77 unknown */
	v = jget(v, "5");
	assert_int_equal(json_object_array_length(v), 2);
	assert_int_equal(json_object_get_int64(jget(json_object_array_get_idx(v, 0), "pc")),
			 0x401000);
	assert_string_equal(json_object_get_string(jget(json_object_array_get_idx(v, 0), "func")),
			    "main+0x10");
	assert_string_equal(json_object_get_string(jget(json_object_array_get_idx(v, 1), "module")),
			    "libc.so.6");
	assert_null(jget(json_object_array_get_idx(v, 1), "source"));
	assert_string_equal(json_object_get_string(jget(json_object_array_get_idx(v, 0), "source")),
			    "prog.c:42");
	v = jget(proc, "touches");
	assert_int_equal(json_object_array_length(v), 1);
	assert_string_equal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
			    "[[65536,73728,101]]");
	assert_string_equal(json_object_get_string(jget(jget(proc, "threads"), "101")), "main");
	json_object_put(parsed);
	json_object_put(doc);

	/* The websocket snapshot carries the same. */
	msgpack_sbuffer_init(&sb);
	assert_int_equal(snapshot_encode(&reg, 99, &sb), 0);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
	snap_s = up.data.via.array.ptr[3].via.array.ptr[0];
	assert_int_equal(snap_s.via.array.size, 12);
	assert_int_equal(snap_s.via.array.ptr[9].via.u64, 400);
	a = snap_s.via.array.ptr[10]; /* stacks: [[5, frames], [6, frames]] */
	assert_int_equal(a.via.array.size, 2);
	assert_int_equal(a.via.array.ptr[0].via.array.ptr[0].via.u64, 5);
	assert_int_equal(a.via.array.ptr[0].via.array.ptr[1].via.array.size, 2);
	assert_int_equal(a.via.array.ptr[0].via.array.ptr[1].via.array.ptr[1].via.array.ptr[3].type,
			 MSGPACK_OBJECT_NIL);
	assert_int_equal(a.via.array.ptr[0].via.array.ptr[1].via.array.ptr[0].via.array.ptr[3].type,
			 MSGPACK_OBJECT_STR);
	snap_p = snap_s.via.array.ptr[7].via.array.ptr[0];
	assert_int_equal(snap_p.via.array.size, 12);
	a = snap_p.via.array.ptr[7]; /* vmas */
	assert_int_equal(a.via.array.size, 12);
	assert_int_equal(a.via.array.ptr[2].via.u64, MEVI_KIND_HEAP);
	assert_int_equal(a.via.array.ptr[3].via.str.size, 0);
	assert_int_equal(a.via.array.ptr[6].via.u64, MEVI_KIND_FILE);
	assert_memory_equal(a.via.array.ptr[7].via.str.ptr, "/x\xff\"y", 5);
	a = snap_p.via.array.ptr[8]; /* origins */
	assert_int_equal(a.via.array.size, 6);
	assert_int_equal(a.via.array.ptr[5].via.u64, 77);
	a = snap_p.via.array.ptr[9]; /* touches */
	assert_int_equal(a.via.array.size, 3);
	assert_int_equal(a.via.array.ptr[2].via.u64, 101);
	a = snap_p.via.array.ptr[10]; /* threads */
	assert_int_equal(a.via.array.size, 2);
	assert_int_equal(a.via.array.ptr[0].via.u64, 101);
	assert_memory_equal(a.via.array.ptr[1].via.str.ptr, "main", 4);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	session_registry_destroy(&reg);
}

static int parse(const char *const *args, struct mevid_options *o)
{
	char *argv[32];
	int argc = 0;
	FILE *null = fopen("/dev/null", "w");
	int ret;

	argv[argc++] = "mevid";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	ret = options_parse(o, argc, argv, null, null);
	fclose(null);
	return ret;
}

static void test_options(void **state)
{
	struct mevid_options o;

	unsetenv("MEVI_SOCKET");
	unsetenv("MEVI_INTERVAL");
	setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
	assert_int_equal(parse((const char *const[]){NULL}, &o), 0);
	assert_string_equal(o.socket_path, "/run/user/4242/mevi/mevid.sock");
	assert_string_equal(o.listen_host, "127.0.0.1");
	assert_int_equal(o.listen_port, 5001);
	assert_int_equal(o.interval_ms, 32);
	assert_int_equal(o.max_ended_sessions, 64);
	options_destroy(&o);

	unsetenv("XDG_RUNTIME_DIR");
	setenv("MEVI_INTERVAL", "100", 1);
	assert_int_equal(parse((const char *const[]){"--listen", "[::1]:0", "--allow-origin",
						     "http://localhost:8080", NULL},
			       &o),
			 0);
	assert_string_equal(o.listen_host, "::1");
	assert_int_equal(o.listen_port, 0);
	assert_int_equal(o.interval_ms, 100);
	assert_int_equal(o.n_allow_origins, 1);
	assert_true(strncmp(o.socket_path, "/tmp/mevi-", 10) == 0);
	options_destroy(&o);

	setenv("MEVI_SOCKET", "/x/env.sock", 1);
	assert_int_equal(parse((const char *const[]){NULL}, &o), 0);
	assert_string_equal(o.socket_path, "/x/env.sock");
	options_destroy(&o);
	assert_int_equal(parse((const char *const[]){"--socket", "/x/arg.sock", NULL}, &o), 0);
	assert_string_equal(o.socket_path, "/x/arg.sock");
	options_destroy(&o);
	unsetenv("MEVI_SOCKET");

	assert_int_equal(parse((const char *const[]){"--listen", "nope", NULL}, &o), -EINVAL);
	assert_int_equal(parse((const char *const[]){"--listen", "1.2.3.4:70000", NULL}, &o),
			 -EINVAL);
	assert_int_equal(parse((const char *const[]){"--bogus", NULL}, &o), -EINVAL);
	assert_int_equal(parse((const char *const[]){"--allow-origin", "evil", NULL}, &o), -EINVAL);
	setenv("MEVI_INTERVAL", "0", 1);
	assert_int_equal(parse((const char *const[]){NULL}, &o), -EINVAL);
	unsetenv("MEVI_INTERVAL");
	assert_int_equal(parse((const char *const[]){"--help", NULL}, &o), 1);
	assert_int_equal(parse((const char *const[]){"--version", NULL}, &o), 1);

	/* Numbers and sizes, each in its range; repeatable options add up. */
	assert_int_equal(
	    parse((const char *const[]){"--max-ended-sessions", "5", "--tab-queue-limit", "4096",
					"--tab-stall-timeout", "10", "--history-budget", "1G",
					"--max-upload", "64M", "--load", "a.mevi", "--load",
					"b.mevi", "--summary-format", "json", NULL},
		  &o),
	    0);
	assert_int_equal(o.max_ended_sessions, 5);
	assert_int_equal(o.tab_queue_limit, 4096);
	assert_int_equal(o.tab_stall_timeout, 10);
	assert_int_equal(o.history_budget, (size_t)1 << 30);
	assert_int_equal(o.max_upload, (size_t)64 << 20);
	assert_int_equal(o.n_loads, 2);
	assert_string_equal(o.loads[1], "b.mevi");
	assert_true(o.summary_json);
	options_destroy(&o);
	static const char *const refused[][2] = {
	    {"--max-ended-sessions", "+5"}, {"--max-ended-sessions", " 5"},
	    {"--max-ended-sessions", "5x"}, {"--max-ended-sessions", "1000001"},
	    {"--tab-queue-limit", "4095"},  {"--tab-stall-timeout", "9"},
	    {"--history-budget", "lots"},   {"--max-upload", "0"},
	    {"--max-upload", "257M"},	    {"--summary-format", "xml"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(
		    parse((const char *const[]){refused[i][0], refused[i][1], NULL}, &o), -EINVAL);
}

static struct mevi_event writtenev(int32_t pid, uint64_t s, uint64_t e, uint64_t t)
{
	struct mevi_event ev = {.type = MEVI_EV_WRITTEN, .pid = pid, .ts = t + 5};

	ev.written.range = (struct mevi_range){s, e};
	ev.written.t = t;
	return ev;
}

/* The "written" list of pid as a compact JSON string. */
static char *written_json(struct session_registry *reg, int32_t pid)
{
	struct json_object *doc = api_state_build(reg, false, 0), *parsed, *sess, *procs;
	size_t len;
	char *out = NULL;

	parsed = json_tokener_parse(api_json_string(doc, &len));
	assert_non_null(parsed);
	sess = json_object_array_get_idx(jget(parsed, "sessions"), 0);
	procs = jget(sess, "processes");
	for (size_t i = 0; i < json_object_array_length(procs); i++) {
		struct json_object *p = json_object_array_get_idx(procs, i);

		if (json_object_get_int(jget(p, "pid")) == pid && !out)
			out = strdup(json_object_to_json_string_ext(jget(p, "written"),
								    JSON_C_TO_STRING_PLAIN));
	}
	json_object_put(parsed);
	json_object_put(doc);
	assert_non_null(out);
	return out;
}

#define ASSERT_WRITTEN(reg, pid, want)                                                             \
	do {                                                                                       \
		char *got_ = written_json((reg), (pid));                                           \
		assert_string_equal(got_, (want));                                                 \
		free(got_);                                                                        \
	} while (0)

/* Version 3: the heat map follows the memory map (unmap, remap, fork, exec),
 * merges equal t, keeps ms resolution, and never changes rss. */
static void test_written(void **state)
{
	struct session_registry reg;
	struct session *s;
	struct mevi_event ev = start_ev(100, 9, false);
	void *other = NULL;
	int conn;

	session_registry_init(&reg, 8, NULL, NULL);
	assert_int_equal(session_registry_start(&reg, &ev, &conn, &s, &other), 0);
	apply_ok(&reg, s, pstart(101, 100, 0));
	apply_ok(&reg, s, mapev(MEVI_EV_MAP, 101, 16 * PG, 32 * PG, MEVI_STATE_RESIDENT));
	ASSERT_WRITTEN(&reg, 101, "[]");
	apply_ok(&reg, s, writtenev(101, 16 * PG, 18 * PG, 1000000000));
	apply_ok(&reg, s, writtenev(101, 18 * PG, 20 * PG, 1000000000)); /* merges */
	apply_ok(&reg, s, writtenev(101, 24 * PG, 26 * PG, 2000999999)); /* ms kept */
	ASSERT_WRITTEN(&reg, 101, "[[65536,81920,1000000000],[98304,106496,2000000000]]");
	assert_int_equal(memmap_rss(session_find_process(s, 101)->map), 16 * PG);
	apply_ok(&reg, s, writtenev(101, 17 * PG, 18 * PG, 3000000000)); /* a newer write */
	ASSERT_WRITTEN(
	    &reg, 101,
	    "[[65536,69632,1000000000],[69632,73728,3000000000],[73728,81920,1000000000],"
	    "[98304,106496,2000000000]]");
	apply_ok(&reg, s, mapev(MEVI_EV_UNMAP, 101, 16 * PG, 17 * PG, 0));
	ev = (struct mevi_event){.type = MEVI_EV_REMAP, .pid = 101, .ts = 4000000000};
	ev.remap.from = (struct mevi_range){24 * PG, 26 * PG};
	ev.remap.to = (struct mevi_range){40 * PG, 44 * PG};
	apply_ok(&reg, s, ev);
	ASSERT_WRITTEN(
	    &reg, 101,
	    "[[69632,73728,3000000000],[73728,81920,1000000000],[163840,172032,2000000000]]");
	apply_ok(&reg, s, pstart(102, 101, MEVI_PROC_INHERIT_MAP)); /* fork copies */
	ASSERT_WRITTEN(
	    &reg, 102,
	    "[[69632,73728,3000000000],[73728,81920,1000000000],[163840,172032,2000000000]]");
	ev = (struct mevi_event){.type = MEVI_EV_PROC_EXEC, .pid = 102, .ts = 5000000000};
	apply_ok(&reg, s, ev); /* exec clears */
	ASSERT_WRITTEN(&reg, 102, "[]");
	session_registry_destroy(&reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_event_type),
	    cmocka_unit_test(test_fork_inherits_map),
	    cmocka_unit_test(test_pid_reuse_and_dead_processes),
	    cmocka_unit_test(test_implicit_process),
	    cmocka_unit_test(test_resume_detach_and_takeover),
	    cmocka_unit_test(test_eviction_and_forget),
	    cmocka_unit_test(test_history_bounded),
	    cmocka_unit_test(test_utf8_sanitize),
	    cmocka_unit_test(test_api_state_json),
	    cmocka_unit_test(test_snapshot),
	    cmocka_unit_test(test_annotations_apply),
	    cmocka_unit_test(test_annotation_bounds),
	    cmocka_unit_test(test_annotations_json_and_snapshot),
	    cmocka_unit_test(test_engine),
	    cmocka_unit_test(test_written),
	    cmocka_unit_test(test_options),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
