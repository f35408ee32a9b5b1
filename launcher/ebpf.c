/*
 * ebpf — the user-space half of mevi-run's eBPF engine: loads
 * launcher/bpf/mevi.bpf.c, drains its ring buffer into the processes' maps and
 * events, reconciles with the kernel; without MEVI_HAVE_EBPF, stubs that
 * refuse (contract: ebpf.h).
 */
#include "ebpf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "backtrace.h"
#include "event.h"
#include "log.h"
#include "memmap.h"
#include "mm.h"
#include "monotime.h"
#include "outbox.h"
#include "pace.h"
#include "parse.h"
#include "procfs.h"
#include "spawn.h"
#include "syscalls.h"
#include "unwind.h"

#ifdef MEVI_HAVE_EBPF

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>

#include "bpf/mevi_bpf.h"
#include "bpfskel.h"
#include "stock.h"
#include "mevi.lskel.h"
#include "tracepoint.h"

#define PAGE	     MEVI_PAGE_SIZE
#define PAGE_UP(x)   (((x) + PAGE - 1) & ~(PAGE - 1))
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))
#define HUGE	     (UINT64_C(2) << 20)
#define NBUCKETS     1024
#define MAX_EXITED   4096
#define DRAIN_MS     4
/* While the ring stays empty the drain's period doubles up to this: an idle
 * program's tracker wakes ~16 times a second, not 250 (each wake-up is a
 * context switch, maybe on the CPU the program runs on). Records, or work
 * left (young address spaces, re-checks), bring it back to DRAIN_MS; the
 * kernel still wakes the tracker when the ring fills to its mark, and at
 * PROGRAM's exec and end. Not with MEVI_BPF_DRAIN_MS (a fixed period). */
#define DRAIN_IDLE_MS 64
/* A drain from the timers stops after this much work and goes on at once,
 * from the loop: under a flood of records (a thread storm's mmaps, each a
 * re-read under a contended mmap_lock) the loop still keeps its timers
 * (flush to mevid, --detach-after) and signals. */
#define DRAIN_BUDGET_NS (20 * 1000000ull)
/* What a detach shows of the records still in the ring; the rest go. */
#define DETACH_BUDGET_NS (100 * 1000000ull)
/* The last drain, once the loop is over: every tracked process is gone (or
 * let go), so the ring only holds what they left; this bounds it anyway. */
#define FINAL_BUDGET_NS (1000 * 1000000ull)
#define RECONCILE_MS	1000
/* Past this many re-reads asked for in one drain, each process they name is
 * re-read whole once instead. */
#define RECHECK_MAX   256
#define RINGBUF_BYTES BPFSKEL_RINGBUF_BYTES
/* Processes tracked at once. The hash's buckets are made at load: 65536 of
 * them cost 1.5-2.8 ms of every start-up here, 8192 0.1-0.5 ms. */
#define TRACKED_MAX BPFSKEL_TRACKED_MAX

/* One process of the traced tree. */
/* Layout changes remembered per process (struct eproc's changes). */
#define NCHANGES 32

struct eproc {
	pid_t pid, ppid;
	bool alive;
	int status;    /* exit status once !alive */
	char *cmdline; /* NUL-separated, as /proc/PID/cmdline */
	size_t cmdline_len;
	struct mm *mm;		  /* NULL before the first exec of the launched program */
	uint64_t seq;		  /* the newest layout record applied (see mevi_bpf.h) */
	uint64_t fork_layout_seq; /* seq + 1 when its layout was kept at a fork, else 0 */
	uint64_t young_due;	  /* != 0: mm not read yet; read it at this CLOCK_MONOTONIC ns */
	uint64_t read_seq;	  /* the kernel's seq just before the last full read (full_read) */
	uint64_t read_end_seq;	  /* and just after it */
	struct memmap *replayed;  /* mapped from records older than that read (replay_old) */
	/* Faults the map cannot place: ranges known not to be tracked (file,
	 * shared), and 2 MiB blocks already re-read for a huge page. Both are
	 * forgotten where a layout record says the layout changed. */
	struct memmap *untracked;
	struct memmap *huge_seen;
	struct memmap *thp; /* ranges given MADV_HUGEPAGE */
	uint64_t brk_end;
	bool exec_young; /* young_due comes from an exec (the loader runs) */
	/* A fork child gone before its fork record was read has no mm (its
	 * /proc files are gone), but its stack copies are in the records:
	 * they are unwound against its parent's layout, as a live child's
	 * would be (both NULL otherwise). */
	struct memmap *ghost_map;
	struct backtrace_mm *ghost_bt;
	/* What its last layout records changed, by sequence, the oldest
	 * overwritten (nchanges counts them all since its exec): a fault
	 * record older than the newest layout record still holds when none
	 * of the changes since touched its pages (overtaken()). */
	struct change {
		uint64_t seq;
		uint64_t s[2], e[2]; /* one or two ranges (mremap's) */
	} changes[NCHANGES];
	uint64_t nchanges;
	struct eproc *hnext, *next;
};

/* A range to re-read at the end of the drain; s == e: the mapping at s. */
struct recheck {
	pid_t pid;
	uint64_t s, e;
};

/* The syscalls:sys_exit_* tracepoints of the layout syscalls (each runs
 * bpf/mevi.bpf.c's sys_exit_layout). */
#define NSYS_EXITS BPFSKEL_NSYS_EXITS

/* A range a reconcile pass changed. fault_ok: it became resident, which a
 * fault record can explain; otherwise only a layout record can. */
struct suspect {
	pid_t pid;
	bool fault_ok;
	uint64_t s, e;
};

struct ebpf {
	struct ebpf_config cfg;
	struct mevi_bpf *skel;
	struct mevi_stock_config sc;  /* what skel was opened with */
	int stock_fd;		      /* the question to mevid's stock, answer pending; or -1 */
	int sys_exit_fds[NSYS_EXITS]; /* perf events of the syscalls:sys_exit_* programs */
	int sys_exit_ids[NSYS_EXITS]; /* their tracepoints' ids, when mevid said them */
	bool have_sys_exit_ids;
	struct ring_buffer *rb;
	/* The runs of first touches open on each CPU (mevi_bpf.h), mapped
	 * read-only; NULL in sampled mode or when they cannot be mapped. */
	const struct mevi_bpf_run *runs;
	size_t nruns;
	struct event *rb_ev, *drain_ev, *reconcile_ev, *sample_ev;
	struct event *more_ev; /* a drain cut short goes on from here (drain()) */
	struct eproc *procs[NBUCKETS];
	struct eproc *first, *last;
	size_t nalive, nexited;
	pid_t main_pid;
	int main_status;
	bool main_reaped, done;
	bool detached;	     /* ebpf_detach(): nothing is tracked, records are ignored */
	uint64_t budget_end; /* consume(): stop on_record after this (0: never) */
	bool cut;	     /* consume() stopped at budget_end, records remain */
	uint64_t sample_ticks;
	bool thp_always; /* THP "always": any anonymous VMA may fill 2 MiB at once */
	uint64_t seen_drops;
	unsigned drain_ms;	/* DRAIN_MS, or MEVI_BPF_DRAIN_MS (then no wake-ups) */
	bool drain_fixed;	/* MEVI_BPF_DRAIN_MS: drain_ms, never paced */
	struct pace drain_pace; /* drain_ev's period: DRAIN_MS to DRAIN_IDLE_MS */
	struct recheck *rc;
	size_t nrc, rc_cap;
	pid_t *young; /* processes whose young_due is set */
	size_t nyoung, young_cap;
	/* Reconcile: what the last pass changed, until a record explains it. */
	struct suspect *sus;
	size_t nsus, sus_cap;
	struct mm_stats mm_stats;
	struct ebpf_stats st;
	struct backtrace *bt; /* NULL: backtraces off */
};

static bool sampled(const struct ebpf *e)
{
	return e->cfg.sample_ms != 0;
}

/* The tracked set (map `tracked`): tgids the kernel programs report on. */
static int tracked_fd(const struct ebpf *e)
{
	return e->skel->maps.tracked.map_fd;
}

/* ---- processes ---- */

static struct eproc *proc_find(struct ebpf *e, pid_t pid)
{
	for (struct eproc *p = e->procs[(unsigned)pid % NBUCKETS]; p; p = p->hnext)
		if (p->pid == pid && p->alive)
			return p;
	return NULL;
}

static void proc_unhash(struct ebpf *e, struct eproc *p)
{
	struct eproc **pp = &e->procs[(unsigned)p->pid % NBUCKETS];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
}

static struct eproc *proc_add(struct ebpf *e, pid_t pid, pid_t ppid)
{
	struct eproc *p = calloc(1, sizeof(*p));

	MEVI_ASSERT(p);
	p->pid = pid;
	p->ppid = ppid;
	p->alive = true;
	p->status = -1;
	p->hnext = e->procs[(unsigned)pid % NBUCKETS];
	e->procs[(unsigned)pid % NBUCKETS] = p;
	if (e->last)
		e->last->next = p;
	else
		e->first = p;
	e->last = p;
	e->nalive++;
	return p;
}

static void ghost_free(struct eproc *p)
{
	backtrace_mm_free(p->ghost_bt); /* before the map it points to */
	memmap_free(p->ghost_map);
	p->ghost_bt = NULL;
	p->ghost_map = NULL;
}

static void proc_free(struct eproc *p)
{
	ghost_free(p);
	memmap_free(p->untracked);
	memmap_free(p->huge_seen);
	memmap_free(p->thp);
	memmap_free(p->replayed);
	mm_put(p->mm);
	free(p->cmdline);
	free(p);
}

/* Forgets the oldest exited processes once too many are remembered. */
static void trim_exited(struct ebpf *e)
{
	struct eproc **pp = &e->first, *prev = NULL;

	while (*pp && e->nexited > MAX_EXITED) {
		struct eproc *p = *pp;

		if (p->alive) {
			prev = p;
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (e->last == p)
			e->last = prev;
		proc_free(p);
		e->nexited--;
	}
}

/* Gives p a copy of the command line buf[0..len) (a fork child's, its parent's). */
static void set_cmdline(struct eproc *p, const char *buf, size_t len)
{
	char *c = malloc(len ? len : 1);

	MEVI_ASSERT(c);
	memcpy(c, buf, len);
	free(p->cmdline);
	p->cmdline = c;
	p->cmdline_len = len;
}

/* Reads /proc/PID/cmdline into p; keeps the old one if it cannot be read. */
static void read_cmdline(struct eproc *p)
{
	procfs_cmdline_refresh(p->pid, &p->cmdline, &p->cmdline_len);
}

static void emit_cmdline(struct ebpf *e, struct eproc *p, uint8_t type, uint32_t flags)
{
	outbox_proc(e->cfg.out, type, p->pid, p->ppid, flags, p->cmdline, p->cmdline_len);
}

static void emit_exit(struct ebpf *e, struct eproc *p)
{
	struct mevi_event ev = {.type = MEVI_EV_PROC_EXIT, .pid = p->pid};

	ev.proc_exit.status = p->status;
	outbox_emit(e->cfg.out, &ev);
}

void ebpf_emit_engine(struct ebpf *e)
{
	struct mevi_event ev = {.type = MEVI_EV_ENGINE, .pid = e->cfg.self};

	ev.engine.name = (struct mevi_str){"ebpf", 4};
	ev.engine.corrections = e->st.corrections;
	ev.engine.drops = e->st.drops;
	outbox_emit(e->cfg.out, &ev);
}

static void settle_suspects(struct ebpf *e);

static void check_done(struct ebpf *e)
{
	if (!e->done && e->main_reaped && e->nalive == 0) {
		e->done = true;
		settle_suspects(e);
		if (e->cfg.on_done)
			e->cfg.on_done(e->cfg.ctx);
	}
}

static void proc_exited(struct ebpf *e, struct eproc *p, int status)
{
	p->status = status;
	p->alive = false;
	proc_unhash(e, p);
	e->nalive--;
	e->nexited++;
	emit_exit(e, p);
	mm_put(p->mm);
	p->mm = NULL;
	ghost_free(p);
	/* Trimmed at the end of the drain, not here: callers walk the list. */
}

static void on_due_noop(struct mm *mm, void *ctx)
{
}

/* pid's tracked-set entry now (its layout sequence, its count of executable
 * file mappings): false when it has none (it has exited, and the pid may be
 * another's by now). */
static bool kernel_entry(const struct ebpf *e, pid_t pid, struct mevi_bpf_proc *v)
{
	__u32 key = (__u32)pid;

	return bpf_map_lookup_elem(tracked_fd(e), &key, v) == 0;
}

/* After a read of mm's whole address space: the text it read becomes the
 * layout its stacks unwind against once it is gone (no second read). */
static void keep_layout(struct mm *mm)
{
	char *text;

	if (mm->bt && (text = mm_layout_text(mm)))
		backtrace_mm_set_layout(mm->bt, text);
}

/*
 * Reads p's address space in full. The kernel's sequence is taken first: a
 * layout record numbered up to it is for a change made before the read, which
 * the read holds, so it is not applied again when it is read from the ring
 * afterwards (replay_old: records still in the ring when a read is made, in
 * the middle of a drain or just after one). Applied again, a process's last
 * mmap, re-made from its record once the process had gone, replaced the
 * mapping the read had found, touches and all. A pid no longer in the
 * tracked set is not read: its process has exited, and an address space
 * opened at its first read (MM_OPEN_LATER) would be whoever has the pid now.
 * The sequence is taken again after the read (read_end_seq): a change
 * numbered between the two may or may not be in what the read found, since
 * a syscall's effect is visible before its exit record takes its number.
 */
static void full_read(struct ebpf *e, struct eproc *p)
{
	struct mevi_bpf_proc v;

	if (!kernel_entry(e, p->pid, &v))
		return;
	p->read_seq = v.seq;
	memmap_free(p->replayed); /* the read drops what it does not find */
	p->replayed = NULL;
	mm_resync(p->mm, 0, MEVI_ADDR_LIMIT);
	keep_layout(p->mm);
	p->read_end_seq = kernel_entry(e, p->pid, &v) ? v.seq : UINT64_MAX;
	e->st.resyncs++;
}

/*
 * A new address space for p, copied from template (a fork: its map and the
 * origins of its ranges) or empty (exec), then read in full from the kernel:
 * now, or with young, MM_ATTACH_DELAY_NS later. Most fork children exec at
 * once, and most exec'd images of a build or a shell script are gone in a
 * millisecond: reading each of them twice cost more than the program itself.
 * Until it is read, a young mm takes faults on what it knows (a fork child:
 * its parent's copy) and its mmaps and munmaps from their records
 * (young_syscall); its /proc files are not even opened (MM_OPEN_LATER: the
 * opens and closes were half the tracker's time under a loop of fork and
 * exec).
 */
static void proc_new_mm(struct ebpf *e, struct eproc *p, const struct mm *template, bool young)
{
	int err = mm_new(p->pid, template ? template->map : NULL, e->cfg.base, e->cfg.out,
			 &e->mm_stats, young ? MM_OPEN_LATER : 0, &p->mm);

	if (err) {
		if (err != -ESRCH && err != -ENOENT)
			log_warn("pid %d: cannot track its memory: %s", p->pid, strerror(-err));
		p->mm = NULL;
		return;
	}
	/* Origins carry over from the template (a fork's parent, or the
	 * process's own map re-read after lost records). */
	p->mm->bt = backtrace_mm_new(e->bt, p->pid, p->mm->map, template ? template->bt : NULL);
	p->fork_layout_seq = 0; /* a new backtrace state: its layout not kept at a fork yet */
	if (sampled(e))
		mm_set_on_due(p->mm, on_due_noop, NULL); /* becomes SAMPLED when due */
	if (young) {
		if (!p->young_due) {
			if (e->nyoung == e->young_cap) {
				size_t cap = e->young_cap ? e->young_cap * 2 : 64;
				pid_t *n = realloc(e->young, cap * sizeof(*n));

				MEVI_ASSERT(n);
				e->young = n;
				e->young_cap = cap;
			}
			e->young[e->nyoung++] = p->pid;
		}
		p->young_due = mono_ns() + MM_ATTACH_DELAY_NS;
		return;
	}
	p->young_due = 0;
	full_read(e, p);
}

/* Reads the young address spaces whose time has come (see proc_new_mm). */
static void run_young(struct ebpf *e)
{
	uint64_t now = mono_ns();
	size_t k = 0;

	for (size_t i = 0; i < e->nyoung; i++) {
		struct eproc *p = proc_find(e, e->young[i]);

		if (!p || !p->young_due)
			continue;
		if (now < p->young_due) {
			e->young[k++] = p->pid;
			continue;
		}
		p->young_due = 0;
		if (p->mm)
			full_read(e, p);
	}
	e->nyoung = k;
}

/* Reads the parent pid of pid from /proc. Returns it, or 1. */
static pid_t read_ppid(pid_t pid)
{
	char buf[4096];
	long ppid;

	if (procfs_status_read(pid, buf, sizeof(buf)) || !procfs_status_field(buf, "PPid", &ppid))
		return 1;
	return (pid_t)ppid;
}

/*
 * A record names a process we have no entry for: its fork record was lost
 * (the ring buffer was full). Learn it from /proc and read it in full.
 */
static struct eproc *proc_lazy(struct ebpf *e, pid_t pid)
{
	struct eproc *p = proc_find(e, pid);

	if (p)
		return p;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return NULL;
	p = proc_add(e, pid, read_ppid(pid));
	read_cmdline(p);
	emit_cmdline(e, p, MEVI_EV_PROC_START, 0);
	proc_new_mm(e, p, NULL, false);
	log_debug("pid %d: learnt from /proc (a record was lost)", pid);
	return p;
}

/* ---- records ---- */

static void recheck_push(struct ebpf *e, pid_t pid, uint64_t s, uint64_t end)
{
	if (e->nrc && e->rc[e->nrc - 1].pid == pid && e->rc[e->nrc - 1].s == s &&
	    e->rc[e->nrc - 1].e == end)
		return;
	if (e->nrc == e->rc_cap) {
		size_t cap = e->rc_cap ? e->rc_cap * 2 : 64;
		struct recheck *n = realloc(e->rc, cap * sizeof(*n));

		MEVI_ASSERT(n);
		e->rc = n;
		e->rc_cap = cap;
	}
	e->rc[e->nrc++] = (struct recheck){pid, s, end};
}

/*
 * Sampled mode's heap changes: [s, end) is re-read at the end of the drain,
 * with the one before it when that one is pid's and they overlap or touch.
 * A heap that grows and shrinks a page at a time (malloc's top chunk) made
 * one re-read per brk: 611 of them in a 0.16 s malloc churn, most of the
 * tracker's CPU there, each under the program's mmap_lock. Nothing is lost
 * by waiting: no fault record is applied in sampled mode, the reconcile
 * pass compares nothing there, and the sampler drains before it scans.
 */
static void recheck_merge(struct ebpf *e, pid_t pid, uint64_t s, uint64_t end)
{
	struct recheck *last = e->nrc ? &e->rc[e->nrc - 1] : NULL;

	if (last && last->pid == pid && last->s != last->e && s <= last->e && last->s <= end) {
		last->s = s < last->s ? s : last->s;
		last->e = end > last->e ? end : last->e;
		return;
	}
	recheck_push(e, pid, s, end);
}

/* Whether [s, e) and [cs, ce) share a page. */
static bool overlaps(uint64_t s, uint64_t e, uint64_t cs, uint64_t ce)
{
	return cs < e && s < ce;
}

/*
 * A record of pid covering [s, end) arrived: what the last reconcile pass
 * changed there was not a correction but the record's own effect, seen
 * before the record (a syscall still running, or not yet drained).
 */
static void explain(struct ebpf *e, pid_t pid, uint64_t s, uint64_t end, bool fault)
{
	for (size_t i = 0; i < e->nsus;) {
		struct suspect *u = &e->sus[i];

		if (u->pid == pid && overlaps(s, end, u->s, u->e) && (!fault || u->fault_ok))
			*u = e->sus[--e->nsus];
		else
			i++;
	}
}

#define late_range(e, pid, s, end) explain(e, pid, PAGE_DOWN(s), PAGE_UP(end), false)

static int first_vma_cb(const struct vma_desc *d, void *arg)
{
	*(struct vma_desc *)arg = *d;
	return 1;
}

/* A layout record of p covers [s, end): forget what the fault caches said
 * there (whole 2 MiB blocks for huge_seen). */
static void forget_caches(struct eproc *p, uint64_t s, uint64_t end)
{
	s = PAGE_DOWN(s);
	end = PAGE_UP(end);
	if (end > MEVI_ADDR_LIMIT)
		end = MEVI_ADDR_LIMIT;
	if (s >= end)
		return;
	if (p->untracked)
		memmap_remove(p->untracked, s, end);
	if (p->huge_seen)
		memmap_remove(p->huge_seen, s & ~(HUGE - 1),
			      end + HUGE - 1 < end ? end : (end + HUGE - 1) & ~(HUGE - 1));
}

static void resident(struct ebpf *e, struct mm *mm, const struct mevi_bpf_fault *r, uint64_t page)
{
	char comm[sizeof(r->comm) + 1];

	memcpy(comm, r->comm, sizeof(r->comm));
	comm[sizeof(r->comm)] = '\0';
	mm_touched(mm, (pid_t)r->h.tid, page, comm);
	e->st.faults++;
}

/* One page of a fault record (on_fault); a stale one is re-read, not applied. */
static void fault_page(struct ebpf *e, struct eproc *p, const struct mevi_bpf_fault *r,
		       uint64_t page, bool stale)
{
	struct mm *mm = p->mm;
	struct memmap_range mr;

	if (p->untracked && memmap_lookup(p->untracked, page, NULL))
		return; /* a file or shared mapping (exact mode tracks neither) */
	if (e->thp_always || (p->thp && memmap_lookup(p->thp, page, NULL))) {
		/* A huge page may fill the whole aligned 2 MiB: read it once
		 * the fault is surely over (after this drain). */
		uint64_t b = page & ~(HUGE - 1);

		if (!p->huge_seen)
			p->huge_seen = memmap_new();
		if (p->huge_seen && !memmap_lookup(p->huge_seen, page, NULL)) {
			memmap_set(p->huge_seen, b, b + HUGE, MEVI_STATE_UNTRACKED);
			recheck_push(e, mm->pid, b, b + HUGE);
		}
	}
	if (stale)
		return;
	if (!memmap_lookup(mm->map, page, &mr)) {
		struct vma_desc d = {0};

		/* Not private anonymous (remembered, so that its next faults
		 * cost a lookup), or the stack grew, or a mapping not seen yet. */
		if (!sampled(e) && vma_each(&mm->vmas, page, page + PAGE, first_vma_cb, &d) >= 0 &&
		    d.end > d.start && !d.private_anon && d.start <= page) {
			if (!p->untracked)
				p->untracked = memmap_new();
			if (p->untracked)
				memmap_set(p->untracked, d.start, d.end, MEVI_STATE_UNTRACKED);
			return;
		}
		recheck_push(e, mm->pid, page, page);
		return;
	}
	if (mr.state != MEVI_STATE_NOT_RESIDENT)
		return;
	resident(e, mm, r, page);
}

/* Notes the ranges a layout record of p changes (on_syscall). */
static void note_change(struct eproc *p, uint64_t seq, uint64_t s0, uint64_t e0, uint64_t s1,
			uint64_t e1)
{
	struct change *c = &p->changes[p->nchanges++ % NCHANGES];

	*c = (struct change){seq, {s0, s1}, {e0, e1}};
}

/*
 * Whether fault records of [s, end) made at layout sequence seq were
 * overtaken: a layout record newer than seq (another thread's, on another
 * CPU, read first) may have changed their pages, which must then be read
 * from the kernel. They were not when every change from seq + 1 to the
 * newest is known and none touched [s, end): a run of one thread's faults
 * often spans another thread's unrelated mmap, and re-reading it loses
 * which thread touched the pages.
 */
static bool overtaken(const struct eproc *p, uint64_t seq, uint64_t s, uint64_t end)
{
	uint64_t need, found = 0;

	if (seq >= p->seq)
		return false;
	need = p->seq - seq;
	if (need > NCHANGES)
		return true;
	for (size_t i = 0; i < NCHANGES && i < p->nchanges; i++) {
		const struct change *c = &p->changes[i];

		if (c->seq <= seq || c->seq > p->seq)
			continue;
		if (overlaps(s, end, c->s[0], c->e[0]) || overlaps(s, end, c->s[1], c->e[1]))
			return true;
		found++;
	}
	return found != need;
}

/*
 * First touches of [addr's page, end): one page, or a run of them made by one
 * thread at one layout sequence (mevi_bpf.h).
 */
static void on_fault(struct ebpf *e, const struct mevi_bpf_fault *r)
{
	struct eproc *p = proc_find(e, (pid_t)r->h.pid);
	uint64_t start = PAGE_DOWN(r->addr), end = r->end;
	struct memmap_range mr;
	struct mm *mm;
	bool stale;

	if (!p || !p->mm)
		return;
	mm = p->mm;
	if (end <= start || end % PAGE || end - start > MEVI_BPF_RUN_PAGES * (uint64_t)PAGE)
		end = start + PAGE; /* not what the program makes: its first page only */
	if (e->nsus)
		explain(e, mm->pid, start, end, true);
	stale = overtaken(p, r->h.seq, start, end);
	if (p->young_due) {
		/* Not read yet: the full read comes; apply what the map knows. */
		for (uint64_t page = start; !stale && page < end; page += PAGE)
			if (memmap_lookup(mm->map, page, &mr) &&
			    mr.state == MEVI_STATE_NOT_RESIDENT)
				resident(e, mm, r, page);
		return;
	}
	for (uint64_t page = start; page < end; page += PAGE)
		fault_page(e, p, r, page, stale);
	if (stale) {
		/* A layout change on another CPU overtook these faults: their
		 * range may be gone or mapped anew. Ask the kernel. */
		e->st.stale++;
		recheck_push(e, mm->pid, start, end);
	}
}

static void on_fork(struct ebpf *e, const struct mevi_bpf_rec *r)
{
	struct eproc *pp = proc_lazy(e, (pid_t)r->h.pid), *c;
	pid_t child = (pid_t)r->nr;

	if (!pp)
		return;
	late_range(e, pp->pid, 0, MEVI_ADDR_LIMIT);
	if (r->h.flags & MEVI_BPF_F_THREAD) {
		/* The mapping the new thread's stack pointer is in is its stack. */
		if (pp->mm && r->ret)
			mm_note_thread_stack(pp->mm, (pid_t)r->aux, r->ret);
		return;
	}
	if (r->h.flags & MEVI_BPF_F_UNTRACKED) {
		/* Never in the kernel's set: no record will ever name it. */
		e->st.untracked++;
		if (e->st.untracked == 1)
			log_warn(
			    "pid %d (started by %d) and its children are not tracked: the eBPF "
			    "engine follows at most %u processes at once (MEVI_BPF_TRACKED)",
			    (int)child, (int)pp->pid, e->skel->maps.tracked.max_entries);
		else
			log_debug("pid %d (started by %d): not tracked either", (int)child,
				  (int)pp->pid);
		return;
	}
	if (proc_find(e, child))
		return; /* learnt already (proc_lazy) */
	c = proc_add(e, child, pp->pid);
	if (pp->cmdline)
		set_cmdline(c, pp->cmdline, pp->cmdline_len);
	emit_cmdline(e, c, MEVI_EV_PROC_START, pp->mm ? MEVI_PROC_INHERIT_MAP : 0);
	/* The child's own sequence starts at 0 in the kernel (a vfork child
	 * shares the mm, but its parent waits while it runs). */
	c->seq = 0;
	if (!pp->mm)
		return;
	if (r->h.flags & MEVI_BPF_F_SAMEVM) {
		/* vfork or CLONE_VM: the same address space until it execs. */
		mm_get(pp->mm);
		c->mm = pp->mm;
		return;
	}
	/* The child's copy is re-read: MADV_DONTFORK and MADV_WIPEONFORK ranges
	 * differ from the parent's, and faults raced with the fork. Its stacks
	 * unwind against its parent's layout, read now: a child that maps and
	 * exits at once is gone before its own can be read. A parent that forks
	 * again with no layout record since (a shell, make) keeps the text it
	 * has: each read holds off its next fork (mmap_lock). */
	if (pp->fork_layout_seq != pp->seq + 1) {
		backtrace_mm_save_layout(pp->mm->bt);
		pp->fork_layout_seq = pp->seq + 1;
	}
	proc_new_mm(e, c, pp->mm, true);
	if (!c->mm && pp->mm->bt) {
		c->ghost_map = memmap_clone(pp->mm->map);
		c->ghost_bt =
		    c->ghost_map ? backtrace_mm_new(e->bt, c->pid, c->ghost_map, pp->mm->bt) : NULL;
	}
}

/*
 * The command line an exec record carries: whole, it is the one; cut at
 * MEVI_BPF_ARGS_BYTES, /proc is read for the rest while the process lives,
 * else the cut one (marked with "...") beats the parent's it had.
 */
static void exec_cmdline(struct eproc *p, const struct mevi_bpf_exec *x)
{
	size_t len = x->len <= sizeof(x->args) ? x->len : sizeof(x->args);

	if (len && len == x->full && x->args[len - 1] == '\0') {
		set_cmdline(p, x->args, len);
		return;
	}
	if (procfs_cmdline_refresh(p->pid, &p->cmdline, &p->cmdline_len) == 0 || !len)
		return;
	char buf[sizeof(x->args) + 4];

	memcpy(buf, x->args, len);
	memcpy(buf + len, "...", 4); /* with its NUL */
	set_cmdline(p, buf, len + 4);
}

static void on_exec(struct ebpf *e, const struct mevi_bpf_exec *x)
{
	const struct mevi_bpf_rec *r = &x->rec;
	struct eproc *p = proc_find(e, (pid_t)r->h.pid);

	late_range(e, (pid_t)r->h.pid, 0, MEVI_ADDR_LIMIT);
	if (!p) {
		proc_lazy(e, (pid_t)r->h.pid); /* read in full, after the exec */
		return;
	}
	mm_put(p->mm);
	p->mm = NULL;
	p->brk_end = 0;
	p->nchanges = 0; /* a new layout: older faults are overtaken (by the exec) */
	memmap_free(p->untracked);
	memmap_free(p->huge_seen);
	memmap_free(p->thp);
	memmap_free(p->replayed);
	p->untracked = p->huge_seen = p->thp = p->replayed = NULL;
	p->seq = r->h.seq;
	exec_cmdline(p, x);
	emit_cmdline(e, p, MEVI_EV_PROC_EXEC, 0);
	proc_new_mm(e, p, NULL, true);
	p->exec_young = true;
	if (p->mm)
		mm_exec_stack(p->mm, r->arg[0], r->arg[1], r->arg[2]);
}

/*
 * PROGRAM has ended (its exit record, or the status the kernel program kept
 * for it when the record was lost): its exit, once, then the launcher is
 * told whether anything it started lives on.
 */
static void main_ended(struct ebpf *e, int status)
{
	struct eproc *p = proc_find(e, e->main_pid);

	if (e->main_reaped)
		return;
	e->main_reaped = true;
	e->main_status = status;
	if (p)
		proc_exited(e, p, status);
	if (e->cfg.on_main_exit)
		e->cfg.on_main_exit(e->cfg.ctx, e->nalive > 0);
}

static void on_proc_exit(struct ebpf *e, const struct mevi_bpf_rec *r)
{
	struct eproc *p = proc_find(e, (pid_t)r->h.pid);

	if (r->h.pid == (__u32)e->main_pid && e->main_pid > 0)
		main_ended(e, mevi_exit_status((int)r->nr));
	else if (p)
		proc_exited(e, p, mevi_exit_status((int)r->nr));
	check_done(e);
}

static int extent_cb(const struct memmap_range *r, void *arg)
{
	uint64_t *end = arg;

	if (r->start != *end)
		return 1;
	*end = r->end;
	return 0;
}

/* The end of the contiguous mapped span of map starting at addr (at least one
 * page past addr). */
static uint64_t map_extent(const struct memmap *map, uint64_t addr)
{
	uint64_t end = addr;

	memmap_walk_range(map, addr, MEVI_ADDR_LIMIT, extent_cb, &end);
	return end > addr ? end : addr + PAGE;
}

/*
 * The break a brk record left: the engine's, and the backtraces' when the
 * record came without a stack (the kernel program copies one only for a
 * break that moved up, and not in an exec'd image's young window); the next
 * growth's origin starts there. A record with a stack sets it as it is
 * unwound (backtrace_syscall_exit).
 */
static void brk_seen(struct eproc *p, const struct mevi_bpf_rec *r)
{
	p->brk_end = PAGE_UP(r->ret);
	if (r->h.type == MEVI_BPF_SYSCALL && p->mm && p->mm->bt)
		backtrace_brk_seen(p->mm->bt, r->ret);
}

static int any_range_cb(const struct memmap_range *r, void *arg)
{
	(void)r;
	(void)arg;
	return 1;
}

/* Whether [s, e) of map holds anything. */
static bool map_holds(const struct memmap *map, uint64_t s, uint64_t e)
{
	return memmap_walk_range(map, s, e, any_range_cb, NULL) != 0;
}

/* Whether map holds all of [s, e), s page-aligned. */
static bool map_covers(const struct memmap *map, uint64_t s, uint64_t e)
{
	return map_holds(map, s, e) && map_extent(map, s) >= e;
}

/* Whether an mmap with these flags makes private anonymous memory with no
 * page resident (MAP_POPULATE and MAP_LOCKED fill it; MAP_HUGETLB is not
 * what exact mode tracks). */
static bool fresh_anon(uint64_t flags)
{
	return (flags & MAP_TYPE) == MAP_PRIVATE && (flags & MAP_ANONYMOUS) &&
	       !(flags & (MAP_POPULATE | MAP_LOCKED | MAP_HUGETLB));
}

/*
 * What the record of an mmap that returned addr (a: addr, length, prot,
 * flags) says was mapped: a private anonymous mapping, none of its pages
 * resident, which the faults and layout records after it then update as they
 * would a mapping that was read. With over, that replaces what was there
 * (the record is the newest word on the range: its process is gone, or its
 * address space is not read yet), and a MAP_FIXED mapping of another kind
 * drops what exact mode tracked there. Without, it fills the range only if
 * the read just made found nothing there: the mapping was unmapped or
 * replaced before its record was read, and a record that follows says so.
 * Without this, a mapping made, touched and unmapped between two reads of
 * the ring, or in a process's last moments, was never shown. Returns whether
 * it showed a mapping.
 */
static bool mmap_from_record(struct mm *mm, uint64_t addr, const __u64 *a, bool over)
{
	if (fresh_anon(a[3])) {
		if (!over && map_holds(mm->map, addr, addr + PAGE_UP(a[1])))
			return false;
		mm_mapped(mm, addr, a[1]);
		return true;
	}
	if (over && (a[3] & MAP_FIXED) && !mm->sampled)
		mm_unmapped(mm, addr, a[1]);
	return false;
}

struct unreplay {
	struct mm *mm;
	uint64_t s, e; /* the munmap's range */
};

static int unreplay_cb(const struct memmap_range *r, void *arg)
{
	const struct unreplay *u = arg;
	uint64_t s = r->start > u->s ? r->start : u->s;
	uint64_t e = r->end < u->e ? r->end : u->e;

	if (s < e)
		mm_unmapped(u->mm, s, e - s);
	return 0;
}

/*
 * A layout record of a change made before p's last full read (read_seq), read
 * after it: the read holds the outcome, so the range is not read again and
 * what the read found is kept. Only what the read could not see is shown: a
 * fresh private anonymous mmap whose range the read found empty (it was
 * unmapped again before the read) is applied from its record and remembered,
 * and a munmap drops what was so applied in its range.
 */
static void replay_old(struct eproc *p, struct mm *mm, const struct mevi_bpf_rec *r)
{
	const __u64 *a = r->arg;
	struct unreplay u = {.mm = mm};

	switch (r->nr) {
	case MEVI_BPF_SC_BRK:
		brk_seen(p, r);
		break;
	case MEVI_BPF_SC_MMAP:
		u.s = r->ret;
		u.e = r->ret + PAGE_UP(a[1]);
		/* Remembered, so that its munmap (as old) can take it back. */
		if (u.e <= u.s || (!p->replayed && !(p->replayed = memmap_new())))
			break;
		if (mmap_from_record(mm, u.s, a, false))
			memmap_set(p->replayed, u.s, u.e, MEVI_STATE_UNTRACKED);
		break;
	case MEVI_BPF_SC_MUNMAP:
		u.s = a[0];
		u.e = a[0] + PAGE_UP(a[1]);
		if (r->ret || !p->replayed || u.e <= u.s)
			break;
		memmap_walk_range(p->replayed, u.s, u.e, unreplay_cb, &u);
		memmap_remove(p->replayed, u.s, u.e);
		break;
	}
}

/* A layout record of an address space not read yet (young, see proc_new_mm):
 * its full read, soon, covers it; until then, mmaps and munmaps apply from
 * their records (which that read makes right), so that a mapping gone by
 * then, or a process gone by then, still shows what it mapped and touched. */
static void young_syscall(const struct ebpf *e, struct eproc *p, struct mm *mm,
			  const struct mevi_bpf_rec *r)
{
	switch (r->nr) {
	case MEVI_BPF_SC_BRK: {
		/* A break asked for (not the loader's brk(0) query, made before
		 * libc is even mapped) that grew: libc's heap, after the
		 * loader, not unwound. The layout is kept for when the program
		 * is gone before its first stack. Every exec'd image makes the
		 * query: reading its maps there was the tracker's one /proc
		 * read per short program. */
		bool grew = r->arg[0] != 0 && PAGE_UP(r->ret) > p->brk_end;

		brk_seen(p, r);
		if (grew && p->exec_young && r->h.type == MEVI_BPF_SYSCALL && p->mm && p->mm->bt)
			backtrace_mm_save_layout(p->mm->bt);
		break;
	}
	case MEVI_BPF_SC_MMAP:
		mmap_from_record(mm, r->ret, r->arg, true);
		break;
	case MEVI_BPF_SC_MUNMAP:
		if (r->ret == 0)
			mm_unmapped(mm, r->arg[0], r->arg[1]);
		break;
	}
}

/* What a layout record changes, for overtaken(): the syscall's range, or
 * everything when it cannot be told from the record. */
static void note_syscall_change(struct eproc *p, const struct mevi_bpf_rec *r)
{
	const __u64 *a = r->arg;
	uint64_t ret = r->ret, seq = r->h.seq;

	switch (r->nr) {
	case MEVI_BPF_SC_MMAP:
		note_change(p, seq, ret, ret + PAGE_UP(a[1]), 0, 0);
		return;
	case MEVI_BPF_SC_MUNMAP:
	case MEVI_BPF_SC_MADVISE:
	case MEVI_BPF_SC_MLOCK:
		note_change(p, seq, PAGE_DOWN(a[0]), a[0] + PAGE_UP(a[1]), 0, 0);
		return;
	case MEVI_BPF_SC_MREMAP:
		note_change(p, seq, PAGE_DOWN(a[0]), a[0] + PAGE_UP(a[1]), ret,
			    ret + PAGE_UP(a[2]));
		return;
	case MEVI_BPF_SC_BRK:
		if (p->brk_end) {
			uint64_t now = PAGE_UP(ret), before = p->brk_end;

			note_change(p, seq, (before < now ? before : now) - PAGE,
				    before < now ? now : before, 0, 0);
			return;
		}
		break;
	}
	note_change(p, seq, 0, MEVI_ADDR_LIMIT, 0, 0);
}

static void on_syscall(struct ebpf *e, const struct mevi_bpf_rec *r)
{
	struct eproc *p = proc_lazy(e, (pid_t)r->h.pid);
	const __u64 *a = r->arg;
	uint64_t ret = r->ret;
	struct mm *mm;
	int err;

	if (!p || !p->mm)
		return;
	mm = p->mm;
	if (r->h.seq > p->seq)
		p->seq = r->h.seq;
	note_syscall_change(p, r);
	if (p->young_due ||
	    (mm->pid != p->pid && proc_find(e, mm->pid) && proc_find(e, mm->pid)->young_due)) {
		young_syscall(e, p, mm, r);
		return;
	}
	if (r->h.seq <= p->read_seq) {
		replay_old(p, mm, r);
		return;
	}
	e->st.resyncs++;
	log_trace("pid %d: syscall %u (%#llx, %#llx, %#llx, %#llx) = %#llx", p->pid, r->nr,
		  (unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
		  (unsigned long long)a[3], (unsigned long long)ret);
	switch (r->nr) {
	/*
	 * Each range is read again. When the process is gone (its last
	 * moments, read after its exit), a munmap is applied from the record
	 * instead, so that the ending shows what happened before the exit
	 * (what else it did there is lost); so is an mmap then, or when its
	 * range reads empty (mmap_from_record).
	 */
	case MEVI_BPF_SC_MMAP:
		forget_caches(p, ret, ret + PAGE_UP(a[1]));
		late_range(e, mm->pid, ret, ret + PAGE_UP(a[1]));
		if (r->h.seq <= p->read_end_seq && fresh_anon(a[3]) &&
		    map_covers(mm->map, ret, ret + PAGE_UP(a[1]))) {
			/* The last full read ran while this mmap returned and
			 * holds its range: it found this very mapping, touches
			 * and all (records after this one bring what followed).
			 * Read again once it was unmapped, then re-made from
			 * the record, it was shown twice (CI, under ASan). */
			break;
		}
		err = mm_resync(mm, ret, ret + PAGE_UP(a[1]));
		/* Gone: applied over what the map holds, unless the last read
		 * may have found this very mapping, touches and all (it ran
		 * while the mmap was leaving the kernel): a fresh anonymous
		 * one that the map holds is then kept. */
		if (!err || err == -ESRCH)
			mmap_from_record(mm, ret, a,
					 err == -ESRCH &&
					     !(r->h.seq <= p->read_end_seq && fresh_anon(a[3])));
		break;
	case MEVI_BPF_SC_MUNMAP:
		forget_caches(p, a[0], a[0] + PAGE_UP(a[1]));
		late_range(e, mm->pid, a[0], a[0] + PAGE_UP(a[1]));
		if (mm_resync(mm, a[0], a[0] + PAGE_UP(a[1])) == -ESRCH && ret == 0)
			mm_unmapped(mm, a[0], a[1]);
		break;
	case MEVI_BPF_SC_MADVISE:
	case MEVI_BPF_SC_MLOCK:
		forget_caches(p, a[0], a[0] + PAGE_UP(a[1]));
		if (r->nr == MEVI_BPF_SC_MADVISE && a[2] == 14 /* MADV_HUGEPAGE */) {
			if (!p->thp)
				p->thp = memmap_new();
			if (p->thp && a[1])
				memmap_set(p->thp, PAGE_DOWN(a[0]), a[0] + PAGE_UP(a[1]),
					   MEVI_STATE_UNTRACKED);
		}
		late_range(e, mm->pid, a[0], a[0] + PAGE_UP(a[1]));
		mm_resync(mm, a[0], a[0] + PAGE_UP(a[1]));
		break;
	case MEVI_BPF_SC_MREMAP:
		/* Keeps the page states of what moved, then re-reads both. */
		forget_caches(p, a[0], a[0] + PAGE_UP(a[1]));
		forget_caches(p, ret, ret + PAGE_UP(a[2]));
		late_range(e, mm->pid, a[0], a[0] + PAGE_UP(a[1]));
		late_range(e, mm->pid, ret, ret + PAGE_UP(a[2]));
		mm_remap(mm, a[0], a[1], ret, a[2]);
		break;
	case MEVI_BPF_SC_BRK: {
		const uint64_t window = UINT64_C(256) << 20;
		uint64_t now = PAGE_UP(ret), before = p->brk_end;
		uint64_t lo = before < now ? before : now, hi = before < now ? now : before;

		if (!before) {
			/* Unknown (a lost record): the window below, and what
			 * the map still holds above, in case the heap shrank. */
			lo = now > window ? now - window : now;
			hi = map_extent(mm->map, now - PAGE);
			hi = hi > now ? hi : now;
		}
		late_range(e, mm->pid, lo - PAGE, hi);
		if (lo != hi && sampled(e))
			recheck_merge(e, mm->pid, lo, hi);
		else if (lo != hi)
			mm_resync(mm, lo, hi);
		else
			mm_resync_mapping(mm, now - 1);
		brk_seen(p, r);
		break;
	}
	case MEVI_BPF_SC_MLOCKALL:
		forget_caches(p, 0, MEVI_ADDR_LIMIT);
		late_range(e, mm->pid, 0, MEVI_ADDR_LIMIT);
		mm_resync(mm, 0, MEVI_ADDR_LIMIT);
		break;
	case MEVI_BPF_SC_SHMAT:
		forget_caches(p, 0, MEVI_ADDR_LIMIT);
		late_range(e, mm->pid, 0, MEVI_ADDR_LIMIT);
		mm_resync_mapping(mm, ret);
		break;
	case MEVI_BPF_SC_SHMDT:
		/* The segment's size is not in the arguments: re-read as far as
		 * the map is contiguous from its address (page states split it
		 * into several ranges, so mm_resync_mapping would stop early). */
		late_range(e, mm->pid, 0, MEVI_ADDR_LIMIT);
		mm_resync(mm, a[0], map_extent(mm->map, PAGE_DOWN(a[0])));
		break;
	}
}

/*
 * The registers and stack top captured at an anonymous mmap, mremap or brk
 * (after on_syscall applied its layout): the origin of the range it mapped.
 * In an exec'd image's first 2 ms only big anonymous mappings have one, as
 * under ptrace (backtrace_wants_exit; the kernel program applies the rule at
 * the syscall): the loader's are not worth a copy, a wake-up and an unwinder
 * per short-lived program. The stack is unwound a few ms after the
 * syscall; a process gone by then is unwound against the layout it was last
 * seen with (backtrace.h), or not at all if none was read. The layout is
 * read when the unwinder meets code it does not know and the record says a
 * library was mapped since its last read (unwind.h), and that one read is
 * kept as the layout too; a read of the whole address space (full_read,
 * the reconcile pass) is kept as well. Reading it here at every record that
 * said a library was mapped was 85 of a Chromium run's ~115 reads for
 * stacks (maps of 600-850 lines), and the unwinder made 35 more of its own.
 */
static void on_stack(struct ebpf *e, const struct mevi_bpf_stack *s)
{
	const struct mevi_bpf_rec *r = &s->rec;
	struct eproc *p = proc_find(e, (pid_t)r->h.pid);
	struct unwind_snapshot snap = {
	    .stack = s->stack, .code_maps_known = true, .code_maps = r->aux};
	uint64_t args[6] = {r->arg[0], r->arg[1], r->arg[2], r->arg[3], 0, 0};
	struct backtrace_mm *bt = !p ? NULL : p->mm ? p->mm->bt : p->ghost_bt;
	int kind;

	if (!bt)
		return;
	switch (r->nr) {
	case MEVI_BPF_SC_MMAP:
		kind = SYSCALL_MMAP;
		break;
	case MEVI_BPF_SC_MREMAP:
		kind = SYSCALL_MREMAP;
		break;
	case MEVI_BPF_SC_BRK:
		kind = SYSCALL_BRK;
		break;
	default:
		return;
	}
	snap.len = s->len <= sizeof(s->stack) ? s->len : sizeof(s->stack);
	snap.regs.r.rip = s->regs[MEVI_BPF_REG_IP];
	snap.regs.r.rsp = s->regs[MEVI_BPF_REG_SP];
	snap.regs.r.rbp = s->regs[MEVI_BPF_REG_BP];
	snap.regs.r.rbx = s->regs[MEVI_BPF_REG_BX];
	snap.regs.r.r12 = s->regs[MEVI_BPF_REG_R12];
	snap.regs.r.r13 = s->regs[MEVI_BPF_REG_R13];
	snap.regs.r.r14 = s->regs[MEVI_BPF_REG_R14];
	snap.regs.r.r15 = s->regs[MEVI_BPF_REG_R15];
	backtrace_syscall_exit(bt, (pid_t)r->h.tid, kind, args, (int64_t)r->ret,
			       kind != SYSCALL_BRK && r->ret > (uint64_t)-4096, &snap);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ebpf *e = ctx;
	const struct mevi_bpf_hdr *h = data;

	if (size < sizeof(*h) || e->detached)
		return 0;
	e->st.records++;
	switch (h->type) {
	case MEVI_BPF_FAULT:
		if (size >= sizeof(struct mevi_bpf_fault))
			on_fault(e, data);
		break;
	case MEVI_BPF_EXEC:
		if (size >= sizeof(struct mevi_bpf_exec))
			on_exec(e, data);
		break;
	case MEVI_BPF_FORK:
	case MEVI_BPF_EXIT:
	case MEVI_BPF_SYSCALL:
		if (size < sizeof(struct mevi_bpf_rec))
			break;
		if (h->type == MEVI_BPF_FORK)
			on_fork(e, data);
		else if (h->type == MEVI_BPF_EXIT)
			on_proc_exit(e, data);
		else
			on_syscall(e, data);
		break;
	case MEVI_BPF_SYSCALL_STACK:
		if (size < sizeof(struct mevi_bpf_stack))
			break;
		on_syscall(e, data);
		on_stack(e, data);
		break;
	}
	/* Looked at after every record: under a storm one record can cost a
	 * re-read that waits for a contended mmap_lock (milliseconds). */
	if (e->budget_end && mono_ns() >= e->budget_end) {
		e->cut = true;
		return -EAGAIN; /* this record is consumed; the rest wait */
	}
	return 0;
}

/* Consumes the ring, for at most budget_ns (0: all of it); with poll, by
 * ring_buffer__poll, which also clears the ring's epoll readiness (and
 * consumes as much: it is held to the same budget). Returns whether records
 * were left for later. */
static bool consume(struct ebpf *e, uint64_t budget_ns, bool poll)
{
	e->cut = false;
	e->budget_end = budget_ns ? mono_ns() + budget_ns : 0;
	if (poll)
		ring_buffer__poll(e->rb, 0);
	else
		ring_buffer__consume(e->rb);
	e->budget_end = 0;
	return e->cut;
}

/* Many rechecks of one drain (a storm's stale faults, each a re-read under
 * a contended mmap_lock) become one whole re-read per process. */
static void collapse_rechecks(struct ebpf *e)
{
	size_t k = 0;

	for (size_t i = 0; i < e->nrc; i++) {
		size_t j = 0;

		while (j < k && e->rc[j].pid != e->rc[i].pid)
			j++;
		if (j == k)
			e->rc[k++] = (struct recheck){e->rc[i].pid, 0, MEVI_ADDR_LIMIT};
	}
	e->nrc = k;
}

/*
 * Re-reads the ranges records asked for, for at most budget_ns (0: all).
 * Returns whether some are left for the next drain: a re-read is the
 * kernel's word at the time it is made, so one made after newer records is
 * as right as one made before.
 */
static bool run_rechecks(struct ebpf *e, uint64_t budget_ns)
{
	uint64_t end = budget_ns ? mono_ns() + budget_ns : 0;
	size_t i;

	if (e->nrc > RECHECK_MAX)
		collapse_rechecks(e);
	for (i = 0; i < e->nrc; i++) {
		struct eproc *p = proc_find(e, e->rc[i].pid);

		if (end && i && mono_ns() >= end)
			break;
		if (!p || !p->mm)
			continue;
		if (e->rc[i].s == e->rc[i].e)
			mm_resync_mapping(p->mm, e->rc[i].s);
		else
			mm_resync(p->mm, e->rc[i].s, e->rc[i].e);
		e->st.resyncs++;
	}
	if (i) { /* (e->rc is NULL before the first recheck) */
		memmove(e->rc, e->rc + i, (e->nrc - i) * sizeof(*e->rc));
		e->nrc -= i;
	}
	return e->nrc > 0;
}

/*
 * The ring buffer could not hold everything: some records are lost. Every
 * process the kernel tracks that we do not know is learnt from /proc; every
 * known one gets a fresh address space read in full (its exec may be among
 * the lost records, and its /proc files would then name the old one).
 */
static void rescan_all(struct ebpf *e)
{
	__u32 key, next, *prev = NULL;

	e->st.rescans++;
	while (bpf_map_get_next_key(tracked_fd(e), prev, &next) == 0) {
		key = next;
		prev = &key;
		proc_lazy(e, (pid_t)key);
	}
	for (struct eproc *p = e->first; p; p = p->next) {
		struct mm *old = p->mm;

		if (!p->alive || !old || old->pid != p->pid)
			continue;
		p->mm = NULL;
		p->brk_end = 0; /* a lost brk record may have moved it */
		proc_new_mm(e, p, old, false);
		mm_put(old);
	}
	/* Processes that exited meanwhile: their exit records may be lost too. */
	for (struct eproc *p = e->first; p; p = p->next)
		if (p->alive && p->pid != e->main_pid && kill(p->pid, 0) < 0 && errno == ESRCH)
			proc_exited(e, p, -1);
}

/*
 * Records were lost since the last look: forget what they would have
 * explained (counted as drops, not corrections) and rescan. Returns whether
 * any were. The kernel counts a drop when the record is made, so a record
 * drained after it (an exit) never hides one from this.
 */
static bool take_drops(struct ebpf *e)
{
	uint64_t drops = __atomic_load_n(&e->skel->bss->drops, __ATOMIC_ACQUIRE);

	if (drops == e->seen_drops)
		return false;
	log_info("eBPF: %llu records lost (ring buffer full); rescanning every process",
		 (unsigned long long)(drops - e->seen_drops));
	e->seen_drops = drops;
	e->st.drops = drops;
	e->nrc = 0;
	e->nsus = 0;
	rescan_all(e);
	ebpf_emit_engine(e);
	return true;
}

/*
 * Applies what the ring holds (for at most budget_ns, 0: all) and what it
 * leads to. Returns whether records were left: then the drain goes on from
 * the loop at once, and whether everything ended is looked at after it.
 */
static bool drain(struct ebpf *e, uint64_t budget_ns)
{
	bool cut;

	if (e->detached)
		return false;
	cut = consume(e, budget_ns, false);
	if (!cut && !e->main_reaped &&
	    __atomic_load_n(&e->skel->bss->main_ended, __ATOMIC_ACQUIRE)) {
		/* Its record was lost, or comes in the next drain (the kernel
		 * program sets the status first): the status is the same. */
		cut = consume(e, budget_ns, false);
		main_ended(e, mevi_exit_status((int)e->skel->bss->main_status));
	}
	take_drops(e);
	if (run_rechecks(e, budget_ns))
		cut = true;
	/* A full read waits for a drain that reads the ring to its end: in the
	 * middle, it dropped a mapping its young records had made before that
	 * mapping's faults were read (and their touches were lost). */
	if (!cut)
		run_young(e);
	trim_exited(e);
	if (cut) {
		/* A timer that is due now, not event_active(): libevent runs
		 * what is activated during its pass in that same pass, so a
		 * drain that kept being cut (a storm that fills the ring
		 * faster than the budget) held off every timer and fd, and
		 * --detach-after came seconds late. Due now, it runs after the
		 * loop has looked at the others. */
		static const struct timeval now = {0, 0};

		event_add(e->more_ev, &now);
	} else
		check_done(e);
	return cut;
}

void ebpf_drain(struct ebpf *e)
{
	if (drain(e, FINAL_BUDGET_NS))
		log_info("eBPF: records still in the ring after %llu ms of draining at the end: "
			 "not shown",
			 FINAL_BUDGET_NS / 1000000ull);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ebpf *e = arg;
	uint64_t before = e->st.records;
	bool cut = drain(e, DRAIN_BUDGET_NS);

	pace_tick(&e->drain_pace, cut || e->st.records != before || e->nyoung || e->nrc || e->nsus);
}

static void rb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ebpf *e = arg;

	/* Unbounded, this poll alone held the loop for tens of seconds under
	 * an attached thread storm: --detach-after came 15-50 s late. */
	consume(e, DRAIN_BUDGET_NS, true);
	drain(e, DRAIN_BUDGET_NS);
	pace_tick(&e->drain_pace, true); /* woken: records come fast */
}

/* ---- reconcile ---- */

struct range_vec {
	struct memmap_range *v;
	size_t n, cap;
};

static int collect_cb(const struct memmap_range *r, void *arg)
{
	struct range_vec *rv = arg;

	if (rv->n == rv->cap) {
		size_t cap = rv->cap ? rv->cap * 2 : 64;
		struct memmap_range *n = realloc(rv->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		rv->v = n;
		rv->cap = cap;
	}
	rv->v[rv->n++] = *r;
	return 0;
}

static void suspect_push(struct ebpf *e, pid_t pid, uint64_t s, uint64_t end, bool fault_ok)
{
	if (e->nsus == e->sus_cap) {
		size_t cap = e->sus_cap ? e->sus_cap * 2 : 64;
		struct suspect *n = realloc(e->sus, cap * sizeof(*n));

		MEVI_ASSERT(n);
		e->sus = n;
		e->sus_cap = cap;
	}
	e->sus[e->nsus++] = (struct suspect){pid, fault_ok, s, end};
}

/*
 * Every piece where two maps of pid differ (a page in one map only differs
 * too) becomes a suspect. Returns the pages that differ.
 */
static uint64_t diff_maps(struct ebpf *e, pid_t pid, const struct range_vec *a,
			  const struct range_vec *b)
{
	size_t i = 0, j = 0;
	uint64_t pos = 0, n = 0;

	while (i < a->n || j < b->n) {
		const struct memmap_range *x = i < a->n ? &a->v[i] : NULL;
		const struct memmap_range *y = j < b->n ? &b->v[j] : NULL;
		uint64_t xs = x ? (x->start > pos ? x->start : pos) : UINT64_MAX;
		uint64_t ys = y ? (y->start > pos ? y->start : pos) : UINT64_MAX;
		uint64_t s = xs < ys ? xs : ys, end;
		int sx = -1, sy = -1;

		if (x && xs == s)
			sx = x->state;
		if (y && ys == s)
			sy = y->state;
		end = UINT64_MAX;
		if (sx >= 0)
			end = x->end;
		else if (x)
			end = xs;
		if (sy >= 0)
			end = end < y->end ? end : y->end;
		else if (y && ys < end)
			end = ys;
		if (sx != sy) {
			log_debug("pid %d: reconcile: [%#llx, %#llx) was %s, is %s (a suspect: "
				  "a record not read yet may explain it)",
				  pid, (unsigned long long)s, (unsigned long long)end,
				  sx < 0 ? "unmapped" : mevi_state_name((unsigned)sx),
				  sy < 0 ? "unmapped" : mevi_state_name((unsigned)sy));
			suspect_push(e, pid, s, end,
				     sx == MEVI_STATE_NOT_RESIDENT && sy == MEVI_STATE_RESIDENT);
			n += (end - s) / PAGE;
		}
		pos = end;
		if (x && x->end <= pos)
			i++;
		if (y && y->end <= pos)
			j++;
	}
	return n;
}

/*
 * The runs of first touches still open on their CPUs (mevi_bpf.h): a thread
 * that runs on without leaving its CPU holds its last faults there, and what
 * the reconcile pass found of them is their own effect, not a correction.
 * Each slot is read as a sequence lock: a slot being written over holds a
 * new run, and the one it replaced was sent to the ring first.
 */
static void explain_open_runs(struct ebpf *e)
{
	for (size_t i = 0; i < e->nruns && e->nsus; i++) {
		const struct mevi_bpf_run *slot = &e->runs[i];

		for (int tries = 0; tries < 4; tries++) {
			uint64_t gen = __atomic_load_n(&slot->gen, __ATOMIC_ACQUIRE);
			uint64_t s = __atomic_load_n(&slot->start, __ATOMIC_RELAXED);
			uint64_t end = __atomic_load_n(&slot->end, __ATOMIC_RELAXED);
			pid_t pid = (pid_t)__atomic_load_n(&slot->tgid, __ATOMIC_RELAXED);

			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if ((gen & 1) || __atomic_load_n(&slot->gen, __ATOMIC_RELAXED) != gen)
				continue;
			if (end > s)
				explain(e, pid, s, end, true);
			break;
		}
	}
}

/* What the previous pass changed and no record has explained since: those
 * are the corrections, counted, logged and announced. */
static void settle_suspects(struct ebpf *e)
{
	uint64_t total = 0;

	/* A lost record may be what would have explained them: the last
	 * exit can come in the same drain as the loss, before it is seen. */
	if (take_drops(e))
		return;
	explain_open_runs(e);
	for (size_t i = 0; i < e->nsus; i++) {
		uint64_t n = (e->sus[i].e - e->sus[i].s) / PAGE;

		log_info("pid %d: reconcile corrected %llu pages at [%#llx, %#llx)", e->sus[i].pid,
			 (unsigned long long)n, (unsigned long long)e->sus[i].s,
			 (unsigned long long)e->sus[i].e);
		total += n;
	}
	e->nsus = 0;
	if (total) {
		e->st.corrections += total;
		ebpf_emit_engine(e);
	}
}

/*
 * Once a second: every address space is compared with the kernel (the same
 * re-read a layout record gets, over everything). What that changes is kept
 * as suspect until the next pass: a layout syscall still running (its exit
 * record not yet made) or a record not yet drained explains it when it
 * arrives; what is left unexplained then was a correction.
 */
static void reconcile_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ebpf *e = arg;

	/* Suspects are settled against a drained ring only: a record still
	 * in it may explain one. Under a flood, the pass waits. */
	if (drain(e, DRAIN_BUDGET_NS))
		return;
	settle_suspects(e);
	e->st.reconciles++;
	for (struct eproc *p = e->first; p; p = p->next)
		if (p->alive && p->pid != e->main_pid && kill(p->pid, 0) < 0 && errno == ESRCH)
			proc_exited(e, p, -1); /* its exit record was lost */
	if (sampled(e))
		goto out; /* the sampler re-reads everything anyway */
	for (struct eproc *p = e->first; p; p = p->next) {
		struct range_vec before = {0}, after = {0};

		if (!p->alive || !p->mm || p->mm->pid != p->pid || p->young_due)
			continue; /* a young mm is read in full in a moment anyway */
		if (memmap_walk(p->mm->map, collect_cb, &before) < 0)
			goto next;
		if (mm_resync(p->mm, 0, MEVI_ADDR_LIMIT) == 0)
			keep_layout(p->mm);
		if (memmap_walk(p->mm->map, collect_cb, &after) < 0)
			goto next;
		if (after.n != before.n || memcmp(after.v, before.v, after.n * sizeof(*after.v)))
			diff_maps(e, p->pid, &before, &after);
	next:
		free(before.v);
		free(after.v);
	}
	run_rechecks(e, 0);
out:
	check_done(e);
}

static void sample_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ebpf *e = arg;

	drain(e, DRAIN_BUDGET_NS);
	/* Every tenth scan re-reads layouts too: a stack grows without a
	 * syscall, and sampled mode loads no fault programs to see it. */
	e->sample_ticks++;
	for (struct eproc *p = e->first; p; p = p->next) {
		if (!p->alive || !p->mm || p->mm->pid != p->pid)
			continue;
		if (e->sample_ticks % 10 == 0)
			p->mm->layout_stale = true;
		mm_sample(p->mm);
	}
}

/* ---- set-up ---- */

static void detach_sys_exits(struct ebpf *e)
{
	tracepoint_detach_all(e->sys_exit_fds, NSYS_EXITS);
}

/* Attaches the layout program to the tracepoints with these ids: 0, or
 * -errno with none attached. */
static int attach_sys_exit_ids(struct ebpf *e, const int *ids)
{
	int err = 0;

	for (size_t i = 0; !err && i < NSYS_EXITS; i++) {
		e->sys_exit_fds[i] =
		    tracepoint_attach(ids[i], e->skel->progs.sys_exit_layout.prog_fd);
		if (e->sys_exit_fds[i] < 0)
			err = e->sys_exit_fds[i];
	}
	if (err)
		detach_sys_exits(e);
	return err;
}

/*
 * The layout syscalls' exits: one program on each one's classic tracepoint,
 * so that no program runs at the exit of every other syscall (0.3-0.4 us each
 * on this project's VM, +25% on a getppid loop). The tracepoints are named by
 * the ids mevid sent with its stock's answer; without them they are read
 * (tracepoint_ids: where no tracefs is mounted, in a child that mounts one
 * privately, 2-3 ms of PROGRAM's start-up here). raw_syscalls:sys_exit runs
 * for all of them where the classic ones cannot be named (no tracefs, and
 * no right to mount one).
 */
static int attach_sys_exits(struct ebpf *e)
{
	int ids[NSYS_EXITS], err = -ENOENT;

	if (e->have_sys_exit_ids) {
		err = attach_sys_exit_ids(e, e->sys_exit_ids);
		if (err)
			log_debug("mevid's tracepoint ids do not attach (%s): read here",
				  strerror(-err));
	}
	if (err) {
		err = tracepoint_ids("syscalls", bpfskel_sys_exit_names, NSYS_EXITS, ids);
		if (!err)
			err = attach_sys_exit_ids(e, ids);
	}
	if (!err)
		return 0;
	log_debug("syscalls:sys_exit_* tracepoints not attached (%s): raw_syscalls:sys_exit "
		  "runs for every syscall instead",
		  strerror(-err));
	err = mevi_bpf__sys_exit__attach(e->skel);
	return err < 0 ? err : 0;
}

/*
 * The process tree's programs and the layout syscalls' exits: what must be
 * in place before PROGRAM execs (its exec record, its children, the stacks
 * of its first big mappings).
 */
static int attach(struct ebpf *e)
{
	int err = mevi_bpf__proc_fork__attach(e->skel);

	if (err > 0)
		err = mevi_bpf__proc_exec__attach(e->skel);
	if (err > 0)
		err = mevi_bpf__proc_exit__attach(e->skel);
	if (err > 0)
		err = attach_sys_exits(e);
	return err < 0 ? (errno ? -errno : err) : 0;
}

/* MEVI_BPF_SWITCH_FLUSH=0, for tests: a run of faults is not sent when its
 * thread leaves its CPU, only when another fault there does not extend it
 * (so a test can hold one open for as long as it likes). */
static bool switch_flush_env(void)
{
	const char *s = getenv("MEVI_BPF_SWITCH_FLUSH");

	return !s || strcmp(s, "0") != 0;
}

/*
 * The fault programs (exact mode; sampled mode reads residency with
 * PAGEMAP_SCAN and leaves them loaded but unattached), once. The original
 * attaches them before PROGRAM's exec (ebpf_track): a program that ends
 * before the tracker's first read of it (/bin/true: 1 ms) has its first
 * touches all the same (the tracker attached them once awake, and lost all
 * of /bin/true's in 7 runs of 20). A tracepoint's first program patches the
 * kernel's text (6 ms for the two here, every CPU interrupted); after another
 * launcher's request mevid holds them warm for a while
 * (daemon/warm_syscalls.h), and these links patch nothing: 13-26 us.
 */
static int attach_faults(struct ebpf *e, char *why)
{
	int err = 1;

	if (!sampled(e) && e->skel->links.fault_user_fd <= 0) {
		/* The runs' flush first: a fault's run is open only while its
		 * thread is on the CPU from the first fault on. */
		if (switch_flush_env())
			err = mevi_bpf__run_switch__attach(e->skel);
		if (err > 0)
			err = mevi_bpf__fault_user__attach(e->skel);
		if (err > 0)
			err = mevi_bpf__fault_kernel__attach(e->skel);
	}
	if (err >= 0)
		return 0;
	err = errno ? -errno : err;
	snprintf(why, EBPF_WHY_LEN, "cannot attach the eBPF programs to the fault tracepoints: %s",
		 strerror(-err));
	return err;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t len;

	/* Even libbpf's warnings are debug output: ebpf_open says why in one
	 * sentence when loading fails. */
	if ((int)LOG_LEVEL_DEBUG > log_threshold || level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	log_debug("libbpf: %s", buf);
	return 0;
}

bool ebpf_built_in(void)
{
	return true;
}

static unsigned ringbuf_bytes(void)
{
	const char *s = getenv("MEVI_BPF_RINGBUF");
	unsigned long v;

	if (!s || !*s)
		return RINGBUF_BYTES;
	v = strtoul(s, NULL, 0);
	if (v < 4096 || v > (1ul << 30) || (v & (v - 1))) {
		log_warn("MEVI_BPF_RINGBUF=%s: not a power of two in 4096..2^30; using %u", s,
			 RINGBUF_BYTES);
		return RINGBUF_BYTES;
	}
	return (unsigned)v;
}

/* MEVI_BPF_TRACKED: how many processes may be tracked at once (the tracked
 * set's size; tests make it small to fill it). */
static unsigned tracked_max(void)
{
	const char *s = getenv("MEVI_BPF_TRACKED");
	char *end;
	unsigned long v;

	if (!s || !*s)
		return TRACKED_MAX;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > (1ul << 22)) {
		log_warn("MEVI_BPF_TRACKED=%s: not a number of processes in 1..2^22; using %u", s,
			 TRACKED_MAX);
		return TRACKED_MAX;
	}
	return (unsigned)v;
}

/* MEVI_BPF_DRAIN_MS: drain on this period only, never woken by the kernel
 * (tests make the ring overflow for sure with it); 0 when unset. */
static unsigned drain_period_env(void)
{
	const char *s = getenv("MEVI_BPF_DRAIN_MS");
	unsigned long long v;

	if (!s || !*s)
		return 0;
	if (parse_uint(s, 1, 1000, &v) < 0) {
		log_warn("MEVI_BPF_DRAIN_MS=%s: not a number of ms in 1..1000; ignored", s);
		return 0;
	}
	return (unsigned)v;
}

/* Whether this process is outside the initial pid namespace (whose inode
 * number is fixed: PROC_PID_INIT_INO). */
static bool in_child_pidns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 && st.st_ino != 0xEFFFFFFCU;
}

static const char not_permitted[] = "loading eBPF programs is not permitted (run as root, or "
				    "give mevi-run CAP_BPF and CAP_PERFMON)";

/* Whether this process may load and attach tracing programs: CAP_SYS_ADMIN,
 * or CAP_BPF with CAP_PERFMON (Linux 5.8+), in its effective set. */
static bool may_trace(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {0};
	uint64_t eff;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return true; /* let the kernel say */
	eff = (uint64_t)data[1].effective << 32 | data[0].effective;
	return (eff >> CAP_SYS_ADMIN & 1) || ((eff >> CAP_BPF & 1) && (eff >> CAP_PERFMON & 1));
}

/* Asks mevid for the set it loaded ahead of time (launcher/stock.h), so
 * that it answers while the tracker is being forked; take_stock() reads the
 * answer. Nothing is asked without a launcher socket, or of no mevid. */
static void ask_stock(struct ebpf *e)
{
	char why[200];
	int fd;

	e->stock_fd = -1;
	if (!e->cfg.stock_socket)
		return;
	fd = stock_ask(e->cfg.stock_socket, bpfskel_id(e->skel), &e->sc, why, sizeof(why));
	if (fd < 0 && fd != -ENOENT && fd != -ECONNREFUSED)
		log_debug("eBPF programs loaded here: %s", why);
	e->stock_fd = fd < 0 ? -1 : fd;
}

/* Forgets the question to mevid's stock (its answer, if any, is dropped:
 * mevid loads another set after a hand-over, whoever takes it). */
static void drop_stock(struct ebpf *e)
{
	if (e->stock_fd >= 0)
		close(e->stock_fd);
	e->stock_fd = -1;
}

/*
 * Takes the set of programs mevid loaded ahead of time for this build and
 * configuration (ask_stock()), when it has one. Returns whether e->skel is
 * now loaded; if not, e->skel is as ebpf_prepare() left it (a set that came
 * but could not be taken is dropped with the skeleton, and a fresh one is
 * opened).
 */
static bool take_stock(struct ebpf *e)
{
	char why[200];
	struct stock_answer a;
	int err;

	if (e->stock_fd < 0)
		return false;
	err = stock_take(e->stock_fd, STOCK_TIMEOUT_MS, &a, why, sizeof(why));
	e->stock_fd = -1;
	if (a.ntp == NSYS_EXITS) { /* granted or not: no tracefs to read them from */
		for (size_t i = 0; i < NSYS_EXITS; i++)
			e->sys_exit_ids[i] = (int)a.tp[i];
		e->have_sys_exit_ids = true;
	}
	if (err) {
		log_debug("eBPF programs loaded here: %s", why);
		return false;
	}
	/* Only the skeleton's own slots: mevid's set is not attached. */
	err = bpfskel_adopt(e->skel, NULL, 0, a.mask, a.fds, a.nfds);
	if (!err) {
		log_debug("eBPF programs: mevid's, loaded ahead of time");
		return true;
	}
	if (err == -EPROTO)
		for (size_t i = 0; i < a.nfds; i++)
			close(a.fds[i]);
	log_warn("mevid's preloaded eBPF programs cannot be used (%s); loading them here",
		 strerror(-err));
	mevi_bpf__destroy(e->skel);
	e->skel = bpfskel_open(&e->sc);
	return false;
}

int ebpf_prepare(const struct ebpf_config *cfg, struct ebpf **out, char *why)
{
	struct ebpf *e = calloc(1, sizeof(*e));
	unsigned rb_bytes = ringbuf_bytes();
	int err;

	if (!e)
		return -ENOMEM;
	if (in_child_pidns()) {
		snprintf(why, EBPF_WHY_LEN,
			 "mevi-run is in a pid namespace of its own, where the kernel's records "
			 "would name the host's pids; for now ptrace follows the namespace's");
		free(e);
		return -EOPNOTSUPP;
	}
	if (!may_trace()) {
		snprintf(why, EBPF_WHY_LEN, "%s", not_permitted);
		free(e);
		return -EPERM;
	}
	e->cfg = *cfg;
	e->main_status = -1;
	libbpf_set_print(libbpf_log);
	for (size_t i = 0; i < NSYS_EXITS; i++)
		e->sys_exit_fds[i] = -1;
	e->stock_fd = -1;
	struct mevi_stock_config sc = {.exact = !sampled(e),
				       .thp_always = bpfskel_thp_always(),
				       .ring_bytes = rb_bytes,
				       .tracked_max = tracked_max()};

	e->thp_always = sc.thp_always;
	e->drain_ms = drain_period_env();
	e->drain_fixed = e->drain_ms != 0;
	/* No forced wake-up when the drain is on a fixed period only. */
	sc.wake_mark = e->drain_ms ? UINT64_MAX : rb_bytes / 4;
	/* The backtraces themselves need the loop: made in finish_open(). */
	sc.want_stacks = cfg->bt_mode != BACKTRACE_OFF;
	sc.stacks_all = cfg->bt_mode == BACKTRACE_ALL;
	if (!e->drain_ms)
		e->drain_ms = DRAIN_MS;
	e->sc = sc;
	e->skel = bpfskel_open(&sc);
	if (!e->skel) {
		err = -errno;
		snprintf(why, EBPF_WHY_LEN, "cannot open the eBPF programs: %s", strerror(-err));
		free(e);
		return err;
	}
	ask_stock(e);
	*out = e;
	return 0;
}

int ebpf_load(struct ebpf *e, char *why)
{
	int err = take_stock(e) ? 0 : e->skel ? mevi_bpf__load(e->skel) : -ENOMEM;

	if (err) {
		err = err < 0 ? err : -errno;
		if (err == -EPERM || err == -EACCES)
			snprintf(why, EBPF_WHY_LEN, "%s", not_permitted);
		else
			snprintf(why, EBPF_WHY_LEN, "the kernel refused the eBPF programs: %s",
				 strerror(-err));
		return err;
	}
	err = attach(e);
	if (err) {
		snprintf(why, EBPF_WHY_LEN, "cannot attach the eBPF programs to tracepoints: %s",
			 strerror(-err));
		return err;
	}
	return 0;
}

/* The loaded engine's user-space half: its backtraces, ring buffer and
 * timers. Without backtraces (out of memory, said once) the kernel's stacks
 * are dropped as they come (on_stack). */
static int finish_open(struct ebpf *e, char *why)
{
	int err;

	if (e->sc.want_stacks)
		e->bt = backtrace_new(e->cfg.out, e->cfg.base, (enum backtrace_mode)e->cfg.bt_mode,
				      e->cfg.bt_depth);
	e->rb = ring_buffer__new(e->skel->maps.events.map_fd, on_record, e, NULL);
	if (!e->rb) {
		err = -errno;
		snprintf(why, EBPF_WHY_LEN, "cannot map the eBPF ring buffer: %s", strerror(-err));
		return err;
	}
	if (!sampled(e)) {
		size_t len = MEVI_BPF_RUN_CPUS * sizeof(struct mevi_bpf_run);
		void *runs = mmap(NULL, len, PROT_READ, MAP_SHARED, e->skel->maps.runs.map_fd, 0);
		int cpus = libbpf_num_possible_cpus();

		if (runs == MAP_FAILED || cpus <= 0) {
			/* The reconcile pass may then count a run still open. */
			log_debug("the fault runs' slots are not mapped: %s",
				  strerror(runs == MAP_FAILED ? errno : -cpus));
			if (runs != MAP_FAILED)
				munmap(runs, len);
		} else {
			e->runs = runs;
			e->nruns =
			    (size_t)cpus < MEVI_BPF_RUN_CPUS ? (size_t)cpus : MEVI_BPF_RUN_CPUS;
		}
	}
	e->rb_ev =
	    event_new(e->cfg.base, ring_buffer__epoll_fd(e->rb), EV_READ | EV_PERSIST, rb_cb, e);
	e->drain_ev = event_new(e->cfg.base, -1, EV_PERSIST, drain_cb, e);
	pace_init(&e->drain_pace, e->drain_ev, e->drain_ms,
		  e->drain_fixed ? e->drain_ms : DRAIN_IDLE_MS);
	e->more_ev = event_new(e->cfg.base, -1, 0, drain_cb, e);
	e->reconcile_ev = event_new(e->cfg.base, -1, EV_PERSIST, reconcile_cb, e);
	MEVI_ASSERT(e->rb_ev && e->drain_ev && e->more_ev && e->reconcile_ev);
	mm_set_injecting(false);
	if (sampled(e)) {
		mm_set_sampled(true);
		e->sample_ev = event_new(e->cfg.base, -1, EV_PERSIST, sample_cb, e);
		MEVI_ASSERT(e->sample_ev);
	}
	log_debug("eBPF engine loaded (ring buffer %u bytes, THP always %s)",
		  e->skel->maps.events.max_entries, e->skel->rodata->thp_always ? "yes" : "no");
	return 0;
}

int ebpf_resume(struct ebpf *e, struct event_base *base, char *why)
{
	int err;

	e->cfg.base = base;
	drop_stock(e); /* a question whose answer never came */
	err = attach_faults(e, why);
	return err ? err : finish_open(e, why);
}

int ebpf_open(const struct ebpf_config *cfg, struct ebpf **out, char *why)
{
	struct ebpf *e;
	int err = ebpf_prepare(cfg, &e, why);

	if (err)
		return err;
	err = ebpf_load(e, why);
	if (!err)
		err = ebpf_resume(e, cfg->base, why);
	if (err) {
		ebpf_close(e);
		return err;
	}
	*out = e;
	return 0;
}

void ebpf_close(struct ebpf *e)
{
	if (!e)
		return;
	drop_stock(e);
	if (e->rb_ev)
		event_free(e->rb_ev);
	if (e->drain_ev)
		event_free(e->drain_ev);
	if (e->more_ev)
		event_free(e->more_ev);
	if (e->reconcile_ev)
		event_free(e->reconcile_ev);
	if (e->sample_ev)
		event_free(e->sample_ev);
	ring_buffer__free(e->rb);
	if (e->runs)
		munmap((void *)e->runs, MEVI_BPF_RUN_CPUS * sizeof(struct mevi_bpf_run));
	for (struct eproc *p = e->first, *next; p; p = next) {
		next = p->next;
		proc_free(p);
	}
	backtrace_free(e->bt); /* after the mms, which add to its counters */
	/* Last: the slow part (grace periods, tracepoint.h), its lines said. */
	detach_sys_exits(e);
	mevi_bpf__destroy(e->skel);
	free(e->rc);
	free(e->sus);
	free(e->young);
	free(e);
}

static void start_timers(struct ebpf *e)
{
	struct timeval rec = {RECONCILE_MS / 1000, 0};

	event_add(e->rb_ev, NULL);
	pace_start(&e->drain_pace);
	event_add(e->reconcile_ev, &rec);
	if (e->sample_ev) {
		struct timeval s = {e->cfg.sample_ms / 1000, (e->cfg.sample_ms % 1000) * 1000};

		event_add(e->sample_ev, &s);
	}
}

int ebpf_track(struct ebpf *e, pid_t pid, char *why)
{
	struct mevi_bpf_proc val = {.code_maps_woken = ~0u}; /* its first stack wakes us */
	__u32 key = (__u32)pid;

	int err = attach_faults(e, why);

	if (err)
		return err;
	if (bpf_map_update_elem(tracked_fd(e), &key, &val, BPF_ANY)) {
		err = -errno;
		snprintf(why, EBPF_WHY_LEN, "cannot add the program to the tracked set: %s",
			 strerror(-err));
		return err;
	}
	e->skel->bss->main_tgid = key;
	return 0;
}

int ebpf_launch(struct ebpf *e, struct spawn *sp, char *const argv[])
{
	char why[EBPF_WHY_LEN];
	pid_t pid = sp->program;
	struct eproc *p;
	int exec_err;

	/* The loop's base was made before the split (spawn_tracer forks):
	 * this process alone uses it from now on. */
	if (event_reinit(e->cfg.base) < 0)
		log_warn("cannot re-initialise the event loop after the split");
	if (!sp->handed && ebpf_track(e, pid, why)) {
		fprintf(stderr, "mevi: %s; it runs untracked\n", why);
		spawn_release(sp, false);
		spawn_wait_exec(sp, NULL, NULL);
		return 125; /* no session: nothing is tracked */
	}
	e->main_pid = pid;
	p = proc_add(e, pid, sp->program_parent);
	p->cmdline = procfs_cmdline_join(argv, &p->cmdline_len);
	MEVI_ASSERT(p->cmdline);
	emit_cmdline(e, p, MEVI_EV_PROC_START, 0);
	start_timers(e);
	spawn_release(sp, true);
	exec_err = spawn_wait_exec(sp, NULL, NULL);
	if (exec_err) /* PROGRAM said why and exits 127 or 126 */
		return exec_err == ENOENT ? 127 : 126;
	return 0;
}

/* The mapping each thread of p (other than its leader) has its stack
 * pointer in is that thread's stack, as at a thread's fork record. */
static void note_thread_stacks(struct eproc *p)
{
	pid_t *tids;
	size_t n;

	/* The list first, then the work: walking the directory while
	 * re-reading each stack chased a thread storm's new tids for ever. Threads
	 * created after the list come as fork records with their stack pointer. */
	if (!p->mm || procfs_tids(p->pid, 65536, &tids, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		uint64_t sp = tids[i] != p->pid ? procfs_task_sp(p->pid, tids[i]) : 0;

		if (sp)
			mm_note_thread_stack(p->mm, tids[i], sp);
	}
	free(tids);
}

int ebpf_attach(struct ebpf *e, pid_t pid)
{
	struct mevi_bpf_proc val = {.code_maps_woken = ~0u}; /* its first stack wakes us */
	__u32 key = (__u32)pid;
	struct eproc *p;

	/* Registered first, read second: what changes in between comes as
	 * records too, and re-reading what the full read saw is harmless. */
	e->skel->bss->main_tgid = key;
	if (bpf_map_update_elem(tracked_fd(e), &key, &val, BPF_NOEXIST))
		return -errno;
	if (kill(pid, 0) < 0 && errno == ESRCH) {
		bpf_map_delete_elem(tracked_fd(e), &key);
		e->skel->bss->main_tgid = 0;
		return -ESRCH;
	}
	e->main_pid = pid;
	p = proc_add(e, pid, read_ppid(pid));
	read_cmdline(p);
	emit_cmdline(e, p, MEVI_EV_PROC_START, 0);
	proc_new_mm(e, p, NULL, false);
	note_thread_stacks(p);
	start_timers(e);
	log_debug("pid %d: attached (in the eBPF tracked set, address space read)", pid);
	return 0;
}

/* Deletes every key of the tracked set; returns how many it deleted. */
static size_t untrack_all(struct ebpf *e)
{
	__u32 key;
	size_t n = 0;

	while (bpf_map_get_next_key(tracked_fd(e), NULL, &key) == 0) {
		if (bpf_map_delete_elem(tracked_fd(e), &key) == 0)
			n++;
		else if (errno != ENOENT)
			break;
	}
	return n;
}

/* How many keys the tracked set holds. */
static size_t tracked_count(struct ebpf *e)
{
	__u32 key, next, *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(tracked_fd(e), prev, &next) == 0) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

void ebpf_detach(struct ebpf *e)
{
	size_t n;

	if (e->detached)
		return;
	/* What happened before the detach is shown, as far as the records go:
	 * no rescan or re-read queue (seconds under a storm that drops). */
	consume(e, DETACH_BUDGET_NS, false);
	__atomic_store_n(&e->skel->bss->detaching, 1, __ATOMIC_RELEASE);
	n = untrack_all(e);
	/* A fork that passed the kernel program's `detaching` test before it
	 * was set may add its child after the first pass: look again once such
	 * a program has surely finished. */
	usleep(2000);
	n += untrack_all(e);
	e->skel->bss->main_tgid = 0;
	e->detached = true;
	event_del(e->rb_ev);
	event_del(e->drain_ev);
	event_del(e->more_ev);
	event_del(e->reconcile_ev);
	if (e->sample_ev)
		event_del(e->sample_ev);
	/* Tests read this line: it is the only outside view of the map. */
	log_debug("eBPF: detached: %zu processes removed from the tracked set, %zu entries remain",
		  n, tracked_count(e));
}

bool ebpf_detached(const struct ebpf *e)
{
	return e->detached;
}

void ebpf_finish(struct ebpf *e)
{
	backtrace_finish(e->bt);
}

void ebpf_reap(struct ebpf *e)
{
	/* Bounded like any drain from the loop: an attached storm's records
	 * never run dry, and an unbounded drain here would hold the loop (and
	 * --detach-after) for as long as the storm lasts. */
	if (!e->main_reaped && e->main_pid > 0)
		drain(e, DRAIN_BUDGET_NS);
}

bool ebpf_all_gone(const struct ebpf *e)
{
	return e->main_reaped && e->nalive == 0;
}

int ebpf_main_status(const struct ebpf *e)
{
	return e->main_status;
}

size_t ebpf_alive(const struct ebpf *e, pid_t *pids, size_t max)
{
	size_t n = 0;

	for (const struct eproc *p = e->first; p; p = p->next)
		if (p->alive && n < max)
			pids[n++] = p->pid;
	return e->nalive;
}

void ebpf_snapshot(struct ebpf *e)
{
	backtrace_snapshot(e->bt); /* every stack, before the origins naming them */
	for (struct eproc *p = e->first; p; p = p->next) {
		emit_cmdline(e, p, MEVI_EV_PROC_START, 0);
		if (p->mm) {
			mm_emit_snapshot(p->mm, p->pid);
			backtrace_mm_snapshot(p->mm->bt, p->mm->map, p->pid);
		}
		if (!p->alive)
			emit_exit(e, p);
	}
}

const struct ebpf_stats *ebpf_stats(const struct ebpf *e)
{
	return &e->st;
}

#else /* !MEVI_HAVE_EBPF */

struct ebpf {
	struct ebpf_stats st;
};

bool ebpf_built_in(void)
{
	return false;
}

int ebpf_open(const struct ebpf_config *cfg, struct ebpf **out, char *why)
{
	snprintf(why, EBPF_WHY_LEN,
		 "this mevi-run was built without the eBPF engine (libbpf, bpftool or clang "
		 "were missing at configure time)");
	return -ENOSYS;
}

int ebpf_prepare(const struct ebpf_config *cfg, struct ebpf **out, char *why)
{
	return ebpf_open(cfg, out, why);
}

int ebpf_load(struct ebpf *e, char *why)
{
	return -ENOSYS;
}

int ebpf_resume(struct ebpf *e, struct event_base *base, char *why)
{
	return -ENOSYS;
}

void ebpf_close(struct ebpf *e)
{
}

int ebpf_launch(struct ebpf *e, struct spawn *sp, char *const argv[])
{
	return 125;
}

int ebpf_attach(struct ebpf *e, pid_t pid)
{
	return -ENOSYS;
}

void ebpf_detach(struct ebpf *e)
{
}

bool ebpf_detached(const struct ebpf *e)
{
	return false;
}

void ebpf_reap(struct ebpf *e)
{
}

bool ebpf_all_gone(const struct ebpf *e)
{
	return true;
}

int ebpf_main_status(const struct ebpf *e)
{
	return -1;
}

size_t ebpf_alive(const struct ebpf *e, pid_t *pids, size_t max)
{
	return 0;
}

void ebpf_snapshot(struct ebpf *e)
{
}

void ebpf_drain(struct ebpf *e)
{
}

void ebpf_finish(struct ebpf *e)
{
}

void ebpf_emit_engine(struct ebpf *e)
{
}

const struct ebpf_stats *ebpf_stats(const struct ebpf *e)
{
	return &e->st;
}

#endif /* MEVI_HAVE_EBPF */
