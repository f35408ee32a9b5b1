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

/* mkdir -p with mode 0700 for every directory it creates. */
static int mkdir_parents(char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			int err = -errno;

			*p = '/';
			return err;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
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
	ret = mkdir_parents(dir);
	if (ret) {
		snprintf(err, errlen, "cannot create socket directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (stat(dir, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot use socket directory %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "socket directory %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		snprintf(err, errlen,
			 "refusing socket directory %s: it belongs to uid %u, not to us (uid %u)",
			 dir, (unsigned)st.st_uid, (unsigned)getuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "refusing socket directory %s: others can write to it (mode %04o); "
			 "use a directory only you can write (chmod 700)",
			 dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
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
