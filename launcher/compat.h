/*
 * compat — kernel interfaces newer than Debian 12's headers (linux-libc-dev
 * 6.1), defined once here. Whether the running kernel has them is probed at
 * run time (see vma.c, pagemap.c); these are only the ABI definitions.
 */
#ifndef MEVI_LAUNCHER_COMPAT_H
#define MEVI_LAUNCHER_COMPAT_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <sys/syscall.h>
#include <unistd.h>

/* PAGEMAP_SCAN: ioctl on /proc/PID/pagemap, Linux 6.7+. */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED  (1 << 0)
#define PAGE_IS_WRITTEN	   (1 << 1)
#define PAGE_IS_FILE	   (1 << 2)
#define PAGE_IS_PRESENT	   (1 << 3)
#define PAGE_IS_SWAPPED	   (1 << 4)
#define PAGE_IS_PFNZERO	   (1 << 5)
#define PAGE_IS_HUGE	   (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* PAGEMAP_SCAN flags (Linux 6.7+). */
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING   (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

/* userfaultfd features newer than Linux 6.1's headers. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* Linux 6.4 */
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) /* Linux 6.7 */
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1 /* Linux 5.11 */
#endif

/* PROCMAP_QUERY: ioctl on /proc/PID/maps, Linux 6.11+. */
#ifndef PROCMAP_QUERY
#define PROCMAP_QUERY_VMA_READABLE	   0x01
#define PROCMAP_QUERY_VMA_WRITABLE	   0x02
#define PROCMAP_QUERY_VMA_EXECUTABLE	   0x04
#define PROCMAP_QUERY_VMA_SHARED	   0x08
#define PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
#define PROCMAP_QUERY_FILE_BACKED_VMA	   0x20

struct procmap_query {
	__u64 size;
	__u64 query_flags;
	__u64 query_addr;
	__u64 vma_start;
	__u64 vma_end;
	__u64 vma_flags;
	__u64 vma_page_size;
	__u64 vma_offset;
	__u64 inode;
	__u32 dev_major;
	__u32 dev_minor;
	__u32 vma_name_size;
	__u32 build_id_size;
	__u64 vma_name_addr;
	__u64 build_id_addr;
};

#define PROCMAP_QUERY _IOWR('f', 17, struct procmap_query)
#endif

static inline int compat_pidfd_open(pid_t pid, unsigned int flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

static inline int compat_pidfd_getfd(int pidfd, int targetfd, unsigned int flags)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, flags);
}

#endif /* MEVI_LAUNCHER_COMPAT_H */
