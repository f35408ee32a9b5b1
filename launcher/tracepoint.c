// SPDX-License-Identifier: (MIT OR Apache-2.0)
#include "tracepoint.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monotime.h"

#define TRACEFS	    "/sys/kernel/tracing"
#define TRACEFS_OLD "/sys/kernel/debug/tracing"
#define ID_PATH_MAX (sizeof(TRACEFS_OLD) + 2 * TRACEPOINT_NAME_MAX + 16)
#define MAX_IDS	    64

/* Reads one id file: the id, or -errno. Only system calls and no allocation:
 * it also runs in a child forked from a process that may have threads. */
static int read_id(const char *path)
{
	char buf[24];
	ssize_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC), id = 0;

	if (fd < 0)
		return -errno;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return len < 0 ? -EIO : -EINVAL;
	for (ssize_t i = 0; i < len && buf[i] != '\n'; i++) {
		if (buf[i] < '0' || buf[i] > '9' || id > (1 << 24))
			return -EINVAL;
		id = id * 10 + (buf[i] - '0');
	}
	return id;
}

/* Reads every id file; 0 or the first -errno. */
static int read_ids(char (*paths)[ID_PATH_MAX], size_t n, int *ids)
{
	for (size_t i = 0; i < n; i++) {
		ids[i] = read_id(paths[i]);
		if (ids[i] < 0)
			return ids[i];
	}
	return 0;
}

static int make_paths(const char *root, const char *group, const char *const *names, size_t n,
		      char (*paths)[ID_PATH_MAX])
{
	for (size_t i = 0; i < n; i++) {
		int len =
		    snprintf(paths[i], ID_PATH_MAX, "%s/events/%s/%s/id", root, group, names[i]);

		if (len < 0 || (size_t)len >= ID_PATH_MAX || strchr(names[i], '/'))
			return -EINVAL;
	}
	return 0;
}

/* The child: a private tracefs, the ids down the pipe, then gone. */
static void __attribute__((noreturn))
child_read_ids(int wfd, char (*paths)[ID_PATH_MAX], size_t n, int *ids)
{
	int err = 0;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		err = -errno;
	if (!err)
		err = read_ids(paths, n, ids);
	if (write(wfd, &err, sizeof(err)) == (ssize_t)sizeof(err) && !err &&
	    write(wfd, ids, n * sizeof(*ids)) != (ssize_t)(n * sizeof(*ids)))
		_exit(1);
	_exit(0);
}

/* Reads the ids through a child with its own mount namespace. */
static int read_ids_private(const char *group, const char *const *names, size_t n, int *ids)
{
	char paths[MAX_IDS][ID_PATH_MAX];
	int pfd[2], err = -EIO, status;
	pid_t pid;

	if (make_paths(TRACEFS, group, names, n, paths) < 0)
		return -EINVAL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_read_ids(pfd[1], paths, n, ids);
	}
	close(pfd[1]);
	if (read(pfd[0], &err, sizeof(err)) != (ssize_t)sizeof(err))
		err = -EIO;
	else if (!err && read(pfd[0], ids, n * sizeof(*ids)) != (ssize_t)(n * sizeof(*ids)))
		err = -EIO;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return err;
}

int tracepoint_ids(const char *group, const char *const *names, size_t n, int *ids)
{
	static const char *const roots[] = {TRACEFS, TRACEFS_OLD};
	char paths[MAX_IDS][ID_PATH_MAX];
	int err = -ENOENT;

	if (n > MAX_IDS || strlen(group) > TRACEPOINT_NAME_MAX || strchr(group, '/'))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) > TRACEPOINT_NAME_MAX)
			return -EINVAL;
	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
		err = make_paths(roots[r], group, names, n, paths);
		if (err == 0)
			err = read_ids(paths, n, ids);
		if (err != -ENOENT)
			return err;
	}
	/* Neither is mounted (or neither has the group): mount one privately. */
	return read_ids_private(group, names, n, ids);
}

/*
 * A tracepoint's programs run on every CPU, from the tracepoint itself,
 * whatever the event's CPU and whether it is enabled or not (the kernel's
 * perf_trace_run_bpf_submit). So the event is opened disabled, on the CPU
 * this runs on: installing it on another CPU, or enabling it there, is a
 * cross-CPU call that waits for that CPU (function-call interrupts before
 * PROGRAM's main(), per launch on this project's VM: 20 -> 17 sampled,
 * 31 -> 27 exact; mevi-run was often on that CPU already), and a disabled
 * event records no sample the program would then pay for.
 */
int tracepoint_attach(int id, int prog_fd)
{
	struct perf_event_attr attr = {
	    .type = PERF_TYPE_TRACEPOINT,
	    .size = sizeof(attr),
	    .config = (unsigned)id,
	    .sample_period = 1,
	    .disabled = 1,
	};
	int cpu = sched_getcpu(), fd, err;

	fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu < 0 ? 0 : cpu, -1,
			  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void *close_one(void *fd)
{
	close((int)(intptr_t)fd);
	return NULL;
}

/* A close this quick waited for no grace period: the tracepoint is held by
 * another perf event too (mevid's, daemon/warm_syscalls.h). */
#define QUICK_CLOSE_NS 2000000

void tracepoint_detach_all(int *fds, size_t n)
{
	pthread_t threads[MAX_IDS];
	sigset_t all, old;
	size_t started = 0, i = 0;

	/* The first one here: when it is quick, so are the others (held
	 * elsewhere), and threads would only cost their making. */
	while (i < n && fds[i] < 0)
		i++;
	if (i < n) {
		uint64_t t0 = mono_ns();

		close(fds[i]);
		fds[i++] = -1;
		if (mono_ns() - t0 < QUICK_CLOSE_NS) {
			for (; i < n; i++)
				if (fds[i] >= 0) {
					close(fds[i]);
					fds[i] = -1;
				}
			return;
		}
	}
	/* The closers take no signal: they are the caller's. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (started < MAX_IDS && pthread_create(&threads[started], NULL, close_one,
							(void *)(intptr_t)fds[i]) == 0)
			started++;
		else
			close(fds[i]); /* no thread: this one waits its own grace period */
		fds[i] = -1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (size_t k = 0; k < started; k++)
		pthread_join(threads[k], NULL);
}
