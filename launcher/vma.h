/*
 * vma — which parts of an address range are private anonymous memory, as the
 * kernel sees it right now.
 *
 * "Private anonymous" is what mevi tracks and what the accuracy suite checks:
 * a mapping that is not shared, has no backing inode, and is either unnamed
 * or named [heap], [stack] or [anon:NAME]. Special mappings ([vdso], [vvar],
 * [vsyscall], [uprobes]) are not.
 *
 * Uses the PROCMAP_QUERY ioctl (Linux 6.11+) when the kernel has it, which
 * costs one ioctl per VMA; otherwise parses /proc/PID/maps.
 */
#ifndef MEVI_LAUNCHER_VMA_H
#define MEVI_LAUNCHER_VMA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vma_source {
	int maps_fd; /* /proc/PID/maps, opened for this mm */
	bool use_query;
	char *buf; /* text of maps for the fallback, owned */
	size_t buf_cap;
	char name[4096 + 64]; /* PROCMAP_QUERY's name buffer */
};

/* Opens /proc/PID/maps of pid. Returns 0 or -errno. */
int vma_source_open(struct vma_source *src, pid_t pid);
void vma_source_close(struct vma_source *src);

/*
 * Calls fn(start, end, ctx) for each maximal piece of [start, end) that is
 * private anonymous memory, in address order (adjacent VMAs are reported as
 * one piece). fn returns 0 to continue or a negative error to stop, which is
 * returned. Returns 0 or -errno (-ESRCH when the process is gone).
 */
typedef int (*vma_piece_fn)(uint64_t start, uint64_t end, void *ctx);
int vma_private_anon(struct vma_source *src, uint64_t start, uint64_t end, vma_piece_fn fn,
		     void *ctx);

/* Finds the [vdso] mapping of pid (located through its auxiliary vector).
 * Returns 0 and fills start/end, or -ENOENT/-errno. */
int vma_find_vdso(struct vma_source *src, pid_t pid, uint64_t *start, uint64_t *end);

#endif /* MEVI_LAUNCHER_VMA_H */
