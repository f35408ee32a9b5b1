/*
 * launcher_conn — the launcher socket: accept with SO_PEERCRED, the greeting,
 * reading each launcher's bytes into daemon/ingest.h, closing (contract: launcher_conn.h).
 */
#include "launcher_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.h"
#include "ingest.h"
#include "log.h"
#include "session.h"

#define LAUNCHER_READ_BUF (256 * 1024)

struct launcher_conn {
	uv_pipe_t pipe; /* first: the handle's data is not needed to find us */
	struct launcher_server *srv;
	struct launcher_conn *prev, *next;
	uint64_t id;
	struct ingest in; /* in.session: NULL before session_start or after a takeover */
	bool closing;
	char rbuf[LAUNCHER_READ_BUF];
};

struct greeting_req {
	uv_write_t req;
	msgpack_sbuffer sb;
};

int launcher_server_init(struct launcher_server *srv, uv_loop_t *loop, struct session_registry *reg,
			 const char *url)
{
	memset(srv, 0, sizeof(*srv));
	srv->loop = loop;
	srv->reg = reg;
	srv->uid = getuid();
	srv->limits = mevi_decoder_default_limits;
	srv->next_conn_id = 1;
	srv->url = strdup(url);
	if (!srv->url)
		return -ENOMEM;
	/* Launchers report live processes: their endings are checked with the
	 * kernel (daemon/procfs.h). */
	reg->probe_kernel = true;
	return 0;
}

static void recheck_cb(uv_timer_t *t)
{
	struct launcher_server *srv = t->data;

	session_registry_recheck(srv->reg);
}

/* For log lines: "launcher 3 (session 5)" / "launcher 3 (no session yet)". */
static const char *conn_name(const struct launcher_conn *c, char *buf, size_t len)
{
	if (c->in.session)
		snprintf(buf, len, "launcher %" PRIu64 " (session %" PRIu64 ")", c->id,
			 c->in.session->id);
	else
		snprintf(buf, len, "launcher %" PRIu64 " (no session yet)", c->id);
	return buf;
}

static void conn_free_cb(uv_handle_t *h)
{
	struct launcher_conn *c = (struct launcher_conn *)h;

	ingest_destroy(&c->in);
	free(c);
}

/*
 * Closes c: detaches its session, unlinks it from the server and frees it once
 * libuv is done with the handle. Safe to call from c's own callbacks, and more
 * than once. reason (may be NULL) is logged at level.
 */
static void conn_close(struct launcher_conn *c, enum log_level level, const char *reason)
{
	struct launcher_server *srv = c->srv;
	char name[80];

	if (c->closing)
		return;
	c->closing = true;
	if (reason)
		LOG_AT(level, "%s: closing: %s", conn_name(c, name, sizeof(name)), reason);
	if (c->in.session) {
		struct session *s = c->in.session;

		c->in.session = NULL;
		session_registry_detach(srv->reg, s);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	uv_close((uv_handle_t *)&c->pipe, conn_free_cb);
}

/* A session_start on another connection resumed the session of o. */
static void conn_taken_over(void *ctx, void *other)
{
	struct launcher_conn *o = other;

	o->in.session = NULL;
	conn_close(o, LOG_LEVEL_INFO, "its session was resumed by another connection");
}

/* Feeds n bytes to c's ingest; closes c on failure. */
static void conn_consume(struct launcher_conn *c, const char *buf, size_t n)
{
	uint64_t before = c->in.events;
	int err = ingest_feed(&c->in, buf, n);

	c->srv->events += c->in.events - before;
	if (err)
		conn_close(c, err == -ENOMEM ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, c->in.why);
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct launcher_conn *c = (struct launcher_conn *)h;

	buf->base = c->rbuf;
	buf->len = sizeof(c->rbuf);
}

static void conn_read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct launcher_conn *c = (struct launcher_conn *)stream;

	if (c->closing)
		return;
	if (n > 0) {
		conn_consume(c, buf->base, (size_t)n);
	} else if (n == UV_EOF) {
		bool clean = !c->in.session || c->in.session->ended;

		conn_close(c, clean ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, "the launcher hung up");
	} else if (n < 0) {
		char why[80];

		snprintf(why, sizeof(why), "read: %s", uv_strerror((int)n));
		conn_close(c, LOG_LEVEL_WARN, why);
	}
}

static void greeting_done_cb(uv_write_t *req, int status)
{
	struct greeting_req *g = (struct greeting_req *)req;

	msgpack_sbuffer_destroy(&g->sb);
	free(g);
}

/* Queues the greeting to c. Returns 0 or -errno. */
static int conn_greet(struct launcher_conn *c)
{
	struct greeting_req *g = calloc(1, sizeof(*g));
	struct mevi_hello hello = {
	    .version = MEVI_PROTO_VERSION,
	    .url = {.ptr = c->srv->url, .len = (uint32_t)strlen(c->srv->url)},
	};
	msgpack_packer pk;
	uv_buf_t buf;
	int err;

	if (!g)
		return -ENOMEM;
	msgpack_sbuffer_init(&g->sb);
	msgpack_packer_init(&pk, &g->sb, msgpack_sbuffer_write);
	err = mevi_hello_pack(&pk, &hello);
	if (err)
		goto err_free;
	buf = uv_buf_init(g->sb.data, (unsigned)g->sb.size);
	err = uv_write(&g->req, (uv_stream_t *)&c->pipe, &buf, 1, greeting_done_cb);
	if (err)
		goto err_free;
	return 0;

err_free:
	msgpack_sbuffer_destroy(&g->sb);
	free(g);
	return err;
}

/* Returns 0 if the peer of fd may talk to us, else -EPERM (uid in *peer). */
static int peer_allowed(int fd, uid_t self, struct ucred *peer)
{
	socklen_t len = sizeof(*peer);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, peer, &len) < 0)
		return -errno;
	if (peer->uid != self && peer->uid != 0)
		return -EPERM;
	return 0;
}

static void listener_cb(uv_stream_t *server, int status)
{
	struct launcher_server *srv = (struct launcher_server *)server->data;
	struct launcher_conn *c;
	struct ucred peer = {0};
	uv_os_fd_t fd;
	char why[120];
	int err;

	if (status < 0) {
		log_warn("launcher socket: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("launcher socket: out of memory");
		return;
	}
	c->srv = srv;
	c->id = srv->next_conn_id++;
	if (ingest_init(&c->in, srv->reg, c, &srv->limits, conn_taken_over, NULL)) {
		free(c);
		log_error("launcher socket: out of memory");
		return;
	}
	uv_pipe_init(srv->loop, &c->pipe, 0);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;

	err = uv_accept(server, (uv_stream_t *)&c->pipe);
	if (err) {
		snprintf(why, sizeof(why), "accept: %s", uv_strerror(err));
		goto err_close;
	}
	err = uv_fileno((uv_handle_t *)&c->pipe, &fd);
	if (!err)
		err = peer_allowed(fd, srv->uid, &peer);
	if (err == -EPERM) {
		snprintf(why, sizeof(why), "refused: peer pid %d runs as uid %u, mevid as uid %u",
			 (int)peer.pid, (unsigned)peer.uid, (unsigned)srv->uid);
		goto err_close;
	} else if (err) {
		snprintf(why, sizeof(why), "peer credentials: %s", strerror(-err));
		goto err_close;
	}
	log_debug("launcher %" PRIu64 ": connected (pid %d)", c->id, (int)peer.pid);
	c->in.peer_pid = (int32_t)peer.pid;
	err = conn_greet(c);
	if (!err)
		err = uv_read_start((uv_stream_t *)&c->pipe, conn_alloc_cb, conn_read_cb);
	if (err) {
		snprintf(why, sizeof(why), "%s", uv_strerror(err));
		goto err_close;
	}
	return;

err_close:
	conn_close(c, LOG_LEVEL_WARN, why);
}

int launcher_server_listen(struct launcher_server *srv, const char *path)
{
	mode_t old_mask;
	int err;

	srv->path = strdup(path);
	if (!srv->path)
		return -ENOMEM;
	err = uv_pipe_init(srv->loop, &srv->listener, 0);
	if (err)
		return err;
	srv->listener.data = srv;
	srv->listening = true;
	if (!srv->recheck_init) {
		uv_timer_init(srv->loop, &srv->recheck);
		srv->recheck.data = srv;
		srv->recheck_init = true;
		uv_timer_start(&srv->recheck, recheck_cb, LAUNCHER_RECHECK_MS, LAUNCHER_RECHECK_MS);
		uv_unref((uv_handle_t *)&srv->recheck); /* never keeps the loop alive */
	}
	/* The socket file gets its mode from the umask: only we may connect. */
	old_mask = umask(0077);
	err = uv_pipe_bind(&srv->listener, path);
	umask(old_mask);
	if (err)
		return err;
	return uv_listen((uv_stream_t *)&srv->listener, 64, listener_cb);
}

void launcher_server_drain(struct launcher_server *srv)
{
	/* conn_close() unlinks a connection but frees it only from its uv_close
	 * callback, which cannot run before we return: a closed connection's
	 * next pointer stays valid for the walk. */
	for (struct launcher_conn *c = srv->conns; c; c = c->next) {
		uv_os_fd_t fd;

		if (c->closing || uv_fileno((uv_handle_t *)&c->pipe, &fd))
			continue;
		while (!c->closing) {
			ssize_t n = recv(fd, c->rbuf, sizeof(c->rbuf), MSG_DONTWAIT);

			/* EOF and errors are left for libuv to report. */
			if (n <= 0)
				break;
			conn_consume(c, c->rbuf, (size_t)n);
		}
	}
}

void launcher_server_close(struct launcher_server *srv)
{
	while (srv->conns)
		conn_close(srv->conns, LOG_LEVEL_DEBUG, "mevid is shutting down");
	if (srv->listening) {
		uv_close((uv_handle_t *)&srv->listener, NULL);
		srv->listening = false;
	}
	if (srv->recheck_init) {
		uv_close((uv_handle_t *)&srv->recheck, NULL);
		srv->recheck_init = false;
	}
	if (srv->path) {
		unlink(srv->path);
		free(srv->path);
		srv->path = NULL;
	}
	free(srv->url);
	srv->url = NULL;
}
