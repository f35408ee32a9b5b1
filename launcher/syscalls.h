/*
 * syscalls — the one table of syscalls mevi-run stops the tracee for.
 *
 * The seccomp filter (filter.c) stops exactly these; everything else runs at
 * full speed. The tracer (tracee.c) decodes the same entries at their exit
 * stop. Process creation and exec are followed with ptrace options
 * (PTRACE_O_TRACEFORK/VFORK/CLONE/EXEC), not through this table.
 *
 * Sampled mode (no userfaultfd) also stops for file mmaps, munmap, shmat and
 * shmdt, since it shows every kind of mapping and nothing else reports unmaps;
 * munmap only at its entry (it cannot fail on page-aligned arguments, so it
 * is applied there). It does not stop for madvise: its residency is sampled.
 *
 * mprotect is deliberately absent: userfaultfd registration does not depend
 * on protection (a PROT_NONE reservation is registered when it is mapped and
 * the kernel keeps the registration on the pieces mprotect splits off), and
 * protection changes never make pages present or absent.
 */
#ifndef MEVI_LAUNCHER_SYSCALLS_H
#define MEVI_LAUNCHER_SYSCALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum syscall_kind {
	SYSCALL_MMAP,	 /* (addr, len, ...) -> addr: a new mapping */
	SYSCALL_MREMAP,	 /* (old, old_len, new_len, flags, new) -> addr */
	SYSCALL_BRK,	 /* (addr) -> new break */
	SYSCALL_MADVISE, /* (addr, len, advice): may drop pages */
	SYSCALL_MUNMAP,	 /* (addr, len): sampled mode only */
	SYSCALL_SHMAT,	 /* (id, addr, flags) -> addr: sampled mode only */
	SYSCALL_SHMDT,	 /* (addr): sampled mode only */
	SYSCALL_UFFD,	 /* userfaultfd(): sampled mode only; --heat steps aside (heat.h) */
};

/* Which tracking modes stop for an entry (a bit set). */
#define SYSCALLS_EXACT	 0x1u
#define SYSCALLS_SAMPLED 0x2u

/*
 * When a syscall stops. With cond_arg < 0 it always does. Otherwise only when
 * argument cond_arg has one of the bits of any_bits set, or none of the bits
 * of none_bits (when there are any), or its low 32 bits equal one of
 * values[], or (nonzero) it is not 0: mmap stops only for anonymous mappings
 * (sampled mode: also for files, except a shared library's image), madvise
 * only for advice that can drop pages, and brk not for brk(0), which asks
 * where the break is and moves nothing (the tracer reads the break itself
 * before the first brk that moves it: mm_read_brk).
 *
 * Sampled mode lets a file mmap with MAP_DENYWRITE run without a stop: glibc's
 * dynamic loader maps every image it loads that way (MAP_COPY), five mmaps
 * an image, four stops of the fifteen a fork + exec of /bin/true made. Most
 * are placed with MAP_FIXED inside the image's first mapping, which changes
 * nothing mevi shows; the first one adds to the address space's size, which
 * each sampling tick compares with the map's (mm_sample) and reads the
 * layout again when they differ.
 *
 * In exact mode munmap does not stop at all: unmapping registered memory (by
 * munmap, or by a file mapping placed over it with MAP_FIXED) is reported by
 * the userfaultfd as UFFD_EVENT_UNMAP, at the cost of one wake-up instead of
 * two ptrace stops; unregistered memory is not tracked, so its unmapping does
 * not matter. Sampled mode has no userfaultfd and stops at munmap's entry
 * (see above).
 */
struct traced_syscall {
	int nr;
	const char *name;
	enum syscall_kind kind;
	unsigned modes; /* SYSCALLS_* */
	int cond_arg;
	uint64_t any_bits;
	uint64_t none_bits;
	const uint32_t *values;
	size_t nvalues;
	bool nonzero;
};

extern const struct traced_syscall traced_syscalls[];
extern const size_t traced_syscalls_count;

/* True when sc stops in mode (SYSCALLS_EXACT or SYSCALLS_SAMPLED). */
bool traced_syscall_active(const struct traced_syscall *sc, unsigned mode);

/* Returns mode's entry for a native syscall number, or NULL. */
const struct traced_syscall *traced_syscall_lookup(unsigned mode, long nr);

#endif /* MEVI_LAUNCHER_SYSCALLS_H */
