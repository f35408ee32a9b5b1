/* mm — one address space: its memmap, resynchronisation, kinds and sampling. */
#include "mm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "arch.h"
#include "backtrace.h"
#include "event.h"
#include "fnv.h"
#include "heat.h"
#include "log.h"
#include "monotime.h"
#include "outbox.h"
#include "procfs.h"
#include "tagmap.h"
#include "uffd.h"

#define PAGE	     MEVI_PAGE_SIZE
#define PAGE_UP(x)   (((x) + PAGE - 1) & ~(PAGE - 1))
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))

/* The mode of mms created from now on (mm_set_sampled, which the eBPF engine
 * calls); the ptrace engine sets each mm's own from struct trace_mode. */
static bool sampled_mode;
/* Whether mms created from now on may get a userfaultfd injected, and so need
 * a syscall instruction located (mm_set_injecting; the eBPF engine injects
 * nothing). */
static bool injecting = true;

static void due_cb(evutil_socket_t fd, short what, void *arg);

/* The kernel's CPU clock of process pid (MAKE_PROCESS_CPUCLOCK(pid,
 * CPUCLOCK_SCHED) in linux/posix-timers.h; what clock_getcpuclockid() makes,
 * without its existence check). */
static clockid_t process_cpu_clock(pid_t pid)
{
	return (clockid_t)((unsigned)~pid << 3 | 2u);
}

/* The CPU time pid's threads have run (ns), or -1 when it cannot be read (the
 * process has gone). One clock_gettime, 1.4-1.8 us on this project's VM:
 * the open, read and close of /proc/PID/schedstat it replaced (the same
 * figure for a single-threaded process) took 6-8 us, at every stop of a
 * young process and at each of its attach timers. */
static int64_t cpu_ns(pid_t pid)
{
	struct timespec ts;

	if (clock_gettime(process_cpu_clock(pid), &ts) < 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Whether the attach delay has passed at now (mm.h), due_ns having: when the
 * process has run less CPU time than the delay, due_ns moves on by what is
 * still to run (no further than MM_ATTACH_WAIT_MAX_NS after it was made)
 * and it is not due yet.
 */
static bool delay_passed(struct mm *mm, uint64_t now)
{
	uint64_t last = mm->made_ns + MM_ATTACH_WAIT_MAX_NS;
	int64_t ran;

	if (mm->delay_over || now >= last || (ran = cpu_ns(mm->pid)) < 0 ||
	    (ran -= mm->cpu_base) >= MM_ATTACH_DELAY_NS)
		return mm->delay_over = true;
	mm->due_ns = now + (uint64_t)(MM_ATTACH_DELAY_NS - ran);
	if (mm->due_ns > last)
		mm->due_ns = last;
	return false;
}

bool mm_young(const struct mm *mm)
{
	uint64_t age = mono_ns() - mm->made_ns;
	int64_t ran;

	if (age < MM_ATTACH_DELAY_NS)
		return true;
	if (age >= MM_YOUNG_MAX_NS || mm->delay_over || (ran = cpu_ns(mm->pid)) < 0)
		return false;
	return ran - mm->cpu_base < MM_ATTACH_DELAY_NS;
}

bool mm_attach_due(struct mm *mm)
{
	uint64_t now;

	if (mm->state != MM_PENDING || (now = mono_ns()) < mm->due_ns)
		return false;
	return delay_passed(mm, now);
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
	/* libevent times with a coarse clock and may fire up to a tick
	 * early: the time has passed, whatever mono_ns() says. */
	uint64_t now = mono_ns();

	if (!delay_passed(mm, mm->due_ns > now ? mm->due_ns : now)) {
		arm_due(mm, mm->due_ns - now); /* more CPU time to come */
		return;
	}
	mm->due_ns = now;
	if (mm->sampled) {
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

uint64_t mm_syscall_insn(struct mm *mm)
{
	if (!mm->syscall_insn_known) {
		mm->syscall_insn = injecting ? find_vdso_syscall(mm) : 0;
		mm->syscall_insn_known = true;
		log_debug("pid %d: vdso syscall %#lx", mm->pid, (unsigned long)mm->syscall_insn);
	}
	return mm->syscall_insn;
}

int mm_new(pid_t pid, const struct memmap *template, struct event_base *base, struct outbox *out,
	   struct mm_stats *stats, unsigned flags, struct mm **out_mm)
{
	struct mm *mm = calloc(1, sizeof(*mm));
	int err;

	if (!mm)
		return -ENOMEM;
	mm->refs = 1;
	mm->pid = pid;
	mm->sampled = sampled_mode;
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
	if (flags & MM_OPEN_LATER) {
		vma_source_defer(&mm->vmas, pid);
		pagemap_defer(&mm->pm, pid);
	} else {
		err = vma_source_open(&mm->vmas, pid);
		if (err)
			goto err_map;
		err = pagemap_open(&mm->pm, pid);
		if (err)
			goto err_vmas;
	}
	mm->state = MM_PENDING;
	mm->made_ns = mono_ns();
	if ((flags & MM_CPU_FROM_NOW) && (mm->cpu_base = cpu_ns(pid)) < 0)
		mm->cpu_base = 0;
	mm->due_ns = mm->made_ns + MM_ATTACH_DELAY_NS;
	mm->retry_ev = evtimer_new(base, uffd_retry_cb, mm);
	mm->due_ev = evtimer_new(base, due_cb, mm);
	if (!mm->retry_ev || !mm->due_ev) {
		err = -ENOMEM;
		goto err_pm;
	}
	mm->heat = heat_mm_new(mm); /* heat hook */
	log_debug("pid %d: new mm (PROCMAP_QUERY %s, PAGEMAP_SCAN %s%s)", pid,
		  mm->vmas.use_query ? "yes" : "no", mm->pm.use_scan ? "yes" : "no",
		  flags & MM_OPEN_LATER ? ", opened at its first read" : "");
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

void mm_close_uffd(struct mm *mm)
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
	mm_close_uffd(mm);
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
	mm_drop_final(mm);
	free(mm);
}

/* ---- resynchronisation from the kernel ---- */

void mm_set_sampled(bool sampled)
{
	sampled_mode = sampled;
}

void mm_set_injecting(bool inject)
{
	injecting = inject;
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
	if (mm->sampled)
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

/*
 * The present pages of a wide resync, read before its mappings (prefetch()):
 * runs of the whole range, in address order, handed out piece by piece.
 */
struct prefetch {
	bool valid;
	struct run_vec runs;
	size_t next; /* index of the first run that may reach the next piece */
};

/* The runs of pf inside [s, e), clipped, into *out. Pieces come in address
 * order and are disjoint, but one run may span two adjacent ones. */
static int prefetch_take(struct prefetch *pf, uint64_t s, uint64_t e, struct run_vec *out)
{
	const uint64_t *v = pf->runs.v;

	while (pf->next < pf->runs.n && v[pf->next + 1] <= s)
		pf->next += 3;
	for (size_t i = pf->next; i < pf->runs.n && v[i] < e; i += 3) {
		int err =
		    run_push3(out, v[i] > s ? v[i] : s, v[i + 1] < e ? v[i + 1] : e, v[i + 2]);

		if (err)
			return err;
	}
	return 0;
}

/* One resync's walk (mm_resync, mm_apply_final). */
struct resync_ctx {
	struct mm *mm;
	uint64_t start, end;
	uint64_t cursor;
	struct prefetch pf;
	/* The pieces it registered with the userfaultfd, (start, end, 0)
	 * triples in address order, to confirm afterwards (confirm()). */
	struct run_vec registered;
};

/*
 * Tracks [s, e), a piece of one private anonymous VMA as the walk just read
 * it: registers it (exact mode), reads its page states, records both. The
 * piece may have changed since it was read: another thread of the process
 * may have unmapped part of it, and UFFDIO_REGISTER still succeeds over a
 * range whose head or tail has gone, with no UFFD_EVENT_UNMAP for what went
 * before the registration. So every piece registered is listed, and the
 * resync confirms them against a second read of the layout (confirm()).
 */
static void track_piece(struct resync_ctx *rc, uint64_t s, uint64_t e)
{
	struct mm *mm = rc->mm;
	struct prefetch *pf = &rc->pf;
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
		/* Out of memory: this piece goes unconfirmed, as it did before
		 * pieces were confirmed at all. */
		(void)run_push3(&rc->registered, s, e, 0);
	} else if (mm->state == MM_FAILED) {
		goto untracked;
	}
	/* Pending or sampled: no registration, the scan alone is the truth. */

	err = pf->valid ? prefetch_take(pf, s, e, &runs) : read_states(mm, s, e, &runs);
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

void mm_touched(struct mm *mm, pid_t tid, uint64_t page, const char *comm)
{
	memmap_update(mm->map, page, page + PAGE, MEVI_STATE_RESIDENT);
	if (mm->bt)
		backtrace_fault(mm->bt, tid, page, comm); /* state, then touch by tid */
	else
		outbox_state(mm->out, mm->pid, page, page + PAGE, MEVI_STATE_RESIDENT);
}

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

/*
 * A resync this wide (the reconcile pass, the full read of a new image, the
 * last read of a process at its exit) spans many mappings: one PAGEMAP_SCAN
 * of all of it, before the mappings are read, costs less than one per
 * mapping (a Chromium process has a thousand; reconciling its processes took
 * 55 ms; for the 22 of /bin/true's last read, 25 us of 180 us). Only
 * without a userfaultfd, which must register a range before it is read (a
 * page faulted in between would be neither served nor read); the eBPF
 * engine records every fault, so one in between comes as a record, and a
 * pending or sampled address space is read as a snapshot anyway.
 */
#define PREFETCH_MIN (UINT64_C(1) << 30)

static void prefetch(struct resync_ctx *rc)
{
	struct mm *mm = rc->mm;

	if (mm->uffd >= 0 || mm->state == MM_FAILED || rc->end - rc->start < PREFETCH_MIN)
		return;
	rc->pf.valid = read_states(mm, rc->start, rc->end, &rc->pf.runs) == 0;
}

/* One VMA of a resync: tracked (private anonymous, or anything in sampled
 * mode) or a gap. */
static int resync_vma(const struct vma_desc *d, void *arg)
{
	struct resync_ctx *rc = arg;
	uint64_t s = d->start > rc->start ? d->start : rc->start;
	uint64_t e = d->end < rc->end ? d->end : rc->end;

	if (s >= e || !(rc->mm->sampled || d->private_anon))
		return 0;
	drop_gap(rc->mm, rc->cursor, s);
	track_piece(rc, s, e);
	heat_mm_vma(rc->mm->heat, d, s, e); /* heat hook */
	annotate(rc->mm, d, s, e);
	rc->cursor = e;
	return 0;
}

/* A resync of [start, end) begins: false when the range is empty. */
static bool resync_begin(struct resync_ctx *rc, struct mm *mm, uint64_t start, uint64_t end)
{
	start = PAGE_DOWN(start);
	end = PAGE_UP(end);
	if (end > MEVI_ADDR_LIMIT)
		end = MEVI_ADDR_LIMIT;
	if (start >= end)
		return false;
	*rc = (struct resync_ctx){.mm = mm, .start = start, .cursor = start, .end = end};
	prefetch(rc);
	return true;
}

/* A resync's end, after its walk returned err. */
static int resync_end(struct resync_ctx *rc, int err)
{
	rc->mm->stats->resyncs++;
	free(rc->pf.runs.v);
	rc->pf.runs.v = NULL;
	free(rc->registered.v);
	rc->registered = (struct run_vec){0};
	if (err) {
		if (err != -ESRCH)
			log_warn("pid %d: reading mappings: %s", rc->mm->pid, strerror(-err));
		return err;
	}
	drop_gap(rc->mm, rc->cursor, rc->end);
	return 0;
}

/* The registered pieces of a resync that the layout no longer holds as
 * they were read: their hull, [lo, hi). */
struct confirm_ctx {
	int uffd;
	const struct run_vec *registered;
	size_t idx;
	uint64_t lo, hi;
};

/* A piece the layout no longer holds as it was read is let go, for the walk
 * that reads it again to register what is there now: what was mapped over it
 * before its registration (a shared mapping) would else stay registered. */
static void unconfirmed(struct confirm_ctx *c, uint64_t s, uint64_t e)
{
	struct uffdio_range r = {.start = s, .len = e - s};

	(void)ioctl(c->uffd, UFFDIO_UNREGISTER, &r); /* what is left of it, if anything */
	if (c->lo >= c->hi || s < c->lo)
		c->lo = s;
	if (e > c->hi)
		c->hi = e;
}

/* A piece is confirmed when one private anonymous VMA still holds all of it
 * (a piece is never wider than the VMA it was read from). */
static int confirm_cb(const struct vma_desc *d, void *arg)
{
	struct confirm_ctx *c = arg;
	const uint64_t *v = c->registered->v;

	for (; c->idx < c->registered->n && v[c->idx] < d->end; c->idx += 3)
		if (!d->private_anon || v[c->idx] < d->start || v[c->idx + 1] > d->end)
			unconfirmed(c, v[c->idx], v[c->idx + 1]);
	return c->idx < c->registered->n ? 0 : 1;
}

/*
 * Reads the layout again, after a walk registered pieces (track_piece), and
 * gives the hull of those it no longer holds as they were, or an empty
 * range. What changes after a registration comes as a userfaultfd event, so
 * a piece confirmed here is right; one that is not is read again. The
 * second read is of the whole space when the walk's was (one read of the
 * maps' text), else of the registered span (one query per VMA in it).
 * Returns 0 or -errno.
 */
static int confirm(struct resync_ctx *rc, uint64_t *lo, uint64_t *hi)
{
	const struct run_vec *reg = &rc->registered;
	struct confirm_ctx c = {.uffd = rc->mm->uffd, .registered = reg};
	bool whole = rc->start == 0 && rc->end >= MEVI_ADDR_LIMIT;
	int err = 0;

	if (reg->n)
		err = vma_each(&rc->mm->vmas, whole ? 0 : reg->v[0],
			       whole ? MEVI_ADDR_LIMIT : reg->v[reg->n - 2], confirm_cb, &c);
	if (err < 0)
		return err;
	for (; c.idx < reg->n; c.idx += 3)
		unconfirmed(&c, reg->v[c.idx], reg->v[c.idx + 1]);
	*lo = c.lo;
	*hi = c.hi;
	return 0;
}

/* Walks a resync whose pieces keep changing under it gives up after this
 * many, leaving the last walk's reading (logged, counted). */
#define RESYNC_WALKS 4

int mm_resync(struct mm *mm, uint64_t start, uint64_t end)
{
	for (int walk = 1;; walk++) {
		struct resync_ctx rc;
		uint64_t lo = 0, hi = 0;
		int err;

		if (!resync_begin(&rc, mm, start, end))
			return 0;
		err = vma_each(&mm->vmas, rc.start, rc.end, resync_vma, &rc);
		if (!err)
			err = confirm(&rc, &lo, &hi);
		err = resync_end(&rc, err);
		if (err || lo >= hi)
			return err;
		mm->stats->raced++;
		if (walk == RESYNC_WALKS) {
			log_debug("pid %d: [%#lx, %#lx) keeps changing under its resync", mm->pid,
				  (unsigned long)lo, (unsigned long)hi);
			return 0;
		}
		start = lo;
		end = hi;
	}
}

/* A last read between mm_read_final() and mm_apply_final(). */
struct mm_final {
	struct resync_ctx rc;
	int err; /* the reads' */
};

int mm_read_final(struct mm *mm)
{
	struct mm_final *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	mm_drop_final(mm);
	resync_begin(&f->rc, mm, 0, MEVI_ADDR_LIMIT);
	if (!f->rc.pf.valid) {
		/* No scan of everything (a userfaultfd, or it failed): the
		 * states would be read per mapping, after the process is gone. */
		free(f->rc.pf.runs.v);
		free(f);
		return -ENODATA;
	}
	f->err = vma_hold_text(&mm->vmas);
	mm->final = f;
	return 0;
}

int mm_apply_final(struct mm *mm)
{
	struct mm_final *f = mm->final;
	int err;

	if (!f)
		return -EINVAL;
	mm->final = NULL;
	err = f->err ? f->err : vma_each_held(&mm->vmas, resync_vma, &f->rc);
	err = resync_end(&f->rc, err);
	free(f);
	return err;
}

void mm_drop_final(struct mm *mm)
{
	if (!mm->final)
		return;
	free(mm->final->rc.pf.runs.v);
	free(mm->final);
	mm->final = NULL;
}

char *mm_layout_text(const struct mm *mm)
{
	return vma_copy_text(&mm->vmas);
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
	if (vma_each(&mm->vmas, addr, addr + PAGE, vma_end_cb, &end) < 0)
		return;
	if (memmap_lookup(mm->map, addr, &r) && r.end > end)
		end = r.end;
	mm_resync(mm, addr, end);
}

struct heap_end {
	uint64_t start, end;
};

static int heap_end_cb(const struct vma_desc *d, void *arg)
{
	struct heap_end *h = arg;

	if (d->kind == MEVI_KIND_HEAP && d->start <= h->start && d->end > h->start)
		h->end = d->end;
	return 1;
}

int mm_read_brk(struct mm *mm, uint64_t *brk)
{
	unsigned long long start_brk = 0;
	struct heap_end h = {0};
	int err = procfs_stat_field(mm->pid, 47, &start_brk, NULL, 0);

	if (err)
		return err;
	if (!start_brk)
		return -ENOENT; /* not ours to read (no ptrace access), or no brk */
	h.start = PAGE_UP(start_brk);
	err = vma_each(&mm->vmas, h.start, h.start + PAGE, heap_end_cb, &h);
	if (err < 0)
		return err;
	*brk = h.end ? h.end : h.start;
	return 0;
}

/* What munmap(addr, len) unmaps (or a mmap of len that returned addr maps):
 * false when the kernel refuses it (EINVAL, nothing unmapped). */
static bool unmap_range(uint64_t addr, uint64_t len, uint64_t *end)
{
	*end = addr + PAGE_UP(len);
	return !(addr % PAGE || len == 0 || *end <= addr || *end > MEVI_ADDR_LIMIT);
}

void mm_unmapped(struct mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t end;

	if (unmap_range(addr, len, &end))
		drop_gap(mm, addr, end);
}

void mm_mapped(struct mm *mm, uint64_t addr, uint64_t len)
{
	struct vma_desc d = {.kind = MEVI_KIND_ANON, .private_anon = true, .name = ""};
	struct run_vec none = {0};

	if (!unmap_range(addr, len, &d.end))
		return;
	d.start = addr;
	drop_gap(mm, d.start, d.end);
	apply_states(mm, d.start, d.end, &none);
	annotate(mm, &d, d.start, d.end);
}

void mm_exec_stack(struct mm *mm, uint64_t start, uint64_t end, uint64_t written)
{
	struct vma_desc d = {
	    .start = start, .end = end, .kind = MEVI_KIND_STACK, .private_anon = true, .name = ""};
	struct run_vec runs = {0};

	if (start % PAGE || end % PAGE || start >= end || end > MEVI_ADDR_LIMIT ||
	    written < start || written >= end ||
	    run_push3(&runs, PAGE_DOWN(written), end, MEVI_STATE_RESIDENT))
		return;
	drop_gap(mm, start, end);
	apply_states(mm, start, end, &runs);
	annotate(mm, &d, start, end);
	free(runs.v);
}

void mm_unmap_now(struct mm *mm, uint64_t addr, uint64_t len)
{
	uint64_t end;

	if (!unmap_range(addr, len, &end))
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

/*
 * Whether the address space's size differs from the map's (size_checked).
 * The ptrace engine's sampled mode lets a shared library's mmaps run without
 * a stop (syscalls.h); the first of an image's adds its size, so a dlopen()
 * is read at the next tick. Every other change of size stops (mmap, munmap,
 * mremap, brk, shmat, shmdt) or is a stack's growth, read here too; one whose
 * exit stop is still to come reads the layout once more than needed.
 */
static bool size_changed(struct mm *mm)
{
	uint64_t bytes;

	if (!mm->size_checked || vma_total(&mm->vmas, &bytes) || bytes == memmap_vsz(mm->map))
		return false;
	log_debug("pid %d: %" PRIu64 " KiB mapped, %" PRIu64 " KiB known: layout read again",
		  mm->pid, bytes >> 10, memmap_vsz(mm->map) >> 10);
	return true;
}

void mm_sample(struct mm *mm)
{
	struct run_vec ranges = {0};
	size_t i = 0;

	if (mm->state != MM_SAMPLED)
		return; /* pending: read at its first stop or when due */
	if (mm->layout_stale || size_changed(mm)) {
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

/* ---- attach ---- */

int mm_attach(struct mm *mm, pid_t pid, pid_t tid, uint64_t insn, int *death_status)
{
	int fd;

	if (mm->state == MM_PENDING && mm->sampled) {
		start_sampling(mm);
		return 0;
	}
	if (mm->state != MM_PENDING)
		return 0;
	if (!insn)
		insn = mm_syscall_insn(mm);
	if (!insn)
		return 0;
	fd = uffd_inject(mm, pid, tid, insn, heat_uffd_features(mm->heat) /* heat hook */,
			 death_status);
	if (fd == -ESRCH)
		return fd;
	if (fd == -ECANCELED) {
		mm_give_up(mm, NULL); /* the program's own filters forbid it: said */
		return 0;
	}
	if (fd < 0)
		goto fail;
	mm->uffd = fd;
	mm->uffd_ev = event_new(mm->base, mm->uffd, EV_READ | EV_PERSIST, uffd_serve_cb, mm);
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
}

static int collect_cb(const struct memmap_range *r, void *arg)
{
	return run_push3(arg, r->start, r->end, r->state);
}

void mm_release(struct mm *mm)
{
	heat_mm_release(mm->heat); /* heat hook */
	mm_close_uffd(mm);
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
	mm_close_uffd(mm);
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
