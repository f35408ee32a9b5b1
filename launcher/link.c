/* link — the connection to mevid: trust, greeting, bounded queue, reconnects. */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "decoder.h"
#include "log.h"
#include "monotime.h"
#include "sockpath.h"

#define HARD_LIMIT     (32u << 20)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

int link_default_socket(char *buf, size_t len)
{
	return sockpath_resolve(NULL, buf, len);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg);

int link_init(struct link *l, struct event_base *base, const char *socket_path, bool may_spawn,
	      link_snapshot_fn snapshot, void *ctx)
{
	memset(l, 0, sizeof(*l));
	l->base = base;
	snprintf(l->socket_path, sizeof(l->socket_path), "%s", socket_path);
	l->may_spawn = may_spawn;
	l->snapshot = snapshot;
	l->snapshot_ctx = ctx;
	l->hard_limit = HARD_LIMIT;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->retry_ev = evtimer_new(base, retry_cb, l);
	return l->retry_ev ? 0 : -ENOMEM;
}

void link_set_listen(struct link *l, const char *listen)
{
	snprintf(l->listen, sizeof(l->listen), "%s", listen ? listen : "");
}

/*
 * Gives up on the daemon for good (nothing is ever sent): prints why, in one
 * sentence, once.
 */
static void link_refuse(struct link *l, const char *why)
{
	l->refused = true;
	fprintf(stderr, "mevi: %s; the program runs on, untracked\n", why);
}

/*
 * The trust rule of proto/sockpath.h on a connected fd: the socket's directory
 * and the peer's uid. Returns 0, or -EPERM after link_refuse().
 */
static int link_trust(struct link *l, int fd)
{
	char why[512], msg[800];
	uid_t uid = 0;
	int ret = sockpath_check_dir(l->socket_path, why, sizeof(why));

	if (ret) {
		snprintf(msg, sizeof(msg), "not talking to mevid at %s: %s", l->socket_path, why);
		link_refuse(l, msg);
		return -EPERM;
	}
	ret = sockpath_check_peer(fd, &uid, NULL);
	if (ret) {
		snprintf(msg, sizeof(msg),
			 ret == -EPERM ? "not talking to the process at %s: it runs as uid %u, not "
					 "as you (uid %u) or root; remove it or use --socket PATH"
				       : "not talking to the process at %s: cannot read its "
					 "credentials (uid %u/%u)",
			 l->socket_path, (unsigned)uid, (unsigned)getuid());
		link_refuse(l, msg);
		return -EPERM;
	}
	return 0;
}

/*
 * The daemon hung up before its greeting. mevid does that only to a launcher
 * of another uid (daemon/launcher_conn.h): when the peer's uid is not ours,
 * say so and stop retrying. Returns true when it was that.
 */
static bool link_refused_by_peer(struct link *l, int fd)
{
	uid_t uid = getuid();
	char msg[512];

	sockpath_check_peer(fd, &uid, NULL);
	if (uid == getuid())
		return false;
	snprintf(msg, sizeof(msg),
		 "mevid at %s runs as uid %u and takes launchers of its own uid only; start "
		 "your own with mevi-run --socket PATH, or run mevi-run as uid %u",
		 l->socket_path, (unsigned)uid, (unsigned)uid);
	link_refuse(l, msg);
	return true;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Parses the greeting at the start of data. Returns the bytes it used, 0 if
 * more are needed, or -EPROTO if the peer is not a compatible mevid (logged).
 */
static ssize_t parse_hello(struct link *l, const char *data, size_t len)
{
	msgpack_unpacked up;
	size_t off = 0;
	struct mevi_hello h;
	enum mevi_decode_error derr;
	msgpack_unpack_return ret;

	msgpack_unpacked_init(&up);
	ret = msgpack_unpack_next(&up, data, len, &off);
	if (ret == MSGPACK_UNPACK_CONTINUE) {
		msgpack_unpacked_destroy(&up);
		return 0;
	}
	if (ret != MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		log_error("%s does not speak mevi's protocol; not sending to it", l->socket_path);
		return -EPROTO;
	}
	derr = mevi_hello_from_object(&up.data, &h);
	if (derr == MEVI_DECODE_VERSION) {
		log_error("mevid at %s speaks protocol version %u, this mevi-run speaks %u: "
			  "restart mevid from the same mevi build (tracking carries on, unseen)",
			  l->socket_path, h.version, MEVI_PROTO_VERSION);
	} else if (derr != MEVI_DECODE_OK) {
		log_error("%s sent no mevid greeting; not sending to it", l->socket_path);
	} else {
		size_t n = h.url.len < sizeof(l->url) - 1 ? h.url.len : sizeof(l->url) - 1;

		memcpy(l->url, h.url.ptr, n);
		l->url[n] = '\0';
	}
	msgpack_unpacked_destroy(&up);
	if (derr != MEVI_DECODE_OK)
		return -EPROTO;
	l->hello_seen = true;
	if (!l->url_printed && l->url[0]) {
		l->url_printed = true;
		fprintf(stderr, "mevi: watching at %s\n", l->url);
	}
	return (ssize_t)off;
}

static void drop_connection(struct link *l, bool retry)
{
	if (l->bev) {
		bufferevent_free(l->bev);
		l->bev = NULL;
	}
	l->up = false;
	l->hello_seen = false;
	if (retry && !l->refused) {
		struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};

		evtimer_add(l->retry_ev, &tv);
		l->backoff_ms =
		    l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (!l->hello_seen) {
		size_t len = evbuffer_get_length(in);
		const char *data = (const char *)evbuffer_pullup(in, (ssize_t)len);
		ssize_t used = parse_hello(l, data, len);

		if (used < 0) {
			l->refused = true;
			drop_connection(l, false);
			return;
		}
		evbuffer_drain(in, (size_t)used);
	}
	/* Nothing else is expected from the daemon in this protocol version. */
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct link *l = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (!l->hello_seen && link_refused_by_peer(l, bufferevent_getfd(bev))) {
			drop_connection(l, false);
			return;
		}
		log_warn("lost mevid at %s; tracking carries on and will resend everything when "
			 "it is back",
			 l->socket_path);
		drop_connection(l, true);
	}
}

static int attach_fd(struct link *l, int fd)
{
	evutil_make_socket_nonblocking(fd);
	l->bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!l->bev) {
		close(fd);
		return -ENOMEM;
	}
	bufferevent_setcb(l->bev, read_cb, NULL, event_cb, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	l->up = true;
	l->backoff_ms = BACKOFF_MIN_MS;
	return 0;
}

static void retry_cb(evutil_socket_t unused, short what, void *arg)
{
	struct link *l = arg;
	int fd = connect_socket(l->socket_path);

	if (fd < 0) {
		drop_connection(l, true);
		return;
	}
	if (link_trust(l, fd)) {
		close(fd);
		drop_connection(l, false);
		return;
	}
	if (attach_fd(l, fd))
		return;
	log_info("connected to mevid at %s; sending a snapshot", l->socket_path);
	l->snapshot(l->ever_up, l->snapshot_ctx);
	l->ever_up = true;
}

/* Finds mevid next to mevi-run (installed or build tree), else on PATH. */
static void mevid_path(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	static const char *const rel[] = {"mevid", "../daemon/mevid"};

	snprintf(buf, len, "mevid");
	if (n <= 0)
		return;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char cand[PATH_MAX + 32];

		snprintf(cand, sizeof(cand), "%s/%s", self, rel[i]);
		if (access(cand, X_OK) == 0) {
			snprintf(buf, len, "%s", cand);
			return;
		}
	}
}

/* Starts a detached mevid on our socket; it returns once it listens. */
static void spawn_mevid(struct link *l)
{
	char path[PATH_MAX + 32];
	pid_t pid;
	int status;

	mevid_path(path, sizeof(path));
	log_info("no mevid at %s; starting %s", l->socket_path, path);
	pid = fork();
	if (pid < 0) {
		log_warn("cannot start mevid: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		sigset_t chld;

		/* The tracer reads SIGCHLD from a signalfd (run.c); mevid
		 * starts with the mask a shell would give it. */
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigprocmask(SIG_UNBLOCK, &chld, NULL);

		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		if (l->listen[0])
			execlp(path, "mevid", "--socket", l->socket_path, "--listen", l->listen,
			       (char *)NULL);
		else
			execlp(path, "mevid", "--socket", l->socket_path, (char *)NULL);
		fprintf(stderr, "mevi: cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

void link_start(struct link *l, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	bool spawned = false;
	char buf[1024];
	size_t len = 0;
	char why[512], msg[800];
	int fd, ret;

	/* A directory someone else controls is refused before anything is
	 * started or connected; a missing one is mevid's to create. */
	ret = sockpath_check_dir(l->socket_path, why, sizeof(why));
	if (ret && ret != -ENOENT) {
		snprintf(msg, sizeof(msg), "not talking to mevid at %s: %s", l->socket_path, why);
		link_refuse(l, msg);
		return;
	}
	for (;;) {
		fd = connect_socket(l->socket_path);
		if (fd >= 0)
			break;
		if (l->may_spawn && !spawned) {
			spawned = true;
			spawn_mevid(l);
			continue;
		}
		if (!l->may_spawn || mono_ms() >= deadline) {
			fprintf(stderr,
				"mevi: no mevid at %s (%s); tracking anyway, will connect when it "
				"starts\n",
				l->socket_path, strerror(-fd));
			drop_connection(l, true);
			return;
		}
		usleep(20000);
	}
	if (link_trust(l, fd)) {
		close(fd);
		return;
	}
	/* The greeting comes first; wait for it briefly to print the address. */
	while (len < sizeof(buf)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - mono_ms();
		ssize_t n, used;

		if (left < 200)
			left = 200;
		if (poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0 && len == 0 && link_refused_by_peer(l, fd)) {
			close(fd);
			return;
		}
		if (n <= 0)
			break;
		len += (size_t)n;
		used = parse_hello(l, buf, len);
		if (used < 0) {
			l->refused = true;
			close(fd);
			return;
		}
		if (used > 0)
			break;
	}
	if (attach_fd(l, fd))
		return;
	l->ever_up = true;
}

void link_send(const void *data, size_t len, void *ctx)
{
	struct link *l = ctx;
	struct evbuffer *out;

	if (!l->up) {
		l->drops++;
		return;
	}
	out = bufferevent_get_output(l->bev);
	if (evbuffer_get_length(out) + len > l->hard_limit) {
		log_warn("mevid is not keeping up (%zu bytes queued); reconnecting to send a "
			 "snapshot instead",
			 evbuffer_get_length(out));
		l->drops++;
		drop_connection(l, true);
		return;
	}
	if (evbuffer_get_length(out) == 0) {
		/* Nothing queued: sent now. Through the bufferevent, each batch
		 * armed and then disarmed the socket's write event (two
		 * epoll_ctl calls). What the socket does not take is queued;
		 * an error is met again, and handled, by the bufferevent. */
		ssize_t n = send(bufferevent_getfd(l->bev), data, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			l->bytes_sent += (size_t)n;
			data = (const char *)data + n;
			len -= (size_t)n;
		}
		if (len == 0)
			return;
	}
	if (bufferevent_write(l->bev, data, len) == 0)
		l->bytes_sent += len;
}

void link_finish(struct link *l, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;

	if (l->retry_ev) {
		event_free(l->retry_ev);
		l->retry_ev = NULL;
	}
	if (!l->bev)
		return;
	struct evbuffer *out = bufferevent_get_output(l->bev);
	int fd = bufferevent_getfd(l->bev);

	/* A bufferevent keeps the front of its output frozen; we drain it by
	 * hand now that the loop is over. */
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int64_t left = deadline - mono_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (evbuffer_write(out, fd) < 0 && errno != EAGAIN)
			break;
	}
	if (evbuffer_get_length(out) > 0)
		log_warn("could not deliver the last %zu bytes to mevid", evbuffer_get_length(out));
	bufferevent_free(l->bev);
	l->bev = NULL;
	l->up = false;
}
