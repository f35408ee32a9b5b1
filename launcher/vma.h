/*
 * vma — which parts of an address range are private anonymous memory, as the
 * kernel sees it right now.
 *
 * "Private anonymous" is what mevi tracks and what the accuracy suite checks:
 * a mapping that is not shared, has no backing inode, and is either unnamed
 * or named [heap], [stack] or [anon:NAME]. Special mappings ([vdso], [vvar],
 * [vsyscall], [uprobes]) are not.
 *
 * A range is read with the PROCMAP_QUERY ioctl (Linux 6.11+) when the kernel
 * has it, one ioctl per VMA in the range; the whole address space, and every
 * range on older kernels, by parsing /proc/PID/maps, which costs the kernel
 * several times less per VMA than a query (vma.c).
 */
#ifndef MEVI_LAUNCHER_VMA_H
#define MEVI_LAUNCHER_VMA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vma_source {
	int maps_fd;  /* /proc/PID/maps, opened for this mm (-1: not yet) */
	int statm_fd; /* /proc/PID/statm, opened at the first vma_total (-1: not yet) */
	pid_t pid;
	bool use_query;
	char *buf; /* text of maps for the fallback, owned */
	size_t buf_cap;
	size_t text_len;      /* of buf, when text_whole */
	bool text_whole;      /* the last walk read the text of the whole space (vma_copy_text) */
	bool text_held;	      /* buf holds vma_hold_text()'s text, not walked yet */
	char name[4096 + 64]; /* PROCMAP_QUERY's name buffer */
};

/* One VMA as vma_each() reports it. */
struct vma_desc {
	uint64_t start, end;
	uint8_t kind;	   /* enum mevi_kind (never MEVI_KIND_THREAD_STACK: see mm.c) */
	bool private_anon; /* what exact mode tracks (see above) */
	const char *name;  /* the vma event's name (not NUL-terminated), valid in the callback */
	size_t name_len;
};

/* Opens /proc/PID/maps of pid; whether the kernel has PROCMAP_QUERY
 * (use_query, else the text is read) is probed at the first open that can
 * tell. Returns 0 or -errno. */
int vma_source_open(struct vma_source *src, pid_t pid);

/* As vma_source_open, but the file is opened at the first walk, which then
 * reads the address space pid has at that moment (an exec in between
 * replaces it) and fails with -ESRCH when pid has gone: for address spaces
 * often gone before they are first read. */
void vma_source_defer(struct vma_source *src, pid_t pid);
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

/*
 * Calls fn(desc, ctx) for every VMA intersecting [start, end), unclipped, in
 * address order, with its kind and name: [heap], [stack], [anon:NAME] (anon,
 * named), shared anonymous, memfd, /dev/shm and SysV memory (shmem), other
 * [names] (special), files (file, with the path).
 * Returns 0, fn's error, or -errno (-ESRCH when the process is gone).
 */
typedef int (*vma_each_fn)(const struct vma_desc *d, void *ctx);
int vma_each(struct vma_source *src, uint64_t start, uint64_t end, vma_each_fn fn, void *ctx);

/*
 * vma_each(src, 0, MEVI_ADDR_LIMIT, ...) in two halves, for a process that
 * is to be let go between them (mm_read_final): vma_hold_text() reads the
 * whole text of /proc/PID/maps and holds it, vma_each_held() walks what it
 * holds, touching the process no more. Each returns 0 or -errno (-ESRCH
 * when the process is gone; vma_each_held: -EINVAL when nothing is held, or
 * fn's error). Any other walk in between lets the text go.
 */
int vma_hold_text(struct vma_source *src);
int vma_each_held(struct vma_source *src, vma_each_fn fn, void *ctx);

/*
 * The text of /proc/PID/maps that the last walk read, when that was a walk of
 * the whole address space (a walk of [0, MEVI_ADDR_LIMIT) reads the text):
 * a malloc'd, NUL-terminated copy the caller frees, for a reader that wants
 * the file as it is (the unwinder's module list, backtrace.h) without
 * reading it again. NULL after any other walk, or out of memory.
 */
char *vma_copy_text(const struct vma_source *src);

/*
 * The size of the address space, in bytes: every VMA's (/proc/PID/statm's
 * first field, the kernel's total_vm). Cheaper than any walk, it tells that
 * mappings were made or removed since it was last seen. Returns 0 or -errno
 * (-ESRCH when the process is gone).
 */
int vma_total(struct vma_source *src, uint64_t *bytes);

/* Finds the [vdso] mapping of pid (located through its auxiliary vector).
 * Returns 0 and fills start/end, or -ENOENT/-errno. */
int vma_find_vdso(struct vma_source *src, pid_t pid, uint64_t *start, uint64_t *end);

#endif /* MEVI_LAUNCHER_VMA_H */
