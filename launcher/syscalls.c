/* syscalls — the table of traced syscalls and its lookup by mode. */
#include "syscalls.h"

#include <sys/mman.h>
#include <sys/syscall.h>

/* madvise advice that can make present pages absent (values from the
 * kernel's uapi, some newer than Debian 12's headers). */
static const uint32_t dropping_advice[] = {
    4,	 /* MADV_DONTNEED */
    8,	 /* MADV_FREE: present until reclaimed, see README */
    9,	 /* MADV_REMOVE */
    21,	 /* MADV_PAGEOUT */
    24,	 /* MADV_DONTNEED_LOCKED */
    25,	 /* MADV_COLLAPSE */
    100, /* MADV_HWPOISON */
    101, /* MADV_SOFT_OFFLINE */
    102, /* MADV_GUARD_INSTALL */
    103, /* MADV_GUARD_REMOVE */
};

#define BOTH (SYSCALLS_EXACT | SYSCALLS_SAMPLED)

const struct traced_syscall traced_syscalls[] = {
    {.nr = SYS_mmap,
     .name = "mmap",
     .kind = SYSCALL_MMAP,
     .modes = SYSCALLS_EXACT,
     .cond_arg = 3,
     .any_bits = MAP_ANONYMOUS},
    /* Sampled mode shows file and shared mappings too; not a shared
     * library's image (syscalls.h). */
    {.nr = SYS_mmap,
     .name = "mmap",
     .kind = SYSCALL_MMAP,
     .modes = SYSCALLS_SAMPLED,
     .cond_arg = 3,
     .any_bits = MAP_ANONYMOUS,
     .none_bits = MAP_DENYWRITE},
    {.nr = SYS_mremap, .name = "mremap", .kind = SYSCALL_MREMAP, .modes = BOTH, .cond_arg = -1},
    /* Not brk(0): every exec'd image's loader asks, and the answer moves
     * nothing. */
    {.nr = SYS_brk,
     .name = "brk",
     .kind = SYSCALL_BRK,
     .modes = BOTH,
     .cond_arg = 0,
     .nonzero = true},
    /* Only exact mode: sampled residency is read by the sampler anyway. */
    {.nr = SYS_madvise,
     .name = "madvise",
     .kind = SYSCALL_MADVISE,
     .modes = SYSCALLS_EXACT,
     .cond_arg = 2,
     .values = dropping_advice,
     .nvalues = sizeof(dropping_advice) / sizeof(dropping_advice[0])},
    /* Without a userfaultfd, unmaps are not reported by UFFD_EVENT_UNMAP.
     * munmap is applied at its seccomp stop; it makes no exit stop. */
    {.nr = SYS_munmap,
     .name = "munmap",
     .kind = SYSCALL_MUNMAP,
     .modes = SYSCALLS_SAMPLED,
     .cond_arg = -1},
    {.nr = SYS_shmat,
     .name = "shmat",
     .kind = SYSCALL_SHMAT,
     .modes = SYSCALLS_SAMPLED,
     .cond_arg = -1},
    {.nr = SYS_shmdt,
     .name = "shmdt",
     .kind = SYSCALL_SHMDT,
     .modes = SYSCALLS_SAMPLED,
     .cond_arg = -1},
    /* --heat: a program creating a userfaultfd of its own gets its memory
     * back (ours is closed at the seccomp stop, before its registrations);
     * no exit stop. */
    {.nr = SYS_userfaultfd,
     .name = "userfaultfd",
     .kind = SYSCALL_UFFD,
     .modes = SYSCALLS_SAMPLED,
     .cond_arg = -1},
};

const size_t traced_syscalls_count = sizeof(traced_syscalls) / sizeof(traced_syscalls[0]);

bool traced_syscall_active(const struct traced_syscall *sc, unsigned mode)
{
	return sc->modes & mode;
}

const struct traced_syscall *traced_syscall_lookup(unsigned mode, long nr)
{
	for (size_t i = 0; i < traced_syscalls_count; i++)
		if (traced_syscalls[i].nr == nr && traced_syscall_active(&traced_syscalls[i], mode))
			return &traced_syscalls[i];
	return NULL;
}
