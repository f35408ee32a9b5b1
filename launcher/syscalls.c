#include "syscalls.h"

#include <sys/syscall.h>

const struct traced_syscall traced_syscalls[] = {
    {SYS_mmap, "mmap", SYSCALL_MMAP},	       {SYS_munmap, "munmap", SYSCALL_MUNMAP},
    {SYS_mremap, "mremap", SYSCALL_MREMAP},    {SYS_brk, "brk", SYSCALL_BRK},
    {SYS_madvise, "madvise", SYSCALL_MADVISE},
};

const size_t traced_syscalls_count = sizeof(traced_syscalls) / sizeof(traced_syscalls[0]);

const struct traced_syscall *traced_syscall_lookup(long nr)
{
	for (size_t i = 0; i < traced_syscalls_count; i++)
		if (traced_syscalls[i].nr == nr)
			return &traced_syscalls[i];
	return NULL;
}
