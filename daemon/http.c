/*
 * http — mevid's HTTP and websocket server on libwebsockets: routing, headers,
 * Origin and Host checks, uploads, and the answers of every route (list: http.h).
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libwebsockets.h>

#include "access.h"
#include "api_state.h"
#include "assets.h"
#include "checkpoint.h"
#include "eventlog.h"
#include "launcher_conn.h"
#include "export.h"
#include "http_accept.h"
#include "loader.h"
#include "metrics.h"
#include "log.h"
#include "mimetype.h"
#include "parse.h"
#include "session.h"
#include "stream.h"
#include "upload.h"
#include "version.h"
#include "ws_client.h"

#define HTTP_CHUNK	  (256 * 1024)
#define WEB_ROOT_MAX_FILE (64u << 20)
/* Uploads in flight at once; one more gets 503. */
#define HTTP_MAX_UPLOADS 4
/* An upload may take at most UPLOAD_BASE_S plus a second per UPLOAD_MIN_RATE
 * bytes in all; one that sends nothing for 5 s is dropped by libwebsockets
 * itself (its PENDING_TIMEOUT_HTTP_CONTENT, re-armed at every read). */
#define UPLOAD_BASE_S	60
#define UPLOAD_MIN_RATE (256u << 10)

/* Per connection (libwebsockets allocates and zeroes it). */
struct http_pss {
	/* The body being sent; exactly one of jso / owned / static data. */
	const char *body;
	size_t len, off;
	struct json_object *jso;
	char *owned;
	struct ws_client *tab; /* after a websocket upgrade */
	/* POST /api/recordings: the body being received, in a temporary file
	 * (valid while uploading: libwebsockets zeroes pss). */
	struct upload up;
	bool uploading;
	bool up_refused;	 /* answered already; the rest of the body is ignored */
	struct access_peer peer; /* who is at the other end (daemon/access.h) */
};

/* One loop, one write at a time: one scratch buffer with LWS_PRE headroom. */
static unsigned char http_scratch[LWS_PRE + HTTP_CHUNK];

static void pss_upload_release(struct http_server *h, struct http_pss *pss)
{
	if (!pss->uploading)
		return;
	upload_close(&pss->up);
	pss->uploading = false;
	MEVI_ASSERT(h->n_uploads > 0);
	h->n_uploads--;
}

static void pss_release(struct http_pss *pss)
{
	json_object_put(pss->jso);
	free(pss->owned);
	pss->jso = NULL;
	pss->owned = NULL;
	pss->body = NULL;
	pss->len = pss->off = 0;
}

struct header {
	const char *name; /* lower case, with the colon: "cache-control:" */
	const char *value;
};

/* Bodies up to this size go out in the same write as the headers. */
#define HTTP_INLINE_BODY 1024

/*
 * Sends the status line and headers, and the body too when body is not NULL
 * (at most HTTP_INLINE_BODY bytes): one write, which also works while a
 * websocket upgrade is being refused. Returns 0 or -1 (close the connection).
 */
static int send_headers(struct lws *wsi, unsigned status, const char *ctype, size_t len,
			const struct header *extra, size_t nextra, const char *body)
{
	static const struct header common[] = {
	    {"x-content-type-options:", "nosniff"},
	    {"referrer-policy:", "no-referrer"},
	    {"x-frame-options:", "DENY"},
	};
	unsigned char buf[LWS_PRE + 2048 + HTTP_INLINE_BODY];
	unsigned char *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf) - HTTP_INLINE_BODY - 1;

	if (lws_add_http_header_status(wsi, status, &p, end))
		return -1;
	if (ctype &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)ctype, (int)strlen(ctype), &p, end))
		return -1;
	if (status != 304 && lws_add_http_header_content_length(wsi, len, &p, end))
		return -1;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)common[i].name,
						(const unsigned char *)common[i].value,
						(int)strlen(common[i].value), &p, end))
			return -1;
	for (size_t i = 0; i < nextra; i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)extra[i].name,
						(const unsigned char *)extra[i].value,
						(int)strlen(extra[i].value), &p, end))
			return -1;
	if (lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (body) {
		MEVI_ASSERT(len <= HTTP_INLINE_BODY);
		memcpy(p, body, len);
		p += len;
	}
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	return 0;
}

/* Ends the transaction: keep-alive, or -1 to close. */
static int transaction_done(struct lws *wsi)
{
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/*
 * Responds with the body already attached to pss (may be empty). head_only
 * sends the headers alone. Returns what the callback returns.
 */
static int respond(struct lws *wsi, struct http_pss *pss, unsigned status, const char *ctype,
		   const struct header *extra, size_t nextra, bool head_only)
{
	bool inline_body = !head_only && pss->len <= HTTP_INLINE_BODY;

	if (send_headers(wsi, status, ctype, pss->len, extra, nextra,
			 inline_body ? pss->body : NULL)) {
		pss_release(pss);
		return -1;
	}
	if (head_only || inline_body) {
		pss_release(pss);
		return transaction_done(wsi);
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_text(struct lws *wsi, struct http_pss *pss, unsigned status, const char *ctype,
			const char *text, const struct header *extra, size_t nextra, bool head_only)
{
	pss_release(pss);
	pss->body = text;
	pss->len = strlen(text);
	return respond(wsi, pss, status, ctype, extra, nextra, head_only);
}

static int respond_error(struct lws *wsi, struct http_pss *pss, unsigned status, const char *msg)
{
	static const struct header nostore[] = {{"cache-control:", "no-store"}};
	struct json_object *o = json_object_new_object();
	const char *text;
	size_t len;

	pss_release(pss);
	if (!o || json_object_object_add(o, "error", json_object_new_string(msg)) ||
	    !(text = api_json_string(o, &len)) || !(pss->owned = malloc(len + 2))) {
		json_object_put(o);
		return -1;
	}
	memcpy(pss->owned, text, len);
	pss->owned[len] = '\n';
	pss->owned[len + 1] = '\0';
	json_object_put(o);
	pss->body = pss->owned;
	pss->len = len + 1;
	return respond(wsi, pss, status, "application/json", nostore, 1, false);
}

/* Responds with a json document (taken over). */
static int respond_json(struct lws *wsi, struct http_pss *pss, struct json_object *jso,
			bool head_only)
{
	static const struct header nostore[] = {{"cache-control:", "no-store"}};
	size_t len;
	const char *s;

	pss_release(pss);
	if (!jso)
		return respond_error(wsi, pss, 500, "out of memory");
	s = api_json_string(jso, &len);
	if (!s) {
		json_object_put(jso);
		return respond_error(wsi, pss, 500, "out of memory");
	}
	pss->jso = jso;
	pss->body = s;
	pss->len = len;
	return respond(wsi, pss, 200, "application/json", nostore, 1, head_only);
}

/* One write per writable callback (libwebsockets 4.1 reports the pipe
 * choked after any write until the next POLLOUT). */
static int write_body(struct lws *wsi, struct http_pss *pss)
{
	size_t n = pss->len - pss->off;
	bool final;

	if (n > HTTP_CHUNK)
		n = HTTP_CHUNK;
	final = pss->off + n == pss->len;
	memcpy(http_scratch + LWS_PRE, pss->body + pss->off, n);
	if (lws_write(wsi, http_scratch + LWS_PRE, n,
		      final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n) {
		pss_release(pss);
		return -1;
	}
	pss->off += n;
	if (!final) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	pss_release(pss);
	return transaction_done(wsi);
}

/* Copies header h into buf; returns its length, or -1 when absent or too
 * long. */
static int header_copy(struct lws *wsi, enum lws_token_indexes h, char *buf, int len)
{
	int n = lws_hdr_total_length(wsi, h);

	if (n <= 0 || n >= len)
		return -1;
	return lws_hdr_copy(wsi, buf, len, h);
}

/*
 * Same origin: the Origin of a browser request must be the request's own
 * scheme://Host (mevid speaks plain http), or one given with --allow-origin
 * (or a loopback origin on our port). A request without Origin comes from no
 * browser page and is let through (the access rule still applies).
 */
static bool origin_allowed(const struct http_server *h, struct lws *wsi)
{
	char origin[300], host[300], self[310];
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);

	if (n <= 0)
		return true; /* no browser page behind this request */
	if (header_copy(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) < 0)
		return false;
	if (header_copy(wsi, WSI_TOKEN_HOST, host, sizeof(host)) > 0) {
		snprintf(self, sizeof(self), "http://%s", host);
		if (strcasecmp(origin, self) == 0)
			return true;
	}
	for (size_t i = 0; i < h->n_origins; i++)
		if (strcasecmp(origin, h->origins[i]) == 0)
			return true;
	return false;
}

/* Host without its port: "localhost:5001" -> "localhost", "[::1]:1" -> "[::1]". */
static void host_strip_port(char *host)
{
	char *colon;

	if (host[0] == '[') {
		char *close = strchr(host, ']');

		if (close)
			close[1] = '\0';
		return;
	}
	colon = strchr(host, ':');
	if (colon)
		*colon = '\0';
}

static bool host_allowed(const struct http_server *h, struct lws *wsi)
{
	char host[300];

	if (!h->check_host || lws_hdr_total_length(wsi, WSI_TOKEN_HOST) <= 0)
		return true;
	if (header_copy(wsi, WSI_TOKEN_HOST, host, sizeof(host)) < 0)
		return false;
	host_strip_port(host);
	for (size_t i = 0; i < h->n_hosts; i++)
		if (strcasecmp(host, h->hosts[i]) == 0)
			return true;
	return false;
}

static const char *peer_name(struct lws *wsi, char *buf, size_t len)
{
	buf[0] = '\0';
	lws_get_peer_simple(wsi, buf, len);
	return buf;
}

static int serve_asset(struct lws *wsi, struct http_pss *pss, const char *path, bool head_only)
{
	const struct asset *a = assets_find(path);
	struct header hdrs[4];
	size_t nh = 0;
	char inm[256];
	char enc[256];
	bool gzip = false;

	if (!a)
		return respond_error(wsi, pss, 404, "not found");
	hdrs[nh++] = (struct header){
	    "cache-control:", a->immutable ? "public, max-age=31536000, immutable" : "no-cache"};
	hdrs[nh++] = (struct header){"etag:", a->etag};
	if (a->gz)
		hdrs[nh++] = (struct header){"vary:", "Accept-Encoding"};
	if (header_copy(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm)) > 0 &&
	    (strstr(inm, a->etag) || strcmp(inm, "*") == 0)) {
		pss_release(pss);
		return respond(wsi, pss, 304, NULL, hdrs, nh, true);
	}
	if (a->gz && header_copy(wsi, WSI_TOKEN_HTTP_ACCEPT_ENCODING, enc, sizeof(enc)) > 0 &&
	    strstr(enc, "gzip"))
		gzip = true;
	pss_release(pss);
	if (gzip) {
		hdrs[nh++] = (struct header){"content-encoding:", "gzip"};
		pss->body = (const char *)a->gz;
		pss->len = a->gz_len;
	} else {
		pss->body = (const char *)a->data;
		pss->len = a->len;
	}
	return respond(wsi, pss, 200, a->content_type, hdrs, nh, head_only);
}

/* --web-root: serves root/path, refusing anything that resolves outside
 * root. */
static int serve_file(const struct http_server *h, struct lws *wsi, struct http_pss *pss,
		      const char *path, bool head_only)
{
	static const struct header nocache[] = {{"cache-control:", "no-cache"}};
	char full[PATH_MAX], real[PATH_MAX];
	size_t rootlen = strlen(h->web_root);
	struct stat st;
	int fd, n;
	char *buf;
	size_t got = 0;

	n = snprintf(full, sizeof(full), "%s%s%s", h->web_root, path,
		     path[strlen(path) - 1] == '/' ? "index.html" : "");
	if (n < 0 || (size_t)n >= sizeof(full) || !realpath(full, real))
		return respond_error(wsi, pss, 404, "not found");
	if (strncmp(real, h->web_root, rootlen) != 0 || real[rootlen] != '/')
		return respond_error(wsi, pss, 404, "not found");
	fd = open(real, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return respond_error(wsi, pss, 404, "not found");
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > WEB_ROOT_MAX_FILE) {
		close(fd);
		return respond_error(wsi, pss, 404, "not found");
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return respond_error(wsi, pss, 500, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	pss_release(pss);
	pss->owned = buf;
	pss->body = buf;
	pss->len = got;
	return respond(wsi, pss, 200, mimetype_of(real), nocache, 1, head_only);
}

static int serve_state_at(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			  bool head_only, const char *sid, const char *at);

/* GET /api/state[?pid=N], or ?session=S&at=T (serve_state_at) */
static int serve_state(struct http_server *h, struct lws *wsi, struct http_pss *pss, bool head_only)
{
	char arg[32], sarg[32], aarg[32];
	const char *v = lws_get_urlarg_by_name(wsi, "pid=", arg, sizeof(arg));
	const char *sid = lws_get_urlarg_by_name(wsi, "session=", sarg, sizeof(sarg));
	const char *at = lws_get_urlarg_by_name(wsi, "at=", aarg, sizeof(aarg));
	bool has_pid = false;
	long pid = 0;

	if (sid || at) {
		if (!sid || !at)
			return respond_error(wsi, pss, 400, "session and at go together");
		if (v)
			return respond_error(wsi, pss, 400, "pid cannot be combined with at");
		return serve_state_at(h, wsi, pss, head_only, sid, at);
	}

	if (v) {
		char *end;

		errno = 0;
		pid = strtol(v, &end, 10);
		if (!*v || *end || errno || pid < INT32_MIN || pid > INT32_MAX)
			return respond_error(wsi, pss, 400, "pid must be an integer");
		has_pid = true;
	}
	launcher_server_drain(h->launchers);
	return respond_json(wsi, pss, api_state_build(h->reg, has_pid, (int32_t)pid), head_only);
}

/* GET /api/state?session=S&at=T: the state of S at T (daemon/eventlog.h). */
static int serve_state_at(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			  bool head_only, const char *sid, const char *at)
{
	struct session_registry tmp;
	struct eventlog_pos pos;
	struct session *live, *s;
	uint64_t id, t;
	int ret;

	if (parse_u64(sid, &id))
		return respond_error(wsi, pss, 400, "session must be a session id");
	if (parse_u64(at, &t))
		return respond_error(wsi, pss, 400,
				     "at must be a time in ns since the session began");
	launcher_server_drain(h->launchers);
	live = session_registry_find(h->reg, id);
	if (!live)
		return respond_error(wsi, pss, 404, "no such session");
	ret = checkpoint_state_at(live, t, &tmp, &s, &pos);
	if (ret == -ENOENT) {
		session_registry_destroy(&tmp);
		return respond_error(wsi, pss, 410,
				     "the history of this session was not kept (history budget)");
	}
	if (ret) {
		session_registry_destroy(&tmp);
		log_error("session %" PRIu64 ": cannot rebuild the state at %" PRIu64 ": %s", id, t,
			  strerror(-ret));
		return respond_error(wsi, pss, 500, "cannot read the session's history");
	}
	ret = respond_json(wsi, pss, api_state_build_at(s, &pos), head_only);
	session_registry_destroy(&tmp);
	return ret;
}

/* GET /api/sessions/S/export (daemon/export.h) and /metrics (daemon/metrics.h):
 * bodies built by those modules, answered here. */
static int serve_built(struct lws *wsi, struct http_pss *pss, struct export_response *r,
		       bool head_only)
{
	struct header hdrs[2] = {{"cache-control:", "no-store"},
				 {"content-disposition:", r->disposition}};

	if (r->status != 200) {
		free(r->body);
		return respond_error(wsi, pss, r->status, r->error);
	}
	pss_release(pss);
	pss->owned = r->body;
	pss->body = r->body;
	pss->len = r->len;
	return respond(wsi, pss, 200, r->ctype, hdrs, r->disposition[0] ? 2 : 1, head_only);
}

static int serve_export(struct lws *wsi, struct http_pss *pss, const struct session *s,
			bool head_only)
{
	char farg[32], parg[32], aarg[32];
	struct export_response r;

	export_respond(s, lws_get_urlarg_by_name(wsi, "format=", farg, sizeof(farg)),
		       lws_get_urlarg_by_name(wsi, "pid=", parg, sizeof(parg)),
		       lws_get_urlarg_by_name(wsi, "at=", aarg, sizeof(aarg)), &r);
	return serve_built(wsi, pss, &r, head_only);
}

static int serve_metrics(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			 bool head_only)
{
	struct metrics_daemon d = {0};
	struct export_response r;

	launcher_server_drain(h->launchers);
	d.launchers = h->launchers->nconns;
	d.events_ingested = h->launchers->events;
	if (h->stream) {
		d.tabs = h->stream->ntabs;
		d.tab_resyncs = h->stream->resyncs;
		d.tabs_dropped = h->stream->stalled;
	}
	metrics_respond(h->reg, &d, &r);
	return serve_built(wsi, pss, &r, head_only);
}

/* GET /api/sessions/S/recording and /timeline. */
static int serve_session_get(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			     uint64_t id, const char *what, bool head_only)
{
	static const struct header nostore[] = {{"cache-control:", "no-store"}};
	struct session *s;
	msgpack_sbuffer sb;
	char disp[96];
	struct header hdrs[2] = {{"cache-control:", "no-store"}, {"content-disposition:", disp}};
	int ret;

	launcher_server_drain(h->launchers);
	s = session_registry_find(h->reg, id);
	if (!s)
		return respond_error(wsi, pss, 404, "no such session");
	if (strcmp(what, "export") == 0)
		return serve_export(wsi, pss, s, head_only);
	if (!s->log)
		return respond_error(wsi, pss, 410,
				     "the history of this session was not kept (history budget)");
	if (strcmp(what, "timeline") == 0) {
		pss_release(pss);
		return respond_json(wsi, pss, api_timeline_build(s), head_only);
	}
	(void)nostore;
	msgpack_sbuffer_init(&sb);
	ret = loader_encode(s, &sb);
	if (ret) {
		msgpack_sbuffer_destroy(&sb);
		log_error("session %" PRIu64 ": cannot write its recording: %s", id,
			  strerror(-ret));
		return respond_error(wsi, pss, 500, "cannot read the session's history");
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"mevi-session-%" PRIu64 ".mevi\"", id);
	pss_release(pss);
	pss->len = sb.size;
	pss->owned = msgpack_sbuffer_release(&sb);
	pss->body = pss->owned;
	return respond(wsi, pss, 200, "application/octet-stream", hdrs, 2, head_only);
}

/* Answers with an error and hangs up, leaving the rest of a request body
 * unread. */
static int respond_error_close(struct lws *wsi, struct http_pss *pss, unsigned status,
			       const char *msg)
{
	pss->up_refused = true;
	respond_error(wsi, pss, status, msg);
	return -1;
}

/* POST /api/recordings, headers received: checks the length and the number of
 * uploads in flight, then the body comes through LWS_CALLBACK_HTTP_BODY into
 * a temporary file (daemon/upload.h). */
static int upload_begin(struct http_server *h, struct lws *wsi, struct http_pss *pss)
{
	char val[32];
	uint64_t len;
	int ret;

	pss_upload_release(h, pss);
	if (header_copy(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, val, sizeof(val)) < 0 ||
	    parse_u64(val, &len))
		return respond_error_close(wsi, pss, 411, "a Content-Length is required");
	if (len > h->max_upload) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "recording of %" PRIu64 " bytes is over the limit of %zu bytes "
			 "(mevid --max-upload)",
			 len, h->max_upload);
		return respond_error_close(wsi, pss, 413, msg);
	}
	if (h->n_uploads >= HTTP_MAX_UPLOADS) {
		log_info("upload refused: %u uploads are in flight already", h->n_uploads);
		return respond_error_close(wsi, pss, 503,
					   "too many uploads at once: try again when one is done");
	}
	upload_init(&pss->up);
	ret = upload_open(&pss->up, len);
	if (ret) {
		log_error("upload: cannot make a temporary file: %s", strerror(-ret));
		return respond_error_close(wsi, pss, 500, "cannot store the upload");
	}
	pss->up.started_ms = uv_now(h->loop);
	pss->uploading = true;
	h->n_uploads++;
	return 0;
}

static int upload_body(struct http_server *h, struct lws *wsi, struct http_pss *pss, const void *in,
		       size_t len)
{
	char err[300];
	uint64_t allowed;
	int ret;

	if (!pss->uploading)
		return 0;
	allowed = UPLOAD_BASE_S * 1000ull + pss->up.want * 1000 / UPLOAD_MIN_RATE;
	if (uv_now(h->loop) - pss->up.started_ms > allowed) {
		log_info("upload dropped: too slow (%" PRIu64 " of %" PRIu64 " bytes in %" PRIu64
			 " ms)",
			 pss->up.got, pss->up.want, uv_now(h->loop) - pss->up.started_ms);
		pss_upload_release(h, pss);
		return respond_error_close(wsi, pss, 408, "the upload was too slow");
	}
	ret = upload_write(&pss->up, in, len, err, sizeof(err));
	if (ret == -EMSGSIZE) {
		pss_upload_release(h, pss);
		return -1; /* more than Content-Length: hang up */
	}
	if (ret) {
		log_info("upload refused early: %s", err);
		pss_upload_release(h, pss);
		return respond_error_close(
		    wsi, pss, ret == -EBADMSG || ret == -EPROTONOSUPPORT ? 400 : 500, err);
	}
	return 0;
}

static int upload_done(struct http_server *h, struct lws *wsi, struct http_pss *pss)
{
	static const struct header nostore[] = {{"cache-control:", "no-store"}};
	struct session *s = NULL;
	char err[300], body[160];
	int ret;

	if (!pss->uploading)
		return 0;
	ret = upload_finish(&pss->up, h->reg, &s, err, sizeof(err));
	pss_upload_release(h, pss);
	if (ret) {
		log_info("upload refused: %s", err);
		return respond_error(wsi, pss,
				     ret == -EFBIG    ? 413
				     : ret == -ENOMEM ? 500
						      : 400,
				     err);
	}
	snprintf(body, sizeof(body), "{\"id\":%" PRIu64 "}\n", s ? s->id : 0);
	pss_release(pss);
	pss->owned = strdup(body);
	if (!pss->owned)
		return -1;
	pss->body = pss->owned;
	pss->len = strlen(body);
	return respond(wsi, pss, 201, "application/json", nostore, 1, false);
}

static int serve_delete_session(struct http_server *h, struct lws *wsi, struct http_pss *pss,
				const char *idstr)
{
	char *end;
	unsigned long long id;
	int err;

	errno = 0;
	id = strtoull(idstr, &end, 10);
	if (!*idstr || *end || errno || *idstr == '-')
		return respond_error(wsi, pss, 400, "bad session id");
	err = session_registry_forget(h->reg, id);
	if (err == -ENOENT)
		return respond_error(wsi, pss, 404, "no such session");
	if (err == -EBUSY)
		return respond_error(wsi, pss, 409, "the session's launcher is still connected");
	pss_release(pss);
	return respond(wsi, pss, 204, NULL, NULL, 0, true);
}

enum method { M_GET, M_HEAD, M_DELETE, M_POST, M_OTHER };

static enum method method_of(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
		return M_GET;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0)
		return M_HEAD;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
		return M_DELETE;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
		return M_POST;
	return M_OTHER;
}

/* Routes that reveal or change nothing: the frontend's files and
 * /api/health (which says more only to those admitted). */
static bool route_is_open(const char *path)
{
	if (strcmp(path, "/api/health") == 0)
		return true;
	return strncmp(path, "/api/", 5) != 0 && strcmp(path, "/api") != 0 &&
	       strcmp(path, "/stream") != 0;
}

/*
 * GET or POST /api/access: what the page asks when its websocket is refused,
 * and how it trades the token of its URL for a cookie. Same-origin only; 200
 * {"access":"token"|"uid"} (with Set-Cookie when a valid token came along),
 * else 401/403 with the sentence saying how to get in.
 */
static int serve_access(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			enum access_verdict v, const char *why)
{
	static const char by_token[] = "{\"access\":\"token\"}\n";
	static const char by_uid[] = "{\"access\":\"uid\"}\n";
	char cookie[160];
	struct header hdrs[2] = {{"cache-control:", "no-store"}, {"set-cookie:", cookie}};

	if (v == ACCESS_NO_TOKEN || v == ACCESS_BAD_TOKEN)
		return respond_error(wsi, pss, access_status(v), why);
	if (v == ACCESS_BY_TOKEN && access_cookie(&h->access, cookie, sizeof(cookie)) == 0)
		return respond_text(wsi, pss, 200, "application/json", by_token, hdrs, 2, false);
	return respond_text(wsi, pss, 200, "application/json", by_uid, hdrs, 1, false);
}

/* /api/access: GET, HEAD or POST, from an allowed Origin (access.h). */
static int route_access(struct http_server *h, struct lws *wsi, struct http_pss *pss, enum method m)
{
	static const struct header allow_access[] = {{"allow:", "GET, HEAD, POST"}};
	enum access_verdict verdict;
	char why[400];

	if (m != M_GET && m != M_POST && m != M_HEAD)
		return respond_text(wsi, pss, 405, "text/plain", "method not allowed\n",
				    allow_access, 1, m == M_HEAD);
	if (!origin_allowed(h, wsi))
		return respond_error(wsi, pss, 403,
				     "forbidden origin: open the page at the address mevid "
				     "printed, or start mevid with --allow-origin");
	verdict = access_check(&h->access, wsi, &pss->peer, why, sizeof(why));
	return serve_access(h, wsi, pss, verdict, why);
}

/* POST /api/recordings: an upload, from an allowed Origin. */
static int route_upload(struct http_server *h, struct lws *wsi, struct http_pss *pss, enum method m)
{
	static const struct header allow_post[] = {{"allow:", "POST"}};
	char peer[64];

	if (m != M_POST)
		return respond_text(wsi, pss, 405, "text/plain", "method not allowed\n", allow_post,
				    1, m == M_HEAD);
	if (!origin_allowed(h, wsi)) {
		log_info("http %s: refused an upload from a foreign Origin",
			 peer_name(wsi, peer, sizeof(peer)));
		pss->up_refused = true;
		return respond_error(wsi, pss, 403, "forbidden origin");
	}
	return upload_begin(h, wsi, pss);
}

/*
 * /api/sessions/ID/{recording,timeline,export} (GET, HEAD) and
 * /api/sessions/ID (DELETE, from an allowed Origin). rest follows
 * "/api/sessions/".
 */
static int route_session(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			 const char *rest, enum method m)
{
	static const struct header allow_delete[] = {{"allow:", "DELETE"}};
	const char *slash = strchr(rest, '/');
	char peer[64];

	if (slash && (m == M_GET || m == M_HEAD)) {
		char idbuf[24];
		uint64_t id;

		if ((size_t)(slash - rest) >= sizeof(idbuf))
			return respond_error(wsi, pss, 400, "bad session id");
		memcpy(idbuf, rest, (size_t)(slash - rest));
		idbuf[slash - rest] = '\0';
		if (parse_u64(idbuf, &id))
			return respond_error(wsi, pss, 400, "bad session id");
		if (strcmp(slash + 1, "recording") != 0 && strcmp(slash + 1, "timeline") != 0 &&
		    strcmp(slash + 1, "export") != 0)
			return respond_error(wsi, pss, 404, "not found");
		return serve_session_get(h, wsi, pss, id, slash + 1, m == M_HEAD);
	}
	if (m != M_DELETE)
		return respond_text(wsi, pss, 405, "text/plain", "method not allowed\n",
				    allow_delete, 1, m == M_HEAD);
	if (!origin_allowed(h, wsi)) {
		log_info("http %s: refused DELETE /api/sessions/%s from a foreign Origin",
			 peer_name(wsi, peer, sizeof(peer)), rest);
		return respond_error(wsi, pss, 403, "forbidden origin");
	}
	return serve_delete_session(h, wsi, pss, rest);
}

/* /api/health: the full answer to an admitted client, else only "ok". */
static int serve_health(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			enum access_verdict verdict, bool head_only)
{
	struct json_object *o;

	if (verdict == ACCESS_BY_TOKEN || verdict == ACCESS_BY_UID)
		return respond_json(wsi, pss,
				    api_health_build(h->reg, h->launchers->nconns,
						     h->stream ? h->stream->ntabs : 0),
				    head_only);
	/* Not admitted: alive, and nothing more. */
	o = json_object_new_object();
	if (o)
		json_object_object_add(o, "status", json_object_new_string("ok"));
	return respond_json(wsi, pss, o, head_only);
}

static int http_request(struct http_server *h, struct lws *wsi, struct http_pss *pss,
			const char *path)
{
	enum access_verdict verdict = ACCESS_NO_TOKEN;
	char why[400];
	static const struct header allow_get[] = {{"allow:", "GET, HEAD"}};
	enum method m = method_of(wsi);
	bool head_only = m == M_HEAD;
	char peer[64];

	log_trace("http %s: %s", peer_name(wsi, peer, sizeof(peer)), path);
	if (!host_allowed(h, wsi)) {
		log_info("http %s: refused a request for %s with a foreign Host header",
			 peer_name(wsi, peer, sizeof(peer)), path);
		return respond_error(wsi, pss, 403, "forbidden host");
	}
	if (strcmp(path, "/api/access") == 0)
		return route_access(h, wsi, pss, m);
	if (!route_is_open(path) || strcmp(path, "/api/health") == 0)
		verdict = access_check(&h->access, wsi, &pss->peer, why, sizeof(why));
	if (!route_is_open(path) && (verdict == ACCESS_NO_TOKEN || verdict == ACCESS_BAD_TOKEN)) {
		log_info("http %s: refused %s: %s", peer_name(wsi, peer, sizeof(peer)), path,
			 verdict == ACCESS_NO_TOKEN ? "no token, and not mevid's uid"
						    : "wrong token, and not mevid's uid");
		if (m == M_POST)
			return respond_error_close(wsi, pss, access_status(verdict), why);
		return respond_error(wsi, pss, access_status(verdict), why);
	}
	if (strcmp(path, "/api/recordings") == 0)
		return route_upload(h, wsi, pss, m);
	if (strncmp(path, "/api/sessions/", 14) == 0)
		return route_session(h, wsi, pss, path + 14, m);
	if (m != M_GET && m != M_HEAD)
		return respond_text(wsi, pss, 405, "text/plain", "method not allowed\n", allow_get,
				    1, false);
	if (strcmp(path, "/api/state") == 0)
		return serve_state(h, wsi, pss, head_only);
	if (strcmp(path, "/api/health") == 0)
		return serve_health(h, wsi, pss, verdict, head_only);
	if (strcmp(path, "/metrics") == 0)
		return serve_metrics(h, wsi, pss, head_only);
	if (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0)
		return respond_error(wsi, pss, 404, "not found");
	if (strcmp(path, "/stream") == 0)
		return respond_text(wsi, pss, 426, "text/plain",
				    "/stream is a websocket endpoint\n", NULL, 0, head_only);
	if (h->web_root)
		return serve_file(h, wsi, pss, path, head_only);
	return serve_asset(wsi, pss, path, head_only);
}

/* Answers a websocket upgrade with an error status; libwebsockets completes
 * the transaction when the callback returns > 0. */
static int refuse_upgrade(struct lws *wsi, unsigned status, const char *msg)
{
	char body[HTTP_INLINE_BODY];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);

	if (n < 0 || (size_t)n >= sizeof(body))
		n = snprintf(body, sizeof(body), "{\"error\":\"refused\"}\n");
	for (int i = 10; i < n - 3; i++)
		if (body[i] == '"' || body[i] == '\\')
			body[i] = '\'';

	if (send_headers(wsi, status, "application/json", (size_t)n, NULL, 0, body))
		return -1;
	return 1;
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 to accept, > 0 after answering with a
 * refusal, < 0 to hang up. */
static int confirm_upgrade(struct http_server *h, struct lws *wsi, const char *proto)
{
	char uri[64], peer[64];

	if (!proto || strcasecmp(proto, "websocket") != 0 ||
	    header_copy(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) < 0 ||
	    strcmp(uri, "/stream") != 0)
		return refuse_upgrade(wsi, 404, "not found");
	if (!host_allowed(h, wsi) || !origin_allowed(h, wsi)) {
		char origin[128] = "";

		header_copy(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
		log_warn(
		    "http %s: refused a websocket from foreign origin '%s' (see --allow-origin)",
		    peer_name(wsi, peer, sizeof(peer)), origin);
		return refuse_upgrade(
		    wsi, 403,
		    "forbidden origin: open the page at the address mevid printed, "
		    "or start mevid with --allow-origin");
	}
	{
		struct http_pss *pss = lws_wsi_user(wsi);
		struct access_peer tmp = {0};
		char why[400];
		enum access_verdict v =
		    access_check(&h->access, wsi, pss ? &pss->peer : &tmp, why, sizeof(why));

		if (v == ACCESS_NO_TOKEN || v == ACCESS_BAD_TOKEN) {
			log_info("http %s: refused a websocket: %s",
				 peer_name(wsi, peer, sizeof(peer)),
				 v == ACCESS_NO_TOKEN ? "no token, and not mevid's uid"
						      : "wrong token, and not mevid's uid");
			return refuse_upgrade(wsi, access_status(v), why);
		}
	}
	return 0;
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	struct http_server *h = lws_context_user(lws_get_context(wsi));
	struct http_pss *pss = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return http_request(h, wsi, pss, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!pss || !pss->body)
			return 0;
		return write_body(wsi, pss);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(h, wsi, in);
	case LWS_CALLBACK_HTTP_BODY:
		if (!pss || pss->up_refused)
			return 0;
		return upload_body(h, wsi, pss, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!pss)
			return 0;
		if (pss->up_refused) {
			pss->up_refused = false;
			return 0;
		}
		return upload_done(h, wsi, pss);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss) {
			pss_release(pss);
			pss_upload_release(h, pss);
		}
		break;
	case LWS_CALLBACK_ESTABLISHED: {
		/* A deeper send buffer lets one writable callback hand the kernel
		 * more than one fragment, so a tab keeps up with a loop that is
		 * busy ingesting (autotuning starts at 16 KiB). */
		int sndbuf = WS_CLIENT_SNDBUF;

		setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		pss_release(pss);
		pss->tab = stream_tab_open(h->stream, wsi);
		if (!pss->tab)
			return -1;
		break;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (!pss->tab)
			return -1;
		return ws_client_writable(pss->tab, uv_now(h->loop));
	case LWS_CALLBACK_RECEIVE: {
		int ret;

		if (!pss->tab)
			return -1;
		ret = ws_client_receive(pss->tab, in, len, lws_is_final_fragment(wsi),
					lws_frame_is_binary(wsi));
		if (ret == 1) {
			stream_tab_message(h->stream, pss->tab);
			ret = 0;
		}
		return ret;
	}
	case LWS_CALLBACK_CLOSED:
		if (pss->tab) {
			stream_tab_closed(h->stream, pss->tab);
			pss->tab = NULL;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols http_protocols[] = {
    {"mevi", http_callback, sizeof(struct http_pss), WS_CLIENT_MAX_RX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_emit(int level, const char *line)
{
	int n = (int)strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warn("libwebsockets: %.*s", n, line);
	else if (level & LLL_WARN)
		log_info("libwebsockets: %.*s", n, line);
	else
		log_debug("libwebsockets: %.*s", n, line);
}

/*
 * Resolves host:port to a numeric address in num and makes the listening
 * socket (non-blocking, close-on-exec), so that the error says why
 * (libwebsockets only logs why a listen failed). Returns the socket, or
 * -errno with a sentence in err.
 */
static int listen_socket(const char *host, int port, char *num, size_t numlen, bool *ipv6,
			 char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char portstr[16];
	int fd, one = 1, ret;

	snprintf(portstr, sizeof(portstr), "%d", port);
	ret = getaddrinfo(host, portstr, &hints, &ai);
	if (ret) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, gai_strerror(ret));
		return -EADDRNOTAVAIL;
	}
	*ipv6 = ai->ai_family == AF_INET6;
	getnameinfo(ai->ai_addr, ai->ai_addrlen, num, (socklen_t)numlen, NULL, 0, NI_NUMERICHOST);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (*ipv6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		ret = -errno;
		close(fd);
	} else {
		ret = fd;
	}
out:
	if (ret < 0)
		snprintf(
		    err, errlen, "cannot listen on %s%s%s:%d: %s%s", strchr(host, ':') ? "[" : "",
		    host, strchr(host, ':') ? "]" : "", port, strerror(-ret),
		    ret == -EADDRINUSE ? " (use --listen HOST:PORT to pick another port)" : "");
	freeaddrinfo(ai);
	return ret;
}

/* The port fd is bound to, or -errno. */
static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int strlist_add(char ***list, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int strlist_add(char ***list, size_t *n, const char *fmt, ...)
{
	char **l = realloc(*list, (*n + 1) * sizeof(*l));
	va_list ap;
	int ret;

	if (!l)
		return -ENOMEM;
	*list = l;
	va_start(ap, fmt);
	ret = vasprintf(&l[*n], fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static void strlist_free(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

/* Fills the allowed origins and hosts once the port is known. */
static int http_policy_init(struct http_server *h, const struct http_config *cfg, bool loopback)
{
	static const char *const loop_hosts[] = {"127.0.0.1", "localhost", "[::1]"};
	int err = 0;

	for (size_t i = 0; i < 3 && !err; i++)
		err =
		    strlist_add(&h->origins, &h->n_origins, "http://%s:%d", loop_hosts[i], h->port);
	for (size_t i = 0; i < cfg->n_allow_origins && !err; i++)
		err = strlist_add(&h->origins, &h->n_origins, "%s", cfg->allow_origins[i]);
	h->check_host = loopback;
	for (size_t i = 0; i < 3 && !err; i++)
		err = strlist_add(&h->hosts, &h->n_hosts, "%s", loop_hosts[i]);
	for (size_t i = 0; i < cfg->n_allow_origins && !err; i++) {
		const char *o = strstr(cfg->allow_origins[i], "://");

		err = strlist_add(&h->hosts, &h->n_hosts, "%s", o ? o + 3 : cfg->allow_origins[i]);
		if (!err)
			host_strip_port(h->hosts[h->n_hosts - 1]);
	}
	return err;
}

/*
 * Creates the libwebsockets context on loop (a foreign libuv loop) and its
 * one vhost, which listens on nothing: mevid accepts connections itself
 * (daemon/http_accept.h). Returns 0, or -EIO with a sentence in err.
 */
static int http_lws_start(struct http_server *h, uv_loop_t *loop, bool ipv6, char *err,
			  size_t errlen)
{
	static char server[64];
	struct lws_context_creation_info info;
	void *foreign_loops[1] = {loop};
	int lws_levels = LLL_ERR | LLL_WARN;

	if (log_threshold >= LOG_LEVEL_DEBUG)
		lws_levels |= LLL_NOTICE;
	lws_set_log_level(lws_levels, lws_log_emit);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
	info.foreign_loops = foreign_loops;
	info.user = h;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.gid = -1;
	info.uid = -1;
	/* The header table holds any head daemon/http_accept.h lets through. */
	info.max_http_header_data2 = http_accept_lws_header_room();
	h->ctx = lws_create_context(&info);
	if (!h->ctx) {
		snprintf(err, errlen,
			 "cannot start the HTTP server (libwebsockets); is libwebsockets-evlib-uv "
			 "installed?");
		return -EIO;
	}

	memset(&info, 0, sizeof(info));
	info.vhost_name = "mevid";
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = http_protocols;
	info.options =
	    ipv6 ? LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE
		 : LWS_SERVER_OPTION_DISABLE_IPV6;
	info.user = h;
	snprintf(server, sizeof(server), "mevid/%s", mevi_version);
	info.server_string = server;
	h->vh = lws_create_vhost(h->ctx, &info);
	if (!h->vh) {
		snprintf(err, errlen, "cannot start the HTTP server (libwebsockets vhost)");
		return -EIO;
	}
	return 0;
}

/*
 * The URL mevid prints: the bound address (num, numeric) with the token; a
 * wildcard address is shown as loopback.
 */
static void http_set_url(struct http_server *h, const char *host, const char *num, bool ipv6)
{
	bool wildcard = strcmp(num, "0.0.0.0") == 0 || strcmp(num, "::") == 0;
	const char *url_host = host;
	bool brackets;

	if (wildcard)
		url_host = ipv6 ? "[::1]" : "127.0.0.1";
	brackets = strchr(url_host, ':') && url_host[0] != '[';
	snprintf(h->url, sizeof(h->url), "http://%s%s%s:%d/?token=%s", brackets ? "[" : "",
		 url_host, brackets ? "]" : "", h->port, h->access.token);
}

int http_server_start(struct http_server *h, uv_loop_t *loop, const struct http_config *cfg,
		      struct session_registry *reg, struct launcher_server *launchers,
		      struct stream *stream, char *err, size_t errlen)
{
	char num[INET6_ADDRSTRLEN + 8];
	bool ipv6 = false, loopback;
	int ret, fd;

	memset(h, 0, sizeof(*h));
	h->access.diag_fd = -1;
	h->accept.fd = -1;
	h->loop = loop;
	h->max_upload = cfg->max_upload ? cfg->max_upload : LOADER_MAX_BYTES;
	h->reg = reg;
	h->launchers = launchers;
	h->stream = stream;
	if (cfg->web_root) {
		h->web_root = realpath(cfg->web_root, NULL);
		if (!h->web_root) {
			ret = -errno;
			snprintf(err, errlen, "--web-root %s: %s", cfg->web_root, strerror(-ret));
			goto err_destroy;
		}
	}
	fd = listen_socket(cfg->host, cfg->port, num, sizeof(num), &ipv6, err, errlen);
	if (fd < 0) {
		ret = fd;
		goto err_destroy;
	}
	h->port = bound_port(fd);
	loopback = strncmp(num, "127.", 4) == 0 || strcmp(num, "::1") == 0;
	ret = http_lws_start(h, loop, ipv6, err, errlen);
	if (ret) {
		close(fd);
		goto err_destroy;
	}
	ret = http_accept_start(&h->accept, loop, fd, h->vh);
	if (ret) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", cfg->host, h->port,
			 uv_strerror(ret));
		ret = -EIO;
		goto err_destroy;
	}
	ret = access_init(&h->access, cfg->socket_path, !loopback, err, errlen);
	if (ret)
		goto err_destroy;
	access_set_port(&h->access, h->port);
	http_set_url(h, cfg->host, num, ipv6);
	ret = http_policy_init(h, cfg, loopback);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto err_destroy;
	}
	return 0;

err_destroy:
	http_server_destroy(h);
	return ret;
}

void http_server_destroy(struct http_server *h)
{
	http_accept_close(&h->accept);
	if (h->ctx) {
		lws_context_destroy(h->ctx);
		h->ctx = NULL;
		h->vh = NULL;
	}
	if (h->access.lookups)
		log_info("peer uid lookups: %" PRIu64 ", %.1f us each on average",
			 h->access.lookups,
			 (double)h->access.lookup_ns / (double)h->access.lookups / 1000.0);
	h->access.lookups = 0;
	access_destroy(&h->access);
	strlist_free(&h->origins, &h->n_origins);
	strlist_free(&h->hosts, &h->n_hosts);
	free(h->web_root);
	h->web_root = NULL;
}
