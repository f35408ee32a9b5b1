/*
 * http — mevid's HTTP and websocket server: libwebsockets on mevid's own
 * libuv loop (Debian's libwebsockets drives libuv through its
 * libwebsockets-evlib_uv plugin; the loop is handed over as a foreign loop).
 *
 * Routes:
 *   GET  /api/state[?pid=N]   daemon/api_state.h (after draining every
 *                             launcher socket: see launcher_server_drain)
 *   GET  /api/state?session=S&at=T  the state of S at T ns since it began
 *                             (daemon/eventlog.h): 400 bad parameters,
 *                             404 unknown session, 410 history not kept
 *   GET  /api/sessions/S/recording  the session as a .mevi file (attachment)
 *   GET  /api/sessions/S/timeline   markers and RSS curve (api_state.h)
 *   GET  /api/sessions/S/export?format=trace-event|folded|summary|summary-json
 *                             [&pid=N][&at=T]  (daemon/export.h; attachment)
 *   GET  /metrics             Prometheus text format (daemon/metrics.h)
 *   POST /api/recordings      body = a .mevi file (Content-Length required,
 *                             at most 256 MiB): 201 {"id":N}, 400 refused
 *                             with {"error":...}, 411, 413
 *   GET  /api/health          {"status":"ok","sessions":N,"version":...}
 *   DELETE /api/sessions/ID   forget an ended session: 204, 404 unknown,
 *                             409 while its launcher is connected
 *   GET  /stream              websocket (daemon/stream.h)
 *   GET  /...                 the frontend (daemon/assets.h), or the files of
 *                             --web-root DIR
 *
 * Security (../shared/DESIGN.md): a websocket upgrade whose Origin is not
 * http://127.0.0.1:PORT, http://localhost:PORT, http://[::1]:PORT or one
 * given with --allow-origin is refused with 403 (a request without Origin
 * comes from no browser page and is accepted); DELETE and POST apply the
 * same rule.
 * No CORS headers are ever sent. While mevid listens on a loopback address,
 * requests whose Host is not a loopback name (or the host of an allowed
 * origin) are refused with 403: a DNS-rebinding page cannot read /api/state.
 * Incoming websocket messages are capped (WS_CLIENT_MAX_RX).
 *
 * Ownership: the server borrows the registry, the launcher server and the
 * stream, which must outlive it.
 */
#ifndef MEVI_DAEMON_HTTP_H
#define MEVI_DAEMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct launcher_server;
struct lws_context;
struct lws_vhost;
struct session_registry;
struct stream;

struct http_config {
	const char *host; /* numeric or "localhost"; no brackets */
	int port;	  /* 0: any free port */
	const char *web_root;
	const char *const *allow_origins;
	size_t n_allow_origins;
};

struct http_server {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int port;      /* the port actually listened on */
	char url[160]; /* "http://127.0.0.1:5001/" */
	bool check_host;
	char **origins; /* allowed websocket origins (owned) */
	size_t n_origins;
	char **hosts; /* allowed Host names when check_host (owned) */
	size_t n_hosts;
	char *web_root; /* realpath of --web-root (owned), or NULL */
	struct session_registry *reg;
	struct launcher_server *launchers;
	struct stream *stream;
};

/*
 * Starts listening. On failure writes one sentence into err (errlen bytes),
 * e.g. "cannot listen on 127.0.0.1:5001: Address already in use", and returns
 * a negative errno; h is then cleaned up.
 */
int http_server_start(struct http_server *h, uv_loop_t *loop, const struct http_config *cfg,
		      struct session_registry *reg, struct launcher_server *launchers,
		      struct stream *stream, char *err, size_t errlen);

/* Destroys the libwebsockets context (its handles close asynchronously: the
 * loop must run afterwards) and frees what h owns. */
void http_server_destroy(struct http_server *h);

#endif /* MEVI_DAEMON_HTTP_H */
