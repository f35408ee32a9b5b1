/*
 * http_accept — mevid's HTTP listener, in front of libwebsockets.
 *
 * libwebsockets 4.1 hangs up on a request whose headers overflow its header
 * table (lws_parse() fails and lws_handshake_server() drops the connection,
 * with no callback before it and no status sent), so mevid accepts
 * connections itself: each new connection's first request head is looked at
 * here, on mevid's libuv loop, with MSG_PEEK (nothing is consumed), up to
 * HTTP_ACCEPT_HEAD_MAX bytes and HTTP_ACCEPT_MAX_FIELDS header lines.
 *
 *   - The head ends within the limits: the socket, its bytes still unread,
 *     goes to libwebsockets (lws_adopt_socket_vhost), which serves it exactly
 *     as if its own listener had accepted it (the same fd: daemon/access.h
 *     looks its peer up as before).
 *   - Over the limits: "431 Request Header Fields Too Large" with a JSON body
 *     of one sentence; then the connection is drained (what the client sent
 *     is read and dropped, up to HTTP_ACCEPT_DRAIN_MAX bytes or
 *     HTTP_ACCEPT_DRAIN_MS) before it is closed, so that the client reads the
 *     answer instead of a reset.
 *   - No complete head within HTTP_ACCEPT_TIMEOUT_MS of the accept (slowloris):
 *     "408 Request Timeout" and close (a connection that sent nothing at all
 *     is closed without a word). A head that arrives in parts is looked
 *     at again every 20 ms while more has come (the socket stays readable).
 *   - At most HTTP_ACCEPT_MAX_PENDING connections are being looked at once;
 *     beyond, accepting pauses (new connections wait in the kernel's listen
 *     backlog) until one is handed over or closed.
 *
 * Later requests of a keep-alive connection are parsed by libwebsockets alone;
 * its header table is sized (http_accept_lws_header_room) so that any head
 * within these limits fits it.
 *
 * Ownership: struct http_accept is the caller's and must stay in place until
 * the loop has run after http_accept_close() (its handles close
 * asynchronously). Each pending connection is owned here until handed over.
 */
#ifndef MEVI_DAEMON_HTTP_ACCEPT_H
#define MEVI_DAEMON_HTTP_ACCEPT_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct lws_vhost;
struct http_accept_conn;

#define HTTP_ACCEPT_HEAD_MAX	(16u << 10)
#define HTTP_ACCEPT_MAX_FIELDS	64
#define HTTP_ACCEPT_TIMEOUT_MS	10000
#define HTTP_ACCEPT_MAX_PENDING 64
#define HTTP_ACCEPT_DRAIN_MAX	(4u << 20)
#define HTTP_ACCEPT_DRAIN_MS	2000

struct http_accept {
	uv_loop_t *loop;
	struct lws_vhost *vh;
	int fd; /* the listening socket, or -1 */
	uv_poll_t poll;
	uv_timer_t retry; /* resumes accepting after EMFILE */
	bool started;	  /* poll and retry initialised */
	bool accepting;	  /* poll started */
	unsigned npending;
	struct http_accept_conn *pending; /* being read, or draining */
	/* Statistics. */
	uint64_t handed, too_large, timed_out;
};

/*
 * The bytes libwebsockets' header table needs so that a head within
 * HTTP_ACCEPT_HEAD_MAX always fits it (lws stores each unknown header with 8
 * bytes of bookkeeping: "a:b" costs 11 bytes for 5 on the wire).
 */
unsigned http_accept_lws_header_room(void);

/*
 * Starts accepting on fd, a bound, listening, non-blocking TCP socket (taken
 * over: closed by http_accept_close()), handing connections to vh. Returns 0
 * or a negative libuv error; fd is closed on failure too.
 */
int http_accept_start(struct http_accept *a, uv_loop_t *loop, int fd, struct lws_vhost *vh);

/* Stops accepting and closes the listening socket and every pending
 * connection. Safe on a zeroed struct with fd -1, and twice. */
void http_accept_close(struct http_accept *a);

#endif /* MEVI_DAEMON_HTTP_ACCEPT_H */
