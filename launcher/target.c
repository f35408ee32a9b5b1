#include "target.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PF_KTHREAD of include/linux/sched.h: field 9 (flags) of /proc/PID/stat. */
#define TARGET_PF_KTHREAD 0x00200000UL

/* 0 if path is an executable regular file; else -ENOENT, -EISDIR, -EACCES. */
static int check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

int target_resolve(const char *name)
{
	const char *path = getenv("PATH");
	bool denied = false;
	char buf[PATH_MAX];

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/'))
		return check_file(name);
	if (!path)
		path = "/bin:/usr/bin";
	for (const char *p = path;; p++) {
		const char *colon = strchr(p, ':');
		size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
		int n, err;

		/* An empty entry is the current directory. */
		n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)dlen, p, dlen ? "/" : "", name);
		if (n > 0 && (size_t)n < sizeof(buf)) {
			err = check_file(buf);
			if (!err)
				return 0;
			denied |= err == -EACCES;
		}
		if (!colon)
			break;
		p = colon;
	}
	/* execvp: a file found but not executable is EACCES, a directory is
	 * skipped. */
	return denied ? -EACCES : -ENOENT;
}

int target_report(const char *name, int err)
{
	if (err == -ENOENT && !strchr(name, '/'))
		fprintf(stderr, "mevi-run: %s: command not found\n", name);
	else
		fprintf(stderr, "mevi-run: %s: %s\n", name, strerror(-err));
	return err == -ENOENT ? 127 : 126;
}

int target_check_pid(pid_t pid, pid_t self, char *why, size_t len)
{
	char path[64], buf[1024], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd;

	if (pid == self) {
		snprintf(why, len, "that is mevi-run itself");
		return -EPERM;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* Fields 3 (state) .. 9 (flags): flags is the 7th token after ')'. */
	for (int field = 2; field < 9 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		flags = strtoul(p + 1, NULL, 10);
	if (flags & TARGET_PF_KTHREAD) {
		char *comm = strchr(buf, '(');
		char *end = strrchr(buf, ')');

		snprintf(why, len, "%.*s is a kernel thread: it has no user memory to watch",
			 comm && end > comm ? (int)(end - comm - 1) : 1, comm ? comm + 1 : "?");
		return -EPERM;
	}
	return 0;
}

pid_t target_tracer(pid_t pid, char *name, size_t len)
{
	char path[64], buf[4096], *p;
	long tracer = 0;
	ssize_t n;
	int fd;

	name[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nTracerPid:");
	if (p)
		tracer = strtol(p + 11, NULL, 10);
	if (tracer <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/comm", tracer);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, name, len - 1);
		close(fd);
		if (n > 0 && name[n - 1] == '\n')
			n--;
		name[n > 0 ? n : 0] = '\0';
	}
	return (pid_t)tracer;
}
