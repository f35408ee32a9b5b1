/* pagemap — which pages are present or swapped (PAGEMAP_SCAN or pagemap). */
#include "pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"
#include "event.h"
#include "memmap.h"
#include "procfs.h"
#include "runs.h"

#define SCAN_VEC   256
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_SWAPPED (UINT64_C(1) << 62)

/* Where scan() and read_entries() deliver pages: [s, e) all in state
 * (MEVI_STATE_RESIDENT or MEVI_STATE_SWAPPED), in address order. */
struct sink {
	int (*fn)(uint64_t s, uint64_t e, uint8_t state, void *ctx);
	void *ctx;
};

/* Whether the kernel has PAGEMAP_SCAN: 0 not known yet, 1 yes, -1 no. */
static int scan_known;

void pagemap_defer(struct pagemap *pm, pid_t pid)
{
	pm->fd = -1;
	pm->pid = pid;
	pm->use_scan = scan_known > 0;
}

/* Opens pm's /proc/PID/pagemap. Returns 0, -ESRCH when the process is
 * gone, or -errno. */
static int open_pagemap(struct pagemap *pm)
{
	struct pm_scan_arg arg;
	int fd = procfs_open(pm->pid, "pagemap");

	if (fd < 0)
		return fd;
	pm->fd = fd;
	/* Probe with an empty walk: a kernel without PAGEMAP_SCAN says ENOTTY.
	 * Its answer holds for every process: asked once. */
	if (!scan_known) {
		memset(&arg, 0, sizeof(arg));
		arg.size = sizeof(arg);
		if (ioctl(pm->fd, PAGEMAP_SCAN, &arg) >= 0)
			scan_known = 1;
		else if (errno == ENOTTY || errno == EINVAL)
			scan_known = -1;
	}
	pm->use_scan = scan_known > 0;
	return 0;
}

int pagemap_open(struct pagemap *pm, pid_t pid)
{
	pagemap_defer(pm, pid);
	return open_pagemap(pm);
}

int pagemap_fd(struct pagemap *pm)
{
	int err = pm->fd < 0 ? open_pagemap(pm) : 0;

	return err ? err : pm->fd;
}

void pagemap_close(struct pagemap *pm)
{
	if (pm->fd >= 0)
		close(pm->fd);
	pm->fd = -1;
}

/*
 * The top of user space as PAGEMAP_SCAN accepts it: the kernel refuses
 * (EFAULT, its access_ok()) a range that ends above it, and mevi's whole
 * address space (MEVI_ADDR_LIMIT, 2^56: x86-64 with 5-level page tables)
 * ends above it on most machines (2^47 - 4 KiB with 4-level tables). Learned
 * at the first refusal: the highest page-aligned end a one-page walk is
 * allowed, found by bisection (the test is monotonic), once per process.
 */
static uint64_t scan_top = MEVI_ADDR_LIMIT;

static bool scan_allowed(int fd, uint64_t end)
{
	struct pm_scan_arg arg = {
	    .size = sizeof(arg),
	    .start = end - MEVI_PAGE_SIZE,
	    .end = end,
	    .category_anyof_mask = PAGE_IS_PRESENT,
	    .return_mask = PAGE_IS_PRESENT,
	};
	struct page_region one;

	arg.vec = (uint64_t)(uintptr_t)&one;
	arg.vec_len = 1;
	return ioctl(fd, PAGEMAP_SCAN, &arg) >= 0 || errno != EFAULT;
}

/* After a refusal of a walk ending at end: true when scan_top was lowered. */
static bool learn_scan_top(int fd, uint64_t end)
{
	uint64_t lo = MEVI_PAGE_SIZE, hi = end; /* lo allowed, hi refused */

	if (end <= MEVI_PAGE_SIZE || scan_allowed(fd, end) || !scan_allowed(fd, lo))
		return false; /* refused for another reason */
	while (hi - lo > MEVI_PAGE_SIZE) {
		uint64_t mid = lo + (hi - lo) / 2 / MEVI_PAGE_SIZE * MEVI_PAGE_SIZE;

		if (scan_allowed(fd, mid))
			lo = mid;
		else
			hi = mid;
	}
	scan_top = lo;
	return true;
}

/*
 * PAGEMAP_SCAN walk. On current kernels the returned walk_end can lie below
 * the end of regions already returned, even when the vector is not full;
 * resuming at walk_end would report pages twice, so every region is clipped
 * against the highest end seen so far.
 */
static int scan(struct pagemap *pm, uint64_t start, uint64_t end, uint64_t cats,
		const struct sink *out)
{
	struct page_region vec[SCAN_VEC];
	uint64_t cur = start, seen = start;

	if (end > scan_top)
		end = scan_top; /* nothing can be mapped above it */
	while (cur < end) {
		struct pm_scan_arg arg = {
		    .size = sizeof(arg),
		    .start = cur,
		    .end = end,
		    .vec = (uint64_t)(uintptr_t)vec,
		    .vec_len = SCAN_VEC,
		    .category_anyof_mask = cats,
		    .return_mask = cats,
		};
		int n = ioctl(pm->fd, PAGEMAP_SCAN, &arg);
		int err;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EFAULT && learn_scan_top(pm->fd, end)) {
				if (end > scan_top)
					end = scan_top;
				continue;
			}
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			uint64_t s = vec[i].start > seen ? vec[i].start : seen;
			uint64_t e = vec[i].end < end ? vec[i].end : end;

			if (s >= e)
				continue;
			err = out->fn(s, e,
				      vec[i].categories & PAGE_IS_PRESENT ? MEVI_STATE_RESIDENT
									  : MEVI_STATE_SWAPPED,
				      out->ctx);
			if (err)
				return err;
			seen = e;
		}
		uint64_t next = arg.walk_end > seen ? arg.walk_end : seen;
		if (next <= cur)
			break; /* no progress: the kernel has nothing more to say */
		cur = next;
	}
	return 0;
}

/* Plain pagemap: 8 bytes per page, bit 63 = present, bit 62 = swapped. */
static int read_entries(struct pagemap *pm, uint64_t start, uint64_t end, uint64_t bits,
			const struct sink *out)
{
	uint64_t ents[512];

	for (uint64_t addr = start; addr < end;) {
		uint64_t npages = (end - addr) / MEVI_PAGE_SIZE;
		ssize_t n;

		if (npages > 512)
			npages = 512;
		n = pread(pm->fd, ents, npages * 8, (off_t)(addr / MEVI_PAGE_SIZE * 8));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n / 8; i++) {
			uint64_t a = addr + (uint64_t)i * MEVI_PAGE_SIZE;
			int err;

			if (!(ents[i] & bits))
				continue;
			err =
			    out->fn(a, a + MEVI_PAGE_SIZE,
				    ents[i] & PM_PRESENT ? MEVI_STATE_RESIDENT : MEVI_STATE_SWAPPED,
				    out->ctx);
			if (err)
				return err;
		}
		addr += (uint64_t)(n / 8) * MEVI_PAGE_SIZE;
	}
	return 0;
}

static int to_merger(uint64_t s, uint64_t e, uint8_t state, void *ctx)
{
	return run_merger_add(ctx, s, e);
}

int pagemap_present(struct pagemap *pm, uint64_t start, uint64_t end, pagemap_run_fn fn, void *ctx)
{
	struct run_merger acc = {.fn = fn, .ctx = ctx};
	struct sink out = {to_merger, &acc};
	int err = pagemap_fd(pm);

	if (err < 0)
		return err;
	err = pm->use_scan ? scan(pm, start, end, PAGE_IS_PRESENT, &out)
			   : read_entries(pm, start, end, PM_PRESENT, &out);

	if (err)
		return err;
	return run_merger_finish(&acc);
}

/* Merges adjacent pages of equal state into one run. */
struct state_merger {
	uint64_t start, end;
	uint8_t state;
	pagemap_state_fn fn;
	void *ctx;
};

static int state_add(uint64_t s, uint64_t e, uint8_t state, void *arg)
{
	struct state_merger *m = arg;
	int err;

	if (m->end == s && m->state == state && m->end > m->start) {
		m->end = e;
		return 0;
	}
	if (m->end > m->start && (err = m->fn(m->start, m->end, m->state, m->ctx)))
		return err;
	m->start = s;
	m->end = e;
	m->state = state;
	return 0;
}

int pagemap_states(struct pagemap *pm, uint64_t start, uint64_t end, pagemap_state_fn fn, void *ctx)
{
	struct state_merger m = {.fn = fn, .ctx = ctx};
	struct sink out = {state_add, &m};
	int err = pagemap_fd(pm);

	if (err < 0)
		return err;
	err = pm->use_scan ? scan(pm, start, end, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, &out)
			   : read_entries(pm, start, end, PM_PRESENT | PM_SWAPPED, &out);

	if (err)
		return err;
	return m.end > m.start ? fn(m.start, m.end, m.state, ctx) : 0;
}
