/*
 * Command lines in /proc/PID/cmdline's form (launcher/procfs.h): read from
 * live, zombie and gone processes, made from an argv, split into the
 * protocol's strings and into an argv — empty arguments, a missing last NUL
 * and an empty command line included — and a status field read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "procfs.h"

/* A child that waits for a signal under the command line argv. */
static pid_t start_child(char *const argv[])
{
	int pfd[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		/* Close the pipe at exec: the parent then knows the new cmdline is in place. */
		fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 0);
	close(pfd[0]);
	return pid;
}

static void stop_child(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void join_keeps_every_argument_and_its_nul(void **unused)
{
	char *const argv[] = {"prog", "", "two words", NULL};
	char *const none[] = {NULL};
	size_t len;
	char *buf = procfs_cmdline_join(argv, &len);

	assert_non_null(buf);
	assert_int_equal(len, 16);
	assert_memory_equal(buf, "prog\0\0two words\0", 16);
	free(buf);
	buf = procfs_cmdline_join(none, &len);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	free(buf);
}

/* Splits buf[0..len) and checks it gives the arguments want ("a|b|c"). */
static void assert_split(const char *buf, size_t len, uint32_t count, const char *want)
{
	uint32_t n = 99;
	struct mevi_str *items = procfs_cmdline_split(buf, len, &n);
	char got[64] = "", *out = got;

	assert_non_null(items);
	assert_int_equal(n, count);
	for (uint32_t k = 0; k < n; k++) {
		assert_true(items[k].ptr >= buf && items[k].ptr + items[k].len <= buf + len);
		out += sprintf(out, "%s%.*s", k ? "|" : "", (int)items[k].len, items[k].ptr);
	}
	assert_string_equal(got, want);
	free(items);
}

static void split_counts_empty_arguments_and_a_missing_last_nul(void **unused)
{
	assert_split("a\0\0bc\0", 6, 3, "a||bc");
	/* A process that rewrote its arguments: the last one has no NUL. */
	assert_split("daemon: idle", 12, 1, "daemon: idle");
	assert_split("x\0tail", 6, 2, "x|tail");
	assert_split("", 0, 0, "");
}

static void argv_points_into_the_buffer_and_names_the_nameless(void **unused)
{
	char buf[] = "sh\0-c\0\0"; /* "sh", "-c", "" and the NUL procfs_cmdline adds */
	char empty[1] = "";
	char **argv = procfs_cmdline_argv(buf, 7);

	assert_non_null(argv);
	assert_ptr_equal(argv[0], buf);
	assert_string_equal(argv[1], "-c");
	assert_string_equal(argv[2], "");
	assert_null(argv[3]);
	free(argv);
	argv = procfs_cmdline_argv(empty, 0);
	assert_non_null(argv);
	assert_string_equal(argv[0], "?");
	assert_null(argv[1]);
	free(argv);
}

static void reads_a_live_process_as_it_was_started(void **unused)
{
	/* This test program, waiting (main): an empty argument that no
	 * utility would accept and stay alive with (`sleep 30 ""` exits at
	 * once, and a zombie's cmdline is empty). */
	char *const argv[] = {"/proc/self/exe", "--pause", "", NULL};
	pid_t pid = start_child(argv);
	char *buf, *want;
	size_t len, wlen;
	char status[4096];
	long ppid;

	assert_int_equal(procfs_cmdline(pid, &buf, &len), 0);
	want = procfs_cmdline_join(argv, &wlen);
	assert_int_equal(len, wlen);
	assert_memory_equal(buf, want, len);
	assert_int_equal(buf[len], '\0');
	assert_int_equal(procfs_status_read(pid, status, sizeof(status)), 0);
	assert_true(procfs_status_field(status, "PPid", &ppid));
	assert_int_equal(ppid, getpid());
	assert_false(procfs_status_field(status, "NoSuchField", &ppid));
	free(want);
	free(buf);
	stop_child(pid);
}

/* Command lines around one page, read in one go or not: 4096 bytes fill
 * the first read exactly, and the rest (none) is read after it. */
static void reads_a_command_line_of_any_length(void **unused)
{
	static const size_t totals[] = {100, 4095, 4096, 4097, 20000};

	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		/* "/proc/self/exe\0--pause\0" is 23 bytes, the last NUL one more */
		size_t xlen = totals[i] - 24;
		char *x = malloc(xlen + 1);

		assert_non_null(x);
		memset(x, 'x', xlen);
		x[xlen] = '\0';

		char *const argv[] = {"/proc/self/exe", "--pause", x, NULL};
		pid_t pid = start_child(argv);
		char *buf, *want;
		size_t len, wlen;

		assert_int_equal(procfs_cmdline(pid, &buf, &len), 0);
		want = procfs_cmdline_join(argv, &wlen);
		assert_int_equal(wlen, totals[i]);
		assert_int_equal(len, wlen);
		assert_memory_equal(buf, want, len);
		assert_int_equal(buf[len], '\0');
		free(want);
		free(buf);
		free(x);
		stop_child(pid);
	}
}

static void refresh_keeps_the_old_line_of_a_zombie_or_a_gone_process(void **unused)
{
	char *const argv[] = {"/bin/sleep", "30", NULL};
	pid_t pid = start_child(argv);
	char *buf = strdup("old");
	size_t len = 4;
	siginfo_t si;

	assert_int_equal(procfs_cmdline_refresh(pid, &buf, &len), 0);
	assert_int_equal(len, 14);
	assert_memory_equal(buf,
			    "/bin/sleep\0"
			    "30",
			    14);

	/* A zombie's command line reads empty: the old one stays. */
	kill(pid, SIGKILL);
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(procfs_cmdline_refresh(pid, &buf, &len), -ENOENT);
	assert_int_equal(len, 14);
	assert_memory_equal(buf,
			    "/bin/sleep\0"
			    "30",
			    14);

	/* Reaped: gone. */
	stop_child(pid);
	assert_int_equal(procfs_cmdline_refresh(pid, &buf, &len), -ENOENT);
	assert_int_equal(len, 14);
	free(buf);
	buf = (char *)"untouched";
	assert_int_equal(procfs_cmdline(pid, &buf, &len), -ENOENT);
	assert_null(buf);
	assert_int_equal(len, 0);
}

static pthread_barrier_t started, done;
static pid_t thread_tids[3];

static void *park(void *arg)
{
	*(pid_t *)arg = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	pthread_barrier_wait(&done);
	return NULL;
}

static bool has_tid(const pid_t *v, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == tid)
			return true;
	return false;
}

/* procfs_tids: every thread of a live process, no more than asked for, and
 * a clear error for a process that does not exist. */
static void tids_lists_every_thread_up_to_max(void **state)
{
	pthread_t th[3];
	pid_t *v = NULL;
	size_t n = 0;

	pthread_barrier_init(&started, NULL, 4);
	pthread_barrier_init(&done, NULL, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, park, &thread_tids[i]), 0);
	pthread_barrier_wait(&started);

	assert_int_equal(procfs_tids(getpid(), 1000, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_true(has_tid(v, n, getpid()));
	for (int i = 0; i < 3; i++)
		assert_true(has_tid(v, n, thread_tids[i]));
	free(v);

	assert_int_equal(procfs_tids(getpid(), 2, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);

	pthread_barrier_wait(&done);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&started);
	pthread_barrier_destroy(&done);

	v = (pid_t *)&n;
	assert_int_equal(procfs_tids(1 << 23, 10, &v, &n), -ENOENT);
	assert_null(v);
	assert_int_equal(n, 0);
}

/* procfs_read: a whole /proc file (the maps the eBPF engine keeps for its
 * unwinds), NUL-terminated. */
static void read_gives_a_whole_proc_file(void **state)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(procfs_read(getpid(), "maps", 4u << 20, &text, &len), 0);
	assert_non_null(strstr(text, "[stack]"));
	assert_int_equal(strlen(text), len);
	free(text);
	assert_int_equal(procfs_read(1 << 23, "maps", 4096, &text, &len), -ENOENT);
	assert_null(text);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--pause") == 0) {
		pause(); /* reads_a_live_process_as_it_was_started's child */
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(join_keeps_every_argument_and_its_nul),
	    cmocka_unit_test(split_counts_empty_arguments_and_a_missing_last_nul),
	    cmocka_unit_test(argv_points_into_the_buffer_and_names_the_nameless),
	    cmocka_unit_test(reads_a_live_process_as_it_was_started),
	    cmocka_unit_test(reads_a_command_line_of_any_length),
	    cmocka_unit_test(refresh_keeps_the_old_line_of_a_zombie_or_a_gone_process),
	    cmocka_unit_test(tids_lists_every_thread_up_to_max),
	    cmocka_unit_test(read_gives_a_whole_proc_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
