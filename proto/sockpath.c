/*
 * sockpath — the launcher socket's path rule, the trust checks of its directory
 * and peer, the daemon's lock and the stale-socket probe (contract: sockpath.h).
 */
#include "sockpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "mkdirp.h"

int sockpath_default(char *buf, size_t len)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	int n;

	if (runtime && runtime[0] == '/')
		n = snprintf(buf, len, "%s/mevi/mevid.sock", runtime);
	else
		n = snprintf(buf, len, "/tmp/mevi-%u/mevid.sock", (unsigned)getuid());
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int sockpath_resolve(const char *explicit_path, char *buf, size_t len)
{
	const char *env = getenv("MEVI_SOCKET");
	const char *p = explicit_path && *explicit_path ? explicit_path : env && *env ? env : NULL;
	int n;

	if (!p)
		return sockpath_default(buf, len);
	n = snprintf(buf, len, "%s", p);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sockpath_dir(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (!slash)
		n = snprintf(dir, dirlen, ".");
	else if (slash == path)
		n = snprintf(dir, dirlen, "/");
	else
		n = snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
	return n < 0 || (size_t)n >= dirlen ? -ENAMETOOLONG : 0;
}

int sockpath_stock(const char *path, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.stock", path);

	return n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)
		   ? -ENAMETOOLONG
		   : 0;
}

/* The trust rule on an existing directory's stat (see the header). */
static int dir_trusted(const char *dir, const struct stat *st, char *err, size_t errlen)
{
	uid_t me = getuid();

	if (!S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "socket directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st->st_uid != me && st->st_uid != 0) {
		snprintf(err, errlen,
			 "socket directory %s belongs to uid %u, not to you (uid %u) or root: "
			 "someone else may be listening there; remove it or use --socket PATH",
			 dir, (unsigned)st->st_uid, (unsigned)me);
		return -EPERM;
	}
	if (st->st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
		snprintf(err, errlen,
			 "socket directory %s is open to other users (mode %04o); "
			 "make it private with chmod 700 %s",
			 dir, (unsigned)(st->st_mode & 07777), dir);
		return -EPERM;
	}
	return 0;
}

int sockpath_check_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;
	int ret;

	if (sockpath_dir(path, dir, sizeof(dir))) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	/* lstat: a symlink planted in place of the directory is refused. */
	if (lstat(dir, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot use socket directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	return dir_trusted(dir, &st, err, errlen);
}

int sockpath_check_peer(int fd, uid_t *uid, pid_t *pid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (uid)
		*uid = cred.uid;
	if (pid)
		*pid = cred.pid;
	return cred.uid == getuid() || cred.uid == 0 ? 0 : -EPERM;
}

int sockpath_prepare_dir(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	struct stat st;
	char *slash;
	int ret;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen,
			 "socket path %s is too long (a Unix socket path holds %zu bytes)", path,
			 sizeof(sun.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
	}
	ret = mkdirp(dir, 0700);
	if (ret) {
		snprintf(err, errlen, "cannot create socket directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (lstat(dir, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot use socket directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	return dir_trusted(dir, &st, err, errlen);
}

int sockpath_lock(const char *path)
{
	char lock[PATH_MAX];
	int fd;
	int n = snprintf(lock, sizeof(lock), "%s.lock", path);

	if (n < 0 || (size_t)n >= sizeof(lock))
		return -ENAMETOOLONG;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;

		close(fd);
		return err;
	}
	return fd;
}

int sockpath_probe(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		ret = -EADDRINUSE;
	} else if (errno == ECONNREFUSED) {
		log_info("replacing stale socket %s (its daemon is gone)", path);
		ret = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	} else {
		ret = -errno;
	}
	close(fd);
	return ret;
}
