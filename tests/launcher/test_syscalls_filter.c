/*
 * The syscall table (launcher/syscalls.h) is the one source of truth: the
 * seccomp filter built from it (filter.c) must stop exactly the table's
 * entries of the mode, under their conditions, and let everything else run;
 * traced_syscall_lookup must agree. The filter is run with sandbox_run, the
 * launcher's classic-BPF interpreter (tested against the kernel in
 * test_sandbox.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arch.h"
#include "filter.h"
#include "sandbox.h"
#include "syscalls.h"

static uint32_t verdict(const struct sock_fprog *prog, uint32_t arch, int nr, int arg,
			uint64_t value)
{
	struct seccomp_data d = {.nr = nr, .arch = arch};

	if (arg >= 0)
		d.args[arg] = value;
	return sandbox_run(prog->filter, prog->len, &d) & SECCOMP_RET_ACTION_FULL;
}

/* Whether any entry of mode has this number. */
static bool nr_in_mode(int nr, unsigned mode)
{
	for (size_t i = 0; i < traced_syscalls_count; i++)
		if (traced_syscalls[i].nr == nr && traced_syscall_active(&traced_syscalls[i], mode))
			return true;
	return false;
}

static void check_mode(unsigned mode)
{
	struct sock_fprog prog = {0};
	unsigned stopped = 0;

	assert_int_equal(filter_build(&prog, mode), 0);
	for (size_t i = 0; i < traced_syscalls_count; i++) {
		const struct traced_syscall *sc = &traced_syscalls[i];
		uint32_t v;

		if (!traced_syscall_active(sc, mode)) {
			if (!nr_in_mode(sc->nr, mode)) {
				assert_int_equal(verdict(&prog, arch_audit_native, sc->nr, -1, 0),
						 SECCOMP_RET_ALLOW);
				assert_null(traced_syscall_lookup(mode, sc->nr));
			}
			continue;
		}
		assert_ptr_equal(traced_syscall_lookup(mode, sc->nr), sc);
		stopped++;
		if (sc->cond_arg < 0) {
			v = verdict(&prog, arch_audit_native, sc->nr, -1, 0);
			assert_int_equal(v, SECCOMP_RET_TRACE);
			continue;
		}
		/* Each bit and each value of the condition stops it ... */
		for (unsigned bit = 0; bit < 64; bit++)
			if (sc->any_bits & (UINT64_C(1) << bit))
				assert_int_equal(verdict(&prog, arch_audit_native, sc->nr,
							 sc->cond_arg, UINT64_C(1) << bit),
						 SECCOMP_RET_TRACE);
		for (size_t k = 0; k < sc->nvalues; k++)
			assert_int_equal(
			    verdict(&prog, arch_audit_native, sc->nr, sc->cond_arg, sc->values[k]),
			    SECCOMP_RET_TRACE);
		/* Any other value than 0 (the high half compared too). */
		if (sc->nonzero) {
			assert_int_equal(
			    verdict(&prog, arch_audit_native, sc->nr, sc->cond_arg, 0x55d5c8a4c000),
			    SECCOMP_RET_TRACE);
			assert_int_equal(verdict(&prog, arch_audit_native, sc->nr, sc->cond_arg,
						 UINT64_C(1) << 40),
					 SECCOMP_RET_TRACE);
		}
		/* Lacking every bit of none_bits stops it too (0 does). */
		if (sc->none_bits)
			assert_int_equal(verdict(&prog, arch_audit_native, sc->nr, sc->cond_arg,
						 ~sc->none_bits & ~sc->any_bits),
					 SECCOMP_RET_TRACE);
		/* ... and an argument meeting none of them does not. */
		assert_int_equal(
		    verdict(&prog, arch_audit_native, sc->nr, sc->cond_arg, sc->none_bits),
		    SECCOMP_RET_ALLOW);
	}
	assert_true(stopped > 0);
	/* Everything else runs, and other architectures are not tracked. */
	assert_int_equal(verdict(&prog, arch_audit_native, SYS_getpid, -1, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(&prog, AUDIT_ARCH_I386, SYS_mmap, -1, 0), SECCOMP_RET_ALLOW);
	filter_free(&prog);
}

static void exact_filter_matches_table(void **unused)
{
	check_mode(SYSCALLS_EXACT);
}

static void sampled_filter_matches_table(void **unused)
{
	check_mode(SYSCALLS_SAMPLED);
}

/* What the header promises of each mode, spelled out. */
static void modes_differ_as_documented(void **unused)
{
	struct sock_fprog exact = {0}, sampled = {0};

	assert_int_equal(filter_build(&exact, SYSCALLS_EXACT), 0);
	assert_int_equal(filter_build(&sampled, SYSCALLS_SAMPLED), 0);
	/* munmap: reported by the userfaultfd in exact mode, a stop when sampled. */
	assert_int_equal(verdict(&exact, arch_audit_native, SYS_munmap, -1, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_munmap, -1, 0),
			 SECCOMP_RET_TRACE);
	/* A file mmap: only sampled mode shows files ... */
	assert_int_equal(verdict(&exact, arch_audit_native, SYS_mmap, 3, MAP_PRIVATE),
			 SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_mmap, 3, MAP_PRIVATE),
			 SECCOMP_RET_TRACE);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_mmap, 3, MAP_SHARED),
			 SECCOMP_RET_TRACE);
	/* ... but not the dynamic loader's images (MAP_COPY), placed or not,
	 * which a tick finds by the address space's size (mm_sample) ... */
	assert_int_equal(
	    verdict(&sampled, arch_audit_native, SYS_mmap, 3, MAP_PRIVATE | MAP_DENYWRITE),
	    SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_mmap, 3,
				 MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE),
			 SECCOMP_RET_ALLOW);
	/* ... while anonymous memory always stops (the loader's bss). */
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_mmap, 3,
				 MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE),
			 SECCOMP_RET_TRACE);
	assert_int_equal(verdict(&exact, arch_audit_native, SYS_mmap, 3,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_DENYWRITE),
			 SECCOMP_RET_TRACE);
	/* brk(0) asks where the break is: neither mode stops for it. */
	assert_int_equal(verdict(&exact, arch_audit_native, SYS_brk, 0, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_brk, 0, 0), SECCOMP_RET_ALLOW);
	assert_int_equal(verdict(&exact, arch_audit_native, SYS_brk, 0, 0x560000021000),
			 SECCOMP_RET_TRACE);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_brk, 0, 0x560000021000),
			 SECCOMP_RET_TRACE);
	/* madvise(MADV_DONTNEED): exact only; sampled mode reads residency. */
	assert_int_equal(verdict(&exact, arch_audit_native, SYS_madvise, 2, MADV_DONTNEED),
			 SECCOMP_RET_TRACE);
	assert_int_equal(verdict(&sampled, arch_audit_native, SYS_madvise, 2, MADV_DONTNEED),
			 SECCOMP_RET_ALLOW);
	filter_free(&exact);
	filter_free(&sampled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(exact_filter_matches_table),
	    cmocka_unit_test(sampled_filter_matches_table),
	    cmocka_unit_test(modes_differ_as_documented),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
