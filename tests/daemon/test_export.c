/*
 * test_export — daemon/export.c, daemon/metrics.c and proto/summary.c against
 * golden files, from a fixed recording built here (two processes, a fork, two
 * call stacks, an unmap, an exit): tests/daemon/golden/export.*.
 *
 * MEVI_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (then
 * review the diff). The fixed recording itself is written to
 * golden/export.mevi so that the consumer checks (check_exports.mjs) and
 * `mevid --summary` can use it.
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

#include "checkpoint.h"
#include "eventlog.h"
#include "export.h"
#include "loader.h"
#include "memmap.h"
#include "ending.h"
#include "metrics.h"
#include "recording.h"
#include "session.h"

#define MIB (UINT64_C(1) << 20)
#define A   UINT64_C(0x7f0000000000)
#define B   UINT64_C(0x7f0000800000)

static struct mevi_str S(const char *s) {
	struct mevi_str m = {s, (uint32_t)strlen(s)};
	return m;
}

/* The fixed session: pid 100 maps 4 MiB at A (stack 1: alloc_a), makes 3 MiB
 * resident, maps 2 MiB at B (stack 2: alloc_b), all resident (peak 5 MiB at
 * t=4ms), forks 101 (inherits), 100 unmaps B, 101 touches nothing and exits,
 * 100 drops 1 MiB of A, session ends. */
static void
build(msgpack_sbuffer *out, bool end)
{
	struct mevi_batch_encoder enc;
	struct mevi_str argv[] = {S("/usr/bin/prog"), S("--big")};
	struct mevi_frame fa[] = {
	    {0x7f00000a1000, S("__mmap+0x13"), S("libc.so.6"), {NULL, 0}},
	    {0x401100, S("alloc_a+0x1c"), S("prog"), S("prog.c:31")},
	    {0x401200, S("main+0x10"), S("prog"), S("prog.c:50")},
	};
	struct mevi_frame fb[] = {
	    {0x7f00000a1000, S("__mmap+0x13"), S("libc.so.6"), {NULL, 0}},
	    {0x401300, S("alloc_b+0x8"), S("prog"), S("prog.c:40")},
	    {0x401210, S("main+0x20"), S("prog"), S("prog.c:51")},
	};
	struct mevi_event evs[32];
	msgpack_packer pk;
	struct mevi_recording_header h = {MEVI_RECORDING_FORMAT, MEVI_PROTO_VERSION,
					  UINT64_C(1700000000000000000)};
	int n = 0;

	memset(evs, 0, sizeof(evs));
#define EV(t, p, time) (evs[n].type = (t), evs[n].pid = (p), evs[n].ts = (time), &evs[n++])
	{
		struct mevi_event *e = EV(MEVI_EV_SESSION_START, 99, 0);
		e->session_start.version = MEVI_PROTO_VERSION;
		e->session_start.started_at = h.created_at;
		e->session_start.argv.count = 2;
		e->session_start.argv.items = argv;
	}
	{
		struct mevi_event *e = EV(MEVI_EV_PROC_START, 100, 1000000);
		e->proc_start.ppid = 99;
		e->proc_start.cmdline.count = 2;
		e->proc_start.cmdline.items = argv;
	}
	EV(MEVI_EV_MAP, 100, 2000000)->map = (typeof(evs[0].map)){{A, A + 4 * MIB}, 0};
	EV(MEVI_EV_VMA, 100, 2000000)->vma =
	    (typeof(evs[0].vma)){{A, A + 4 * MIB}, MEVI_KIND_ANON, {"", 0}};
	EV(MEVI_EV_STACK, 100, 2000000)->stack = (typeof(evs[0].stack)){1, 3, fa};
	EV(MEVI_EV_ORIGIN, 100, 2000000)->origin = (typeof(evs[0].origin)){{A, A + 4 * MIB}, 1};
	EV(MEVI_EV_STATE, 100, 3000000)->state = (typeof(evs[0].state)){{A, A + 3 * MIB}, 1};
	EV(MEVI_EV_MAP, 100, 3500000)->map = (typeof(evs[0].map)){{B, B + 2 * MIB}, 0};
	EV(MEVI_EV_VMA, 100, 3500000)->vma =
	    (typeof(evs[0].vma)){{B, B + 2 * MIB}, MEVI_KIND_HEAP, {"", 0}};
	EV(MEVI_EV_STACK, 100, 3500000)->stack = (typeof(evs[0].stack)){2, 3, fb};
	EV(MEVI_EV_ORIGIN, 100, 3500000)->origin = (typeof(evs[0].origin)){{B, B + 2 * MIB}, 2};
	EV(MEVI_EV_STATE, 100, 4000000)->state = (typeof(evs[0].state)){{B, B + 2 * MIB}, 1};
	{
		struct mevi_event *e = EV(MEVI_EV_PROC_START, 101, 5000000);
		e->proc_start.ppid = 100;
		e->proc_start.flags = MEVI_PROC_INHERIT_MAP;
		e->proc_start.cmdline.count = 2;
		e->proc_start.cmdline.items = argv;
	}
	EV(MEVI_EV_UNMAP, 100, 6000000)->unmap = (typeof(evs[0].unmap)){{B, B + 2 * MIB}};
	EV(MEVI_EV_PROC_EXIT, 101, 7000000)->proc_exit.status = 0;
	EV(MEVI_EV_STATE, 100, 8000000)->state = (typeof(evs[0].state)){{A, A + MIB}, 0};
	if (end)
		EV(MEVI_EV_SESSION_END, 99, 9000000)->session_end.status = 3;
#undef EV
	msgpack_sbuffer_init(out);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	assert_int_equal(mevi_recording_header_pack(&pk, &h), 0);
	mevi_batch_encoder_init(&enc);
	for (int i = 0; i < n; i++)
		assert_int_equal(mevi_batch_encoder_add(&enc, &evs[i]), 0);
	assert_int_equal(mevi_batch_encoder_finish(&enc, out), 0);
	mevi_batch_encoder_destroy(&enc);
}

static char *golden_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
	return path;
}

static void check_golden(const char *name, const char *got, size_t len)
{
	const char *upd = getenv("MEVI_UPDATE_GOLDEN");
	FILE *f;
	char *want;
	long wlen;

	if (upd && *upd == '1') {
		f = fopen(golden_path(name), "wb");
		assert_non_null(f);
		fwrite(got, 1, len, f);
		fclose(f);
		return;
	}
	f = fopen(golden_path(name), "rb");
	if (!f)
		fail_msg("missing golden file %s (MEVI_UPDATE_GOLDEN=1 writes it)",
			 golden_path(name));
	fseek(f, 0, SEEK_END);
	wlen = ftell(f);
	fseek(f, 0, SEEK_SET);
	want = malloc((size_t)wlen + 1);
	assert_int_equal(fread(want, 1, (size_t)wlen, f), (size_t)wlen);
	fclose(f);
	if ((size_t)wlen != len || memcmp(want, got, len) != 0) {
		fprintf(stderr, "--- got %s ---\n%.*s\n", name, (int)len, got);
		fail_msg("%s differs from the golden file", name);
	}
	free(want);
}

static struct session *load(struct session_registry *reg, struct eventlog_budget *b, bool end)
{
	msgpack_sbuffer sb;
	struct session *s = NULL;
	char err[256];

	build(&sb, end);
	if (end) {
		const char *upd = getenv("MEVI_UPDATE_GOLDEN");

		if (upd && *upd == '1') {
			FILE *f = fopen(golden_path("export.mevi"), "wb");

			assert_non_null(f);
			fwrite(sb.data, 1, sb.size, f);
			fclose(f);
		}
	}
	eventlog_budget_init(b, 64u << 20);
	session_registry_init(reg, 16, NULL, NULL);
	checkpoint_keep_history(reg, b);
	reg->quiet = true;
	assert_int_equal(loader_load(reg, sb.data, sb.size, &s, err, sizeof(err)), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_non_null(s);
	return s;
}

static void export_golden(const struct session *s, const char *fmt, bool has_pid, int32_t pid,
			  bool has_at, uint64_t at, const char *golden)
{
	struct export_request rq = {.has_pid = has_pid, .pid = pid, .has_at = has_at, .at = at};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	rq.format = (enum export_format)export_format_parse(fmt);
	assert_int_equal(export_write(s, &rq, f), 0);
	fclose(f);
	check_golden(golden, buf, len);
	free(buf);
}

static void test_exports(void **state)
{
	struct session_registry reg;
	struct eventlog_budget b;
	struct session *s = load(&reg, &b, true);

	(void)state;
	export_golden(s, "trace-event", false, 0, false, 0, "export.trace.json");
	export_golden(s, "trace-event", true, 101, false, 0, "export.pid101.trace.json");
	/* An ended session: what each process held when it exited. */
	export_golden(s, "folded", false, 0, false, 0, "export.folded");
	/* At the peak (4 ms): 3 MiB of alloc_a, 2 MiB of alloc_b. */
	export_golden(s, "folded", false, 0, true, 4000000, "export.at4ms.folded");
	export_golden(s, "summary", false, 0, false, 0, "export.summary.txt");
	export_golden(s, "summary-json", false, 0, false, 0, "export.summary.json");
	session_registry_destroy(&reg);
}

static void test_bad_requests(void **state)
{
	struct session_registry reg;
	struct eventlog_budget b;
	struct session *s = load(&reg, &b, true);
	struct export_response r;

	(void)state;
	export_respond(s, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	export_respond(s, "pprof", NULL, NULL, &r);
	assert_int_equal(r.status, 400);
	export_respond(s, "folded", "-1", NULL, &r);
	assert_int_equal(r.status, 400);
	export_respond(s, "folded", NULL, "x", &r);
	assert_int_equal(r.status, 400);
	export_respond(s, "folded", "100", "4000000", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.disposition, "mevi-session-1.folded.txt"));
	assert_non_null(strstr(r.body, "prog (100);main;alloc_a;__mmap 3145728\n"));
	free(r.body);
	session_registry_destroy(&reg);
}

/* A live session (no session_end): its live processes in /metrics. */
static void test_metrics(void **state)
{
	struct session_registry reg;
	struct eventlog_budget b;
	struct session *s = load(&reg, &b, false);
	struct metrics_daemon d = {
	    .launchers = 1, .tabs = 2, .events_ingested = 17, .tab_resyncs = 3, .tabs_dropped = 1};
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	/* As if its launcher were still connected: a cut recording ends its
	 * session (recording_cut) and its processes; revive them. */
	s->alive = true;
	s->end_how = ENDING_NONE;
	for (struct process *p = s->procs_head; p; p = p->next) {
		if (!p->alive && !p->has_exit_status) {
			p->alive = true;
			p->end_how = ENDING_NONE;
			s->rss += memmap_rss(p->map);
		}
	}
	b.used = 12345; /* history bytes vary with the encoding: pin them */
	f = open_memstream(&buf, &len);
	assert_int_equal(metrics_write(&reg, &d, METRICS_MAX_PROCESSES, f), 0);
	fclose(f);
	/* The history sizes depend on the log's encoding: drop those lines. */
	{
		char *w = buf, *r = buf;

		while (*r) {
			char *nl = strchr(r, '\n');
			size_t n = nl ? (size_t)(nl - r + 1) : strlen(r);

			if (strncmp(r, "mevi_session_history_bytes{", 27) != 0) {
				memmove(w, r, n);
				w += n;
			}
			r += n;
		}
		*w = '\0';
		len = (size_t)(w - buf);
	}
	check_golden("export.metrics.txt", buf, len);
	free(buf);
	/* The cap: one process listed, the other counted. */
	buf = NULL;
	f = open_memstream(&buf, &len);
	assert_int_equal(metrics_write(&reg, &d, 0, f), 0);
	fclose(f);
	assert_null(strstr(buf, "mevi_process_resident_bytes{"));
	assert_non_null(strstr(buf, "mevi_metrics_processes_omitted 1\n"));
	free(buf);
	session_registry_destroy(&reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exports),
	    cmocka_unit_test(test_bad_requests),
	    cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
