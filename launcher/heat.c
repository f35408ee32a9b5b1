/* heat — --heat: write-protect registration, the PAGEMAP_SCAN tick, last-write times. */
#include "heat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "event.h"
#include "inject.h"
#include "log.h"
#include "mm.h"
#include "outbox.h"
#include "tagmap.h"
#include "vma.h"

#define HEAT_BUDGET 0.02 /* of one core: the interval backs off above it */
#define HEAT_MAX_MS 60000
#define SCAN_VEC    512

/* One registered, protected stretch of address space is "watched". */
struct heat_mm {
	struct heat_mm *next, *prev;
	struct mm *mm;
	int uffd;		/* our own (sampled mode), else -1 */
	bool gave_up;		/* sampled: no userfaultfd for this address space */
	bool released;		/* detached: never again */
	bool asked;		/* sampled: a stop was asked for since the last tick */
	struct tagmap *watched; /* registered and protected once (value 0) */
	struct tagmap *last;	/* last seen written: ms since the session began */
};

static struct {
	bool on, sampled;
	struct event_base *base;
	struct outbox *out;
	unsigned base_ms, ms;
	struct event *tick;
	struct heat_mm *first;
	uint64_t cpu_ns, ticks, scans, pages;
} H;

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int heat_probe(char *why, size_t len)
{
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	struct pm_scan_arg arg = {.size = sizeof(arg)};
	int fd, pm, err = 0;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "--heat is unavailable: userfaultfd(UFFD_USER_MODE_ONLY): %s",
			 strerror(errno));
		return err;
	}
	/* Features 0: the kernel answers with every feature it has. */
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		err = -errno;
		snprintf(why, len, "--heat is unavailable: UFFDIO_API: %s", strerror(errno));
		goto out;
	}
	if (!(api.features & UFFD_FEATURE_WP_ASYNC) ||
	    !(api.features & UFFD_FEATURE_WP_UNPOPULATED)) {
		err = -EOPNOTSUPP;
		snprintf(why, len,
			 "--heat is unavailable: this kernel's userfaultfd has no asynchronous "
			 "write-protect (UFFD_FEATURE_WP_ASYNC, Linux 6.7+ with "
			 "CONFIG_PTE_MARKER_UFFD_WP)");
		goto out;
	}
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0 || ioctl(pm, PAGEMAP_SCAN, &arg) < 0) {
		err = -EOPNOTSUPP;
		snprintf(why, len,
			 "--heat is unavailable: this kernel has no PAGEMAP_SCAN (Linux 6.7+)");
	}
	if (pm >= 0)
		close(pm);
out:
	close(fd);
	return err;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg);

static void arm(void)
{
	struct timeval tv = {H.ms / 1000, (H.ms % 1000) * 1000};

	evtimer_add(H.tick, &tv);
}

int heat_start(struct event_base *base, struct outbox *out, unsigned ms, bool sampled)
{
	H.base = base;
	H.out = out;
	H.base_ms = H.ms = ms ? ms : 1;
	H.sampled = sampled;
	H.tick = evtimer_new(base, tick_cb, NULL);
	if (!H.tick)
		return -ENOMEM;
	H.on = true;
	arm();
	log_info("heat: every %u ms, %s", H.ms,
		 sampled ? "a write-protect userfaultfd injected per address space"
			 : "write-protect on the exact mode userfaultfd");
	return 0;
}

void heat_stop(void)
{
	if (!H.on)
		return;
	if (H.tick)
		event_free(H.tick);
	H.tick = NULL;
	H.on = false;
	log_info("heat: %" PRIu64 " ticks, %" PRIu64 " scans, %.1f ms of CPU, %" PRIu64
		 " page writes seen",
		 H.ticks, H.scans, (double)H.cpu_ns / 1e6, H.pages);
}

unsigned heat_interval_ms(void)
{
	return H.on ? H.ms : 0;
}

struct heat_mm *heat_mm_new(struct mm *mm)
{
	struct heat_mm *hm;

	if (!H.on)
		return NULL;
	hm = calloc(1, sizeof(*hm));
	if (!hm)
		return NULL;
	hm->mm = mm;
	hm->uffd = -1;
	hm->watched = tagmap_new();
	hm->last = tagmap_new();
	if (!hm->watched || !hm->last) {
		tagmap_free(hm->watched);
		tagmap_free(hm->last);
		free(hm);
		return NULL;
	}
	hm->next = H.first;
	if (H.first)
		H.first->prev = hm;
	H.first = hm;
	return hm;
}

static void close_own(struct heat_mm *hm)
{
	if (hm->uffd >= 0)
		close(hm->uffd); /* unregisters everything and clears the protection */
	hm->uffd = -1;
}

void heat_mm_free(struct heat_mm *hm)
{
	if (!hm)
		return;
	close_own(hm);
	if (hm->prev)
		hm->prev->next = hm->next;
	else
		H.first = hm->next;
	if (hm->next)
		hm->next->prev = hm->prev;
	tagmap_free(hm->watched);
	tagmap_free(hm->last);
	free(hm);
}

uint64_t heat_uffd_features(const struct heat_mm *hm)
{
	return hm && !H.sampled ? UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED : 0;
}

uint64_t heat_register_mode(const struct heat_mm *hm)
{
	return hm && !H.sampled ? UFFDIO_REGISTER_MODE_WP : 0;
}

/* True when the address space's pages are registered for write-protect. */
static bool active(const struct heat_mm *hm)
{
	if (hm->released)
		return false;
	if (H.sampled)
		return hm->uffd >= 0;
	return hm->mm->uffd >= 0 && hm->mm->state == MM_ATTACHED;
}

/* ---- the scan ---- */

/* Coalesces the written pages of one scan into events. */
struct emit_run {
	struct heat_mm *hm;
	uint64_t s, e;
	uint32_t t_ms;
};

static void run_flush(struct emit_run *r)
{
	struct mevi_event ev = {.type = MEVI_EV_WRITTEN, .pid = r->hm->mm->pid};

	if (r->e <= r->s)
		return;
	tagmap_set(r->hm->last, r->s, r->e, r->t_ms); /* OOM: shown again next time */
	ev.written.range.start = r->s;
	ev.written.range.end = r->e;
	ev.written.t = (uint64_t)r->t_ms * 1000000u;
	outbox_emit(H.out, &ev);
	H.pages += (r->e - r->s) / MEVI_PAGE_SIZE;
	r->s = r->e = 0;
}

static void run_add(struct emit_run *r, uint64_t s, uint64_t e)
{
	if (r->e == s && r->e > r->s) {
		r->e = e;
		return;
	}
	run_flush(r);
	r->s = s;
	r->e = e;
}

/*
 * One PAGEMAP_SCAN walk over [s, e): reports (into run, unless NULL) and
 * write-protects again every page written since the previous walk.
 * Only present pages match (PAGE_IS_PRESENT in the category mask): current
 * kernels (the "pte_none reads as written" fix of 2026 in 6.18.y) report
 * empty PTEs and page-table holes of a WP VMA as written, and WP_MATCHING
 * then installs uffd-wp PTE markers there. A marker makes exact mode's
 * UFFDIO_ZEROPAGE answer EEXIST forever (the read fault loops) and reads as
 * a swap entry in pagemap. An empty page that gets written becomes present
 * without the protection bit (a fault exact mode serves with UFFDIO_COPY, or
 * the kernel's own anonymous fault), so nothing is lost. walk_end can lie below regions already returned
 * (see pagemap.c): regions are clipped against the highest end seen.
 * Returns 0, -EPERM (with check: a VMA of the span is not registered for
 * asynchronous write-protect) or another -errno.
 */
static int scan(struct heat_mm *hm, uint64_t s, uint64_t e, bool check, struct emit_run *run)
{
	struct page_region vec[SCAN_VEC];
	uint64_t cur = s, seen = s;
	int fd = pagemap_fd(&hm->mm->pm);

	if (fd < 0)
		return fd;
	while (cur < e) {
		struct pm_scan_arg arg = {
		    .size = sizeof(arg),
		    .flags = PM_SCAN_WP_MATCHING | (check ? PM_SCAN_CHECK_WPASYNC : 0),
		    .start = cur,
		    .end = e,
		    .vec = (uint64_t)(uintptr_t)vec,
		    .vec_len = SCAN_VEC,
		    .category_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT,
		    .return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_PFNZERO,
		};
		int n = ioctl(fd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		H.scans++;
		for (int i = 0; i < n; i++) {
			uint64_t rs = vec[i].start > seen ? vec[i].start : seen;
			uint64_t re = vec[i].end < e ? vec[i].end : e;

			if (rs >= re)
				continue;
			if (run && !(vec[i].categories & PAGE_IS_PFNZERO))
				run_add(run, rs, re);
			seen = re;
		}
		uint64_t next = arg.walk_end > seen ? arg.walk_end : seen;
		if (next <= cur)
			break;
		cur = next;
	}
	return 0;
}

struct span_vec {
	uint64_t *v; /* (start, end) pairs */
	size_t n, cap;
};

static int span_push(struct span_vec *sv, uint64_t s, uint64_t e)
{
	if (sv->n && sv->v[sv->n - 1] == s) {
		sv->v[sv->n - 1] = e;
		return 0;
	}
	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 32;
		uint64_t *nv = realloc(sv->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		sv->v = nv;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n++] = e;
	return 0;
}

static int span_cb(const struct tagmap_range *r, void *arg)
{
	return span_push(arg, r->start, r->end);
}

/* One tick for one address space: a walk per watched span. */
static void scan_mm(struct heat_mm *hm, uint32_t t_ms)
{
	struct span_vec spans = {0};
	struct emit_run run = {.hm = hm, .t_ms = t_ms};

	if (tagmap_walk(hm->watched, span_cb, &spans))
		goto out;
	for (size_t i = 0; i < spans.n; i += 2) {
		int err = scan(hm, spans.v[i], spans.v[i + 1], true, &run);

		if (err == -EPERM) {
			/* A VMA of the span lost its registration (replaced by a
			 * mapping we have not re-read yet): report what is
			 * registered, and read the span again. */
			log_debug("pid %d: heat: [%#lx, %#lx) is not all registered; re-reading",
				  hm->mm->pid, (unsigned long)spans.v[i],
				  (unsigned long)spans.v[i + 1]);
			scan(hm, spans.v[i], spans.v[i + 1], false, &run);
			tagmap_remove(hm->watched, spans.v[i], spans.v[i + 1]);
			run_flush(&run);
			mm_resync(hm->mm, spans.v[i], spans.v[i + 1]);
		} else if (err && err != -ESRCH) {
			log_debug("pid %d: heat scan: %s", hm->mm->pid, strerror(-err));
		}
	}
	run_flush(&run);
out:
	free(spans.v);
}

static void set_interval(unsigned ms, uint64_t cost_ns)
{
	if (ms == H.ms)
		return;
	if (ms > H.ms)
		log_info("heat: a scan takes %.2f ms of CPU, over %.0f%% of a core at %u ms: "
			 "scanning every %u ms",
			 (double)cost_ns / 1e6, HEAT_BUDGET * 100, H.ms, ms);
	else
		log_info("heat: scans got cheaper (%.2f ms of CPU): scanning every %u ms again",
			 (double)cost_ns / 1e6, ms);
	H.ms = ms;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t t0 = thread_cpu_ns(), cost, budget;
	uint64_t now_ms = outbox_now(H.out) / 1000000u;
	uint32_t t_ms = now_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)now_ms;

	for (struct heat_mm *hm = H.first; hm; hm = hm->next) {
		struct mm *mm = hm->mm;

		hm->asked = false;
		if (active(hm)) {
			scan_mm(hm, t_ms);
		} else if (H.sampled && !hm->gave_up && !hm->released && mm->state == MM_SAMPLED &&
			   mm->on_due) {
			/* Ask the tracer for a stop to inject our userfaultfd at
			 * (it arrives in heat_mm_attach). */
			mm->on_due(mm, mm->on_due_ctx);
		}
	}
	cost = thread_cpu_ns() - t0;
	H.cpu_ns += cost;
	H.ticks++;
	budget = (uint64_t)((double)H.ms * 1e6 * HEAT_BUDGET);
	if (cost > budget && H.ms < HEAT_MAX_MS)
		set_interval(H.ms * 2 > HEAT_MAX_MS ? HEAT_MAX_MS : H.ms * 2, cost);
	else if (cost * 4 < budget && H.ms > H.base_ms)
		set_interval(H.ms / 2 < H.base_ms ? H.base_ms : H.ms / 2, cost);
	if (H.tick)
		arm();
}

/* ---- watching ranges ---- */

struct gap_ctx {
	uint64_t cursor;
	struct span_vec gaps;
};

static int gap_cb(const struct tagmap_range *r, void *arg)
{
	struct gap_ctx *g = arg;

	if (r->start > g->cursor && span_push(&g->gaps, g->cursor, r->start))
		return -ENOMEM;
	g->cursor = r->end;
	return 0;
}

/* The program uses userfaultfd itself: heat leaves this address space alone
 * for good (its own registrations would fail beside ours). */
static void give_up_program_uffd(struct heat_mm *hm)
{
	log_warn("pid %d: the program uses userfaultfd itself: no heat for it (mevi-run "
		 "leaves its memory alone)",
		 hm->mm->pid);
	close_own(hm);
	hm->gave_up = true;
	tagmap_clear(hm->watched);
}

/* Sampled mode: registers [s, e) with our userfaultfd. A program that uses
 * userfaultfd itself owns its VMAs (EBUSY): then heat gives up on this
 * address space, since a registration of ours would make its own fail. */
static int register_own(struct heat_mm *hm, uint64_t s, uint64_t e)
{
	struct uffdio_register reg = {
	    .range = {.start = s, .len = e - s},
	    .mode = UFFDIO_REGISTER_MODE_WP,
	};

	if (ioctl(hm->uffd, UFFDIO_REGISTER, &reg) == 0)
		return 0;
	if (errno == EBUSY) {
		give_up_program_uffd(hm);
		return -EBUSY;
	}
	if (errno != ENOENT && errno != ESRCH)
		log_debug("pid %d: heat: cannot register [%#lx, %#lx): %s", hm->mm->pid,
			  (unsigned long)s, (unsigned long)e, strerror(errno));
	return -errno;
}

void heat_mm_vma(struct heat_mm *hm, const struct vma_desc *d, uint64_t s, uint64_t e)
{
	struct gap_ctx g = {.cursor = s};

	if (!hm || s >= e)
		return;
	if (!d->private_anon) {
		heat_mm_gone(hm, s, e);
		return;
	}
	if (!active(hm)) {
		/* Sampled: a new address space asks for a stop at once rather
		 * than at the next tick, so that its early writes are seen. */
		if (H.sampled && !hm->gave_up && !hm->released && !hm->asked &&
		    hm->mm->state == MM_SAMPLED && hm->mm->on_due) {
			hm->asked = true;
			hm->mm->on_due(hm->mm, hm->mm->on_due_ctx);
		}
		return;
	}
	if (tagmap_walk_range(hm->watched, s, e, gap_cb, &g) ||
	    (g.cursor < e && span_push(&g.gaps, g.cursor, e)))
		goto out;
	for (size_t i = 0; i < g.gaps.n; i += 2) {
		uint64_t gs = g.gaps.v[i], ge = g.gaps.v[i + 1];

		if (H.sampled) {
			int rerr = register_own(hm, gs, ge);

			if (rerr == -EBUSY)
				break;
			if (rerr)
				continue;
		}
		/* Protect what is there now, without reporting it: a new
		 * mapping's MAP_POPULATE, or what was written before we
		 * watched, is not a write seen. */
		int err = scan(hm, gs, ge, false, NULL);

		if (!err)
			tagmap_set(hm->watched, gs, ge, 0);
		else if (err != -ESRCH)
			log_debug("pid %d: heat: protecting [%#lx, %#lx): %s", hm->mm->pid,
				  (unsigned long)gs, (unsigned long)ge, strerror(-err));
	}
out:
	free(g.gaps.v);
}

void heat_mm_gone(struct heat_mm *hm, uint64_t s, uint64_t e)
{
	if (!hm || s >= e)
		return;
	tagmap_remove(hm->watched, s, e);
	tagmap_remove(hm->last, s, e);
}

void heat_mm_remap(struct heat_mm *hm, uint64_t old_s, uint64_t old_e, uint64_t new_s,
		   uint64_t new_e)
{
	if (!hm || old_s >= old_e || new_s >= new_e)
		return;
	tagmap_remap(hm->last, old_s, old_e, new_s, new_e);
	if (new_s == old_s) {
		/* In place: the pages did not move; a grown tail is new. */
		tagmap_remap(hm->watched, old_s, old_e, new_s, new_e);
	} else {
		tagmap_remove(hm->watched, old_s, old_e);
		tagmap_remove(hm->watched, new_s, new_e);
	}
}

void heat_mm_release(struct heat_mm *hm)
{
	if (!hm)
		return;
	close_own(hm);
	hm->released = true;
}

struct snap_ctx {
	pid_t pid;
};

static int snap_cb(const struct tagmap_range *r, void *arg)
{
	struct snap_ctx *sc = arg;
	struct mevi_event ev = {.type = MEVI_EV_WRITTEN, .pid = sc->pid};

	ev.written.range.start = r->start;
	ev.written.range.end = r->end;
	ev.written.t = (uint64_t)r->value * 1000000u;
	outbox_emit(H.out, &ev);
	return 0;
}

void heat_mm_snapshot(struct heat_mm *hm, pid_t pid)
{
	struct snap_ctx sc = {pid};

	if (hm)
		tagmap_walk(hm->last, snap_cb, &sc);
}

void heat_mm_program_uffd(struct heat_mm *hm)
{
	if (!hm || hm->gave_up || hm->released || !H.sampled)
		return;
	give_up_program_uffd(hm);
}

/* ---- injection (sampled mode) ---- */

/* True when the process holds a userfaultfd of its own. */
static bool has_own_userfaultfd(pid_t pid)
{
	char dir[64], path[320], target[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = strcmp(target, "anon_inode:[userfaultfd]") == 0;
	}
	closedir(d);
	return found;
}

int heat_mm_attach(struct heat_mm *hm, pid_t pid, pid_t tid, uint64_t insn, int *death_status)
{
	uint64_t args[6] = {O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY};
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	struct mm *mm;
	long remote_fd = -1, ret;
	int pidfd, err;

	if (!hm || !H.sampled || hm->uffd >= 0 || hm->gave_up || hm->released)
		return 0;
	mm = hm->mm;
	if (mm->state != MM_SAMPLED)
		return 0;
	if (!insn)
		insn = mm_syscall_insn(mm);
	if (!insn) {
		log_debug("pid %d: heat: no syscall instruction to inject with", mm->pid);
		hm->gave_up = true;
		return 0;
	}
	if (has_own_userfaultfd(mm->pid)) {
		log_warn("pid %d: the program uses userfaultfd itself: no heat for it (mevi-run "
			 "leaves its memory alone)",
			 mm->pid);
		hm->gave_up = true;
		return 0;
	}
	err = inject_syscall(pid, tid, insn, SYS_userfaultfd, args, &remote_fd, death_status);
	if (err == -ESRCH)
		return err;
	if (err || remote_fd < 0) {
		log_warn("pid %d: heat: userfaultfd() in the program: %s", mm->pid,
			 strerror(err ? -err : (int)-remote_fd));
		hm->gave_up = true;
		return 0;
	}
	pidfd = compat_pidfd_open(pid, 0);
	if (pidfd >= 0) {
		hm->uffd = compat_pidfd_getfd(pidfd, (int)remote_fd, 0);
		close(pidfd);
	}
	args[0] = (uint64_t)remote_fd;
	err = inject_syscall(pid, tid, insn, SYS_close, args, &ret, death_status);
	if (err == -ESRCH) {
		close_own(hm);
		return err;
	}
	if (hm->uffd < 0 || ioctl(hm->uffd, UFFDIO_API, &api) < 0) {
		log_warn("pid %d: heat: taking the userfaultfd: %s", mm->pid, strerror(errno));
		close_own(hm);
		hm->gave_up = true;
		return 0;
	}
	log_debug("pid %d: heat: userfaultfd injected (features %#llx)", mm->pid,
		  (unsigned long long)api.features);
	/* Register and protect every private anonymous VMA. */
	mm_resync(mm, 0, MEVI_ADDR_LIMIT);
	return 0;
}
