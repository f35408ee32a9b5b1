/*
 * procfs — asks /proc whether a process is still the one mevid heard of, and
 * finds a containerised launcher's pids in mevid's pid namespace (procfs.h).
 */
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROCFS_MAX_VISIT 4096

/* Reads path into buf (NUL-terminated). Returns the length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			/* ESRCH: the process died between open and read */
			return n == -ESRCH ? -ENOENT : n;
		}
		if (n == 0)
			break;
		got += n;
	}
	close(fd);
	buf[got] = '\0';
	return got;
}

int procfs_stat(int32_t pid, char *state, uint64_t *start_time)
{
	char path[64], buf[1024], *p, *end;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	/* comm (field 2) may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EINVAL;
	p += 2;
	*state = *p;
	/* Fields 3..21 are 19 tokens; the start time is the 20th. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	errno = 0;
	*start_time = strtoull(p, &end, 10);
	if (errno || end == p)
		return -EINVAL;
	return 0;
}

int procfs_running(int32_t pid, uint64_t start_time)
{
	uint64_t now_start;
	char state;
	int err;

	if (pid <= 0)
		return -EINVAL;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	err = procfs_stat(pid, &state, &now_start);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (now_start != start_time)
		return 0; /* recycled */
	return state == 'Z' || state == 'X' || state == 'x' ? 0 : 1;
}

/* The last number of the NSpid line of /proc/PID/status, or 0; and its
 * TracerPid in *tracer (if not NULL). */
static int32_t innermost_pid_tracer(int32_t pid, int32_t *tracer)
{
	char path[64], buf[4096], *line, *p;
	int32_t last = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	if (tracer) {
		line = strstr(buf, "\nTracerPid:");
		*tracer = line ? (int32_t)strtol(line + 11, NULL, 10) : 0;
	}
	line = strstr(buf, "\nNSpid:");
	if (!line)
		return 0;
	p = line + 7;
	for (;;) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		last = (int32_t)v;
		p = end;
	}
	return last;
}

static int32_t innermost_pid(int32_t pid)
{
	return innermost_pid_tracer(pid, NULL);
}

/* The process traced by root that calls itself ns_pid, or 0. mevi-run's
 * tracer is not its program's ancestor (launcher/spawn.h), but it traces it
 * and every process it starts. */
static int32_t traced_by(int32_t root, int32_t ns_pid)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int32_t found = 0;
	unsigned seen = 0;

	if (!dir)
		return 0;
	while (!found && seen++ < 4096 && (de = readdir(dir))) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		int32_t tracer = 0;

		if (*end || v <= 0)
			continue;
		if (innermost_pid_tracer((int32_t)v, &tracer) == ns_pid && tracer == root)
			found = (int32_t)v;
	}
	closedir(dir);
	return found;
}

/* Appends the children of every thread of pid to *q. Returns 0 or -ENOMEM. */
static int push_children(int32_t pid, int32_t **q, size_t *n, size_t *cap)
{
	char path[64], buf[4096];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && *n < PROCFS_MAX_VISIT) {
		char *p, *end;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
		if (read_small(path, buf, sizeof(buf)) < 0)
			continue;
		for (p = buf;; p = end) {
			long v = strtol(p, &end, 10);

			if (end == p || *n >= PROCFS_MAX_VISIT)
				break;
			if (*n == *cap) {
				size_t c = *cap ? *cap * 2 : 64;
				int32_t *grown = realloc(*q, c * sizeof(**q));

				if (!grown) {
					closedir(dir);
					return -ENOMEM;
				}
				*q = grown;
				*cap = c;
			}
			(*q)[(*n)++] = (int32_t)v;
		}
	}
	closedir(dir);
	return 0;
}

int32_t procfs_host_pid(int32_t root, int32_t ns_pid)
{
	int32_t *q = NULL, found = 0;
	size_t n = 0, cap = 0;

	if (root <= 0 || ns_pid <= 0)
		return 0;
	if (push_children(root, &q, &n, &cap) == 0 && innermost_pid(root) == ns_pid)
		found = root;
	for (size_t i = 0; i < n && !found; i++) {
		if (innermost_pid(q[i]) == ns_pid)
			found = q[i];
		else if (push_children(q[i], &q, &n, &cap))
			break;
	}
	free(q);
	return found ? found : traced_by(root, ns_pid);
}

bool procfs_same_pidns(int32_t pid)
{
	char path[64];
	struct stat theirs, ours;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return pid > 0 && stat(path, &theirs) == 0 && stat("/proc/self/ns/pid", &ours) == 0 &&
	       theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev;
}
