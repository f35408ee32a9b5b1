/*
 * detach — mevid's double fork into the background, the readiness pipe its
 * invoker waits on, and the log file that becomes its stderr (contract: detach.h).
 */
#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The invoking process: waits for the daemon's word, then exits. */
static void __attribute__((noreturn)) wait_for_daemon(int rfd, pid_t child)
{
	char msg[1024];
	size_t len = 0;
	int status;

	/* The intermediate child exits at once after the second fork. */
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	for (;;) {
		ssize_t n = read(rfd, msg + len, sizeof(msg) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(msg) - 1)
			break;
	}
	msg[len] = '\0';
	if (strncmp(msg, "ok", 2) == 0 && (msg[2] == '\0' || msg[2] == '\n')) {
		if (msg[2] == '\n' && msg[3])
			fprintf(stderr, "%s", msg + 3);
		_exit(0);
	}
	if (len == 0)
		fprintf(stderr, "mevid: the daemon exited during start-up; see its log\n");
	else
		fprintf(stderr, "mevid: %s\n", msg);
	_exit(1);
}

static int mkdir_0700(const char *dir)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Fills d->log_path and creates its directories. Returns 0 or -errno. */
static int log_path_prepare(struct detach *d)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char dir[sizeof(d->log_path)];
	int n, err;

	if (state && state[0] == '/') {
		n = snprintf(dir, sizeof(dir), "%s", state);
	} else if (home && home[0] == '/') {
		n = snprintf(dir, sizeof(dir), "%s/.local", home);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return -ENAMETOOLONG;
		mkdir_0700(dir);
		n = snprintf(dir, sizeof(dir), "%s/.local/state", home);
	} else {
		return -ENOENT;
	}
	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	mkdir_0700(dir);
	if (strlen(dir) + sizeof("/mevi/mevid.log") > sizeof(dir))
		return -ENAMETOOLONG;
	strcat(dir, "/mevi");
	err = mkdir_0700(dir);
	if (err)
		return err;
	n = snprintf(d->log_path, sizeof(d->log_path), "%s/mevid.log", dir);
	if (n < 0 || (size_t)n >= sizeof(d->log_path))
		return -ENAMETOOLONG;
	return 0;
}

/* Points stdin/stdout at /dev/null and stderr at the log file. */
static void redirect_stdio(struct detach *d)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = -1;

	if (log_path_prepare(d) == 0)
		log = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
	}
	if (log >= 0)
		dup2(log, STDERR_FILENO);
	else if (null >= 0)
		dup2(null, STDERR_FILENO);
	if (log > STDERR_FILENO)
		close(log);
	if (null > STDERR_FILENO)
		close(null);
}

int detach_start(struct detach *d)
{
	int fds[2];
	pid_t pid;

	d->ready_fd = -1;
	d->log_path[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid > 0) {
		close(fds[1]);
		wait_for_daemon(fds[0], pid);
	}

	/* Intermediate child: a new session, then a child that is not its
	 * leader, so the daemon can never reacquire a controlling terminal. */
	close(fds[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0) {
		dprintf(fds[1], "cannot fork: %s", strerror(errno));
		_exit(1);
	}
	if (pid > 0)
		_exit(0);

	if (chdir("/") < 0) {
		/* Not fatal: we only use absolute paths from here on. */
	}
	redirect_stdio(d);
	d->ready_fd = fds[1];
	return 0;
}

static void detach_report(struct detach *d, const char *msg)
{
	size_t len = strlen(msg);
	const char *p = msg;

	if (d->ready_fd < 0)
		return;
	while (len > 0) {
		ssize_t n = write(d->ready_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	close(d->ready_fd);
	d->ready_fd = -1;
}

void detach_ready(struct detach *d, const char *notice)
{
	char msg[1024];

	if (notice && *notice) {
		snprintf(msg, sizeof(msg), "ok\n%s", notice);
		detach_report(d, msg);
	} else {
		detach_report(d, "ok");
	}
}

void detach_fail(struct detach *d, const char *msg)
{
	detach_report(d, msg);
}
