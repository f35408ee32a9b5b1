/*
 * mevid — the mevi daemon: one libuv loop that serves the launcher socket
 * (daemon/launcher_conn.h), HTTP + websocket through libwebsockets
 * (daemon/http.h) and the websocket fan-out timer (daemon/stream.h).
 *
 * Start-up, in this order, each failure being one line and exit status 1:
 * the socket directory is created or checked (daemon/sockpath.h), the daemon
 * lock is taken ("already running on PATH"), a socket left by a dead daemon
 * is replaced (a live one: "already running on PATH"), the HTTP port is
 * bound, then the socket. Only then is the daemon ready: without
 * --foreground, the invoking process returns 0 at that moment
 * (daemon/detach.h).
 *
 * SIGTERM, SIGINT and SIGHUP shut down cleanly: launchers are disconnected
 * (their sessions stay resumable by a next mevid), tabs get a "going away"
 * close frame, the socket file is removed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "checkpoint.h"
#include "detach.h"
#include "engine_stock.h"
#include "eventlog.h"
#include "http.h"
#include "launcher_conn.h"
#include "export.h"
#include "loader.h"
#include "log.h"
#include "options.h"
#include "session.h"
#include "sockpath.h"
#include "stream.h"
#include "version.h"

/* Time the tabs get to receive their close frames before the HTTP server is
 * torn down. */
#define MEVID_SHUTDOWN_GRACE_MS 100

struct mevid {
	struct mevid_options opts;
	uv_loop_t loop;
	struct session_registry reg;
	struct eventlog_budget budget;
	struct stream stream;
	struct launcher_server launchers;
	struct engine_stock stock;
	struct http_server http;
	uv_signal_t sigs[3];
	int nsigs;
	uv_timer_t shutdown_timer;
	bool shutdown_timer_init;
	struct detach detach;
	int lock_fd;
	bool loop_init;	  /* uv_loop_init() done */
	bool stream_init; /* stream_init() done */
	bool stopping;
};

static void shutdown_finish_cb(uv_timer_t *t)
{
	struct mevid *d = t->data;

	http_server_destroy(&d->http);
	stream_destroy(&d->stream);
	for (int i = 0; i < d->nsigs; i++)
		uv_close((uv_handle_t *)&d->sigs[i], NULL);
	uv_close((uv_handle_t *)&d->shutdown_timer, NULL);
}

static void mevid_stop(struct mevid *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	launcher_server_close(&d->launchers);
	engine_stock_close(&d->stock);
	stream_shutdown(&d->stream);
	uv_timer_init(&d->loop, &d->shutdown_timer);
	d->shutdown_timer.data = d;
	d->shutdown_timer_init = true;
	uv_timer_start(&d->shutdown_timer, shutdown_finish_cb, MEVID_SHUTDOWN_GRACE_MS, 0);
}

static void signal_cb(uv_signal_t *s, int signum)
{
	struct mevid *d = s->data;

	if (d->stopping) {
		log_warn("second signal during shutdown: exiting now");
		_exit(1);
	}
	log_info("%s: shutting down", strsignal(signum));
	mevid_stop(d);
}

/* Reports a start-up failure (to stderr, or to the invoking process). */
static void startup_failed(struct mevid *d, const char *msg)
{
	if (d->opts.foreground) {
		fprintf(stderr, "mevid: %s\n", msg);
	} else {
		log_error("%s", msg);
		detach_fail(&d->detach, msg);
	}
}

/* Everything up to readiness. Returns 0, or -errno with a sentence in err. */
static int mevid_start(struct mevid *d, char *err, size_t errlen)
{
	const char *path = d->opts.socket_path;
	struct http_config hc = {
	    .host = d->opts.listen_host,
	    .port = d->opts.listen_port,
	    .web_root = d->opts.web_root,
	    .allow_origins = d->opts.allow_origins,
	    .n_allow_origins = d->opts.n_allow_origins,
	    .socket_path = d->opts.socket_path,
	    .max_upload = d->opts.max_upload,
	};
	int ret;

	ret = sockpath_prepare_dir(path, err, errlen);
	if (ret)
		return ret;
	ret = sockpath_lock(path);
	if (ret < 0) {
		if (ret == -EADDRINUSE)
			snprintf(err, errlen, "already running on %s", path);
		else
			snprintf(err, errlen, "cannot lock %s.lock: %s", path, strerror(-ret));
		return ret;
	}
	d->lock_fd = ret;
	ret = sockpath_probe(path);
	if (ret == -EADDRINUSE) {
		snprintf(err, errlen, "already running on %s", path);
		return ret;
	} else if (ret == -EEXIST) {
		snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it",
			 path);
		return ret;
	} else if (ret) {
		snprintf(err, errlen, "cannot use %s: %s", path, strerror(-ret));
		return ret;
	}

	ret = uv_loop_init(&d->loop);
	if (ret) {
		snprintf(err, errlen, "cannot create the event loop: %s", uv_strerror(ret));
		return ret;
	}
	d->loop_init = true;
	session_registry_init(&d->reg, d->opts.max_ended_sessions, &stream_observer, &d->stream);
	eventlog_budget_init(&d->budget, d->opts.history_budget);
	checkpoint_keep_history(&d->reg, &d->budget);
	for (size_t i = 0; i < d->opts.n_loads; i++) {
		struct session *s;
		char why[320];

		ret = loader_load_file(&d->reg, d->opts.loads[i], &s, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "--load %s: %s", d->opts.loads[i], why);
			return ret;
		}
		log_info("--load %s: session %" PRIu64, d->opts.loads[i], s ? s->id : 0);
	}
	ret = stream_init(&d->stream, &d->loop, &d->reg, d->opts.interval_ms,
			  d->opts.tab_queue_limit, d->opts.tab_stall_timeout);
	if (ret) {
		snprintf(err, errlen, "cannot start the websocket timer: %s", uv_strerror(ret));
		return ret;
	}
	d->stream_init = true;
	/* Without --listen, a taken default port (another user's mevid) moves
	 * us to the next free one; the greeting and the log carry the URL. */
	for (int i = 0;; i++) {
		ret = http_server_start(&d->http, &d->loop, &hc, &d->reg, &d->launchers, &d->stream,
					err, errlen);
		if (ret != -EADDRINUSE || d->opts.listen_given || hc.port == 0 ||
		    i + 1 >= MEVID_PORT_TRIES || hc.port >= 65535)
			break;
		log_info("port %d is taken; trying %d", hc.port, hc.port + 1);
		hc.port++;
	}
	if (ret)
		return ret;
	ret = launcher_server_init(&d->launchers, &d->loop, &d->reg, d->http.url);
	if (!ret)
		ret = launcher_server_listen(&d->launchers, path);
	if (ret) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, uv_strerror(ret));
		return ret;
	}
	if (!d->opts.no_engine_stock) {
		ret = engine_stock_start(&d->stock, &d->loop, path);
		if (ret)
			log_warn("no engine stock beside %s: %s; launchers load their own eBPF "
				 "programs",
				 path, uv_strerror(ret));
	}

	int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		uv_signal_init(&d->loop, &d->sigs[i]);
		d->sigs[i].data = d;
		uv_signal_start(&d->sigs[i], signal_cb, sigs[i]);
		d->nsigs++;
	}
	return 0;
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int main(int argc, char **argv)
{
	static struct mevid d;
	char err[512];
	char notice[512] = "";
	int ret;

	log_init("mevid");
	ret = options_parse(&d.opts, argc, argv, stdout, stderr);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (d.opts.summary) {
		char why[320];

		ret = export_summary_file(d.opts.summary, d.opts.summary_json, stdout, why,
					  sizeof(why));
		if (ret)
			fprintf(stderr, "mevid: --summary: %s\n", why);
		options_destroy(&d.opts);
		return ret ? 1 : 0;
	}
	d.lock_fd = -1;
	signal(SIGPIPE, SIG_IGN);

	if (!d.opts.foreground) {
		ret = detach_start(&d.detach);
		if (ret) {
			fprintf(stderr, "mevid: cannot detach: %s\n", strerror(-ret));
			options_destroy(&d.opts);
			return 1;
		}
	}

	ret = mevid_start(&d, err, sizeof(err));
	if (ret) {
		startup_failed(&d, err);
		goto out;
	}

	if (!options_host_is_loopback(d.opts.listen_host))
		snprintf(notice, sizeof(notice),
			 "mevid: warning: listening on %s:%d, open to the network: only "
			 "clients with the token (in the URL below) are admitted\n",
			 d.opts.listen_host, d.http.port);
	if (notice[0])
		log_warn("%.*s", (int)strlen(notice) - 1, notice + 7);
	log_info("mevid %s ready: %s, socket %s", mevi_version, d.http.url, d.opts.socket_path);
	if (!d.opts.foreground)
		detach_ready(&d.detach, notice);

	uv_run(&d.loop, UV_RUN_DEFAULT);
	log_info("stopped after %" PRIu64 " events from launchers, %" PRIu64 " deltas and %" PRIu64
		 " snapshots to tabs",
		 d.launchers.events, d.stream.deltas, d.stream.snapshots);

out:
	if (d.loop_init) {
		/* After a failed start, close whatever was opened on the loop. */
		http_server_destroy(&d.http);
		launcher_server_close(&d.launchers);
		engine_stock_close(&d.stock);
		if (d.stream_init)
			stream_destroy(&d.stream);
		uv_walk(&d.loop, close_walk_cb, NULL);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&d.loop))
			log_warn("event loop closed with handles still open");
		session_registry_destroy(&d.reg);
	}
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	options_destroy(&d.opts);
	return ret ? 1 : 0;
}
