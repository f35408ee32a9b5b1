/* mevid's HTTP listener: reads each connection's first request head itself,
 * answers 431 or 408, and hands the rest to libwebsockets. */
#include "http_accept.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libwebsockets.h>

#include "log.h"
#include "version.h"

/* After EMFILE/ENFILE, accepting resumes this much later (the listener is
 * level-triggered: polling on would spin). */
#define ACCEPT_RETRY_MS 100
/* A head that came in part is looked at again this much later: its bytes are
 * only peeked at, so the socket stays readable and polling on would spin. */
#define HEAD_REPEEK_MS 20

enum conn_state {
	CONN_HEAD,  /* reading the first request head */
	CONN_DRAIN, /* answered 431; reading and dropping until EOF */
};

struct http_accept_conn {
	struct http_accept *a;
	struct http_accept_conn *prev, *next;
	uv_poll_t poll;
	uv_timer_t timer;
	int fd;
	int handles; /* handles not closed yet */
	enum conn_state state;
	uint64_t deadline; /* loop time by which the head must be in */
	size_t len;	   /* bytes of the head seen (peeked, not consumed) */
	size_t drained;	   /* bytes dropped while draining */
	unsigned fields;   /* header lines seen */
	size_t scanned;	   /* buf[0..scanned) holds no end of head */
	char buf[HTTP_ACCEPT_HEAD_MAX];
};

static void accept_resume(struct http_accept *a);
static void conn_head_timer(uv_timer_t *t);

unsigned http_accept_lws_header_room(void)
{
	/* An unknown header costs its name and value plus 8 bytes in lws's
	 * table against at least 5 bytes on the wire ("a:b\r\n"), a known
	 * one at most its value plus a NUL. */
	return HTTP_ACCEPT_HEAD_MAX * 11 / 5 + 1024;
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct http_accept_conn *c = h->data;

	if (--c->handles == 0)
		free(c);
}

/* Unlinks c and closes its handles; closes its socket too unless keep_fd
 * (handed over). c is freed once both handles are closed. */
static void conn_release(struct http_accept_conn *c, bool keep_fd)
{
	struct http_accept *a = c->a;

	if (c->prev)
		c->prev->next = c->next;
	else
		a->pending = c->next;
	if (c->next)
		c->next->prev = c->prev;
	MEVI_ASSERT(a->npending > 0);
	a->npending--;
	/* uv_close() stops the poll at once (uv__poll_stop: the fd leaves
	 * epoll), so the same fd can be polled by libwebsockets right after. */
	uv_close((uv_handle_t *)&c->poll, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	if (!keep_fd)
		close(c->fd);
	c->fd = -1;
	accept_resume(a);
}

/* Writes a whole small response; a client that does not take a few hundred
 * bytes at once does not get them. */
static void conn_answer(struct http_accept_conn *c, unsigned status, const char *reason,
			const char *sentence)
{
	char body[400], msg[1024];
	int blen, n;

	blen = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", sentence);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return;
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 %u %s\r\n"
		     "Server: mevid/%s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %d\r\n"
		     "Cache-Control: no-store\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "Referrer-Policy: no-referrer\r\n"
		     "X-Frame-Options: DENY\r\n"
		     "Connection: close\r\n"
		     "\r\n%s",
		     status, reason, mevi_version, blen, body);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	if (send(c->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("http: cannot answer %u: %s", status, strerror(errno));
}

/* Hands the connection to libwebsockets, its bytes still unread in the
 * socket: libwebsockets reads the request exactly as from a socket its own
 * listener accepted. (Handing it the bytes instead, with
 * lws_adopt_socket_vhost_readbuf(), loses a request body that came in the
 * same read as the head in libwebsockets 4.1.6.) */
static void conn_hand_over(struct http_accept_conn *c)
{
	struct http_accept *a = c->a;
	struct lws_vhost *vh = a->vh;
	int fd = c->fd;

	conn_release(c, true);
	a->handed++;
	/* lws closes fd itself when it cannot adopt it. */
	if (!lws_adopt_socket_vhost(vh, fd))
		log_debug("http: libwebsockets did not adopt a connection (closed)");
}

static void conn_too_large(struct http_accept_conn *c, const char *what)
{
	char sentence[200];

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[INET6_ADDRSTRLEN] = "?";

	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == 0)
		inet_ntop(ss.ss_family,
			  ss.ss_family == AF_INET6
			      ? (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
			      : (void *)&((struct sockaddr_in *)&ss)->sin_addr,
			  peer, sizeof(peer));
	c->a->too_large++;
	log_info("http %s: request headers over the limit (%s): 431", peer, what);
	snprintf(sentence, sizeof(sentence),
		 "the request's headers are larger than mevid takes (%u bytes, %u lines): "
		 "send fewer or smaller headers (cookies)",
		 HTTP_ACCEPT_HEAD_MAX, HTTP_ACCEPT_MAX_FIELDS);
	conn_answer(c, 431, "Request Header Fields Too Large", sentence);
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_DRAIN;
}

/*
 * Looks for the end of the head in the bytes read since the last call,
 * counting header lines. Returns 1 when the head is complete, 0 when more is
 * needed, -1 when it has too many lines.
 */
static int conn_scan(struct http_accept_conn *c)
{
	for (size_t i = c->scanned; i < c->len; i++) {
		if (c->buf[i] != '\n')
			continue;
		/* "\n\n" or "\n\r\n": an empty line ends the head. */
		if ((i >= 1 && c->buf[i - 1] == '\n') ||
		    (i >= 2 && c->buf[i - 1] == '\r' && c->buf[i - 2] == '\n'))
			return 1;
		if (++c->fields > HTTP_ACCEPT_MAX_FIELDS + 1) /* + the request line */
			return -1;
	}
	c->scanned = c->len;
	return 0;
}

static void conn_drain_timeout(uv_timer_t *t)
{
	conn_release(t->data, false);
}

static void conn_readable(uv_poll_t *p, int status, int events);

/* Waits for more of the head: polling again in HEAD_REPEEK_MS, or the
 * deadline. */
static void conn_wait(struct http_accept_conn *c)
{
	uint64_t now = uv_now(c->a->loop);
	uint64_t left = c->deadline > now ? c->deadline - now : 0;

	uv_poll_stop(&c->poll);
	uv_timer_start(&c->timer, conn_head_timer, left < HEAD_REPEEK_MS ? left : HEAD_REPEEK_MS,
		       0);
}

/* The head timer: the deadline (408), or time to look at the socket again. */
static void conn_head_timer(uv_timer_t *t)
{
	struct http_accept_conn *c = t->data;

	if (uv_now(c->a->loop) >= c->deadline) {
		c->a->timed_out++;
		log_debug("http: no complete request head in %d ms%s", HTTP_ACCEPT_TIMEOUT_MS,
			  c->len ? ": 408" : "");
		/* A connection that sent nothing (a browser's preconnect) is
		 * closed silently: a 408 there could be read as the answer to a
		 * request sent just then. */
		if (c->len)
			conn_answer(c, 408, "Request Timeout",
				    "the request's headers did not arrive in time");
		conn_release(c, false);
		return;
	}
	uv_poll_start(&c->poll, UV_READABLE, conn_readable);
	uv_timer_start(&c->timer, conn_head_timer, c->deadline - uv_now(c->a->loop), 0);
}

/* Reads and drops what a refused client still sends. */
static void conn_drain(struct http_accept_conn *c)
{
	char sink[16384];
	ssize_t n;

	do
		n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
	while (n > 0 && (c->drained += (size_t)n) < HTTP_ACCEPT_DRAIN_MAX);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    c->drained >= HTTP_ACCEPT_DRAIN_MAX)
		conn_release(c, false);
}

/* The head is peeked at (MSG_PEEK), never consumed: what libwebsockets gets
 * is the untouched socket. */
static void conn_readable(uv_poll_t *p, int status, int events)
{
	struct http_accept_conn *c = p->data;
	int queued = 0;
	ssize_t n;

	(void)events;
	if (status < 0) {
		conn_release(c, false);
		return;
	}
	if (c->state == CONN_DRAIN) {
		conn_drain(c);
		return;
	}
	/* Nothing new since the last look: no need to copy it again. */
	if (c->len && ioctl(c->fd, FIONREAD, &queued) == 0 && (size_t)queued == c->len) {
		conn_wait(c);
		return;
	}
	do
		n = recv(c->fd, c->buf, sizeof(c->buf), MSG_PEEK | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		conn_release(c, false); /* gone before a whole head */
		return;
	}
	c->len = (size_t)n;
	switch (conn_scan(c)) {
	case 1:
		conn_hand_over(c);
		return;
	case -1:
		conn_too_large(c, "too many lines");
		break;
	default:
		if (c->len < sizeof(c->buf)) {
			conn_wait(c);
			return;
		}
		conn_too_large(c, "too many bytes");
		break;
	}
	uv_timer_start(&c->timer, conn_drain_timeout, HTTP_ACCEPT_DRAIN_MS, 0);
	uv_poll_start(&c->poll, UV_READABLE, conn_readable);
	conn_drain(c);
}

/* Takes the new connection fd in. Returns 0, or -1 when fd was closed. */
static int conn_open(struct http_accept *a, int fd)
{
	struct http_accept_conn *c = malloc(sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return -1;
	}
	memset(c, 0, offsetof(struct http_accept_conn, buf));
	c->a = a;
	c->fd = fd;
	/* What libwebsockets' own listener does to each accepted socket
	 * (lws_plat_set_socket_options): no Nagle delay, so that small
	 * answers and websocket fragments leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (uv_poll_init_socket(a->loop, &c->poll, fd)) {
		close(fd);
		free(c);
		return -1;
	}
	c->poll.data = c;
	uv_timer_init(a->loop, &c->timer);
	c->timer.data = c;
	c->handles = 2;
	c->next = a->pending;
	if (c->next)
		c->next->prev = c;
	a->pending = c;
	a->npending++;
	uv_poll_start(&c->poll, UV_READABLE, conn_readable);
	c->deadline = uv_now(a->loop) + HTTP_ACCEPT_TIMEOUT_MS;
	uv_timer_start(&c->timer, conn_head_timer, HTTP_ACCEPT_TIMEOUT_MS, 0);
	return 0;
}

static void accept_pause(struct http_accept *a)
{
	if (a->accepting)
		uv_poll_stop(&a->poll);
	a->accepting = false;
}

static void accept_ready(uv_poll_t *p, int status, int events);

static void accept_resume(struct http_accept *a)
{
	if (a->accepting || a->fd < 0 || !a->started || a->npending >= HTTP_ACCEPT_MAX_PENDING ||
	    uv_is_active((uv_handle_t *)&a->retry))
		return;
	if (uv_poll_start(&a->poll, UV_READABLE, accept_ready) == 0)
		a->accepting = true;
}

static void accept_retry(uv_timer_t *t)
{
	accept_resume(t->data);
}

static void accept_ready(uv_poll_t *p, int status, int events)
{
	struct http_accept *a = p->data;

	(void)status;
	(void)events;
	while (a->npending < HTTP_ACCEPT_MAX_PENDING) {
		int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("http: cannot accept a connection: %s; retrying in %d ms",
					 strerror(errno), ACCEPT_RETRY_MS);
				accept_pause(a);
				uv_timer_start(&a->retry, accept_retry, ACCEPT_RETRY_MS, 0);
			}
			return; /* EAGAIN, or another error of this one connection */
		}
		conn_open(a, fd);
	}
	log_debug("http: %u connections are sending their headers: accepting paused", a->npending);
	accept_pause(a);
}

int http_accept_start(struct http_accept *a, uv_loop_t *loop, int fd, struct lws_vhost *vh)
{
	int ret;

	a->loop = loop;
	a->vh = vh;
	a->fd = fd;
	a->pending = NULL;
	a->npending = 0;
	ret = uv_poll_init_socket(loop, &a->poll, fd);
	if (ret) {
		close(fd);
		a->fd = -1;
		return ret;
	}
	a->poll.data = a;
	uv_timer_init(loop, &a->retry);
	a->retry.data = a;
	a->started = true;
	accept_resume(a);
	return a->accepting ? 0 : UV_EIO;
}

void http_accept_close(struct http_accept *a)
{
	/* Listener first: releasing a connection would resume accepting. */
	if (a->started) {
		uv_close((uv_handle_t *)&a->poll, NULL);
		uv_close((uv_handle_t *)&a->retry, NULL);
		a->started = false;
		a->accepting = false;
	}
	while (a->pending)
		conn_release(a->pending, false);
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
}
