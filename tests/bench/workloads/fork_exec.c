/*
 * Overhead workload (d): 200 times fork() + execv("/bin/true") + waitpid().
 *
 * Each child is a new process and a new address space that mevi must follow
 * (fork event, exec, a fresh userfaultfd), for a program that lives a millisecond
 * (target: <= 1.5x of native). argv[1] overrides the count, argv[2] the program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	const char *prog = argc > 2 ? argv[2] : "/bin/true";
	int i, status;

	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork_exec: fork");
			return 1;
		}
		if (pid == 0) {
			execl(prog, prog, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "fork_exec: child %d failed (status %#x)\n", (int)pid,
				status);
			return 1;
		}
	}
	return 0;
}
