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
 *   GET|POST /api/access      200 {"access":"token"|"uid"} when admitted (a
 *                             valid token also sets the cookie), else 401/403
 *                             with the sentence the page shows
 *
 * Security (README.md, "Security"): every route but the frontend's files and
 * /api/health is behind daemon/access.h (mevid's uid, or the token): 401 with
 * no token, 403 with a wrong one, each with one sentence on how to get in;
 * /api/health tells others only {"status":"ok"}. A websocket upgrade, DELETE
 * and POST must come from the page's own origin (Origin = http://Host of the
 * request) or one given with --allow-origin (a request without Origin comes
 * from no browser page and is accepted). No CORS headers are ever sent.
 * While mevid listens on a loopback address, requests whose Host is not a
 * loopback name (or the host of an allowed origin) are refused with 403: a
 * DNS-rebinding page cannot use the browser's uid to read /api/state; on any
 * other address everyone needs the token.
 * Uploads stream into a temporary file (daemon/upload.h): over max_upload
 * 413 before the body is read, more than HTTP_MAX_UPLOADS at once 503, the
 * recording header checked from the first bytes (400); 5 s without a byte
 * (libwebsockets' content timeout) or a rate under 256 KiB/s after the first
 * minute ends the upload and frees its slot.
 * Incoming websocket messages are capped (WS_CLIENT_MAX_RX).
 * Connections are accepted by daemon/http_accept.h, which answers a first
 * request head over 16 KiB (or 64 lines) with 431 and one that takes over
 * 10 s with 408, and hands the others to libwebsockets.
 *
 * Ownership: the server borrows the registry, the launcher server and the
 * stream, which must outlive it.
 */
#ifndef MEVI_DAEMON_HTTP_H
#define MEVI_DAEMON_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

#include "access.h"
#include "http_accept.h"

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
	const char *socket_path; /* the token file goes beside it (NULL: none) */
	size_t max_upload;	 /* largest upload body; 0: LOADER_MAX_BYTES */
};

struct http_server {
	uv_loop_t *loop;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int port;      /* the port actually listened on */
	char url[200]; /* "http://127.0.0.1:5001/?token=T", what users open */
	bool check_host;
	char **origins; /* allowed websocket origins (owned) */
	size_t n_origins;
	char **hosts; /* allowed Host names when check_host (owned) */
	size_t n_hosts;
	char *web_root; /* realpath of --web-root (owned), or NULL */
	struct session_registry *reg;
	struct launcher_server *launchers;
	struct stream *stream;
	struct access access;	   /* who may look (daemon/access.h) */
	struct http_accept accept; /* the listener (daemon/http_accept.h) */
	size_t max_upload;
	unsigned n_uploads; /* uploads in flight */
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
