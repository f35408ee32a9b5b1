/*
 * Integration tests of mevid's core: the real binary, a fake launcher on its
 * socket, and /api/state over HTTP.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "harness.h"
#include "memmap.h"

#define PG 4096u

static struct mevi_str argv_items[] = {{"prog", 4}, {"--flag", 6}};
static const struct mevi_strv prog_argv = {2, argv_items};

static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* GET path and parse it as JSON (NULL on any failure). */
static struct json_object *get_json(int port, const char *path, int *status)
{
	struct http_reply r;
	struct json_object *j = NULL;

	if (http_request(port, "GET", path, NULL, &r))
		return NULL;
	if (status)
		*status = r.status;
	j = json_tokener_parse(r.body);
	http_reply_free(&r);
	return j;
}

static struct json_object *jpath(struct json_object *j, const char *key, int idx)
{
	struct json_object *v = json_object_object_get(j, key);

	return idx >= 0 ? json_object_array_get_idx(v, (size_t)idx) : v;
}

static int setup(void **state)
{
	struct mevid_proc *m = calloc(1, sizeof(*m));

	if (!m || mevid_spawn(m, NULL))
		return -1;
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct mevid_proc *m = *state;

	if (m->pid)
		assert_int_equal(mevid_stop(m), 0);
	/* A clean stop removes the socket. */
	assert_int_equal(access(m->sock, F_OK), -1);
	rm_rf(m->dir);
	free(m);
	return 0;
}

static void test_state_end_to_end(void **state)
{
	struct mevid_proc *m = *state;
	char url[200];
	int fd = fl_connect(m->sock, url, sizeof(url));
	struct json_object *j, *s, *p, *r;
	char expect[64];

	assert_true(fd >= 0);
	/* The greeting's URL carries the access token (daemon/access.h). */
	snprintf(expect, sizeof(expect), "http://127.0.0.1:%d/?token=", m->port);
	assert_memory_equal(url, expect, strlen(expect));
	assert_int_equal(strlen(url), strlen(expect) + 64);
	{
		struct mevi_event evs[] = {
		    ev_session_start(4242, 111, false, prog_argv),
		    ev_proc_start(4243, 4242, 0, prog_argv),
		    ev_range(MEVI_EV_MAP, 4243, 0x7f0000000000, 0x7f0000010000,
			     MEVI_STATE_NOT_RESIDENT),
		    ev_range(MEVI_EV_STATE, 4243, 0x7f0000000000, 0x7f0000002000,
			     MEVI_STATE_RESIDENT),
		    {.type = MEVI_EV_VMA,
		     .pid = 4243,
		     .vma = {{0x7f0000000000, 0x7f0000001000},
			     MEVI_KIND_THREAD_STACK,
			     {"4245", 4}}},
		    {.type = MEVI_EV_TOUCH,
		     .pid = 4243,
		     .touch = {{0x7f0000000000, 0x7f0000002000}, 4245}},
		    ev_proc_start(4244, 4243, MEVI_PROC_INHERIT_MAP, prog_argv),
		};

		assert_int_equal(fl_send(fd, evs, 7), 0);
	}
	/* No sleep: /api/state first reads what the launcher already sent. */
	j = get_json(m->port, "/api/state", NULL);
	assert_non_null(j);
	assert_int_equal(json_object_array_length(jpath(j, "sessions", -1)), 1);
	s = jpath(j, "sessions", 0);
	assert_int_equal(json_object_get_int(jpath(s, "launcher_pid", -1)), 4242);
	assert_true(json_object_get_boolean(jpath(s, "alive", -1)));
	assert_string_equal(json_object_get_string(jpath(s, "argv", 1)), "--flag");
	assert_int_equal(json_object_array_length(jpath(s, "processes", -1)), 2);
	p = jpath(s, "processes", 0);
	assert_int_equal(json_object_get_int(jpath(p, "pid", -1)), 4243);
	assert_int_equal(json_object_get_int(jpath(p, "ppid", -1)), 4242);
	assert_int_equal(json_object_get_int64(jpath(p, "rss", -1)), 2 * PG);
	assert_int_equal(json_object_get_int64(jpath(p, "vsz", -1)), 16 * PG);
	r = jpath(p, "ranges", 0);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(r, 0)), 0x7f0000000000);
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(r, 1)), 0x7f0000002000);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(r, 2)), "resident");
	/* Version 2 fields: one page of thread stack, the other resident page
	 * has no vma annotation (anon). */
	assert_int_equal(json_object_get_int(jpath(s, "sample_ms", -1)), 0);
	assert_int_equal(json_object_get_int64(jpath(p, "swapped", -1)), 0);
	assert_int_equal(
	    json_object_get_int64(jpath(jpath(p, "rss_by_kind", -1), "thread_stack", -1)), PG);
	assert_int_equal(json_object_get_int64(jpath(jpath(p, "rss_by_kind", -1), "anon", -1)), PG);
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(jpath(p, "mappings", 0), 3)), "4245");
	assert_int_equal(json_object_get_int(json_object_array_get_idx(jpath(p, "touches", 0), 2)),
			 4245);
	assert_int_equal(json_object_array_length(jpath(p, "origins", -1)), 0);
	assert_int_equal(json_object_object_length(jpath(p, "stacks", -1)), 0);
	assert_int_equal(json_object_object_length(jpath(p, "threads", -1)), 0);
	p = jpath(s, "processes", 1); /* the fork child inherited the map and annotations */
	assert_int_equal(json_object_get_int64(jpath(p, "rss", -1)), 2 * PG);
	assert_int_equal(json_object_array_length(jpath(p, "touches", -1)), 1);
	json_object_put(j);

	{
		struct mevi_event evs[] = {
		    ev_simple(MEVI_EV_PROC_EXIT, 4244, 0),
		    ev_simple(MEVI_EV_PROC_EXIT, 4243, 139),
		    ev_simple(MEVI_EV_SESSION_END, 4242, 139),
		};

		assert_int_equal(fl_send(fd, evs, 3), 0);
	}
	j = get_json(m->port, "/api/state?pid=4243", NULL);
	s = jpath(j, "sessions", 0);
	assert_false(json_object_get_boolean(jpath(s, "alive", -1)));
	assert_int_equal(json_object_get_int(jpath(s, "exit_status", -1)), 139);
	assert_int_equal(json_object_array_length(jpath(s, "processes", -1)), 1);
	p = jpath(s, "processes", 0);
	assert_false(json_object_get_boolean(jpath(p, "alive", -1)));
	assert_int_equal(json_object_get_int(jpath(p, "exit_status", -1)), 139);
	json_object_put(j);
	close(fd);
}

static void test_api_misc(void **state)
{
	struct mevid_proc *m = *state;
	struct json_object *j;
	struct http_reply r;
	int status, fd;
	char buf[64];

	j = get_json(m->port, "/api/health", &status);
	assert_int_equal(status, 200);
	assert_string_equal(json_object_get_string(jpath(j, "status", -1)), "ok");
	assert_int_equal(json_object_get_int(jpath(j, "sessions", -1)), 0);
	assert_int_equal(json_object_get_int(jpath(j, "pid", -1)), m->pid);
	json_object_put(j);

	j = get_json(m->port, "/api/state?pid=12345", &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_object_array_length(jpath(j, "sessions", -1)), 0);
	json_object_put(j);
	assert_int_equal(http_request(m->port, "GET", "/api/state?pid=abc", NULL, &r), 0);
	assert_int_equal(r.status, 400);
	assert_null(http_header(&r, "access-control-allow-origin", buf, sizeof(buf)));
	http_reply_free(&r);
	assert_int_equal(http_request(m->port, "GET", "/api/nope", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	http_reply_free(&r);
	assert_int_equal(http_request(m->port, "POST", "/api/state", NULL, &r), 0);
	assert_int_equal(r.status, 405);
	http_reply_free(&r);

	/* DNS rebinding: a foreign Host is refused on a loopback listener. */
	{
		char req[128];

		snprintf(req, sizeof(req), "Host: evil.example:%d\r\n", m->port);
		assert_int_equal(http_request(m->port, "GET", "/api/state", req, &r), 0);
		assert_int_equal(r.status, 403);
		http_reply_free(&r);
		snprintf(req, sizeof(req), "Host: localhost:%d\r\n", m->port);
		assert_int_equal(http_request(m->port, "GET", "/api/state", req, &r), 0);
		assert_int_equal(r.status, 200);
		http_reply_free(&r);
	}

	/* DELETE: 409 while attached, 204 once ended and gone, then 404. */
	fd = fl_connect(m->sock, NULL, 0);
	{
		struct mevi_event ev = ev_session_start(1, 2, false, prog_argv);

		assert_int_equal(fl_send(fd, &ev, 1), 0);
	}
	j = get_json(m->port, "/api/state", NULL); /* drains the launcher */
	json_object_put(j);
	assert_int_equal(http_request(m->port, "DELETE", "/api/sessions/1", NULL, &r), 0);
	assert_int_equal(r.status, 409);
	http_reply_free(&r);
	close(fd);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(http_request(m->port, "DELETE", "/api/sessions/1",
					      "Origin: http://evil.example\r\n", &r),
				 0);
		assert_int_equal(r.status, 403);
		http_reply_free(&r);
		assert_int_equal(http_request(m->port, "DELETE", "/api/sessions/1", NULL, &r), 0);
		status = r.status;
		http_reply_free(&r);
		if (status != 409)
			break;
		usleep(10000);
	}
	assert_int_equal(status, 204);
	assert_int_equal(http_request(m->port, "DELETE", "/api/sessions/1", NULL, &r), 0);
	assert_int_equal(r.status, 404);
	http_reply_free(&r);
}

static void test_garbage_closes_only_that_connection(void **state)
{
	struct mevid_proc *m = *state;
	int good = fl_connect(m->sock, NULL, 0);
	int bad = fl_connect(m->sock, NULL, 0);
	int bad2 = fl_connect(m->sock, NULL, 0);
	int early = fl_connect(m->sock, NULL, 0);
	struct json_object *j;
	const char *log;

	assert_true(good >= 0 && bad >= 0 && bad2 >= 0 && early >= 0);
	{
		struct mevi_event evs[] = {
		    ev_session_start(10, 1, false, prog_argv),
		    ev_proc_start(11, 10, 0, prog_argv),
		    ev_range(MEVI_EV_MAP, 11, 0x1000, 0x3000, MEVI_STATE_RESIDENT),
		};

		assert_int_equal(fl_send(good, evs, 3), 0);
	}
	/* Not msgpack at all. */
	assert_int_equal(fl_send_raw(bad, "\xc1\xc1\xc1garbage", 10), 0);
	assert_true(fl_closed_by_peer(bad, 3000));
	/* A valid session, then an inverted range (hand-encoded:
	 * [[8, 21, 0, 8192, 4096, 1]]). */
	{
		struct mevi_event ev = ev_session_start(20, 1, false, prog_argv);
		static const unsigned char inverted[] = {0x91, 0x96, 0x08, 0x15, 0x00, 0xcd,
							 0x20, 0x00, 0xcd, 0x10, 0x00, 0x01};

		assert_int_equal(fl_send(bad2, &ev, 1), 0);
		assert_int_equal(fl_send_raw(bad2, inverted, sizeof(inverted)), 0);
		assert_true(fl_closed_by_peer(bad2, 3000));
	}
	/* The first event must be session_start. */
	{
		struct mevi_event ev = ev_range(MEVI_EV_MAP, 11, 0x1000, 0x2000, 1);

		assert_int_equal(fl_send(early, &ev, 1), 0);
		assert_true(fl_closed_by_peer(early, 3000));
	}
	/* A huge length prefix, a truncated batch, random bytes. */
	{
		static const unsigned char huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x96};
		unsigned char junk[4096];
		int h = fl_connect(m->sock, NULL, 0), t = fl_connect(m->sock, NULL, 0);
		int r = fl_connect(m->sock, NULL, 0);
		struct mevi_event ev = ev_session_start(40, 1, false, prog_argv);

		assert_int_equal(fl_send_raw(h, huge, sizeof(huge)), 0);
		assert_true(fl_closed_by_peer(h, 3000));
		assert_int_equal(fl_send(t, &ev, 1), 0);
		assert_int_equal(fl_send_raw(t, "\x92\x96\x05\x29", 4), 0); /* then hang up */
		close(t);
		srand(42);
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)rand();
		fl_send_raw(r, junk, sizeof(junk));
		assert_true(fl_closed_by_peer(r, 3000));
		close(h);
		close(r);
	}
	/* The good launcher is unaffected. */
	{
		struct mevi_event ev =
		    ev_range(MEVI_EV_MAP, 11, 0x8000, 0x9000, MEVI_STATE_RESIDENT);

		assert_int_equal(fl_send(good, &ev, 1), 0);
	}
	j = get_json(m->port, "/api/state?pid=11", NULL);
	assert_non_null(j);
	assert_int_equal(
	    json_object_get_int64(jpath(jpath(jpath(j, "sessions", 0), "processes", 0), "rss", -1)),
	    3 * PG);
	json_object_put(j);
	assert_true(mevid_alive(m));
	log = slurp(m->log);
	assert_non_null(strstr(log, "(no session yet): closing: bad input"));
	assert_non_null(strstr(log, "(session 2): closing: bad input"));
	assert_non_null(strstr(log, "the first event must be session_start, not map"));
	close(good);
	close(bad);
	close(bad2);
	close(early);
}

static void test_disconnect_and_resume(void **state)
{
	struct mevid_proc *m = *state;
	int fd = fl_connect(m->sock, NULL, 0);
	struct json_object *j, *s;
	struct mevi_event evs[] = {
	    ev_session_start(30, 777, false, prog_argv),
	    ev_proc_start(31, 30, 0, prog_argv),
	    ev_range(MEVI_EV_MAP, 31, 0x1000, 0x3000, MEVI_STATE_RESIDENT),
	};
	struct json_object *v;
	int i;

	assert_int_equal(fl_send(fd, evs, 3), 0);
	j = get_json(m->port, "/api/state", NULL);
	json_object_put(j);
	close(fd); /* no session_end */
	for (i = 0; i < 200; i++) {
		j = get_json(m->port, "/api/state", NULL);
		s = jpath(j, "sessions", 0);
		if (!json_object_get_boolean(jpath(s, "alive", -1)))
			break;
		json_object_put(j);
		usleep(10000);
	}
	assert_true(i < 200);
	assert_true(json_object_object_get_ex(s, "exit_status", &v));
	assert_null(v);
	assert_int_equal(json_object_array_length(jpath(s, "processes", -1)), 1);
	json_object_put(j);

	/* The launcher reconnects and resends a snapshot. */
	fd = fl_connect(m->sock, NULL, 0);
	evs[0] = ev_session_start(30, 777, true, prog_argv);
	evs[2] = ev_range(MEVI_EV_MAP, 31, 0x1000, 0x2000, MEVI_STATE_RESIDENT);
	assert_int_equal(fl_send(fd, evs, 3), 0);
	j = get_json(m->port, "/api/state", NULL);
	assert_int_equal(json_object_array_length(jpath(j, "sessions", -1)), 1);
	s = jpath(j, "sessions", 0);
	assert_int_equal(json_object_get_int(jpath(s, "id", -1)), 1);
	assert_true(json_object_get_boolean(jpath(s, "alive", -1)));
	assert_int_equal(json_object_array_length(jpath(s, "processes", -1)), 1);
	assert_int_equal(json_object_get_int64(jpath(jpath(s, "processes", 0), "rss", -1)), PG);
	json_object_put(j);
	close(fd);
}

static void test_daemon_restart_resume(void **state)
{
	struct mevid_proc *m = *state;
	int fd = fl_connect(m->sock, NULL, 0);
	struct mevi_event evs[] = {
	    ev_session_start(80, 888, false, prog_argv),
	    ev_proc_start(81, 80, 0, prog_argv),
	    ev_range(MEVI_EV_MAP, 81, 0x1000, 0x5000, MEVI_STATE_RESIDENT),
	};
	struct json_object *j, *s;

	assert_int_equal(fl_send(fd, evs, 3), 0);
	json_object_put(get_json(m->port, "/api/state", NULL));
	/* mevid restarts; the launcher notices and resends a snapshot. */
	assert_int_equal(mevid_stop(m), 0);
	assert_true(fl_closed_by_peer(fd, 3000));
	close(fd);
	assert_int_equal(mevid_spawn(m, NULL), 0);
	fd = fl_connect(m->sock, NULL, 0);
	assert_true(fd >= 0);
	evs[0] = ev_session_start(80, 888, true, prog_argv);
	assert_int_equal(fl_send(fd, evs, 3), 0);
	j = get_json(m->port, "/api/state?pid=81", NULL);
	s = jpath(j, "sessions", 0);
	assert_non_null(s);
	assert_true(json_object_get_boolean(jpath(s, "alive", -1)));
	assert_int_equal(json_object_get_int(jpath(s, "launcher_pid", -1)), 80);
	assert_int_equal(json_object_get_int64(jpath(jpath(s, "processes", 0), "rss", -1)), 4 * PG);
	json_object_put(j);
	close(fd);
}

static void test_peer_uid_refused(void **state)
{
	struct mevid_proc *m = *state;
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		print_message("skipped: needs root to run a client as nobody\n");
		skip();
	}
	/* Let nobody reach the socket: the daemon's uid check must refuse it. */
	assert_int_equal(chmod(m->dir, 0711), 0);
	assert_int_equal(chmod(m->sock, 0666), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};
		char c;
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		strcpy(sun.sun_path, m->sock);
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			_exit(3);
		/* No greeting: the daemon hangs up. */
		_exit(read(fd, &c, 1) == 0 ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(slurp(m->log), "runs as uid 65534, mevid as uid 0"));
	assert_true(mevid_alive(m));
	chmod(m->sock, 0600);
	chmod(m->dir, 0700);
}

static void test_already_running(void **state)
{
	struct mevid_proc *m = *state;
	char err[512], expect[256];
	const char *args[] = {"--foreground", "--socket", m->sock, "--listen", "127.0.0.1:0", NULL};

	assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 1);
	snprintf(expect, sizeof(expect), "mevid: already running on %s\n", m->sock);
	assert_string_equal(err, expect);
	assert_true(mevid_alive(m));
}

static void test_port_in_use(void **state)
{
	struct mevid_proc *m = *state;
	char err[512], listen[64], sock[160];
	const char *args[] = {"--foreground", "--socket", sock, "--listen", listen, NULL};

	/* mevid itself holds m->port. */
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", m->port);
	snprintf(sock, sizeof(sock), "%s/other.sock", m->dir);
	assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 1);
	assert_non_null(strstr(err, "mevid: cannot listen on 127.0.0.1:"));
	assert_non_null(strstr(err, "Address already in use"));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
	/* It did not leave a socket behind. */
	assert_int_equal(access(sock, F_OK), -1);
}

static void test_unsafe_directory_refused(void **state)
{
	struct mevid_proc m = {0};
	char err[512], sock[160];
	const char *args[] = {"--foreground", "--socket", sock, "--listen", "127.0.0.1:0", NULL};

	assert_int_equal(harness_tmpdir(&m), 0);
	assert_int_equal(chmod(m.dir, 0777), 0);
	snprintf(sock, sizeof(sock), "%s/mevid.sock", m.dir);
	assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 1);
	assert_non_null(strstr(err, "socket directory"));
	assert_non_null(strstr(err, "is open to other users"));
	/* A missing directory is created 0700. */
	{
		struct stat st;

		assert_int_equal(chmod(m.dir, 0700), 0);
		snprintf(sock, sizeof(sock), "%s/sub/dir/mevid.sock", m.dir);
		{
			struct mevid_proc m2 = {0};

			strcpy(m2.dir, m.dir);
			strcpy(m2.sock, sock);
			snprintf(m2.log, sizeof(m2.log), "%s/m2.log", m.dir);
			assert_int_equal(mevid_spawn(&m2, NULL), 0);
			snprintf(err, sizeof(err), "%s/sub/dir", m.dir);
			assert_int_equal(stat(err, &st), 0);
			assert_int_equal(st.st_mode & 0777, 0700);
			assert_int_equal(mevid_stop(&m2), 0);
		}
	}
	rm_rf(m.dir);
}

static void test_stale_socket_replaced(void **state)
{
	struct mevid_proc m = {0};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	assert_int_equal(harness_tmpdir(&m), 0);
	/* A socket nobody listens on any more: a daemon that died. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sun.sun_path, m.sock);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
	assert_int_equal(access(m.sock, F_OK), 0);
	assert_int_equal(mevid_spawn(&m, NULL), 0);
	assert_non_null(strstr(slurp(m.log), "replacing stale socket"));
	assert_int_equal(mevid_stop(&m), 0);

	/* Something that is not a socket is left alone. */
	fd = open(m.sock, O_CREAT | O_WRONLY, 0600);
	close(fd);
	{
		char err[512];
		const char *args[] = {"--foreground", "--socket",    m.sock,
				      "--listen",     "127.0.0.1:0", NULL};

		assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 1);
		assert_non_null(strstr(err, "is not a socket"));
	}
	rm_rf(m.dir);
}

static void test_daemonize(void **state)
{
	struct mevid_proc m = {0};
	char err[512], sock[160], logpath[256], env[200];
	const char *args[] = {"--socket", sock, "--listen", "127.0.0.1:0", NULL};
	struct json_object *j;
	char url[128];
	int fd, pid, port;

	assert_int_equal(harness_tmpdir(&m), 0);
	snprintf(sock, sizeof(sock), "%s/d.sock", m.dir);
	snprintf(env, sizeof(env), "%s/state", m.dir);
	setenv("XDG_STATE_HOME", env, 1);
	/* Returns 0 only once the socket and the port listen. */
	assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 0);
	assert_string_equal(err, "");
	unsetenv("XDG_STATE_HOME");
	fd = fl_connect(sock, url, sizeof(url));
	assert_true(fd >= 0);
	close(fd);
	port = atoi(strrchr(url, ':') + 1);
	j = get_json(port, "/api/health", NULL);
	assert_non_null(j);
	pid = json_object_get_int(jpath(j, "pid", -1));
	json_object_put(j);
	assert_true(pid > 1);
	snprintf(logpath, sizeof(logpath), "%s/state/mevi/mevid.log", m.dir);
	assert_non_null(strstr(slurp(logpath), "ready: http://127.0.0.1:"));
	/* A second one reports the first, through the readiness pipe. */
	assert_int_equal(mevid_run(args, err, sizeof(err), 5000), 1);
	assert_non_null(strstr(err, "mevid: already running on"));
	assert_int_equal(kill(pid, SIGTERM), 0);
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		usleep(10000);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(access(sock, F_OK), -1);
	rm_rf(m.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_state_end_to_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api_misc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_closes_only_that_connection, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_disconnect_and_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_daemon_restart_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peer_uid_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_already_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
	    cmocka_unit_test(test_unsafe_directory_refused),
	    cmocka_unit_test(test_stale_socket_replaced),
	    cmocka_unit_test(test_daemonize),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
