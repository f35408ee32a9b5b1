#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "compat.h"
/*
 * heat_fork_probe — what a fork does to asynchronous userfaultfd
 * write-protection (UFFD_FEATURE_WP_ASYNC), measured on the running kernel:
 * the parent registers and protects 16 written pages (one written again),
 * forks, and both sides report PAGEMAP_SCAN's WPALLOWED/WRITTEN and
 * pagemap's uffd-wp bit (57). Exits 0 when the kernel behaves as
 * launcher/README.md says, 1 when that changed, 77 without the feature.
 */
#define N 16
/* Prints what the kernel says of p's pages; returns the pages with the uffd-wp bit. */
static int report(const char *who, char *p)
{
	struct page_region v[64];
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t ent[N];
	int wp = 0;
	struct pm_scan_arg a = {
	    .size = sizeof(a),
	    .start = (uint64_t)p,
	    .end = (uint64_t)p + N * 4096,
	    .vec = (uint64_t)v,
	    .vec_len = 64,
	    .category_anyof_mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_PRESENT,
	    .return_mask = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_PRESENT};
	int n = ioctl(fd, PAGEMAP_SCAN, &a);
	pread(fd, ent, sizeof(ent), (off_t)((uint64_t)p / 4096 * 8));
	for (int i = 0; i < N; i++)
		wp += !!(ent[i] & (1ULL << 57));
	printf("%s: %d regions:", who, n);
	for (int i = 0; i < n; i++)
		printf(" [+%lu..+%lu %s%s%s]", (unsigned long)((v[i].start - (uint64_t)p) / 4096),
		       (unsigned long)((v[i].end - (uint64_t)p) / 4096),
		       v[i].categories & PAGE_IS_WPALLOWED ? "WPALLOWED " : "",
		       v[i].categories & PAGE_IS_WRITTEN ? "WRITTEN " : "",
		       v[i].categories & PAGE_IS_PRESENT ? "PRESENT" : "");
	printf("; pagemap uffd-wp bit on %d/%d pages\n", wp, N);
	fflush(stdout);
	close(fd);
	return wp;
}
int main(void)
{
	int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	char *p = mmap(NULL, N * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 1, N * 4096);
	if (u < 0 || ioctl(u, UFFDIO_API, &api)) {
		perror("userfaultfd with WP_ASYNC");
		return 77;
	}
	struct uffdio_register r = {.range = {(uint64_t)p, N * 4096},
				    .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(u, UFFDIO_REGISTER, &r)) {
		perror("reg");
		return 1;
	}
	struct page_region v[8];
	struct pm_scan_arg a = {.size = sizeof(a),
				.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
				.start = (uint64_t)p,
				.end = (uint64_t)p + N * 4096,
				.vec = (uint64_t)v,
				.vec_len = 8,
				.category_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT,
				.return_mask = PAGE_IS_WRITTEN};
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ioctl(fd, PAGEMAP_SCAN, &a);
	p[0] = 2; /* one page written after protection */
	report("parent before fork", p);
	pid_t c = fork();
	if (c == 0) {
		int wp = report("child after fork", p);

		p[4096 * 2] = 3;
		report("child after writing page 2", p);
		_exit(wp == 0 ? 0 : 1);
	}
	int st = 0;

	waitpid(c, &st, 0);
	if (report("parent after fork", p) != N - 1)
		return 1;
	p[4096 * 5] = 4;
	if (report("parent after writing page 5 (COW)", p) != N - 2)
		return 1;
	/* The finding launcher/README.md documents: without
	 * UFFD_FEATURE_EVENT_FORK the child's VMAs are not registered and
	 * every PTE loses its uffd-wp bit (all pages read "written"); the
	 * parent keeps its protection, and its COW write counts once. */
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
