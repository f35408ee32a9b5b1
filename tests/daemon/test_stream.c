/*
 * Integration tests of mevid's web side: the /stream websocket (snapshot,
 * deltas, fan-out, origin check, backpressure), the embedded assets and
 * --web-root. Runs mevid_fixture: mevid with tests/daemon/fixture-dist
 * embedded as its frontend.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <msgpack.h>

#include "decoder.h"
#include "harness.h"
#include "memmap.h"

#ifndef MEVID_FIXTURE_PATH
#define MEVID_FIXTURE_PATH "mevid_fixture"
#endif
#ifndef FIXTURE_DIST
#define FIXTURE_DIST "fixture-dist"
#endif

static struct mevi_str argv_items[] = {{"prog", 4}};
static const struct mevi_strv prog_argv = {1, argv_items};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, (1 << 20) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static struct mevid_proc *spawn(const char *const *args)
{
	struct mevid_proc *m = calloc(1, sizeof(*m));

	harness_mevid = MEVID_FIXTURE_PATH;
	assert_non_null(m);
	assert_int_equal(mevid_spawn(m, args), 0);
	return m;
}

static void stop(struct mevid_proc *m)
{
	assert_int_equal(mevid_stop(m), 0);
	rm_rf(m->dir);
	free(m);
}

static const char *own_origin(const struct mevid_proc *m, char *buf, size_t len)
{
	snprintf(buf, len, "http://127.0.0.1:%d", m->port);
	return buf;
}

static int tab_open(const struct mevid_proc *m, int rcvbuf)
{
	char origin[64];
	int status;
	int fd =
	    ws_connect(m->port, "/stream", own_origin(m, origin, sizeof(origin)), &status, rcvbuf);

	assert_true(fd >= 0);
	return fd;
}

/* Reads one message and unpacks it; returns its kind (0 snapshot, 1 delta). */
static int read_msg(int fd, msgpack_unpacked *up, char **raw, size_t *rawlen, int timeout_ms)
{
	size_t off = 0;
	int op = ws_read_message(fd, raw, rawlen, timeout_ms);

	if (op != 2)
		return -1;
	if (msgpack_unpack_next(up, *raw, *rawlen, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != *rawlen || up->data.type != MSGPACK_OBJECT_ARRAY || up->data.via.array.size < 1)
		return -1;
	return (int)up->data.via.array.ptr[0].via.u64;
}

/* Decodes the events of a delta for session sid, appending their types. */
static int delta_types(const msgpack_object *delta, uint64_t sid, uint8_t *types, int max)
{
	const msgpack_object *batches = &delta->via.array.ptr[2];
	msgpack_zone zone;
	int n = 0;

	msgpack_zone_init(&zone, 4096);
	for (uint32_t i = 0; i < batches->via.array.size; i++) {
		const msgpack_object *pair = &batches->via.array.ptr[i];
		const msgpack_object *batch = &pair->via.array.ptr[1];

		if (pair->via.array.ptr[0].via.u64 != sid)
			continue;
		for (uint32_t j = 0; j < batch->via.array.size; j++) {
			struct mevi_event ev;
			char err[160];
			enum mevi_decode_error e = mevi_event_from_object(
			    &batch->via.array.ptr[j], &zone, NULL, &ev, err, sizeof(err));

			if (e != MEVI_DECODE_OK)
				print_message("event %u: %s\n", j, err);
			assert_int_equal(e, MEVI_DECODE_OK);
			if (n < max)
				types[n] = ev.type;
			n++;
		}
	}
	msgpack_zone_destroy(&zone);
	return n;
}

static void test_snapshot_then_deltas(void **state)
{
	struct mevid_proc *m = spawn(NULL);
	msgpack_unpacked up;
	char *raw;
	size_t len;
	int tab = tab_open(m, 0), tab2, fd, n = 0;
	uint8_t types[16];

	msgpack_unpacked_init(&up);
	assert_int_equal(read_msg(tab, &up, &raw, &len, 3000), 0);
	assert_int_equal(up.data.via.array.size, 4);
	assert_int_equal(up.data.via.array.ptr[1].via.u64, MEVI_PROTO_VERSION);
	assert_int_equal(up.data.via.array.ptr[3].via.array.size, 0);
	free(raw);

	fd = fl_connect(m->sock, NULL, 0);
	{
		struct mevi_event evs[] = {
		    ev_session_start(50, 5, false, prog_argv),
		    ev_proc_start(51, 50, 0, prog_argv),
		    ev_range(MEVI_EV_MAP, 51, 0x10000, 0x30000, MEVI_STATE_NOT_RESIDENT),
		    ev_range(MEVI_EV_STATE, 51, 0x10000, 0x12000, MEVI_STATE_RESIDENT),
		    /* implicit process: mevid sends a proc_start for it first */
		    ev_range(MEVI_EV_MAP, 52, 0x1000, 0x2000, MEVI_STATE_RESIDENT),
		};

		assert_int_equal(fl_send(fd, evs, 5), 0);
	}
	while (n < 6) {
		int kind = read_msg(tab, &up, &raw, &len, 3000);

		assert_int_equal(kind, 1);
		n += delta_types(&up.data, 1, types + n, 16 - n);
		free(raw);
	}
	assert_int_equal(n, 6);
	assert_int_equal(types[0], MEVI_EV_SESSION_START);
	assert_int_equal(types[1], MEVI_EV_PROC_START);
	assert_int_equal(types[2], MEVI_EV_MAP);
	assert_int_equal(types[3], MEVI_EV_STATE);
	assert_int_equal(types[4], MEVI_EV_PROC_START);
	assert_int_equal(types[5], MEVI_EV_MAP);

	/* A late joiner's snapshot holds the same state. */
	tab2 = tab_open(m, 0);
	assert_int_equal(read_msg(tab2, &up, &raw, &len, 3000), 0);
	{
		const msgpack_object *sess = &up.data.via.array.ptr[3].via.array.ptr[0];
		const msgpack_object *procs = &sess->via.array.ptr[7];
		const msgpack_object *ranges = &procs->via.array.ptr[0].via.array.ptr[5];
		static const uint64_t expect[] = {0x10000, 0x12000, 1, 0x12000, 0x30000, 0};

		assert_int_equal(sess->via.array.ptr[0].via.u64, 1);
		assert_true(sess->via.array.ptr[3].via.boolean);
		assert_int_equal(procs->via.array.size, 2);
		assert_int_equal(ranges->via.array.size, 6);
		for (int i = 0; i < 6; i++)
			assert_int_equal(ranges->via.array.ptr[i].via.u64, expect[i]);
		assert_true(sess->via.array.ptr[8].via.array.size >= 2); /* rss history */
	}
	free(raw);

	/* Annotations (version 2) are forwarded as deltas and in snapshots. */
	{
		static struct mevi_frame frames[] = {
		    {0x401000, {"main", 4}, {"prog", 4}, {NULL, 0}}};
		struct mevi_event evs[] = {
		    {.type = MEVI_EV_STACK, .pid = 51, .ts = 30, .stack = {3, 1, frames}},
		    {.type = MEVI_EV_VMA,
		     .pid = 51,
		     .ts = 30,
		     .vma = {{0x10000, 0x30000}, MEVI_KIND_HEAP, {"", 0}}},
		    {.type = MEVI_EV_ORIGIN,
		     .pid = 51,
		     .ts = 30,
		     .origin = {{0x10000, 0x30000}, 3}},
		    {.type = MEVI_EV_THREAD, .pid = 51, .ts = 31, .thread = {52, {"worker", 6}}},
		    {.type = MEVI_EV_TOUCH, .pid = 51, .ts = 31, .touch = {{0x10000, 0x12000}, 52}},
		    {.type = MEVI_EV_SAMPLING, .pid = 50, .ts = 32, .sampling = {75}},
		};
		const msgpack_object *sess, *proc, *a;
		int tab3;

		assert_int_equal(fl_send(fd, evs, 6), 0);
		n = 0;
		while (n < 6) {
			assert_int_equal(read_msg(tab, &up, &raw, &len, 3000), 1);
			n += delta_types(&up.data, 1, types + n, 16 - n);
			free(raw);
		}
		assert_int_equal(n, 6);
		for (int i = 0; i < 6; i++)
			assert_int_equal(types[i], evs[i].type);
		/* tab2 got them too (drain it so that the detach below is next). */
		for (n = 0; n < 6;) {
			assert_int_equal(read_msg(tab2, &up, &raw, &len, 3000), 1);
			n += delta_types(&up.data, 1, types, 16);
			free(raw);
		}
		tab3 = tab_open(m, 0);
		assert_int_equal(read_msg(tab3, &up, &raw, &len, 3000), 0);
		sess = &up.data.via.array.ptr[3].via.array.ptr[0];
		assert_int_equal(sess->via.array.size, 12);
		assert_int_equal(sess->via.array.ptr[9].via.u64, 75);
		a = &sess->via.array.ptr[10]; /* [[3, [[0x401000, "main", "prog", nil]]]] */
		assert_int_equal(a->via.array.size, 1);
		assert_int_equal(a->via.array.ptr[0].via.array.ptr[0].via.u64, 3);
		a = &a->via.array.ptr[0].via.array.ptr[1].via.array.ptr[0];
		assert_int_equal(a->via.array.ptr[0].via.u64, 0x401000);
		assert_int_equal(a->via.array.ptr[3].type, MSGPACK_OBJECT_NIL);
		proc = &sess->via.array.ptr[7].via.array.ptr[0];
		assert_int_equal(proc->via.array.size, 12); /* version 3: written */
		a = &proc->via.array.ptr[7];		    /* vmas */
		assert_int_equal(a->via.array.size, 4);
		assert_int_equal(a->via.array.ptr[2].via.u64, MEVI_KIND_HEAP);
		assert_int_equal(a->via.array.ptr[3].type, MSGPACK_OBJECT_STR);
		a = &proc->via.array.ptr[8]; /* origins */
		assert_int_equal(a->via.array.size, 3);
		assert_int_equal(a->via.array.ptr[2].via.u64, 3);
		a = &proc->via.array.ptr[9]; /* touches */
		assert_int_equal(a->via.array.size, 3);
		assert_int_equal(a->via.array.ptr[1].via.u64, 0x12000);
		assert_int_equal(a->via.array.ptr[2].via.u64, 52);
		a = &proc->via.array.ptr[10]; /* threads */
		assert_int_equal(a->via.array.size, 2);
		assert_int_equal(a->via.array.ptr[0].via.u64, 52);
		assert_int_equal(a->via.array.ptr[1].via.str.size, 6);
		free(raw);
		close(tab3);
	}

	/* A detach without session_end reaches the tabs as a fresh snapshot. */
	close(fd);
	assert_int_equal(read_msg(tab2, &up, &raw, &len, 3000), 0);
	assert_false(up.data.via.array.ptr[3].via.array.ptr[0].via.array.ptr[3].via.boolean);
	free(raw);

	/* Small messages from the browser are ignored, big ones close the tab. */
	assert_int_equal(ws_send(tab, 1, "hello", 5), 0);
	{
		char big[5000];

		memset(big, 'x', sizeof(big));
		assert_int_equal(ws_send(tab2, 2, big, sizeof(big)), 0);
		for (;;) {
			int op = ws_read_message(tab2, &raw, &len, 3000);

			assert_true(op == 2 || op == 8);
			if (op == 8) {
				assert_true(len >= 2);
				assert_int_equal(
				    ((unsigned char)raw[0] << 8) | (unsigned char)raw[1], 1009);
				free(raw);
				break;
			}
			free(raw);
		}
	}
	/* tab is still served. */
	{
		struct json_object *j;
		struct http_reply r;

		assert_int_equal(http_request(m->port, "GET", "/api/health", NULL, &r), 0);
		j = json_tokener_parse(r.body);
		http_reply_free(&r);
		assert_true(json_object_get_int(json_object_object_get(j, "tabs")) >= 1);
		json_object_put(j);
	}
	msgpack_unpacked_destroy(&up);
	close(tab);
	close(tab2);
	stop(m);
}

#define NTABS 32

static void test_identical_streams(void **state)
{
	struct mevid_proc *m = spawn(NULL);
	int tabs[NTABS], fd;
	char *streams[NTABS];
	size_t slen[NTABS];
	msgpack_unpacked up;
	char *raw;
	size_t len;

	msgpack_unpacked_init(&up);
	for (int i = 0; i < NTABS; i++) {
		tabs[i] = tab_open(m, 0);
		assert_int_equal(read_msg(tabs[i], &up, &raw, &len, 3000), 0);
		free(raw);
		streams[i] = NULL;
		slen[i] = 0;
	}
	fd = fl_connect(m->sock, NULL, 0);
	{
		struct mevi_event start[] = {ev_session_start(60, 6, false, prog_argv),
					     ev_proc_start(61, 60, 0, prog_argv)};

		assert_int_equal(fl_send(fd, start, 2), 0);
	}
	for (int b = 0; b < 20; b++) {
		struct mevi_event evs[100];

		for (int i = 0; i < 100; i++)
			evs[i] = ev_range(i % 2 ? MEVI_EV_UNMAP : MEVI_EV_MAP, 61,
					  0x100000 + (uint64_t)(b * 100 + i / 2) * 4096,
					  0x101000 + (uint64_t)(b * 100 + i / 2) * 4096, 1);
		assert_int_equal(fl_send(fd, evs, 100), 0);
		usleep(5000);
	}
	{
		struct mevi_event end = ev_simple(MEVI_EV_SESSION_END, 60, 0);

		assert_int_equal(fl_send(fd, &end, 1), 0);
	}
	for (int i = 0; i < NTABS; i++) {
		int n = 0;
		uint8_t types[4096];

		while (n == 0 || types[(n - 1) % 4096] != MEVI_EV_SESSION_END) {
			int kind = read_msg(tabs[i], &up, &raw, &len, 5000);
			int got;

			assert_int_equal(kind, 1);
			got = delta_types(&up.data, 1, types + (n % 4096), 4096 - (n % 4096));
			n += got;
			streams[i] = realloc(streams[i], slen[i] + len);
			memcpy(streams[i] + slen[i], raw, len);
			slen[i] += len;
			free(raw);
		}
		assert_int_equal(n, 2 + 2000 + 1);
	}
	for (int i = 1; i < NTABS; i++) {
		assert_int_equal(slen[i], slen[0]);
		assert_memory_equal(streams[i], streams[0], slen[0]);
	}
	for (int i = 0; i < NTABS; i++) {
		free(streams[i]);
		close(tabs[i]);
	}
	msgpack_unpacked_destroy(&up);
	close(fd);
	stop(m);
}

static void test_origin_check(void **state)
{
	const char *args[] = {"--allow-origin", "http://localhost:8080", NULL};
	struct mevid_proc *m = spawn(args);
	char origin[64];
	int status, fd;

	fd = ws_connect(m->port, "/stream", "http://evil.example", &status, 0);
	assert_int_equal(fd, -1);
	assert_int_equal(status, 403);
	fd = ws_connect(m->port, "/stream", "http://127.0.0.1:1", &status, 0);
	assert_int_equal(status, 403);
	fd = ws_connect(m->port, "/stream", "null", &status, 0);
	assert_int_equal(status, 403);
	fd = ws_connect(m->port, "/other", own_origin(m, origin, sizeof(origin)), &status, 0);
	assert_int_equal(fd, -1);
	assert_int_equal(status, 404);
	snprintf(origin, sizeof(origin), "http://localhost:%d", m->port);
	fd = ws_connect(m->port, "/stream", origin, &status, 0);
	assert_true(fd >= 0);
	close(fd);
	snprintf(origin, sizeof(origin), "http://[::1]:%d", m->port);
	fd = ws_connect(m->port, "/stream", origin, &status, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = ws_connect(m->port, "/stream", "http://localhost:8080", &status, 0);
	assert_true(fd >= 0);
	close(fd);
	fd = ws_connect(m->port, "/stream", NULL, &status, 0); /* not a browser */
	assert_true(fd >= 0);
	close(fd);
	{
		size_t n;
		char *log = slurp(m->log, &n);

		assert_non_null(
		    strstr(log, "refused a websocket from foreign origin 'http://evil.example'"));
		free(log);
	}
	stop(m);
}

struct reader {
	int fd;
	int events;
	uint64_t done_ms;
	int kinds[2];
};

/* The healthy tab: reads until it has seen session_end. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;
	msgpack_unpacked up;
	bool done = false;

	msgpack_unpacked_init(&up);
	while (!done) {
		uint8_t types[8192];
		char *raw;
		size_t len;
		int kind = read_msg(r->fd, &up, &raw, &len, 20000);
		int n;

		if (kind < 0)
			break;
		r->kinds[kind]++;
		if (kind == 1) {
			n = delta_types(&up.data, 1, types, 8192);
			r->events += n;
			done = n > 0 && n <= 8192 && types[n - 1] == MEVI_EV_SESSION_END;
		}
		free(raw);
	}
	r->done_ms = mono_ms();
	msgpack_unpacked_destroy(&up);
	return NULL;
}

static void test_slow_tabs(void **state)
{
	const char *args[] = {"--tab-queue-limit", "262144", "--tab-stall-timeout", "1500", NULL};
	struct mevid_proc *m = spawn(args);
	struct reader good = {0};
	pthread_t th;
	int stalled[3], fd;
	long rss_max = 0;
	const int batches = 150, per_batch = 2000;
	uint64_t sent_ms, t0;

	for (int i = 0; i < 3; i++)
		stalled[i] = tab_open(m, 4096); /* never read */
	good.fd = tab_open(m, 0);
	assert_int_equal(pthread_create(&th, NULL, reader_main, &good), 0);
	fd = fl_connect(m->sock, NULL, 0);
	{
		struct mevi_event start[] = {ev_session_start(70, 7, false, prog_argv),
					     ev_proc_start(71, 70, 0, prog_argv)};

		assert_int_equal(fl_send(fd, start, 2), 0);
	}
	t0 = mono_ms();
	/* 100,000 events per second, the rate issue 4 measures fan-out at. */
	for (int b = 0; b < batches; b++) {
		static struct mevi_event evs[2000];
		uint64_t due = t0 + (uint64_t)(b + 1) * per_batch / 100;

		for (int i = 0; i < per_batch; i++)
			evs[i] = ev_range(i % 2 ? MEVI_EV_UNMAP : MEVI_EV_MAP, 71,
					  0x7f0000000000 + (uint64_t)i * 4096,
					  0x7f0000001000 + (uint64_t)i * 4096, 1);
		assert_int_equal(fl_send(fd, evs, (size_t)per_batch), 0);
		if (b % 10 == 0) {
			long rss = proc_rss_kib(m->pid);

			if (rss > rss_max)
				rss_max = rss;
		}
		while (mono_ms() < due)
			usleep(1000);
	}
	{
		struct mevi_event end = ev_simple(MEVI_EV_SESSION_END, 70, 0);

		assert_int_equal(fl_send(fd, &end, 1), 0);
	}
	sent_ms = mono_ms();
	/* Under valgrind or a sanitizer the daemon cannot ingest 100k events/s
	 * while serving tabs on a loaded 2-CPU machine: the healthy tab may then
	 * fall behind and be resynced like the others, which is correct but makes
	 * the exact counts below a measure of the machine, not of mevid. */
#if defined(__SANITIZE_ADDRESS__)
	const bool slow_daemon = true;
#else
	const bool slow_daemon = getenv("MEVID_TEST_WRAPPER") != NULL;
#endif
	if (slow_daemon)
		shutdown(good.fd, SHUT_RD); /* it may have missed session_end in a resync */
	pthread_join(th, NULL);
	print_message("good tab: %d events, %d snapshot(s), session_end %llu ms after it was "
		      "sent; mevid max RSS %ld KiB\n",
		      good.events, good.kinds[0], (unsigned long long)(good.done_ms - sent_ms),
		      rss_max);
	/* The healthy tab got everything, without a resync, promptly. */
	assert_true(good.kinds[1] > 0);
	if (!slow_daemon) {
		assert_int_equal(good.events, 2 + batches * per_batch + 1);
		assert_int_equal(good.kinds[0], 1);
		assert_true(good.done_ms - sent_ms < 1000);
	}
	/* Stated bound: 64 MiB, whatever the stalled tabs do (sanitizers' shadow
	 * memory and quarantine do not count). */
#if defined(__SANITIZE_ADDRESS__)
	assert_true(rss_max < 1024 * 1024);
#else
	if (!getenv("MEVID_TEST_WRAPPER"))
		assert_true(rss_max < 64 * 1024);
#endif
	/* The stalled tabs are resynchronised, then dropped after the stall timeout. */
	for (int i = 0; i < 750; i++) {
		struct http_reply r;
		struct json_object *j;
		int tabs;

		assert_int_equal(http_request(m->port, "GET", "/api/health", NULL, &r), 0);
		j = json_tokener_parse(r.body);
		tabs = json_object_get_int(json_object_object_get(j, "tabs"));
		json_object_put(j);
		http_reply_free(&r);
		if (tabs <= 1)
			break;
		usleep(20000);
	}
	{
		char *log = slurp(m->log, NULL);

		assert_non_null(strstr(log, "fell more than 262144 bytes behind"));
		assert_non_null(strstr(log, "accepted nothing for 1500 ms"));
		free(log);
	}
	for (int i = 0; i < 3; i++)
		close(stalled[i]);
	close(good.fd);
	close(fd);
	stop(m);
}

static void test_embedded_assets(void **state)
{
	struct mevid_proc *m = spawn(NULL);
	struct http_reply r;
	char etag[128], buf[128], hdr[256], path[512];
	size_t flen;
	char *file;

	snprintf(path, sizeof(path), "%s/index.html", FIXTURE_DIST);
	file = slurp(path, &flen);
	assert_int_equal(http_request(m->port, "GET", "/", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(http_header(&r, "content-type", buf, sizeof(buf)),
			    "text/html; charset=utf-8");
	assert_null(http_header(&r, "content-encoding", buf, sizeof(buf)));
	assert_string_equal(http_header(&r, "cache-control", buf, sizeof(buf)), "no-cache");
	assert_int_equal(r.body_len, flen);
	assert_memory_equal(r.body, file, flen);
	assert_non_null(http_header(&r, "etag", etag, sizeof(etag)));
	http_reply_free(&r);

	assert_int_equal(http_request(m->port, "GET", "/index.html",
				      "Accept-Encoding: gzip, deflate, br\r\n", &r),
			 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(http_header(&r, "content-encoding", buf, sizeof(buf)), "gzip");
	assert_string_equal(http_header(&r, "vary", buf, sizeof(buf)), "Accept-Encoding");
	assert_true(r.body_len < flen);
	assert_int_equal((unsigned char)r.body[0], 0x1f);
	assert_int_equal((unsigned char)r.body[1], 0x8b);
	http_reply_free(&r);

	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
	assert_int_equal(http_request(m->port, "GET", "/", hdr, &r), 0);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body_len, 0);
	http_reply_free(&r);

	assert_int_equal(http_request(m->port, "GET", "/assets/app-0123abcd.js", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(http_header(&r, "content-type", buf, sizeof(buf)),
			    "text/javascript; charset=utf-8");
	assert_string_equal(http_header(&r, "cache-control", buf, sizeof(buf)),
			    "public, max-age=31536000, immutable");
	http_reply_free(&r);

	assert_int_equal(http_request(m->port, "GET", "/nope.js", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	http_reply_free(&r);
	assert_int_equal(http_request(m->port, "HEAD", "/", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
	free(file);
	stop(m);
}

static void test_web_root(void **state)
{
	const char *args[] = {"--web-root", FIXTURE_DIST, NULL};
	struct mevid_proc *m = spawn(args);
	struct http_reply r;
	char path[512], buf[128];
	size_t flen;
	char *file;

	snprintf(path, sizeof(path), "%s/assets/app-0123abcd.js", FIXTURE_DIST);
	file = slurp(path, &flen);
	assert_int_equal(http_request(m->port, "GET", "/assets/app-0123abcd.js", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, flen);
	assert_memory_equal(r.body, file, flen);
	assert_string_equal(http_header(&r, "content-type", buf, sizeof(buf)),
			    "text/javascript; charset=utf-8");
	http_reply_free(&r);
	assert_int_equal(http_request(m->port, "GET", "/", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
	assert_int_equal(http_request(m->port, "GET", "/../test_stream.c", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	http_reply_free(&r);
	assert_int_equal(
	    http_request(m->port, "GET", "/assets/%2e%2e/%2e%2e/test_stream.c", NULL, &r), 0);
	assert_true(r.status == 404 || r.status == 403 || r.status == 400);
	http_reply_free(&r);
	free(file);
	stop(m);
}

/* True when the server closes the websocket: a close frame or EOF. */
static bool ws_closed(int fd, int timeout_ms)
{
	for (;;) {
		char *raw = NULL;
		size_t len;
		int op = ws_read_message(fd, &raw, &len, timeout_ms);

		free(raw);
		if (op == 8)
			return true;
		if (op < 0)
			return fl_closed_by_peer(fd, 100);
	}
}

/* Garbage from browsers: random bytes, a huge length prefix, a truncated
 * frame. Each ends its own connection; the daemon and other tabs go on. */
static void test_ws_garbage(void **state)
{
	struct mevid_proc *m = spawn(NULL);
	int good = tab_open(m, 0), a = tab_open(m, 0), b = tab_open(m, 0), c = tab_open(m, 0);
	static const unsigned char huge[] = {0x82, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
					     0x00, 0x00, 1,    2,    3,	   4,	 'x',  'y'};
	unsigned char junk[65536];
	msgpack_unpacked up;
	char *raw;
	size_t len;
	int fd;

	msgpack_unpacked_init(&up);
	assert_int_equal(read_msg(good, &up, &raw, &len, 3000), 0);
	free(raw);
	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rand();
	assert_int_equal(fl_send_raw(a, junk, sizeof(junk)), 0);
	/* A 1 TiB frame: mevid allocates nothing for it and hangs up once more
	 * than its 4 KiB cap has arrived. */
	assert_int_equal(fl_send_raw(b, huge, sizeof(huge)), 0);
	assert_int_equal(fl_send_raw(b, junk, 8192), 0);
	assert_int_equal(fl_send_raw(c, huge, 5), 0);
	close(c);
	assert_true(ws_closed(a, 3000));
	assert_true(ws_closed(b, 3000));
	fd = fl_connect(m->sock, NULL, 0);
	{
		struct mevi_event ev = ev_session_start(90, 9, false, prog_argv);

		assert_int_equal(fl_send(fd, &ev, 1), 0);
	}
	assert_int_equal(read_msg(good, &up, &raw, &len, 3000), 1);
	free(raw);
	assert_true(mevid_alive(m));
	msgpack_unpacked_destroy(&up);
	close(fd);
	close(a);
	close(b);
	close(good);
	stop(m);
}

static void test_shutdown_close_frame(void **state)
{
	struct mevid_proc *m = spawn(NULL);
	int tab = tab_open(m, 0);
	char *raw;
	size_t len;
	int op;

	op = ws_read_message(tab, &raw, &len, 3000);
	assert_int_equal(op, 2);
	free(raw);
	kill(m->pid, SIGTERM);
	op = ws_read_message(tab, &raw, &len, 3000);
	assert_int_equal(op, 8);
	assert_true(len >= 2);
	assert_int_equal(((unsigned char)raw[0] << 8) | (unsigned char)raw[1], 1001);
	free(raw);
	close(tab);
	{
		int st;

		assert_int_equal(waitpid(m->pid, &st, 0), m->pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(access(m->sock, F_OK), -1);
	rm_rf(m->dir);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapshot_then_deltas),
	    cmocka_unit_test(test_identical_streams),
	    cmocka_unit_test(test_origin_check),
	    cmocka_unit_test(test_slow_tabs),
	    cmocka_unit_test(test_embedded_assets),
	    cmocka_unit_test(test_web_root),
	    cmocka_unit_test(test_ws_garbage),
	    cmocka_unit_test(test_shutdown_close_frame),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
