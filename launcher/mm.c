#include "mm.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "arch.h"
#include "backtrace.h"
#include "compat.h"
#include "event.h"
#include "fnv.h"
#include "heat.h"
#include "inject.h"
#include "log.h"
#include "outbox.h"
#include "sandbox.h"
#include "tagmap.h"

#define PAGE	     MEVI_PAGE_SIZE
#define PAGE_UP(x)   (((x) + PAGE - 1) & ~(PAGE - 1))
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))

/* The source page of UFFDIO_COPY for write faults: zeros, page aligned. */
static uint8_t zero_page[4096] __attribute__((aligned(4096)));

static bool permission_hint_given;
static bool sampled_mode; /* see mm_set_sampled() */

static void retry_cb(evutil_socket_t fd, short what, void *arg);
static void due_cb(evutil_socket_t fd, short what, void *arg);

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool mm_attach_due(const struct mm *mm)
{
	return mm->state == MM_PENDING && mono_ns() >= mm->due_ns;
}

static void arm_due(struct mm *mm, uint64_t delay_ns)
{
	struct timeval tv = {(time_t)(delay_ns / 1000000000u),
			     (suseconds_t)(delay_ns % 1000000000u / 1000)};

	evtimer_add(mm->due_ev, &tv);
}

void mm_set_on_due(struct mm *mm, void (*on_due)(struct mm *, void *), void *ctx)
{
	uint64_t now = mono_ns();

	mm->on_due = on_due;
	mm->on_due_ctx = ctx;
	arm_due(mm, mm->due_ns > now ? mm->due_ns - now : 0);
}

/* Sampled mode: a pending address space becomes sampled. Its layout is read
 * now and once more at the next sampling tick (a layout syscall that began
 * while it was pending made no exit stop). */
static void start_sampling(struct mm *mm)
{
	mm->state = MM_SAMPLED;
	mm->layout_stale = true;
	if (mm->due_ev)
		event_del(mm->due_ev);
	mm_resync(mm, 0, MEVI_ADDR_LIMIT);
}

/* The attach delay expired and no stop came to attach at: ask for one, and
 * look again a little later in case the tracee could not stop yet. */
static void due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mm *mm = arg;

	if (mm->state != MM_PENDING || !mm->on_due)
		return;
	if (sampled_mode) {
		/* Nothing to inject: start sampling without a stop. */
		start_sampling(mm);
		return;
	}
	arm_due(mm, 20 * 1000 * 1000);
	mm->on_due(mm, mm->on_due_ctx);
}

static void emit_range(struct mm *mm, uint8_t type, uint64_t start, uint64_t end, uint8_t state)
{
	struct mevi_event ev = {.type = type, .pid = mm->pid};

	if (type == MEVI_EV_UNMAP) {
		ev.unmap.range.start = start;
		ev.unmap.range.end = end;
	} else {
		ev.map.range.start = start;
		ev.map.range.end = end;
		ev.map.state = state;
	}
	outbox_emit(mm->out, &ev);
}

/* Locates a syscall instruction in the vdso, for syscall injection. */
static uint64_t find_vdso_syscall(struct mm *mm)
{
	uint64_t start, end;
	uint8_t buf[16384];
	struct iovec local, remote;
	ssize_t n;
	long off;

	if (vma_find_vdso(&mm->vmas, mm->pid, &start, &end))
		return 0;
	if (end - start > sizeof(buf))
		end = start + sizeof(buf);
	local = (struct iovec){.iov_base = buf, .iov_len = end - start};
	remote = (struct iovec){.iov_base = (void *)(uintptr_t)start, .iov_len = end - start};
	n = process_vm_readv(mm->pid, &local, 1, &remote, 1, 0);
	if (n <= 0)
		return 0;
	off = arch_find_syscall_insn(buf, (size_t)n);
	return off < 0 ? 0 : start + (uint64_t)off;
}

int mm_new(pid_t pid, const struct memmap *template, struct event_base *base, struct outbox *out,
	   struct mm_stats *stats, struct mm **out_mm)
{
	struct mm *mm = calloc(1, sizeof(*mm));
	int err;

	if (!mm)
		return -ENOMEM;
	mm->refs = 1;
	mm->pid = pid;
	mm->uffd = -1;
	mm->base = base;
	mm->out = out;
	mm->stats = stats;
	mm->map = template ? memmap_clone(template) : memmap_new();
	mm->forked = template != NULL;
	mm->kinds = tagmap_new();
	if (!mm->map || !mm->kinds) {
		err = -ENOMEM;
		goto err_free;
	}
	err = vma_source_open(&mm->vmas, pid);
	if (err)
		goto err_map;
	err = pagemap_open(&mm->pm, pid);
	if (err)
		goto err_vmas;
	mm->state = MM_PENDING;
	mm->due_ns = mono_ns() + MM_ATTACH_DELAY_NS;
	mm->retry_ev = evtimer_new(base, retry_cb, mm);
	mm->due_ev = evtimer_new(base, due_cb, mm);
	if (!mm->retry_ev || !mm->due_ev) {
		err = -ENOMEM;
		goto err_pm;
	}
	mm->syscall_insn = find_vdso_syscall(mm);
	mm->heat = heat_mm_new(mm); /* heat hook */
	log_debug("pid %d: new mm (PROCMAP_QUERY %s, PAGEMAP_SCAN %s, vdso syscall %#lx)", pid,
		  mm->vmas.use_query ? "yes" : "no", mm->pm.use_scan ? "yes" : "no",
		  (unsigned long)mm->syscall_insn);
	*out_mm = mm;
	return 0;

err_pm:
	if (mm->retry_ev)
		event_free(mm->retry_ev);
	if (mm->due_ev)
		event_free(mm->due_ev);
	pagemap_close(&mm->pm);
err_vmas:
	vma_source_close(&mm->vmas);
err_map:
	memmap_free(mm->map);
	tagmap_free(mm->kinds);
err_free:
	free(mm);
	return err;
}

void mm_get(struct mm *mm)
{
	mm->refs++;
}

static void close_uffd(struct mm *mm)
{
	if (mm->uffd_ev) {
		event_free(mm->uffd_ev);
		mm->uffd_ev = NULL;
	}
	if (mm->uffd >= 0) {
		close(mm->uffd);
		mm->uffd = -1;
	}
	mm->nretry = 0;
}

void mm_put(struct mm *mm)
{
	if (!mm || --mm->refs > 0)
		return;
	close_uffd(mm);
	if (mm->retry_ev)
		event_free(mm->retry_ev);
	if (mm->due_ev)
		event_free(mm->due_ev);
	free(mm->retry);
	pagemap_close(&mm->pm);
	vma_source_close(&mm->vmas);
	memmap_free(mm->map);
	tagmap_free(mm->kinds);
	free(mm->tstacks);
	free(mm->recheck.v);
	backtrace_mm_free(mm->bt);
	heat_mm_free(mm->heat); /* heat hook */
	free(mm);
}

/* ---- resynchronisation from the kernel ---- */

void mm_set_sampled(bool sampled)
{
	sampled_mode = sampled;
}

static int run_push3(struct run_vec *rv, uint64_t s, uint64_t e, uint64_t state)
{
	if (rv->n + 3 > rv->cap) {
		size_t cap = rv->cap ? rv->cap * 2 : 96;
		uint64_t *nv = realloc(rv->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		rv->v = nv;
		rv->cap = cap;
	}
	rv->v[rv->n++] = s;
	rv->v[rv->n++] = e;
	rv->v[rv->n++] = state;
	return 0;
}

static int present_cb(uint64_t s, uint64_t e, void *ctx)
{
	return run_push3(ctx, s, e, MEVI_STATE_RESIDENT);
}

static int states_cb(uint64_t s, uint64_t e, uint8_t state, void *ctx)
{
	return run_push3(ctx, s, e, state);
}

/* The kernel's page states of [s, e): runs of resident (and, in sampled
 * mode, swapped) pages; everything else is not resident. */
static int read_states(struct mm *mm, uint64_t s, uint64_t e, struct run_vec *runs)
{
	if (sampled_mode)
		return pagemap_states(&mm->pm, s, e, states_cb, runs);
	return pagemap_present(&mm->pm, s, e, present_cb, runs);
}

struct uniform_ctx {
	uint64_t cursor;
	uint8_t state;
	bool uniform;
};

static int uniform_cb(const struct memmap_range *r, void *arg)
{
	struct uniform_ctx *u = arg;

	if (r->start > u->cursor || r->state != u->state) {
		u->uniform = false;
		return 1;
	}
	u->cursor = r->end;
	return 0;
}

/* True when the map holds [s, e) entirely, all of it in state. */
static bool map_uniform(const struct memmap *map, uint64_t s, uint64_t e, uint8_t state)
{
	struct uniform_ctx u = {.cursor = s, .state = state, .uniform = true};

	memmap_walk_range(map, s, e, uniform_cb, &u);
	return u.uniform && u.cursor >= e;
}

/* Sets [s, e) to state, with one state event, unless it already is. */
static void set_piece(struct mm *mm, uint64_t s, uint64_t e, uint8_t state)
{
	if (s >= e || map_uniform(mm->map, s, e, state))
		return;
	memmap_update(mm->map, s, e, state);
	outbox_state(mm->out, mm->pid, s, e, state);
}

static int hole_cb(const struct memmap_range *r, void *arg)
{
	uint64_t *cursor = arg;

	if (r->start > *cursor)
		return 1;
	*cursor = r->end;
	return 0;
}

/* True when every page of [s, e) is in the map. */
static bool map_covers(const struct memmap *map, uint64_t s, uint64_t e)
{
	uint64_t cursor = s;

	return memmap_walk_range(map, s, e, hole_cb, &cursor) == 0 && cursor >= e;
}

struct cmp_ctx {
	const struct run_vec *runs;
	size_t idx;	 /* next run */
	uint64_t s, e;	 /* the range compared */
	uint64_t cursor; /* how far the map matched */
	bool equal;
};

/* Compares one range of the map (clipped to [s, e)) with the piece the runs
 * say starts at the cursor: the run there, or the not-resident gap up to the
 * next run. Both sides are maximal pieces, so equal maps compare piecewise. */
static int cmp_cb(const struct memmap_range *r, void *arg)
{
	struct cmp_ctx *c = arg;
	const uint64_t *v = c->runs->v;
	uint64_t rs = r->start > c->s ? r->start : c->s;
	uint64_t re = r->end < c->e ? r->end : c->e;

	if (rs != c->cursor)
		goto differ;
	if (c->idx < c->runs->n && v[c->idx] == rs) {
		if (re != v[c->idx + 1] || r->state != v[c->idx + 2])
			goto differ;
		c->idx += 3;
	} else {
		uint64_t next = c->idx < c->runs->n ? v[c->idx] : c->e;

		if (re != next || r->state != MEVI_STATE_NOT_RESIDENT)
			goto differ;
	}
	c->cursor = re;
	return 0;
differ:
	c->equal = false;
	return 1;
}

/* True when the map of [s, e) is exactly what the runs say: one pass. */
static bool map_equals(const struct memmap *map, uint64_t s, uint64_t e, const struct run_vec *runs)
{
	struct cmp_ctx c = {.runs = runs, .s = s, .e = e, .cursor = s, .equal = true};

	memmap_walk_range(map, s, e, cmp_cb, &c);
	return c.equal && c.cursor == e && c.idx == runs->n;
}

/*
 * Makes the map of [s, e), a range the kernel has mapped, equal to the
 * kernel's page states, with as few events as it takes: a map event if part
 * of it was not in the map, then one state event per run that differs. The
 * common case, nothing changed, costs one pass over the map.
 */
static void apply_states(struct mm *mm, uint64_t s, uint64_t e, const struct run_vec *runs)
{
	uint64_t cursor = s;

	if (map_equals(mm->map, s, e, runs))
		return;

	if (!map_covers(mm->map, s, e)) {
		memmap_set(mm->map, s, e, MEVI_STATE_NOT_RESIDENT);
		emit_range(mm, MEVI_EV_MAP, s, e, MEVI_STATE_NOT_RESIDENT);
	}
	for (size_t i = 0; i < runs->n; i += 3) {
		set_piece(mm, cursor, runs->v[i], MEVI_STATE_NOT_RESIDENT);
		set_piece(mm, runs->v[i], runs->v[i + 1], (uint8_t)runs->v[i + 2]);
		cursor = runs->v[i + 1];
	}
	set_piece(mm, cursor, e, MEVI_STATE_NOT_RESIDENT);
}

static void track_piece(struct mm *mm, uint64_t s, uint64_t e)
{
	struct run_vec runs = {0};
	int err;

	if (mm->uffd >= 0) {
		struct uffdio_register reg = {
		    .range = {.start = s, .len = e - s},
		    .mode =
			UFFDIO_REGISTER_MODE_MISSING | heat_register_mode(mm->heat), /* heat hook */
		};

		if (ioctl(mm->uffd, UFFDIO_REGISTER, &reg) < 0) {
			err = -errno;
			if (err == -ESRCH || err == -ENOENT)
				return; /* the process or the VMA is gone */
			log_debug("pid %d: cannot register [%#lx, %#lx): %s; untracked", mm->pid,
				  (unsigned long)s, (unsigned long)e, strerror(-err));
			mm->stats->untracked++;
			goto untracked;
		}
	} else if (mm->state == MM_FAILED) {
		goto untracked;
	}
	/* Pending or sampled: no registration, the scan alone is the truth. */

	err = read_states(mm, s, e, &runs);
	if (err) {
		if (err != -ESRCH)
			log_debug("pid %d: pagemap [%#lx, %#lx): %s", mm->pid, (unsigned long)s,
				  (unsigned long)e, strerror(-err));
		goto out;
	}
	apply_states(mm, s, e, &runs);
	goto out;
untracked:
	if (!map_uniform(mm->map, s, e, MEVI_STATE_UNTRACKED)) {
		memmap_set(mm->map, s, e, MEVI_STATE_UNTRACKED);
		emit_range(mm, MEVI_EV_MAP, s, e, MEVI_STATE_UNTRACKED);
	}
out:
	free(runs.v);
}

static int any_cb(const struct memmap_range *r, void *arg)
{
	return 1;
}

static void drop_gap(struct mm *mm, uint64_t s, uint64_t e)
{
	if (s >= e)
		return;
	heat_mm_gone(mm->heat, s, e); /* heat hook */
	tagmap_remove(mm->kinds, s, e);
	if (!memmap_walk_range(mm->map, s, e, any_cb, NULL))
		return;
	memmap_remove(mm->map, s, e);
	emit_range(mm, MEVI_EV_UNMAP, s, e, 0);
}

/* ---- kinds ---- */

void mm_note_thread_stack(struct mm *mm, pid_t tid, uint64_t sp)
{
	size_t i;

	for (i = 0; i < mm->ntstacks; i++)
		if (mm->tstacks[i].tid == tid)
			break;
	if (i == mm->ntstacks && mm->ntstacks == mm->tstacks_cap &&
	    mm->tstacks_cap < MM_MAX_TSTACKS) {
		size_t cap = mm->tstacks_cap ? mm->tstacks_cap * 2 : 16;
		struct mm_tstack *nt = realloc(mm->tstacks, cap * sizeof(*nt));

		if (!nt)
			return;
		mm->tstacks = nt;
		mm->tstacks_cap = cap;
	}
	if (i == mm->ntstacks) {
		if (mm->ntstacks == MM_MAX_TSTACKS) {
			/* Forget the oldest. */
			memmove(mm->tstacks, mm->tstacks + 1,
				(MM_MAX_TSTACKS - 1) * sizeof(mm->tstacks[0]));
			i = --mm->ntstacks;
		}
		mm->ntstacks++;
	}
	mm->tstacks[i].tid = tid;
	mm->tstacks[i].sp = sp;
	/* Re-read the mapping around the stack pointer: it is now a thread stack. */
	mm_resync(mm, PAGE_DOWN(sp), PAGE_DOWN(sp) + PAGE);
}

/* FNV-1a of what a vma event says, the value of mm->kinds: equal values mean
 * "already sent". */
static uint32_t kind_hash(uint8_t kind, const char *name, size_t len)
{
	return fnv1a32(fnv1a32(FNV1A32_BASIS, &kind, 1), name, len);
}

/* Sends the kind and name of [s, e) (part of the VMA d) unless already sent. */
static void annotate(struct mm *mm, const struct vma_desc *d, uint64_t s, uint64_t e)
{
	struct mevi_event ev = {.type = MEVI_EV_VMA, .pid = mm->pid};
	struct tagmap_range tr;
	char tidbuf[16];
	uint8_t kind = d->kind;
	const char *name = d->name;
	size_t len = d->name_len;
	uint32_t h;

	if (kind == MEVI_KIND_ANON) {
		/* The newest thread whose stack pointer lies in this VMA. */
		for (size_t i = mm->ntstacks; i-- > 0;) {
			if (mm->tstacks[i].sp >= d->start && mm->tstacks[i].sp < d->end) {
				kind = MEVI_KIND_THREAD_STACK;
				len = (size_t)snprintf(tidbuf, sizeof(tidbuf), "%d",
						       (int)mm->tstacks[i].tid);
				name = tidbuf;
				break;
			}
		}
	}
	if (len > 4096)
		len = 4096;
	h = kind_hash(kind, name, len);
	if (tagmap_lookup(mm->kinds, s, &tr) == 0 && tr.value == h && tr.end >= e)
		return;
	if (tagmap_set(mm->kinds, s, e, h))
		return; /* out of memory: sent again next time */
	ev.vma.range.start = s;
	ev.vma.range.end = e;
	ev.vma.kind = kind;
	ev.vma.name.ptr = name;
	ev.vma.name.len = (uint32_t)len;
	outbox_emit(mm->out, &ev);
}

struct resync_ctx {
	struct mm *mm;
	uint64_t start, end;
	uint64_t cursor;
};

/* One VMA of a resync: tracked (private anonymous, or anything in sampled
 * mode) or a gap. */
static int resync_vma(const struct vma_desc *d, void *arg)
{
	struct resync_ctx *rc = arg;
	uint64_t s = d->start > rc->start ? d->start : rc->start;
	uint64_t e = d->end < rc->end ? d->end : rc->end;

	if (s >= e || !(sampled_mode || d->private_anon))
		return 0;
	drop_gap(rc->mm, rc->cursor, s);
	track_piece(rc->mm, s, e);
	heat_mm_vma(rc->mm->heat, d, s, e); /* heat hook */
	annotate(rc->mm, d, s, e);
	rc->cursor = e;
	return 0;
}

void mm_resync(struct mm *mm, uint64_t start, uint64_t end)
{
	struct resync_ctx rc = {.mm = mm};
	int err;

	start = PAGE_DOWN(start);
	end = PAGE_UP(end);
	if (end > MEVI_ADDR_LIMIT)
		end = MEVI_ADDR_LIMIT;
	if (start >= end)
		return;
	rc.start = rc.cursor = start;
	rc.end = end;
	mm->stats->resyncs++;
	err = vma_each(&mm->vmas, start, end, sampled_mode, resync_vma, &rc);
	if (err) {
		if (err != -ESRCH)
			log_warn("pid %d: reading mappings: %s", mm->pid, strerror(-err));
		return;
	}
	drop_gap(mm, rc.cursor, end);
}

static int vma_end_cb(const struct vma_desc *d, void *arg)
{
	*(uint64_t *)arg = d->end;
	return 1;
}

void mm_resync_mapping(struct mm *mm, uint64_t addr)
{
	struct memmap_range r;
	uint64_t end = addr + PAGE;

	addr = PAGE_DOWN(addr);
	/* What the kernel maps there now, and what we had there. */
	if (vma_each(&mm->vmas, addr, addr + PAGE, false, vma_end_cb, &end) < 0)
		return;
	if (memmap_lookup(mm->map, addr, &r) && r.end > end)
		end = r.end;
	mm_resync(mm, addr, end);
}

void mm_unmap_now(struct mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + PAGE_UP(len);

	/* The kernel's own checks: EINVAL, nothing unmapped. */
	if (addr % PAGE || len == 0 || end <= addr || end > MEVI_ADDR_LIMIT)
		return;
	if (mm->state == MM_SAMPLED) {
		drop_gap(mm, addr, end);
		/* A thread may map there before the munmap runs (MAP_FIXED
		 * races): the next tick reads the range again. */
		if (run_push3(&mm->recheck, addr, end, 0))
			mm->layout_stale = true;
	}
}

/* ---- sampling ---- */

struct span_ctx {
	struct mm *mm;
	uint64_t start, end; /* the span being built */
	int err;
};

/* Re-reads the page states of one mapped span. */
static void sample_span(struct mm *mm, uint64_t s, uint64_t e)
{
	struct run_vec runs = {0};
	int err = pagemap_states(&mm->pm, s, e, states_cb, &runs);

	if (!err)
		apply_states(mm, s, e, &runs);
	else if (err != -ESRCH)
		log_debug("pid %d: pagemap [%#lx, %#lx): %s", mm->pid, (unsigned long)s,
			  (unsigned long)e, strerror(-err));
	free(runs.v);
}

static int collect_span_cb(const struct memmap_range *r, void *arg)
{
	return run_push3(arg, r->start, r->end, r->state);
}

void mm_sample(struct mm *mm)
{
	struct run_vec ranges = {0};
	size_t i = 0;

	if (mm->state != MM_SAMPLED)
		return; /* pending: read at its first stop or when due */
	if (mm->layout_stale) {
		mm->layout_stale = false;
		mm->recheck.n = 0;
		mm_resync(mm, 0, MEVI_ADDR_LIMIT);
		mm->stats->samples++;
		return;
	}
	for (size_t k = 0; k < mm->recheck.n; k += 3)
		mm_resync(mm, mm->recheck.v[k], mm->recheck.v[k + 1]);
	mm->recheck.n = 0;
	/* Collect first: sampling changes the map being walked. */
	if (memmap_walk(mm->map, collect_span_cb, &ranges) < 0)
		goto out;
	while (i < ranges.n) {
		uint64_t s = ranges.v[i], e = ranges.v[i + 1];

		for (i += 3; i < ranges.n && ranges.v[i] == e; i += 3)
			e = ranges.v[i + 1];
		sample_span(mm, s, e);
	}
	mm->stats->samples++;
out:
	free(ranges.v);
}

void mm_remap(struct mm *mm, uint64_t old_start, uint64_t old_len, uint64_t new_start,
	      uint64_t new_len)
{
	uint64_t old_end = old_start + PAGE_UP(old_len);
	uint64_t new_end = new_start + PAGE_UP(new_len);

	if (old_len && new_len) {
		tagmap_remap(mm->kinds, old_start, old_end, new_start, new_end);
		heat_mm_remap(mm->heat, old_start, old_end, new_start, new_end); /* heat hook */
	}
	if (old_len && new_len &&
	    memmap_remap(mm->map, old_start, old_end, new_start, new_end) == 0) {
		struct mevi_event ev = {.type = MEVI_EV_REMAP, .pid = mm->pid};

		ev.remap.from.start = old_start;
		ev.remap.from.end = old_end;
		ev.remap.to.start = new_start;
		ev.remap.to.end = new_end;
		outbox_emit(mm->out, &ev);
	}
	if (old_len)
		mm_resync(mm, old_start, old_end);
	if (new_len)
		mm_resync(mm, new_start, new_end);
}

/* ---- faults ---- */

static int next_cb(const struct memmap_range *r, void *arg)
{
	*(uint64_t *)arg = r->start;
	return 1;
}

/* A fault outside the known map: the stack grew, or a mapping we have not
 * seen yet. Re-read the area from the kernel up to the next known range. */
static void resync_unknown(struct mm *mm, uint64_t page)
{
	uint64_t next = MEVI_ADDR_LIMIT;

	memmap_walk_range(mm->map, page, MEVI_ADDR_LIMIT, next_cb, &next);
	if (next > page + (UINT64_C(128) << 20))
		next = page + (UINT64_C(128) << 20);
	mm_resync(mm, page, next);
}

/*
 * Serves one missing-page fault of thread tid (0: unknown, a retried fault).
 * Returns -EAGAIN when the kernel refused because a layout change (an UNMAP
 * event) is in flight: the caller retries after reading the pending events.
 * Any other outcome is final.
 */
static int serve_fault(struct mm *mm, uint64_t page, bool write, pid_t tid)
{
	struct memmap_range r;
	int ret;

	if (write) {
		/* COPY, not ZEROPAGE: a zero page would make the write fault a
		 * second time (copy-on-write of the zero page). */
		struct uffdio_copy c = {
		    .dst = page, .src = (uint64_t)(uintptr_t)zero_page, .len = PAGE};

		ret = ioctl(mm->uffd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = {.range = {.start = page, .len = PAGE}};

		ret = ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z);
	}
	if (ret < 0) {
		int err = errno;
		struct uffdio_range wake = {.start = page, .len = PAGE};

		switch (err) {
		case EAGAIN: /* mmap_changing: an event must be read first */
			return -EAGAIN;
		case EEXIST: /* already populated: wake the faulting thread */
			ioctl(mm->uffd, UFFDIO_WAKE, &wake);
			break;
		case ENOENT: /* the VMA went away: let the thread retry (and fail) */
			ioctl(mm->uffd, UFFDIO_WAKE, &wake);
			return 0;
		case ESRCH:
		case ENOSPC: /* the process is exiting */
			return 0;
		default:
			log_warn("pid %d: serving fault at %#lx: %s", mm->pid, (unsigned long)page,
				 strerror(err));
			ioctl(mm->uffd, UFFDIO_WAKE, &wake);
			return 0;
		}
	}
	mm->stats->faults++;
	if (!memmap_lookup(mm->map, page, &r)) {
		resync_unknown(mm, page);
		return 0;
	}
	if (r.state == MEVI_STATE_RESIDENT)
		return 0;
	memmap_update(mm->map, page, page + PAGE, MEVI_STATE_RESIDENT);
	if (mm->bt)
		backtrace_fault(mm->bt, tid, page); /* state, then touch by tid */
	else
		outbox_state(mm->out, mm->pid, page, page + PAGE, MEVI_STATE_RESIDENT);
	return 0;
}

/* Faults refused with EAGAIN wait here; bit 0 of an entry is "write". */
static void retry_push(struct mm *mm, uint64_t page, bool write)
{
	if (mm->nretry == mm->retry_cap) {
		size_t cap = mm->retry_cap ? mm->retry_cap * 2 : 16;
		uint64_t *nr = realloc(mm->retry, cap * sizeof(*nr));

		MEVI_ASSERT(nr);
		mm->retry = nr;
		mm->retry_cap = cap;
	}
	mm->retry[mm->nretry++] = page | (write ? 1 : 0);
}

static void retry_faults(struct mm *mm)
{
	size_t kept = 0;

	for (size_t i = 0; i < mm->nretry; i++) {
		uint64_t e = mm->retry[i];

		if (mm->uffd >= 0 && serve_fault(mm, e & ~UINT64_C(1), e & 1, 0) == -EAGAIN)
			mm->retry[kept++] = e;
	}
	mm->nretry = kept;
	if (kept) {
		struct timeval tv = {0, 1000};

		evtimer_add(mm->retry_ev, &tv);
	}
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	retry_faults(arg);
}

static void handle_msg(struct mm *mm, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT: {
		uint64_t page = PAGE_DOWN(msg->arg.pagefault.address);
		bool write = msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;

		if (serve_fault(mm, page, write, (pid_t)msg->arg.pagefault.feat.ptid) == -EAGAIN)
			retry_push(mm, page, write);
		break;
	}
	case UFFD_EVENT_UNMAP:
		/* munmap, or a mapping placed over registered memory: whatever
		 * is there now is the truth (another thread may have mapped the
		 * range again already). */
		heat_mm_gone(mm->heat, msg->arg.remove.start, msg->arg.remove.end); /* heat hook */
		mm_resync(mm, msg->arg.remove.start, msg->arg.remove.end);
		break;
	default:
		log_debug("pid %d: unexpected userfaultfd event %u", mm->pid, msg->event);
		break;
	}
}

/*
 * How long to keep polling the userfaultfd after the last fault before going
 * back to sleep in the event loop. A program touching fresh memory faults
 * again a few microseconds after its previous fault was served; catching that
 * fault while still awake saves the cross-CPU wake-up of the handler, which
 * costs tens of microseconds on a VM whose idle CPUs halt. Bounded, and only
 * while faults keep coming, so an idle tracee costs nothing.
 */
#define FAULT_SPIN_NS (30 * 1000)

static void uffd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mm *mm = arg;
	struct uffd_msg msgs[64];
	uint64_t spin_until = 0;

	for (;;) {
		ssize_t n = read(mm->uffd, msgs, sizeof(msgs));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				log_debug("pid %d: userfaultfd read: %s", mm->pid, strerror(errno));
				close_uffd(mm);
				break;
			}
			if (!spin_until || mono_ns() >= spin_until)
				break;
			sched_yield(); /* let a tracee sharing this CPU run */
			continue;
		}
		if (n == 0) {
			close_uffd(mm);
			break;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]) && mm->uffd >= 0; i++)
			handle_msg(mm, &msgs[i]);
		if (mm->uffd < 0)
			break;
		spin_until = mono_ns() + FAULT_SPIN_NS;
	}
	if (mm->nretry)
		retry_faults(mm);
}

/* ---- attach ---- */

static void permission_hint(void)
{
	if (permission_hint_given)
		return;
	permission_hint_given = true;
	log_error(
	    "userfaultfd is not permitted for this program, so its pages are shown as "
	    "untracked: run mevi-run as root, or `sudo sysctl vm.unprivileged_userfaultfd=1`, "
	    "or give your user access to /dev/userfaultfd");
}

/*
 * The /dev/userfaultfd way (Linux 6.1+), for users who may open that device
 * but not call userfaultfd() (vm.unprivileged_userfaultfd=0): the tracee
 * opens the device and asks it for a userfaultfd. The path is written below
 * the tracee's stack pointer, past the red zone, and the bytes it covered are
 * put back. Returns 0 with the tracee's fd in *remote_fd (negative errno if
 * the tracee could not), -ESRCH if the thread died, or another -errno.
 */
static int remote_uffd_via_dev(struct mm *mm, pid_t tid, uint64_t insn, long *remote_fd,
			       int *death_status)
{
	static const char path[] = "/dev/userfaultfd";
	struct arch_regs regs;
	char saved[sizeof(path)];
	uint64_t args[6] = {0};
	long devfd = -1, ret;
	int err;

	err = arch_get_regs(tid, &regs);
	if (err)
		return err;
	uint64_t where = (arch_regs_sp(&regs) - 512) & ~UINT64_C(15);
	struct iovec local = {saved, sizeof(saved)};
	struct iovec remote = {(void *)(uintptr_t)where, sizeof(path)};

	if (process_vm_readv(mm->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(path))
		return -errno;
	local = (struct iovec){(void *)path, sizeof(path)};
	if (process_vm_writev(mm->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(path))
		return -errno;
	args[0] = (uint64_t)AT_FDCWD;
	args[1] = where;
	args[2] = O_RDWR | O_CLOEXEC;
	err = inject_syscall(mm->pid, tid, insn, SYS_openat, args, &devfd, death_status);
	local = (struct iovec){saved, sizeof(saved)};
	if (err != -ESRCH)
		process_vm_writev(mm->pid, &local, 1, &remote, 1, 0);
	if (err)
		return err;
	if (devfd < 0) {
		*remote_fd = devfd;
		return 0;
	}
	args[0] = (uint64_t)devfd;
	args[1] = USERFAULTFD_IOC_NEW;
	args[2] = O_CLOEXEC | O_NONBLOCK;
	err = inject_syscall(mm->pid, tid, insn, SYS_ioctl, args, remote_fd, death_status);
	if (err)
		return err;
	args[0] = (uint64_t)devfd;
	return inject_syscall(mm->pid, tid, insn, SYS_close, args, &ret, death_status);
}

/*
 * Whether thread tid's own seccomp filters let it run syscall nr(args) (and
 * the close() of the descriptor that follows) at insn: injecting a syscall
 * the program forbids itself would kill, signal or fail it (sandbox.h). The
 * first refusal of a session is logged with its reason.
 */
static bool injection_allowed(struct mm *mm, pid_t tid, uint64_t insn, long nr,
			      const uint64_t *args)
{
	static bool said;
	struct sandbox_call calls[2] = {{.nr = (int)nr}, {.nr = SYS_close}};
	const char *why = "";

	memcpy(calls[0].args, args, sizeof(calls[0].args));
	if (sandbox_check(tid, mm->own_filters, insn, calls, 2, &why) == 0)
		return true;
	if (!said)
		log_warn("pid %d: not tracked, because %s; its pages are shown as untracked",
			 mm->pid, why);
	else
		log_debug("pid %d: not tracked, because %s", mm->pid, why);
	said = true;
	return false;
}

int mm_attach(struct mm *mm, pid_t tid, uint64_t insn, int *death_status)
{
	uint64_t args[6] = {O_CLOEXEC | O_NONBLOCK};
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EVENT_UNMAP};
	long remote_fd = -1, ret;
	int pidfd = -1, err;

	if (mm->state == MM_PENDING && sampled_mode) {
		start_sampling(mm);
		return 0;
	}
	if (!insn)
		insn = mm->syscall_insn;
	if (!insn || mm->state != MM_PENDING)
		return 0;
	if (!injection_allowed(mm, tid, insn, SYS_userfaultfd, args))
		goto fail_quiet;
	err = inject_syscall(mm->pid, tid, insn, SYS_userfaultfd, args, &remote_fd, death_status);
	if (err == -ESRCH)
		return err;
	if (err) {
		log_warn("pid %d: injecting userfaultfd(): %s", mm->pid, strerror(-err));
		goto fail;
	}
	if ((remote_fd == -EPERM || remote_fd == -EACCES) &&
	    injection_allowed(mm, tid, insn, SYS_openat, (uint64_t[6]){(uint64_t)AT_FDCWD}) &&
	    injection_allowed(mm, tid, insn, SYS_ioctl, (uint64_t[6]){0, USERFAULTFD_IOC_NEW})) {
		/* Not allowed to call userfaultfd(): try the device. */
		err = remote_uffd_via_dev(mm, tid, insn, &remote_fd, death_status);
		if (err == -ESRCH)
			return err;
		if (err)
			remote_fd = err;
	}
	if (remote_fd < 0) {
		if (remote_fd == -EPERM || remote_fd == -EACCES || remote_fd == -ENOENT)
			permission_hint();
		else
			log_warn("pid %d: userfaultfd(): %s", mm->pid, strerror((int)-remote_fd));
		goto fail;
	}
	pidfd = compat_pidfd_open(mm->pid, 0);
	if (pidfd >= 0)
		mm->uffd = compat_pidfd_getfd(pidfd, (int)remote_fd, 0);
	if (pidfd < 0 || mm->uffd < 0)
		log_warn("pid %d: taking the userfaultfd: %s", mm->pid, strerror(errno));
	if (pidfd >= 0)
		close(pidfd);
	args[0] = (uint64_t)remote_fd;
	err = inject_syscall(mm->pid, tid, insn, SYS_close, args, &ret, death_status);
	if (err == -ESRCH)
		return err;
	if (mm->uffd < 0)
		goto fail;
	api.features |= heat_uffd_features(mm->heat); /* heat hook */
	if (ioctl(mm->uffd, UFFDIO_API, &api) < 0) {
		log_warn("pid %d: UFFDIO_API: %s", mm->pid, strerror(errno));
		goto fail;
	}
	mm->uffd_ev = event_new(mm->base, mm->uffd, EV_READ | EV_PERSIST, uffd_cb, mm);
	if (!mm->uffd_ev || event_add(mm->uffd_ev, NULL) < 0) {
		log_warn("pid %d: cannot watch the userfaultfd", mm->pid);
		goto fail;
	}
	mm->state = MM_ATTACHED;
	if (mm->due_ev)
		event_del(mm->due_ev);
	mm_resync(mm, 0, MEVI_ADDR_LIMIT);
	return 0;
fail:
	mm_give_up(mm, "no userfaultfd");
	return 0;
fail_quiet:
	mm_give_up(mm, NULL);
	return 0;
}

static int collect_cb(const struct memmap_range *r, void *arg)
{
	return run_push3(arg, r->start, r->end, r->state);
}

void mm_release(struct mm *mm)
{
	heat_mm_release(mm->heat); /* heat hook */
	close_uffd(mm);
	if (mm->due_ev)
		event_del(mm->due_ev);
	mm->state = MM_FAILED;
}

void mm_give_up(struct mm *mm, const char *why)
{
	struct run_vec all = {0};

	if (mm->uffd >= 0 && why)
		log_warn("pid %d: tracking stopped (%s); the program carries on untracked", mm->pid,
			 why);
	close_uffd(mm);
	mm->state = MM_FAILED;
	if (mm->due_ev)
		event_del(mm->due_ev);
	memmap_walk(mm->map, collect_cb, &all);
	for (size_t i = 0; i < all.n; i += 3) {
		memmap_set(mm->map, all.v[i], all.v[i + 1], MEVI_STATE_UNTRACKED);
		emit_range(mm, MEVI_EV_MAP, all.v[i], all.v[i + 1], MEVI_STATE_UNTRACKED);
	}
	free(all.v);
	/* Mappings not seen yet are picked up as untracked by the next resync. */
	mm_resync(mm, 0, MEVI_ADDR_LIMIT);
}

struct snap_ctx {
	struct mm *mm;
	pid_t pid;
};

static int snap_cb(const struct memmap_range *r, void *arg)
{
	struct snap_ctx *sc = arg;
	struct mevi_event ev = {.type = MEVI_EV_MAP, .pid = sc->pid};

	ev.map.range.start = r->start;
	ev.map.range.end = r->end;
	ev.map.state = r->state;
	outbox_emit(sc->mm->out, &ev);
	return 0;
}

void mm_emit_snapshot(struct mm *mm, pid_t pid)
{
	struct snap_ctx sc = {.mm = mm, .pid = pid};

	memmap_walk(mm->map, snap_cb, &sc);
	/* The kinds are re-read and sent again (the receiver starts over). */
	tagmap_clear(mm->kinds);
	if (mm->pid == pid)
		mm_resync(mm, 0, MEVI_ADDR_LIMIT);
	heat_mm_snapshot(mm->heat, pid); /* heat hook */
}
