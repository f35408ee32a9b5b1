/*
 * Classic tracepoints (launcher/tracepoint.h): their ids read from a mounted
 * tracefs and, where none is mounted, from a private one that leaves no mount
 * behind; unknown and malformed names refused; a program attached and
 * detached. Needs root (CAP_SYS_ADMIN for the mounts, CAP_BPF and
 * CAP_PERFMON for the program); skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "tracepoint.h"

static const char *const names[] = {"sys_exit_mmap", "sys_exit_munmap", "sys_exit_brk"};
#define N (sizeof(names) / sizeof(names[0]))

/* Whether this process's mount namespace has a tracefs mounted anywhere. */
static bool tracefs_mounted(void)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " - tracefs "))
			found = true;
	fclose(f);
	return found;
}

/* This test process gets a mount namespace of its own: the mounts and
 * unmounts below touch nothing outside it. */
static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	return 0;
}

static void skip_unless_root(void)
{
	if (geteuid() != 0)
		skip();
}

static void unmount_every_tracefs(void)
{
	while (umount2("/sys/kernel/tracing", MNT_DETACH) == 0)
		;
	while (umount2("/sys/kernel/debug/tracing", MNT_DETACH) == 0)
		;
	assert_false(tracefs_mounted());
}

static void ids_are_the_same_with_and_without_a_tracefs(void **state)
{
	int mounted[N], private[N];

	(void)state;
	skip_unless_root();
	unmount_every_tracefs();
	assert_int_equal(mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL), 0);
	assert_int_equal(tracepoint_ids("syscalls", names, N, mounted), 0);
	for (size_t i = 0; i < N; i++) {
		assert_true(mounted[i] > 0);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(mounted[i], mounted[j]);
	}
	unmount_every_tracefs();
	assert_int_equal(tracepoint_ids("syscalls", names, N, private), 0);
	assert_memory_equal(mounted, private, sizeof(mounted));
	/* The private tracefs was the child's: none is left here. */
	assert_false(tracefs_mounted());
}

static void unknown_and_malformed_names_are_refused(void **state)
{
	const char *const unknown[] = {"sys_exit_mmap", "sys_exit_no_such_call"};
	const char *const sneaky[] = {"../../../../etc/passwd"};
	char longname[TRACEPOINT_NAME_MAX + 2];
	const char *const toolong[] = {longname};
	int ids[2];

	(void)state;
	skip_unless_root();
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tracepoint_ids("syscalls", unknown, 2, ids), -ENOENT);
	assert_int_equal(tracepoint_ids("no_such_group", names, 1, ids), -ENOENT);
	assert_int_equal(tracepoint_ids("syscalls", sneaky, 1, ids), -EINVAL);
	assert_int_equal(tracepoint_ids("../syscalls", names, 1, ids), -EINVAL);
	assert_int_equal(tracepoint_ids("syscalls", toolong, 1, ids), -EINVAL);
}

/* r0 = 0; exit: a tracepoint program that does nothing. */
static int load_noop_program(void)
{
	const struct bpf_insn insns[] = {
	    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	    {.code = BPF_JMP | BPF_EXIT},
	};

	return bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "mevi_test_noop", "GPL", insns, 2, NULL);
}

static void a_program_attaches_and_a_bad_one_does_not(void **state)
{
	int id, prog, fd;

	(void)state;
	skip_unless_root();
	assert_int_equal(tracepoint_ids("syscalls", names, 1, &id), 0);
	prog = load_noop_program();
	assert_true(prog >= 0);
	fd = tracepoint_attach(id, prog);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	/* Not a BPF program: refused with an error, no fd leaked. */
	fd = tracepoint_attach(id, STDIN_FILENO);
	assert_true(fd < 0);
	assert_int_equal(tracepoint_attach(1 << 30, prog) < 0, 1);
	close(prog);
}

static void detach_all_closes_every_fd_and_skips_the_unset(void **state)
{
	int ids[N], fds[N + 1], old[N + 1], prog;

	(void)state;
	skip_unless_root();
	assert_int_equal(tracepoint_ids("syscalls", names, N, ids), 0);
	prog = load_noop_program();
	assert_true(prog >= 0);
	for (size_t i = 0; i < N; i++) {
		fds[i] = tracepoint_attach(ids[i], prog);
		assert_true(fds[i] >= 0);
	}
	fds[N] = -1; /* a slot never attached */
	memcpy(old, fds, sizeof(fds));
	tracepoint_detach_all(fds, N + 1);
	for (size_t i = 0; i <= N; i++)
		assert_int_equal(fds[i], -1);
	/* Closed, each of them: nothing else opened an fd meanwhile. */
	for (size_t i = 0; i < N; i++) {
		errno = 0;
		assert_int_equal(fcntl(old[i], F_GETFD), -1);
		assert_int_equal(errno, EBADF);
	}
	close(prog);
	tracepoint_detach_all(fds, N + 1); /* all unset: nothing to do */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ids_are_the_same_with_and_without_a_tracefs),
	    cmocka_unit_test(unknown_and_malformed_names_are_refused),
	    cmocka_unit_test(a_program_attaches_and_a_bad_one_does_not),
	    cmocka_unit_test(detach_all_closes_every_fd_and_skips_the_unset),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
