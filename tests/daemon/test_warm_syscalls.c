/*
 * warm_syscalls (daemon/warm_syscalls.h), on a real loop and the kernel's
 * syscall tracepoints: a request opens one disabled perf event on each
 * tracepoint named, held until the linger after the last request (a later
 * request extends it), then let go, and opened again at the next request;
 * with faults, an empty program linked twice to each fault tracepoint too
 * (read back from the links' fdinfo), for the same linger, added to events
 * held already; closing lets go of what is held and leaves the loop with
 * nothing open; an
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

#include "fdinfo.h"

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

typedef size_t held_fn(const struct warm_syscalls *w);

/* Runs the loop until nothing is opening or closing and held(w) == want,
 * or ms pass; returns held(w). */
static size_t run_until_held(uv_loop_t *loop, struct warm_syscalls *w, held_fn *held, size_t want,
			     int ms)
{
	int64_t end = mono_ms() + ms;

	while ((w->busy || held(w) != want) && mono_ms() < end) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	return held(w);
}

#define run_until(loop, w, want, ms) run_until_held(loop, w, warm_syscalls_held, want, ms)
#define run_until_faults(loop, w, want, ms)                                                        \
	run_until_held(loop, w, warm_syscalls_faults_held, want, ms)

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

/* Whether fd is a raw tracepoint link of w's empty program on name. */
static bool is_fault_link(const struct warm_syscalls *w, int fd, const char *name)
{
	char type[64], tp[64], prog[32], want[32];

	if (!fdinfo(fd, "link_type", type, sizeof(type)) || strcmp(type, "raw_tracepoint") ||
	    !fdinfo(fd, "tp_name", tp, sizeof(tp)) || strcmp(tp, name) ||
	    !fdinfo(fd, "prog_id", prog, sizeof(prog)) ||
	    !fdinfo(w->fault_prog, "prog_id", want, sizeof(want)))
		return false;
	return strcmp(prog, want) == 0;
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
	assert_int_equal(w->nfault_fds, 0);
	assert_int_equal(w->fault_prog, -1);
}

static void held_until_the_linger_ends(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;
	int fds[N];

	(void)unused;
	begin(&loop, &w);
	assert_int_equal(warm_syscalls_held(&w), 0);
	warm_syscalls_touch(&w, ids, N, false);
	assert_int_equal(run_until(&loop, &w, N, 5000), N);
	for (size_t i = 0; i < N; i++) {
		fds[i] = w.fds[i];
		assert_true(is_perf_event(fds[i]));
	}
	/* A request before the end extends it. */
	usleep(LINGER * 1000 * 2 / 3);
	uv_run(&loop, UV_RUN_NOWAIT);
	warm_syscalls_touch(&w, ids, N, false);
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
	warm_syscalls_touch(&w, ids, N, false);
	assert_int_equal(run_until(&loop, &w, N, 5000), N);
	assert_int_equal(w.opens, 2);
	finish(&loop, &w);
	assert_int_equal(w.closes, 2);
}

#define NFAULT (WARM_FAULTS_N * WARM_FAULTS_LINKS)

/* The fault links: added to events held already, each one read back from the
 * kernel, let go with the events at the linger's end; from cold, one open
 * takes both. */
static void faults_held_until_the_linger_ends(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;
	int fds[NFAULT];

	(void)unused;
	begin(&loop, &w);
	warm_syscalls_touch(&w, ids, N, false);
	assert_int_equal(run_until(&loop, &w, N, 5000), N);
	assert_int_equal(warm_syscalls_faults_held(&w), 0);
	assert_int_equal(w.fault_prog, -1);
	warm_syscalls_touch(&w, ids, N, true);
	assert_int_equal(run_until_faults(&loop, &w, NFAULT, 5000), NFAULT);
	assert_int_equal(w.opens, 2);
	assert_int_equal(warm_syscalls_held(&w), N);
	for (size_t i = 0; i < NFAULT; i++) {
		fds[i] = w.fault_fds[i];
		assert_true(is_fault_link(&w, fds[i], warm_fault_names[i / WARM_FAULTS_LINKS]));
	}
	/* A request without them neither opens nor drops them. */
	warm_syscalls_touch(&w, ids, N, false);
	assert_false(w.busy);
	assert_int_equal(w.opens, 2);
	/* Let go with the events, every descriptor closed. */
	assert_int_equal(run_until(&loop, &w, 0, 5000), 0);
	assert_int_equal(warm_syscalls_faults_held(&w), 0);
	assert_int_equal(w.fault_prog, -1);
	for (size_t i = 0; i < NFAULT; i++)
		assert_false(fdinfo(fds[i], "link_type", (char[64]){0}, 64));
	assert_int_equal(w.closes, 1);
	/* From cold, one open holds both. */
	warm_syscalls_touch(&w, ids, N, true);
	assert_int_equal(run_until_faults(&loop, &w, NFAULT, 5000), NFAULT);
	assert_int_equal(warm_syscalls_held(&w), N);
	assert_int_equal(w.opens, 3);
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
	warm_syscalls_touch(&w, ids, N, true);
	assert_true(w.busy);
	finish(&loop, &w);
	assert_int_equal(w.closes, 1);
	warm_syscalls_touch(&w, ids, N, false); /* after close: ignored */
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
	warm_syscalls_touch(&w, bad, N + 1, true);
	while (w.busy)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(warm_syscalls_held(&w), 0);
	assert_true(w.err < 0);
	assert_true(w.disabled);
	warm_syscalls_touch(&w, ids, N, false);
	assert_false(w.busy);
	assert_int_equal(w.opens, 1);
	warm_syscalls_touch(&w, ids, 0, true);
	finish(&loop, &w);
}

/* No ids: nothing is opened. */
static void no_ids_nothing(void **unused)
{
	struct warm_syscalls w;
	uv_loop_t loop;

	(void)unused;
	begin(&loop, &w);
	warm_syscalls_touch(&w, ids, 0, true);
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
		warm_syscalls_touch(&w, ids, N, true);
		while (w.busy)
			uv_run(&loop, UV_RUN_ONCE);
		_exit(w.disabled && w.nfds == 0 && (w.err == -EACCES || w.err == -EPERM) &&
			      w.faults_disabled && w.nfault_fds == 0 && w.fault_prog == -1
			  ? 0
			  : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(held_until_the_linger_ends, need_ids),
	    cmocka_unit_test_setup(faults_held_until_the_linger_ends, need_ids),
	    cmocka_unit_test_setup(closed_while_opening, need_ids),
	    cmocka_unit_test_setup(unknown_id_disables, need_ids),
	    cmocka_unit_test(no_ids_nothing),
	    cmocka_unit_test_setup(nobody_holds_nothing, need_ids),
	};

	return cmocka_run_group_tests(tests, read_ids, NULL);
}
