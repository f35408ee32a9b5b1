/*
 * warm_syscalls (daemon/warm_syscalls.h), on a real loop and the kernel's
 * syscall tracepoints: a request opens one disabled perf event on each
 * tracepoint named, held until the linger after the last request (a later
 * request extends it), then let go, and opened again at the next request;
 * closing lets go of what is held and leaves the loop with nothing open; an
 * id the kernel does not have, or a user without the right (nobody), holds
 * nothing and is not tried again; no id, nothing. Needs root (skipped
 * otherwise).
 */
#include "../../daemon/warm_syscalls.h"

#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "monotime.h"
#include "tracepoint.h"

#define NOBODY 65534
#define LINGER 1500 /* ms: well above an open waiting behind other tests' grace periods */

static const char *const names[] = {"sys_exit_mmap", "sys_exit_munmap", "sys_exit_brk"};
#define N (sizeof(names) / sizeof(names[0]))

static uint32_t ids[N];
static bool have_ids;

/* The ids, read once (root: tracefs may have to be mounted privately). */
static int read_ids(void **unused)
{
	int v[N];

	(void)unused;
	if (geteuid() == 0 && tracepoint_ids("syscalls", names, N, v) == 0) {
		for (size_t i = 0; i < N; i++)
			ids[i] = (uint32_t)v[i];
		have_ids = true;
	}
	return 0;
}

static int need_ids(void **unused)
{
	(void)unused;
	if (!have_ids)
		skip();
	return 0;
}

/* Runs the loop until nothing is opening or closing and held(w) == want,
 * or ms pass; returns held(w). */
static size_t run_until(uv_loop_t *loop, struct warm_syscalls *w, size_t want, int ms)
{
	int64_t end = mono_ms() + ms;

	while ((w->busy || warm_syscalls_held(w) != want) && mono_ms() < end) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	return warm_syscalls_held(w);
}

static bool is_perf_event(int fd)
{
	char path[64], target[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[perf_event]") == 0;
}

/* A new loop, and w on it. */
static void begin(uv_loop_t *loop, struct warm_syscalls *w)
{
	assert_int_equal(uv_loop_init(loop), 0);
	warm_syscalls_init(w, loop, LINGER);
}

/* Closes w and runs the loop to its end: nothing may be left open on it. */
static void finish(uv_loop_t *loop, struct warm_syscalls *w)
{
	warm_syscalls_close(w);
	warm_syscalls_close(w); /* idempotent */
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
	assert_int_equal(w->nfds, 0);
}

static void held_until_the_linger_ends(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;
	int fds[N];

	(void)unused;
	begin(&loop, &w);
	assert_int_equal(warm_syscalls_held(&w), 0);
	warm_syscalls_touch(&w, ids, N);
	assert_int_equal(run_until(&loop, &w, N, 5000), N);
	for (size_t i = 0; i < N; i++) {
		fds[i] = w.fds[i];
		assert_true(is_perf_event(fds[i]));
	}
	/* A request before the end extends it. */
	usleep(LINGER * 1000 * 2 / 3);
	uv_run(&loop, UV_RUN_NOWAIT);
	warm_syscalls_touch(&w, ids, N);
	usleep(LINGER * 1000 * 2 / 3);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(warm_syscalls_held(&w), N);
	/* Then let go, every descriptor closed. */
	assert_int_equal(run_until(&loop, &w, 0, 5000), 0);
	for (size_t i = 0; i < N; i++)
		assert_false(is_perf_event(fds[i]));
	assert_int_equal(w.opens, 1);
	assert_int_equal(w.closes, 1);
	/* The next request holds them again. */
	warm_syscalls_touch(&w, ids, N);
	assert_int_equal(run_until(&loop, &w, N, 5000), N);
	assert_int_equal(w.opens, 2);
	finish(&loop, &w);
	assert_int_equal(w.closes, 2);
}

/* Closed while opening: what the open took is let go all the same. */
static void closed_while_opening(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;

	(void)unused;
	begin(&loop, &w);
	warm_syscalls_touch(&w, ids, N);
	assert_true(w.busy);
	finish(&loop, &w);
	assert_int_equal(w.closes, 1);
	warm_syscalls_touch(&w, ids, N); /* after close: ignored */
	assert_int_equal(w.opens, 1);
	assert_false(w.busy);
}

/* An id no tracepoint has: nothing held, nothing leaked, not tried again. */
static void unknown_id_disables(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;
	uint32_t bad[N + 1];

	(void)unused;
	memcpy(bad, ids, sizeof(ids));
	bad[N] = 0xfffffe;
	begin(&loop, &w);
	warm_syscalls_touch(&w, bad, N + 1);
	while (w.busy)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(warm_syscalls_held(&w), 0);
	assert_true(w.err < 0);
	assert_true(w.disabled);
	warm_syscalls_touch(&w, ids, N);
	assert_false(w.busy);
	assert_int_equal(w.opens, 1);
	warm_syscalls_touch(&w, ids, 0);
	finish(&loop, &w);
}

/* No ids: nothing is opened. */
static void no_ids_nothing(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;

	(void)unused;
	begin(&loop, &w);
	warm_syscalls_touch(&w, ids, 0);
	assert_false(w.busy);
	assert_int_equal(w.opens, 0);
	finish(&loop, &w);
}

/* Another user may not open tracepoint events: refused, nothing held. */
static void nobody_holds_nothing(void **unused)
{
	int status;
	pid_t pid;

	(void)unused;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct warm_syscalls w;
		uv_loop_t loop;

		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(3);
		if (uv_loop_init(&loop))
			_exit(4);
		warm_syscalls_init(&w, &loop, LINGER);
		warm_syscalls_touch(&w, ids, N);
		while (w.busy)
			uv_run(&loop, UV_RUN_ONCE);
		_exit(w.disabled && w.nfds == 0 && (w.err == -EACCES || w.err == -EPERM) ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(held_until_the_linger_ends, need_ids),
	    cmocka_unit_test_setup(closed_while_opening, need_ids),
	    cmocka_unit_test_setup(unknown_id_disables, need_ids),
	    cmocka_unit_test(no_ids_nothing),
	    cmocka_unit_test_setup(nobody_holds_nothing, need_ids),
	};

	return cmocka_run_group_tests(tests, read_ids, NULL);
}
