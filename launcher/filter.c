/* filter — the seccomp filter built with libseccomp from the syscall table. */
#include "filter.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscalls.h"

/* One rule per condition of the table entry (libseccomp ORs the rules). */
static int add_rules(scmp_filter_ctx ctx, const struct traced_syscall *sc)
{
	int err = 0;

	if (sc->cond_arg < 0)
		return seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), sc->nr, 0);
	for (unsigned bit = 0; !err && bit < 64; bit++) {
		uint64_t b = UINT64_C(1) << bit;

		if (sc->any_bits & b)
			err = seccomp_rule_add(
			    ctx, SCMP_ACT_TRACE(0), sc->nr, 1,
			    SCMP_CMP((unsigned)sc->cond_arg, SCMP_CMP_MASKED_EQ, b, b));
	}
	if (!err && sc->none_bits)
		err = seccomp_rule_add(
		    ctx, SCMP_ACT_TRACE(0), sc->nr, 1,
		    SCMP_CMP((unsigned)sc->cond_arg, SCMP_CMP_MASKED_EQ, sc->none_bits, 0));
	for (size_t i = 0; !err && i < sc->nvalues; i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), sc->nr, 1,
				       SCMP_CMP((unsigned)sc->cond_arg, SCMP_CMP_MASKED_EQ,
						UINT64_C(0xffffffff), sc->values[i]));
	if (!err && sc->nonzero)
		err = seccomp_rule_add(ctx, SCMP_ACT_TRACE(0), sc->nr, 1,
				       SCMP_CMP((unsigned)sc->cond_arg, SCMP_CMP_NE, 0, 0));
	return err;
}

int filter_build(struct sock_fprog *prog, unsigned mode)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	struct stat st;
	int fd = -1, err;
	void *buf = NULL;

	if (!ctx)
		return -ENOMEM;
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
	for (size_t i = 0; !err && i < traced_syscalls_count; i++)
		if (traced_syscall_active(&traced_syscalls[i], mode))
			err = add_rules(ctx, &traced_syscalls[i]);
	if (err)
		goto out;
	/* libseccomp 2.5 exports BPF only to a file descriptor. */
	fd = memfd_create("mevi-filter", MFD_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = seccomp_export_bpf(ctx, fd);
	if (err)
		goto out;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter)) {
		err = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		err = -EIO;
		goto out;
	}
	prog->filter = buf;
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return err;
}

void filter_free(struct sock_fprog *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif

/*
 * SPEC_ALLOW: by default the kernel turns on the speculative-store-bypass
 * mitigation for every seccomp-filtered task, which slows all of the
 * program's code, not just its syscalls; mevi's filter is not a sandbox, so
 * the program keeps the mitigation state it would have had without mevi.
 */
static int set_filter(const struct sock_fprog *prog)
{
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, prog) ==
	    0)
		return 0;
	if (errno == EINVAL && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) == 0)
		return 0; /* a kernel older than 4.17 */
	return -errno;
}

int filter_load(const struct sock_fprog *prog)
{
	int err = set_filter(prog);

	if (err != -EACCES)
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return set_filter(prog);
}
