/*
 * uffd — an address space's userfaultfd: injecting one into a stopped
 * tracee (userfaultfd(), or /dev/userfaultfd when only the device is
 * allowed, Linux 6.1+) and serving what it reports: missing-page faults
 * (answered with a zero page, counted as first touches) and unmaps.
 *
 * The descriptor and its event live in struct mm (mm.h), which owns and
 * closes them; mm.c decides when to inject (mm_attach), uffd.c does it and
 * serves the faults.
 */
#ifndef MEVI_LAUNCHER_UFFD_H
#define MEVI_LAUNCHER_UFFD_H

#include <stdint.h>
#include <sys/types.h>

struct mm;

/*
 * Makes thread tid of mm (stopped; insn: the address of a syscall
 * instruction in it) create a userfaultfd, takes it (pidfd_getfd from pid,
 * the process tid is a thread of: not always mm->pid, since a vfork or
 * CLONE_VM child shares the address space but not the descriptors), closes the
 * tracee's copy and negotiates the API with UFFD_FEATURE_THREAD_ID,
 * UFFD_FEATURE_EVENT_UNMAP and extra_features. Returns the descriptor (ours,
 * non-blocking, close-on-exec: the caller owns it), -ESRCH when the thread
 * died (*death_status is its wait status), -ECANCELED when the program's own
 * seccomp filters forbid the syscalls (said once per session), or another
 * -errno after saying why (a permission problem with a hint on how to allow
 * it, once per session).
 */
int uffd_inject(struct mm *mm, pid_t pid, pid_t tid, uint64_t insn, uint64_t extra_features,
		int *death_status);

/* libevent callback of mm->uffd_ev (arg: the mm): reads and serves every
 * message waiting, and keeps polling briefly while faults keep coming. */
void uffd_serve_cb(int fd, short what, void *arg);

/* libevent callback of mm->retry_ev (arg: the mm): serves again the faults
 * the kernel refused with EAGAIN while a layout change was in flight. */
void uffd_retry_cb(int fd, short what, void *arg);

#endif /* MEVI_LAUNCHER_UFFD_H */
