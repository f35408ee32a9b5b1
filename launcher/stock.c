/* stock — taking mevid's preloaded eBPF programs (stock.h). */
#include "stock.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "monotime.h"
#include "sockpath.h"
#include "stockmsg.h"

/* Connects to path without blocking; the peer must be us. */
static int connect_stock(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int err;

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		snprintf(why, whylen, "no engine stock at %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
		snprintf(why, whylen, "the engine stock at %s is not ours", path);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Takes the descriptors a message carried (SCM_RIGHTS) into fds. Returns
 * false when there were more than room, or the kernel cut them short: the
 * ones past max are closed here, the caller closes the rest. */
static bool take_fds(struct msghdr *m, int *fds, size_t max, size_t *n)
{
	bool ok = !(m->msg_flags & MSG_CTRUNC);

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *p = (int *)CMSG_DATA(c);

		for (size_t i = 0; i < k; i++) {
			if (*n < max)
				fds[(*n)++] = p[i];
			else {
				close(p[i]);
				ok = false;
			}
		}
	}
	return ok;
}

static void close_all(int *fds, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		close(fds[i]);
	*n = 0;
}

/* Reads the reply (and the descriptors riding with it) within the deadline. */
static int read_reply(int fd, int64_t deadline, struct mevi_stock_reply *r, int *fds, size_t max,
		      size_t *nfds)
{
	char buf[MEVI_STOCK_MSG_MAX];
	union {
		char b[CMSG_SPACE(sizeof(int) * STOCK_FDS_MAX)];
		struct cmsghdr align;
	} ctl;
	size_t have = 0;
	bool ok = true;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - mono_ms();
		struct iovec iov = {.iov_base = buf + have, .iov_len = sizeof(buf) - have};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl.b,
				   .msg_controllen = sizeof(ctl.b)};
		ssize_t got;
		int n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -ETIMEDOUT;
		got = recvmsg(fd, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EPROTO;
		ok = take_fds(&m, fds, max, nfds) && ok;
		have += (size_t)got;
		n = mevi_stock_reply_decode(buf, have, r);
		if (n < 0 || (n == 0 && have == sizeof(buf)))
			return -EPROTO;
		if (n > 0)
			return ok ? 0 : -EPROTO;
	}
}

int stock_ask(const char *socket_path, uint64_t id, const struct mevi_stock_config *config,
	      char *why, size_t whylen)
{
	struct mevi_stock_request req = {
	    .version = MEVI_STOCK_VERSION, .id = id, .config = *config};
	char path[108], buf[MEVI_STOCK_MSG_MAX];
	int fd, err, len;

	if (sockpath_stock(socket_path, path, sizeof(path)) < 0) {
		snprintf(why, whylen,
			 "the socket path %s is too long for an engine stock beside it",
			 socket_path);
		return -ENAMETOOLONG;
	}
	err = sockpath_check_dir(path, why, whylen);
	if (err)
		return err;
	fd = connect_stock(path, why, whylen);
	if (fd < 0)
		return fd;
	len = mevi_stock_request_encode(&req, buf, sizeof(buf));
	err = len < 0 ? len : send(fd, buf, (size_t)len, MSG_NOSIGNAL) == len ? 0 : -EIO;
	if (err) {
		snprintf(why, whylen, "cannot ask the engine stock at %s: %s", path,
			 strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

int stock_take(int fd, int timeout_ms, struct stock_answer *a, char *why, size_t whylen)
{
	struct mevi_stock_reply rep = {0};
	int err;

	a->nfds = a->ntp = 0;
	a->mask = 0;
	err = read_reply(fd, mono_ms() + timeout_ms, &rep, a->fds, STOCK_FDS_MAX, &a->nfds);
	close(fd);
	if (!err && rep.version != MEVI_STOCK_VERSION) {
		snprintf(why, whylen, "the engine stock speaks version %u, not %u", rep.version,
			 MEVI_STOCK_VERSION);
		err = -EPROTO;
	} else if (!err && !rep.granted) {
		snprintf(why, whylen, "mevid has no engine for us: %s", rep.why);
		err = -EAGAIN;
	} else if (!err && (size_t)__builtin_popcountll(rep.mask) != a->nfds) {
		snprintf(why, whylen, "the engine stock sent %zu descriptors for %d slots", a->nfds,
			 __builtin_popcountll(rep.mask));
		err = -EPROTO;
	} else if (err) {
		snprintf(why, whylen, "no answer from the engine stock: %s", strerror(-err));
	}
	if (!err || err == -EAGAIN) {
		memcpy(a->tp, rep.tp, rep.ntp * sizeof(rep.tp[0]));
		a->ntp = rep.ntp;
	}
	if (err) {
		close_all(a->fds, &a->nfds);
		return err;
	}
	a->mask = rep.mask;
	return 0;
}
