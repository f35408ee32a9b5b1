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
	assert_int_equal(sess.via.array.size, 9);
	assert_int_equal(sess.via.array.ptr[0].via.u64, 1);
	assert_int_equal(sess.via.array.ptr[2].via.u64, 100);
	assert_true(sess.via.array.ptr[3].via.boolean);
	assert_int_equal(sess.via.array.ptr[4].type, MSGPACK_OBJECT_NIL);
	assert_int_equal(sess.via.array.ptr[6].via.u64, 7);
	assert_int_equal(sess.via.array.ptr[7].via.array.size, 1);
	assert_int_equal(sess.via.array.ptr[8].via.array.size % 2, 0);
	proc = sess.via.array.ptr[7].via.array.ptr[0];
	assert_int_equal(proc.via.array.size, 7);
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

static int parse(const char *const *args, struct mevid_options *o)
{
	char *argv[16];
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
	    cmocka_unit_test(test_options),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
