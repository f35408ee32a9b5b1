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

void attach_release_thread(pid_t tid, int sig)
{
	if (ptrace(PTRACE_DETACH, tid, NULL, (void *)(long)sig) < 0 && errno != ESRCH)
		log_warn("tid %d: PTRACE_DETACH: %s", tid, strerror(errno));
}
