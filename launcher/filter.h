/*
 * filter — the seccomp filter that makes only memory syscalls stop.
 *
 * Built with libseccomp from the table in syscalls.h: SCMP_ACT_TRACE for
 * those syscalls, allow for everything else (and for other architectures'
 * syscalls, e.g. a 32-bit program, which mevi does not track).
 *
 * The filter is compiled in the parent, so that the forked child only has to
 * make two async-signal-safe syscalls between fork and exec.
 */
#ifndef MEVI_LAUNCHER_FILTER_H
#define MEVI_LAUNCHER_FILTER_H

#include <linux/filter.h>

/* Compiles the filter for mode (SYSCALLS_EXACT or SYSCALLS_SAMPLED, see
 * syscalls.h) into *prog (prog->filter is malloc'ed; free it with
 * filter_free). Returns 0 or -errno. */
int filter_build(struct sock_fprog *prog, unsigned mode);
void filter_free(struct sock_fprog *prog);

/*
 * Installs prog on the calling thread. Must run after the tracer has seized
 * the thread: with no tracer, traced syscalls fail with ENOSYS. Without
 * CAP_SYS_ADMIN the kernel insists on no_new_privs (setuid programs then run
 * without their privileges); it is set only when the first attempt is
 * refused. Async-signal-safe. Returns 0 or -errno.
 */
int filter_load(const struct sock_fprog *prog);

#endif /* MEVI_LAUNCHER_FILTER_H */
