/*
 * launcher/sandbox.c: the seccomp filter interpreter must give the kernel's
 * verdicts. Filters are built with libseccomp (as programs build theirs),
 * exported as classic BPF and run on seccomp_data; the same filters are then
 * installed in a forked child, traced, and sandbox_check() must read them and
 * refuse exactly the calls the child's kernel refuses.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"

struct prog {
	struct sock_filter *insns;
	size_t len;
};

/* An allow-list with default action deflt; ioctl allowed only for request
 * 0x5401 (TCGETS), as argument-checking filters do. */
static scmp_filter_ctx build(uint32_t deflt)
{
	scmp_filter_ctx ctx = seccomp_init(deflt);

	assert_non_null(ctx);
	assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 0), 0);
	assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(close), 0), 0);
	assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					  SCMP_A1(SCMP_CMP_EQ, 0x5401, 0)),
			 0);
	assert_int_equal(seccomp_rule_add(ctx, SCMP_ACT_LOG, SCMP_SYS(getpid), 0), 0);
	return ctx;
}

static struct prog export(scmp_filter_ctx ctx)
{
	struct prog p = {0};
	int fd = memfd_create("bpf", 0);
	off_t size;

	assert_true(fd >= 0);
	assert_int_equal(seccomp_export_bpf(ctx, fd), 0);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size > 0 && size % sizeof(struct sock_filter) == 0);
	p.len = (size_t)size / sizeof(struct sock_filter);
	p.insns = malloc((size_t)size);
	assert_non_null(p.insns);
	assert_int_equal(pread(fd, p.insns, (size_t)size, 0), size);
	close(fd);
	return p;
}

static uint32_t verdict(const struct prog *p, int nr, uint64_t a1, uint32_t arch)
{
	struct seccomp_data d = {.nr = nr, .arch = arch, .args = {0, a1}};

	return sandbox_run(p->insns, p->len, &d);
}

static void test_verdicts(void **state)
{
	(void)state;
	static const uint32_t defaults[] = {SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD,
					    SCMP_ACT_TRAP, SCMP_ACT_ERRNO(EPERM),
					    SCMP_ACT_TRACE(7)};

	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		scmp_filter_ctx ctx = build(defaults[i]);
		struct prog p = export(ctx);

		assert_int_equal(verdict(&p, SYS_read, 0, AUDIT_ARCH_X86_64), SECCOMP_RET_ALLOW);
		assert_int_equal(verdict(&p, SYS_getpid, 0, AUDIT_ARCH_X86_64), SECCOMP_RET_LOG);
		assert_int_equal(verdict(&p, SYS_ioctl, 0x5401, AUDIT_ARCH_X86_64),
				 SECCOMP_RET_ALLOW);
		assert_int_equal(verdict(&p, SYS_ioctl, 0xaa3f, AUDIT_ARCH_X86_64), defaults[i]);
		assert_int_equal(verdict(&p, SYS_userfaultfd, 0, AUDIT_ARCH_X86_64), defaults[i]);
		/* Another architecture: libseccomp's default for a bad arch. */
		assert_int_equal(verdict(&p, SYS_read, 0, AUDIT_ARCH_I386),
				 SECCOMP_RET_KILL_THREAD);
		free(p.insns);
		seccomp_release(ctx);
	}
}

static void test_malformed(void **state)
{
	(void)state;
	struct seccomp_data d = {.nr = 0};
	/* A load past seccomp_data, a misaligned load, no return at all. */
	struct sock_filter past[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64),
				     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter odd[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
				    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	struct sock_filter fall[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0)};
	struct sock_filter divz[] = {BPF_STMT(BPF_LDX | BPF_W | BPF_IMM, 0),
				     BPF_STMT(BPF_ALU | BPF_DIV | BPF_X, 0),
				     BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
	/* Scratch memory, ALU and a jump over a return. */
	struct sock_filter mem[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 5),
	    BPF_STMT(BPF_ST, 3),
	    BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 3),
	    BPF_STMT(BPF_MISC | BPF_TXA, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 5, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	    BPF_STMT(BPF_RET | BPF_A, 0),
	};

	assert_int_equal(sandbox_run(past, 2, &d), SECCOMP_RET_KILL_THREAD);
	assert_int_equal(sandbox_run(odd, 2, &d), SECCOMP_RET_KILL_THREAD);
	assert_int_equal(sandbox_run(fall, 1, &d), SECCOMP_RET_KILL_THREAD);
	assert_int_equal(sandbox_run(divz, 3, &d), 0);
	assert_int_equal(sandbox_run(mem, 8, &d), 5);
	d.nr = 1;
	assert_int_equal(sandbox_run(mem, 8, &d), SECCOMP_RET_TRAP);
}

/* A child installs a KILL allow-list and stops; sandbox_check() reads it. */
static void test_check_traced_child(void **state)
{
	(void)state;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		scmp_filter_ctx ctx = build(SCMP_ACT_KILL_PROCESS);

		static const int more[] = {SCMP_SYS(kill),	 SCMP_SYS(tgkill),
					   SCMP_SYS(gettid),	 SCMP_SYS(rt_sigprocmask),
					   SCMP_SYS(exit_group), SCMP_SYS(restart_syscall)};

		for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
			seccomp_rule_add(ctx, SCMP_ACT_ALLOW, more[i], 0);
		if (seccomp_load(ctx))
			_exit(3);
		raise(SIGSTOP);
		_exit(0);
	}
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, NULL, NULL), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	if (WIFEXITED(status))
		fail_msg("the child could not install its filter");
	assert_true(WIFSTOPPED(status));

	struct sandbox_call uffd = {.nr = SYS_userfaultfd}, rd = {.nr = SYS_read};
	const char *why = NULL;

	assert_true(sandbox_has_foreign_filters(pid, 0));
	assert_int_equal(sandbox_check(pid, 0, 0, &rd, 1, &why), 0);
	assert_int_equal(sandbox_check(pid, 0, 0, &uffd, 1, &why), -EPERM);
	assert_non_null(strstr(why, "kills the process"));
	/* Its one filter counted as mevi-run's own: not even read. */
	assert_false(sandbox_has_foreign_filters(pid, 1));
	assert_int_equal(sandbox_check(pid, 1, 0, &uffd, 1, &why), 0);
	assert_false(sandbox_has_foreign_filters(getpid(), 1));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verdicts),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_check_traced_child),
	};

	if (geteuid() != 0) {
		/* PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN. */
		printf("SKIP: needs root for PTRACE_SECCOMP_GET_FILTER\n");
		const struct CMUnitTest unpriv[] = {cmocka_unit_test(test_verdicts),
						    cmocka_unit_test(test_malformed)};
		return cmocka_run_group_tests(unpriv, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
