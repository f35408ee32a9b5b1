/*
 * Integration tests of mevid's history with the real binary: /api/state?at=T,
 * the recording download, --load into a fresh mevid (same states at several
 * T), POST /api/recordings with good, corrupt, truncated and oversized
 * files, and the websocket seek request.
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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <msgpack.h>

#include "harness.h"

#define PG   4096u
#define BASE UINT64_C(0x7f0000000000)

static struct mevi_str argv_items[] = {{"prog", 4}};
static const struct mevi_strv prog_argv = {1, argv_items};

static struct json_object *get_json(int port, const char *path, int *status)
{
	struct http_reply r;
	struct json_object *j;

	if (http_request(port, "GET", path, NULL, &r))
		return NULL;
	*status = r.status;
	j = json_tokener_parse(r.body);
	http_reply_free(&r);
	return j;
}

/* The processes of the one session at T, as a JSON string (malloc'd). */
static char *procs_at(int port, unsigned sid, uint64_t t)
{
	char path[128];
	int status = 0;
	struct json_object *j, *s;
	char *out;

	snprintf(path, sizeof(path), "/api/state?session=%u&at=%llu", sid, (unsigned long long)t);
	j = get_json(port, path, &status);
	assert_int_equal(status, 200);
	assert_non_null(j);
	s = json_object_array_get_idx(json_object_object_get(j, "sessions"), 0);
	assert_non_null(s);
	out = strdup(json_object_to_json_string_ext(json_object_object_get(s, "processes"),
						    JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return out;
}

static uint64_t rss_at(int port, unsigned sid, uint64_t t)
{
	char *p = procs_at(port, sid, t);
	struct json_object *j = json_tokener_parse(p);
	uint64_t rss = 0;

	for (size_t i = 0; i < json_object_array_length(j); i++)
		rss += (uint64_t)json_object_get_int64(
		    json_object_object_get(json_object_array_get_idx(j, i), "rss"));
	json_object_put(j);
	free(p);
	return rss;
}

static struct mevi_frame run_frames[] = {
    {0x401000, {"main+0x10", 9}, {"prog", 4}, {"prog.c:42", 9}},
    {0x7f0000001000, {"", 0}, {"libc.so.6", 9}, {NULL, 0}},
};

/* A session: pid 101 maps 64 pages at ts 1000 (a vma "/data" of kind file,
 * mapped by stack 7, threads 101 "main" and 102 "worker" at 1500), then
 * page i becomes resident at ts 2000 + i * 100, first touched by thread 101
 * (i even) or 102 (i odd); the sampling interval becomes 250 at 3000; the
 * session ends at ts 100000. */
static void run_session(struct mevid_proc *m)
{
	struct mevi_event evs[160];
	size_t n = 0;
	int fd = fl_connect(m->sock, NULL, 0);

	assert_true(fd >= 0);
	evs[n++] = ev_session_start(100, 1700000000000000000ull, false, prog_argv);
	evs[n] = ev_proc_start(101, 100, 0, prog_argv);
	evs[n++].ts = 500;
	evs[n] = ev_range(MEVI_EV_MAP, 101, BASE, BASE + 64 * PG, 0);
	evs[n++].ts = 1000;
	evs[n++] =
	    (struct mevi_event){.type = MEVI_EV_VMA,
				.pid = 101,
				.ts = 1000,
				.vma = {{BASE, BASE + 64 * PG}, MEVI_KIND_FILE, {"/data", 5}}};
	evs[n++] = (struct mevi_event){
	    .type = MEVI_EV_STACK, .pid = 101, .ts = 1000, .stack = {7, 2, run_frames}};
	evs[n++] = (struct mevi_event){
	    .type = MEVI_EV_ORIGIN, .pid = 101, .ts = 1000, .origin = {{BASE, BASE + 64 * PG}, 7}};
	evs[n++] = (struct mevi_event){
	    .type = MEVI_EV_THREAD, .pid = 101, .ts = 1500, .thread = {101, {"main", 4}}};
	evs[n++] = (struct mevi_event){
	    .type = MEVI_EV_THREAD, .pid = 101, .ts = 1500, .thread = {102, {"worker", 6}}};
	for (unsigned i = 0; i < 64; i++) {
		evs[n] = ev_range(MEVI_EV_STATE, 101, BASE + i * PG, BASE + (i + 1) * PG, 1);
		evs[n++].ts = 2000 + i * 100;
		evs[n++] = (struct mevi_event){
		    .type = MEVI_EV_TOUCH,
		    .pid = 101,
		    .ts = 2000 + i * 100,
		    .touch = {{BASE + i * PG, BASE + (i + 1) * PG}, (int32_t)(101 + i % 2)}};
		if (i == 10)
			evs[n++] = (struct mevi_event){
			    .type = MEVI_EV_SAMPLING, .pid = 100, .ts = 3000, .sampling = {250}};
	}
	assert_int_equal(fl_send(fd, evs, n), 0);
	evs[0] = ev_simple(MEVI_EV_SESSION_END, 100, 0);
	evs[0].ts = 100000;
	assert_int_equal(fl_send(fd, evs, 1), 0);
	close(fd);
}

static void test_state_at(void **state)
{
	struct mevid_proc m = {0};
	struct json_object *j;
	int status = 0;

	assert_int_equal(mevid_spawn(&m, NULL), 0);
	run_session(&m);
	assert_int_equal(rss_at(m.port, 1, 0), 0);
	assert_int_equal(rss_at(m.port, 1, 1999), 0);
	assert_int_equal(rss_at(m.port, 1, 2000), PG);
	assert_int_equal(rss_at(m.port, 1, 2099), PG);
	assert_int_equal(rss_at(m.port, 1, 2100), 2 * PG);
	assert_int_equal(rss_at(m.port, 1, 5000), 31 * PG);
	assert_int_equal(rss_at(m.port, 1, UINT64_MAX), 64 * PG);

	j = get_json(m.port, "/api/state?session=1&at=2050", &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_object_get_int64(
			     json_object_object_get(json_object_object_get(j, "at"), "next_ts")),
			 2100);
	json_object_put(j);

	/* The annotations at T are those of T. */
	{
		char *p = procs_at(m.port, 1, 2150);

		assert_non_null(strstr(
		    p, "\"mappings\":[[139637976727552,139637976989696,\"file\",\"\\/data\"]]"));
		assert_non_null(strstr(p, "\"origins\":[[139637976727552,139637976989696,7]]"));
		assert_non_null(strstr(p, "\"touches\":[[139637976727552,139637976731648,101],"
					  "[139637976731648,139637976735744,102]]"));
		assert_non_null(strstr(p, "\"threads\":{\"101\":\"main\",\"102\":\"worker\"}"));
		assert_non_null(strstr(p, "\"stacks\":{\"7\":[{\"pc\":4198400,\"func\":"
					  "\"main+0x10\",\"module\":\"prog\",\"source\":"
					  "\"prog.c:42\"},{\"pc\":139637976731648,"));
		assert_non_null(strstr(p, "\"rss_by_kind\":{\"anon\":0,\"heap\":0,\"stack\":0,"
					  "\"thread_stack\":0,\"file\":8192,"));
		free(p);
		p = procs_at(m.port, 1, 1200);
		assert_non_null(strstr(p, "\"touches\":[]"));
		assert_non_null(strstr(p, "\"threads\":{}"));
		free(p);
	}
	j = get_json(m.port, "/api/state?session=1&at=2999", &status);
	assert_int_equal(
	    json_object_get_int64(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(j, "sessions"), 0), "sample_ms")),
	    0);
	json_object_put(j);
	j = get_json(m.port, "/api/state?session=1&at=3000", &status);
	assert_int_equal(
	    json_object_get_int64(json_object_object_get(
		json_object_array_get_idx(json_object_object_get(j, "sessions"), 0), "sample_ms")),
	    250);
	json_object_put(j);
	/* Errors. */
	j = get_json(m.port, "/api/state?session=9&at=1", &status);
	assert_int_equal(status, 404);
	assert_non_null(json_object_object_get(j, "error"));
	json_object_put(j);
	j = get_json(m.port, "/api/state?session=1&at=-5", &status);
	assert_int_equal(status, 400);
	json_object_put(j);
	j = get_json(m.port, "/api/state?session=x&at=5", &status);
	assert_int_equal(status, 400);
	json_object_put(j);
	j = get_json(m.port, "/api/state?session=1", &status);
	assert_int_equal(status, 400);
	json_object_put(j);
	j = get_json(m.port, "/api/sessions/1/timeline", &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_object_array_length(json_object_object_get(j, "markers")), 1);
	json_object_put(j);
	assert_int_equal(mevid_stop(&m), 0);
}

static char *download(int port, unsigned sid, size_t *len)
{
	struct http_reply r;
	char path[64], val[128];
	char *body;

	snprintf(path, sizeof(path), "/api/sessions/%u/recording", sid);
	assert_int_equal(http_request(port, "GET", path, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(http_header(&r, "content-disposition", val, sizeof(val)));
	assert_non_null(strstr(val, "attachment"));
	assert_memory_equal(r.body, "MEVIREC\n", 8);
	body = r.body;
	*len = r.body_len;
	r.body = NULL;
	http_reply_free(&r);
	return body;
}

static void test_download_load_upload(void **state)
{
	static const uint64_t times[] = {0, 999, 1000, 2000, 2450, 5000, 8300, 100000, UINT64_MAX};
	struct mevid_proc m = {0}, m2 = {0};
	struct http_reply r;
	char path[300], err[512];
	size_t len;
	char *rec;
	FILE *f;

	assert_int_equal(mevid_spawn(&m, NULL), 0);
	run_session(&m);
	rec = download(m.port, 1, &len);
	snprintf(path, sizeof(path), "%s/s1.mevi", m.dir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(rec, 1, len, f), len);
	fclose(f);

	/* --load into a fresh mevid: the same states. */
	{
		const char *args[] = {"--load", path, NULL};

		assert_int_equal(mevid_spawn(&m2, args), 0);
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char *a = procs_at(m.port, 1, times[i]), *b = procs_at(m2.port, 1, times[i]);

		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	{
		int status = 0;
		struct json_object *j = get_json(m2.port, "/api/state", &status);
		struct json_object *s =
		    json_object_array_get_idx(json_object_object_get(j, "sessions"), 0);

		assert_true(json_object_get_boolean(json_object_object_get(s, "recorded")));
		assert_false(json_object_get_boolean(json_object_object_get(s, "alive")));
		json_object_put(j);
	}

	/* Upload: a second copy as session 2. */
	assert_int_equal(http_request_body(m2.port, "POST", "/api/recordings", NULL, rec, len, &r),
			 0);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.body, "\"id\":2"));
	http_reply_free(&r);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char *a = procs_at(m.port, 1, times[i]), *b = procs_at(m2.port, 2, times[i]);

		assert_string_equal(a, b);
		free(a);
		free(b);
	}

	/* Refusals: truncated, corrupt, future version, oversized. */
	assert_int_equal(
	    http_request_body(m2.port, "POST", "/api/recordings", NULL, rec, len - 2, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "truncated"));
	http_reply_free(&r);
	rec[0] = 'X';
	assert_int_equal(http_request_body(m2.port, "POST", "/api/recordings", NULL, rec, len, &r),
			 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "not a mevi recording"));
	http_reply_free(&r);
	rec[0] = 'M';
	rec[9] = 7; /* format_version (positive fixint after the fixarray) */
	assert_int_equal(http_request_body(m2.port, "POST", "/api/recordings", NULL, rec, len, &r),
			 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "format version 7"));
	http_reply_free(&r);
	assert_int_equal(http_request(m2.port, "POST", "/api/recordings",
				      "Content-Length: 999999999999\r\n", &r),
			 0);
	assert_int_equal(r.status, 413);
	http_reply_free(&r);
	assert_int_equal(http_request(m2.port, "GET", "/api/recordings", NULL, &r), 0);
	assert_int_equal(r.status, 405);
	http_reply_free(&r);
	assert_true(mevid_alive(&m2));

	/* --load of a bad file: a clear one-line refusal at start-up. */
	f = fopen(path, "r+");
	assert_non_null(f);
	fputc('Z', f);
	fclose(f);
	{
		char sock[200];
		const char *args[] = {"--foreground", "--socket", sock, "--listen",
				      "127.0.0.1:0",  "--load",	  path, NULL};

		snprintf(sock, sizeof(sock), "%s/other.sock", m.dir);
		assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 1);
		if (!strstr(err, "not a mevi recording"))
			fail_msg("%s", err);
	}
	free(rec);
	assert_int_equal(mevid_stop(&m2), 0);
	assert_int_equal(mevid_stop(&m), 0);
}

/* Reads messages until one of kind `kind` arrives. */
static msgpack_object read_kind(int fd, int kind, msgpack_unpacked *u)
{
	for (int i = 0; i < 50; i++) {
		char *data;
		size_t len;
		int op = ws_read_message(fd, &data, &len, 5000);

		assert_int_equal(op, 2);
		msgpack_unpacked_destroy(u);
		msgpack_unpacked_init(u);
		assert_int_equal(msgpack_unpack_next(u, data, len, NULL), MSGPACK_UNPACK_SUCCESS);
		free(data);
		if (u->data.via.array.ptr[0].via.u64 == (uint64_t)kind)
			return u->data;
	}
	fail();
	return u->data;
}

static void test_ws_seek(void **state)
{
	struct mevid_proc m = {0};
	msgpack_unpacked u;
	msgpack_object o, sess, procs, ranges;
	int status, fd;
	const char *req = "{\"type\":\"seek\",\"session\":1,\"at\":2150}";

	assert_int_equal(mevid_spawn(&m, NULL), 0);
	run_session(&m);
	fd = ws_connect(m.port, "/stream", NULL, &status, 0);
	assert_true(fd >= 0);
	msgpack_unpacked_init(&u);
	read_kind(fd, 0, &u);
	assert_int_equal(ws_send(fd, 1, req, strlen(req)), 0);
	o = read_kind(fd, 2, &u);
	assert_int_equal(o.via.array.size, 10);
	assert_int_equal(o.via.array.ptr[3].via.u64, 1);
	assert_int_equal(o.via.array.ptr[4].via.u64, 2150);
	assert_int_equal(o.via.array.ptr[5].via.u64, 2100);
	assert_int_equal(o.via.array.ptr[7].via.u64, 2200);
	sess = o.via.array.ptr[9];
	assert_int_equal(sess.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(sess.via.array.size, 12);
	assert_int_equal(sess.via.array.ptr[9].via.u64, 0);	    /* sample_ms before 3000 */
	assert_int_equal(sess.via.array.ptr[10].via.array.size, 1); /* stack 7 */
	assert_int_equal(sess.via.array.ptr[10].via.array.ptr[0].via.array.ptr[0].via.u64, 7);
	procs = sess.via.array.ptr[7];
	assert_int_equal(procs.via.array.ptr[0].via.array.size, 12);
	assert_int_equal(procs.via.array.ptr[0].via.array.ptr[7].via.array.size, 4);  /* vmas */
	assert_int_equal(procs.via.array.ptr[0].via.array.ptr[8].via.array.size, 3);  /* origins */
	assert_int_equal(procs.via.array.ptr[0].via.array.ptr[9].via.array.size, 6);  /* touches */
	assert_int_equal(procs.via.array.ptr[0].via.array.ptr[10].via.array.size, 4); /* threads */
	ranges = procs.via.array.ptr[0].via.array.ptr[5];
	/* [BASE, BASE+2 pages) resident, the rest not resident */
	assert_int_equal(ranges.via.array.size, 6);
	assert_int_equal(ranges.via.array.ptr[1].via.u64, BASE + 2 * PG);

	/* An unknown session: the reason instead of a session. */
	req = "{\"type\":\"seek\",\"session\":42,\"at\":1}";
	assert_int_equal(ws_send(fd, 1, req, strlen(req)), 0);
	o = read_kind(fd, 2, &u);
	assert_int_equal(o.via.array.ptr[9].type, MSGPACK_OBJECT_STR);
	/* Back to live: a fresh snapshot. */
	req = "{\"type\":\"live\"}";
	assert_int_equal(ws_send(fd, 1, req, strlen(req)), 0);
	read_kind(fd, 0, &u);
	/* Garbage is ignored. */
	req = "{\"type\":";
	assert_int_equal(ws_send(fd, 1, req, strlen(req)), 0);
	req = "{\"type\":\"seek\",\"session\":1,\"at\":0}";
	assert_int_equal(ws_send(fd, 1, req, strlen(req)), 0);
	read_kind(fd, 2, &u);
	msgpack_unpacked_destroy(&u);
	close(fd);
	assert_int_equal(mevid_stop(&m), 0);
}

/* A budget of 64 KiB with a live session of 200,000 events: it spills to a
 * 0600 file in $XDG_STATE_HOME/mevi (0700) and ?at still answers. */
static void test_spill(void **state)
{
	static struct mevi_event evs[4096];
	struct mevid_proc m = {0};
	const char *args[] = {"--history-budget", "64K", NULL};
	char statedir[160], cmd[400];
	struct stat st;
	int fd;

	assert_int_equal(harness_tmpdir(&m), 0);
	snprintf(statedir, sizeof(statedir), "%s/state", m.dir);
	setenv("XDG_STATE_HOME", statedir, 1);
	assert_int_equal(mevid_spawn(&m, args), 0);
	unsetenv("XDG_STATE_HOME");
	fd = fl_connect(m.sock, NULL, 0);
	assert_true(fd >= 0);
	evs[0] = ev_session_start(100, 1, false, prog_argv);
	evs[1] = ev_range(MEVI_EV_MAP, 101, BASE, BASE + 4096 * PG, 0);
	assert_int_equal(fl_send(fd, evs, 2), 0);
	for (unsigned b = 0; b < 50; b++) {
		for (unsigned i = 0; i < 4096; i++) {
			unsigned pg = (b * 4096 + i) % 4096;

			evs[i] = ev_range(MEVI_EV_STATE, 101, BASE + pg * PG, BASE + (pg + 1) * PG,
					  (uint8_t)(b & 1 ? 0 : 1));
			evs[i].ts = 1000 + (uint64_t)b * 4096 + i;
		}
		assert_int_equal(fl_send(fd, evs, 4096), 0);
	}
	/* At the end of batch 0 every page is resident; after batch 1 none. */
	assert_int_equal(rss_at(m.port, 1, 1000 + 4095), 4096 * PG);
	assert_int_equal(rss_at(m.port, 1, 1000 + 4096 + 4095), 0);
	assert_int_equal(rss_at(m.port, 1, 1000 + 4096 + 99), (4096 - 100) * PG);
	snprintf(cmd, sizeof(cmd), "%s/mevi", statedir);
	assert_int_equal(stat(cmd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(cmd, sizeof(cmd), "test \"$(stat -c %%a %s/mevi/history-*.tmp)\" = 600", statedir);
	assert_int_equal(system(cmd), 0);
	close(fd);
	assert_int_equal(mevid_stop(&m), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_at),
	    cmocka_unit_test(test_download_load_upload),
	    cmocka_unit_test(test_ws_seek),
	    cmocka_unit_test(test_spill),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
