/*
 * test_http_accept — mevid's own HTTP accept (daemon/http_accept.h), against
 * the real binary, as any user: headers over the limit get 431 with a
 * one-sentence body (not a dropped connection), by bytes and by lines; a head
 * within the limits is served whole (libwebsockets' header table holds it),
 * also when it arrives in parts or is followed by a body in the same write,
 * and keep-alive and websocket upgrades work as before; a head that never
 * ends gets 408 after 10 s (one that sent nothing is closed silently), and
 * more such connections than the bound keep nobody out for longer than that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "http_accept.h"

static struct mevid_proc m;

static int setup(void **state)
{
	(void)state;
	memset(&m, 0, sizeof(m));
	return mevid_spawn(&m, NULL);
}

static int teardown(void **state)
{
	(void)state;
	mevid_stop(&m);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_mevid(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)m.port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Writes what it can of buf (the server may stop reading). */
static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads until the server closes, or timeout_s. Returns a malloc'd string. */
static char *read_all(int fd, double timeout_s)
{
	size_t cap = 65536, len = 0;
	char *out = malloc(cap);
	double end = now_s() + timeout_s;

	assert_non_null(out);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((end - now_s()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		if (len + 1 == cap) {
			out = realloc(out, cap *= 2);
			assert_non_null(out);
		}
		n = recv(fd, out + len, cap - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	return out;
}

/* Sends req on a fresh connection; returns all of the answer. */
static char *exchange(const char *req, size_t len)
{
	int fd = connect_mevid();
	char *out;

	send_all(fd, req, len);
	out = read_all(fd, 20);
	close(fd);
	return out;
}

static char *with_header_bytes(size_t n)
{
	char *req = malloc(n + 256);
	int k;

	assert_non_null(req);
	k = sprintf(req, "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Big: ", m.port);
	memset(req + k, 'a', n);
	strcpy(req + k + n, "\r\n\r\n");
	return req;
}

static void test_over_limit_bytes(void **state)
{
	char *req = with_header_bytes(100u << 10);
	char *got = exchange(req, strlen(req));
	const char *body = strstr(got, "\r\n\r\n");

	(void)state;
	assert_true(strncmp(got, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
	assert_non_null(body);
	/* One sentence, as JSON, and nothing of the state. */
	assert_true(strncmp(body + 4, "{\"error\":\"the request's headers are larger", 42) == 0);
	assert_non_null(strstr(got, "Content-Type: application/json"));
	free(got);
	free(req);
}

static void test_over_limit_lines(void **state)
{
	char req[8192];
	int k = sprintf(req, "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", m.port);
	char *got;

	(void)state;
	for (int i = 0; i < HTTP_ACCEPT_MAX_FIELDS; i++)
		k += sprintf(req + k, "X-H%d: v\r\n", i);
	strcpy(req + k, "\r\n");
	got = exchange(req, strlen(req));
	assert_true(strncmp(got, "HTTP/1.1 431", 12) == 0);
	free(got);
}

/* Just under the limit, in unknown headers (the costliest for libwebsockets'
 * header table) and a big cookie: served. */
static void test_within_limit(void **state)
{
	char *req = malloc(HTTP_ACCEPT_HEAD_MAX + 1024), *got;
	int k = sprintf(
	    req, "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", m.port);

	(void)state;
	for (int i = 0; i < HTTP_ACCEPT_MAX_FIELDS - 3; i++)
		k += sprintf(req + k, "X-%d: %0100d\r\n", i, 0);
	k += sprintf(req + k, "Cookie: c=");
	while (k < (int)HTTP_ACCEPT_HEAD_MAX - 200)
		req[k++] = 'c';
	strcpy(req + k, "\r\n\r\n");
	got = exchange(req, strlen(req));
	print_message("%zu-byte head: %.15s\n", strlen(req), got);
	assert_true(strncmp(got, "HTTP/1.1 200", 12) == 0);
	free(got);
	free(req);
}

/* A head in three writes 50 ms apart, then keep-alive: both served. */
static void test_parts_and_keepalive(void **state)
{
	char req[512], *got;
	int fd = connect_mevid();
	int k =
	    snprintf(req, sizeof(req),
		     "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
		     "GET /api/state HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
		     m.port, m.port);

	(void)state;
	send_all(fd, req, 10);
	usleep(50000);
	send_all(fd, req + 10, 20);
	usleep(50000);
	send_all(fd, req + 30, (size_t)k - 30);
	got = read_all(fd, 10);
	close(fd);
	assert_true(strncmp(got, "HTTP/1.1 200", 12) == 0);
	assert_non_null(strstr(got + 12, "HTTP/1.1 200"));
	free(got);
}

static struct mevi_str argv_items[] = {{"prog", 4}};
static const struct mevi_strv prog_argv = {1, argv_items};

/* A recording posted in the same write as its head is taken whole (201):
 * nothing of the body is lost on the way to libwebsockets. */
static void test_body_with_head(void **state)
{
	struct mevi_event evs[] = {ev_session_start(70, 7, false, prog_argv),
				   ev_proc_start(71, 70, 0, prog_argv),
				   ev_simple(MEVI_EV_SESSION_END, 70, 0)};
	struct http_reply r;
	char *req, *got;
	int fd = fl_connect(m.sock, NULL, 0), k;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(fl_send(fd, evs, 3), 0);
	assert_int_equal(http_request(m.port, "GET", "/api/sessions/1/recording", NULL, &r), 0);
	close(fd);
	assert_int_equal(r.status, 200);
	req = malloc(r.body_len + 256);
	assert_non_null(req);
	k = sprintf(req,
		    "POST /api/recordings HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    m.port, r.body_len);
	memcpy(req + k, r.body, r.body_len);
	got = exchange(req, (size_t)k + r.body_len);
	print_message("a %zu-byte recording with its head in one write: %.40s\n", r.body_len, got);
	assert_true(strncmp(got, "HTTP/1.1 201", 12) == 0);
	free(got);
	free(req);
	http_reply_free(&r);
}

static void test_websocket(void **state)
{
	int status = 0, fd = ws_connect(m.port, "/stream", NULL, &status, 0);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
}

/* Slowloris: heads that never end get 408 after HTTP_ACCEPT_TIMEOUT_MS;
 * more of them than HTTP_ACCEPT_MAX_PENDING delay a normal request by no
 * more than that. */
static void test_slow_heads(void **state)
{
	enum { N = HTTP_ACCEPT_MAX_PENDING + 16 };
	static int fds[N];
	struct http_reply r;
	double t0 = now_s(), served, timed;
	char req[128], *got;

	(void)state;
	int idle = connect_mevid(); /* sends nothing: closed without a word */

	for (int i = 0; i < N; i++) {
		fds[i] = connect_mevid();
		send_all(fds[i], "GET / HTTP/1.1\r\nX-Slow: ", 24);
	}
	snprintf(req, sizeof(req),
		 "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
		 m.port);
	got = exchange(req, strlen(req));
	served = now_s() - t0;
	assert_true(strncmp(got, "HTTP/1.1 200", 12) == 0);
	free(got);
	got = read_all(fds[0], 15);
	timed = now_s() - t0;
	print_message("408 after %.1f s; a request behind %d stalled heads served after %.1f s\n",
		      timed, N, served);
	assert_true(strncmp(got, "HTTP/1.1 408", 12) == 0);
	assert_true(timed > HTTP_ACCEPT_TIMEOUT_MS / 1000.0 - 1 &&
		    timed < HTTP_ACCEPT_TIMEOUT_MS / 1000.0 + 5);
	assert_true(served < HTTP_ACCEPT_TIMEOUT_MS / 1000.0 + 5);
	free(got);
	got = read_all(idle, 5);
	assert_string_equal(got, "");
	free(got);
	close(idle);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	assert_int_equal(http_request(m.port, "GET", "/api/health", NULL, &r), 0);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_over_limit_bytes), cmocka_unit_test(test_over_limit_lines),
	    cmocka_unit_test(test_within_limit),     cmocka_unit_test(test_parts_and_keepalive),
	    cmocka_unit_test(test_body_with_head),   cmocka_unit_test(test_websocket),
	    cmocka_unit_test(test_slow_heads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
