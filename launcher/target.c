/* target — checking PROGRAM or --pid before anything starts. */
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

#include "procfs.h"

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
	unsigned long long flags;
	char comm[64];
	int err;

	if (pid == self) {
		snprintf(why, len, "that is mevi-run itself");
		return -EPERM;
	}
	err = procfs_stat_field(pid, 9, &flags, comm, sizeof(comm));
	if (err == -EIO)
		return 0; /* unreadable flags: let the attach itself say */
	if (err)
		return err;
	if (flags & TARGET_PF_KTHREAD) {
		snprintf(why, len, "%s is a kernel thread: it has no user memory to watch", comm);
		return -EPERM;
	}
	return 0;
}

pid_t target_tracer(pid_t pid, char *name, size_t len)
{
	char buf[4096];
	long tracer = 0;
	unsigned long long state;

	name[0] = '\0';
	if (procfs_status_read(pid, buf, sizeof(buf)) ||
	    !procfs_status_field(buf, "TracerPid", &tracer) || tracer <= 0)
		return 0;
	if (procfs_stat_field((pid_t)tracer, 3, &state, name, len))
		name[0] = '\0';
	return (pid_t)tracer;
}
