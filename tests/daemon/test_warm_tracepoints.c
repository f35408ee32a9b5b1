/*
 * warm_tracepoints (daemon/warm_tracepoints.h): started, it holds one empty
 * program linked twice to each process-tree tracepoint (read back from the
 * links' fdinfo, as the kernel states them); stopped, every descriptor is
 * closed; a zeroed one stops without closing anything; started twice, it
 * says so; as another user (nobody) it is refused and holds nothing. Needs
 * root for the kernel side (skipped otherwise).
 */
#include "../../daemon/warm_tracepoints.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdinfo.h"

#define NOBODY 65534

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int need_root(void **unused)
{
	(void)unused;
	if (geteuid() != 0)
		skip();
	return 0;
}

static void links_each_tracepoint_twice(void **unused)
{
	struct warm_tracepoints w = {0};
	char prog_id[64] = "", v[64];

	assert_int_equal(warm_tracepoints_start(&w), 0);
	assert_true(warm_tracepoints_started(&w));
	assert_true(fd_open(w.prog_fd));
	assert_true(fdinfo(w.prog_fd, "prog_type", v, sizeof(v)));
	assert_string_equal(v, "17"); /* BPF_PROG_TYPE_RAW_TRACEPOINT */
	for (int i = 0; i < WARM_TRACEPOINTS_N; i++) {
		for (int k = 0; k < WARM_TRACEPOINTS_LINKS; k++) {
			int fd = w.link_fds[i][k];

			assert_true(fd_open(fd));
			assert_true(fdinfo(fd, "link_type", v, sizeof(v)));
			assert_string_equal(v, "raw_tracepoint");
			assert_true(fdinfo(fd, "tp_name", v, sizeof(v)));
			assert_string_equal(v, warm_tracepoint_names[i]);
			assert_true(fdinfo(fd, "prog_id", v, sizeof(v)));
			if (!prog_id[0])
				snprintf(prog_id, sizeof(prog_id), "%s", v);
			assert_string_equal(v, prog_id); /* one program for all */
		}
	}
	assert_int_equal(warm_tracepoints_start(&w), -EALREADY);

	int fds[1 + WARM_TRACEPOINTS_N * WARM_TRACEPOINTS_LINKS], n = 0;

	fds[n++] = w.prog_fd;
	for (int i = 0; i < WARM_TRACEPOINTS_N; i++)
		for (int k = 0; k < WARM_TRACEPOINTS_LINKS; k++)
			fds[n++] = w.link_fds[i][k];
	warm_tracepoints_stop(&w);
	assert_false(warm_tracepoints_started(&w));
	for (int i = 0; i < n; i++)
		assert_false(fd_open(fds[i]));
	warm_tracepoints_stop(&w); /* idempotent */
}

/* A zeroed (never started) one closes nothing: not even descriptor 0. */
static void zeroed_stops_without_closing(void **unused)
{
	struct warm_tracepoints w = {0};
	int saved = dup(0);

	assert_true(saved >= 0);
	assert_true(fd_open(0));
	warm_tracepoints_stop(&w);
	assert_true(fd_open(0));
	close(saved);
}

/* Another user may not load it: refused, nothing held. */
static void nobody_is_refused(void **unused)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct warm_tracepoints w = {0};
		int err;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		err = warm_tracepoints_start(&w);
		_exit(err == -EPERM && !warm_tracepoints_started(&w) && !w.prog_fd ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(links_each_tracepoint_twice, need_root),
	    cmocka_unit_test(zeroed_stops_without_closing),
	    cmocka_unit_test_setup(nobody_is_refused, need_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
