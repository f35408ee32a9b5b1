/*
 * Scenario: posix_spawn or vfork, then exec of another scenario binary.
 *
 * argv[1] chooses the way: "posix_spawn" (glibc uses clone(CLONE_VM|CLONE_VFORK)),
 * "vfork" (vfork() then execve() in the child, which shares the parent's
 * memory until the exec) or "vfork_late": as vfork, but the child first
 * sleeps 30 ms and maps and unmaps a page (raw syscalls: it runs on the
 * parent's stack). Meanwhile the parent's address space, still waiting to be
 * attached, becomes due while the parent cannot stop (it waits inside vfork),
 * so mevi-run attaches it at a stop of the child: the descriptors it injects
 * are the child's, not the parent's. The child runs mmap_munmap_middle, found next to this
 * binary, which checkpoints with its own pid. The parent waits for it.
 *
 * Checkpoints:
 *   parent-before-spawn   parent: 16 pages written
 *   (mmap_munmap_middle's five checkpoints, in the child)
 *   parent-after-child    parent: still 16 present, child exited 0
 */
#include "scenario.h"

#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Returns the path of a sibling binary of this executable in buf. */
static void sibling(char *buf, size_t size, const char *name)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n < 0)
		sc_die(1, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	SC_CHECK(slash != NULL);
	*slash = '\0';
	if ((size_t)snprintf(buf, size, "%s/%s", self, name) >= size)
		sc_die(0, "path too long");
	if (access(buf, X_OK) < 0)
		sc_die(1, "%s", buf);
}

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "posix_spawn";
	char path[PATH_MAX];
	char *p = sc_map(16 * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	char *child_argv[] = {path, NULL};
	int status, err;
	pid_t pid;

	sibling(path, sizeof(path), "mmap_munmap_middle");
	sc_touch(p, 16 * SC_PAGE, SC_PAGE);
	SC_CHECKPOINT("parent-before-spawn", SC_EXPECT(p, 16 * SC_PAGE, 16));
	if (strcmp(how, "posix_spawn") == 0) {
		err = posix_spawn(&pid, path, NULL, NULL, child_argv, environ);
		if (err)
			sc_die(0, "posix_spawn %s: %s", path, strerror(err));
	} else if (strcmp(how, "vfork") == 0 || strcmp(how, "vfork_late") == 0) {
		bool late = strcmp(how, "vfork_late") == 0;

		pid = vfork();
		if (pid < 0)
			sc_die(1, "vfork");
		if (pid == 0) {
			if (late) {
				struct timespec ts = {0, 30 * 1000 * 1000};
				long q;

				syscall(SYS_nanosleep, &ts, NULL);
				q = syscall(SYS_mmap, NULL, SC_PAGE, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (q != -1)
					syscall(SYS_munmap, q, SC_PAGE);
			}
			execve(path, child_argv, environ);
			_exit(127);
		}
	} else {
		sc_die(0, "usage: spawn_exec [posix_spawn|vfork|vfork_late]");
	}
	if (waitpid(pid, &status, 0) != pid)
		sc_die(1, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		sc_die(0, "child %s status %#x, expected exit 0", path, status);
	SC_CHECKPOINT("parent-after-child", SC_EXPECT(p, 16 * SC_PAGE, 16));
	sc_unmap(p, 16 * SC_PAGE);
	return 0;
}
