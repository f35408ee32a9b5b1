/*
 * mevi-run — runs a program under mevi's eye (options.h has the synopsis).
 *
 * Splits in two (spawn.h): the process the shell started installs the
 * seccomp filter that stops only memory syscalls and execs PROGRAM; a hidden
 * grandchild seizes it with ptrace and from then on runs one libevent loop
 * over the tracees' wait statuses (SIGCHLD), their userfaultfds, the daemon
 * socket and a flush timer (run.h). With --pid, this process attaches and
 * traces; with --engine=ebpf it stays PROGRAM's parent and loads tracepoints.
 */
#include <errno.h>
#include <stdio.h>

#include "log.h"
#include "options.h"
#include "run.h"

int main(int argc, char **argv)
{
	struct launcher_options o;
	int ret;

	log_init("mevi-run");
	ret = launcher_options_parse(&o, argc, argv, stdout, stderr);
	if (ret)
		return ret > 0 ? 0 : 2;
	return launcher_run(&o);
}
