/* attach — seizing every thread of a running process and releasing them, for mevi-run --pid. */
#include "attach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"

/* One pass over /proc/PID/task: seizes the threads known() does not know.
 * Returns how many were new, or -errno. */
static int seize_pass(pid_t pid, attach_known_fn known, attach_seized_fn seized, void *ctx)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int added = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0 || known(ctx, tid))
			continue;
		if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(long)ATTACH_PTRACE_OPTIONS) < 0) {
			if (errno == ESRCH)
				continue; /* it exited meanwhile */
			added = -errno;
			break;
		}
		seized(ctx, tid);
		added++;
	}
	closedir(d);
	return added;
}

int attach_seize_threads(pid_t pid, attach_known_fn known, attach_seized_fn seized, void *ctx)
{
	int n;

	/* Threads may be created while we seize: go round until none is new. */
	while ((n = seize_pass(pid, known, seized, ctx)) > 0)
		;
	if (n < 0 && !known(ctx, pid))
		return n;
	return 0;
}

pid_t attach_parent(pid_t pid)
{
	unsigned long long ppid;
	int err = procfs_stat_field(pid, 4, &ppid, NULL, 0);

	if (err)
		return err;
	return ppid > 0 ? (pid_t)ppid : 1;
}

uint64_t attach_thread_sp(pid_t pid, pid_t tid)
{
	char path[96], buf[512];
	unsigned long long v[9];
	int fd, n;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	n = sscanf(buf, "%lld %llx %llx %llx %llx %llx %llx %llx %llx", (long long *)&v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]);
	if (n == 9)
		return v[7];
	if (n == 3) /* "-1 sp pc" */
		return v[1];
	return 0;
}

void attach_release_thread(pid_t tid, int sig)
{
	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig) < 0 && errno != ESRCH)
		log_warn("tid %d: PTRACE_DETACH: %s", tid, strerror(errno));
}
