/* backtrace — origins of new mappings, first-touch threads and thread names. */
#include "backtrace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "elfcache.h"
#include "event.h"
#include "log.h"
#include "memmap.h"
#include "monotime.h"
#include "outbox.h"
#include "procfs.h"
#include "srcline.h"
#include "stackintern.h"
#include "syscalls.h"
#include "tagmap.h"
#include "unwind.h"

#define PAGE	   MEVI_PAGE_SIZE
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))
#define NTHREADS   64 /* buckets of the thread-name table */
/* Origins kept for a snapshot are pruned to the mapped ranges past this many
 * (the bound doubles when pruning does not help). */
#define ORIGINS_PRUNE 16384

struct backtrace {
	struct outbox *out;
	enum backtrace_mode mode;
	unsigned depth;
	struct stackintern *stacks;
	struct srcline *src; /* file:line lookups, off the loop thread */
	uint32_t next_image;
	/* Statistics. */
	uint64_t unwinds, failures, unwind_ns, symbolize_ns, new_stacks, origins, threads;
	uint64_t opens, open_ns, src_lookups;
	unsigned reports, live_reads;
};

struct thread_name {
	pid_t tid;
	bool sent;
	uint64_t checked_ns;
	char name[16];
	struct thread_name *next;
};

struct backtrace_mm {
	struct backtrace *bt;
	pid_t pid;
	const struct memmap *map;
	uint32_t image; /* process image: exec starts a new one, fork keeps it */
	struct unwind *uw;
	bool uw_failed;
	char *layout;	  /* /proc/PID/maps read earlier (backtrace_mm_save_layout) */
	uint64_t brk_end; /* page-aligned program break, 0 until the first brk */
	struct tagmap *origins;
	size_t origins_limit;
	struct thread_name *threads[NTHREADS];
	struct thread_name *last; /* the thread that faulted last */
};

int backtrace_mode_parse(const char *s)
{
	if (!strcmp(s, "off"))
		return BACKTRACE_OFF;
	if (!strcmp(s, "mmap"))
		return BACKTRACE_MMAP;
	if (!strcmp(s, "all"))
		return BACKTRACE_ALL;
	return -1;
}

static void symbol_found(void *ctx, uint32_t sym, const char *func, const char *source)
{
	struct backtrace *bt = ctx;

	stackintern_sym_resolved(bt->stacks, sym, func, source, bt->out);
}

struct backtrace *backtrace_new(struct outbox *out, struct event_base *base,
				enum backtrace_mode mode, unsigned depth)
{
	struct backtrace *bt;

	if (mode == BACKTRACE_OFF)
		return NULL;
	bt = calloc(1, sizeof(*bt));
	if (!bt || !(bt->stacks = stackintern_new()) ||
	    !(bt->src = srcline_new(base, symbol_found, bt))) {
		if (bt)
			stackintern_free(bt->stacks);
		free(bt);
		log_warn("out of memory: no backtraces");
		return NULL;
	}
	bt->out = out;
	bt->mode = mode;
	bt->depth = depth < 1 ? 1 : depth > MEVI_STACK_MAX_FRAMES ? MEVI_STACK_MAX_FRAMES : depth;
	return bt;
}

void backtrace_free(struct backtrace *bt)
{
	struct stackintern_counts c;
	unsigned elf_opened, elf_shared;

	if (!bt)
		return;
	srcline_free(bt->src);
	stackintern_counts(bt->stacks, &c);
	elfcache_counts(&elf_opened, &elf_shared);
	log_debug("backtraces: %lu unwinds (%lu without a stack), %.1f us per unwind "
		  "(%lu unwinders opened in %.1f ms, not included); %lu stacks, %lu symbols of "
		  "%lu modules, %.1f ms symbolising, %lu symbol lookups in the background; "
		  "%lu origins, %lu thread names, %u module reports, %u pages read from processes; "
		  "%u ELF files opened, %u times one served another module",
		  (unsigned long)bt->unwinds, (unsigned long)bt->failures,
		  bt->unwinds ? (double)bt->unwind_ns / 1e3 / (double)bt->unwinds : 0.0,
		  (unsigned long)bt->opens, (double)bt->open_ns / 1e6, (unsigned long)c.stacks,
		  (unsigned long)c.syms, (unsigned long)c.modules, (double)bt->symbolize_ns / 1e6,
		  (unsigned long)bt->src_lookups, (unsigned long)bt->origins,
		  (unsigned long)bt->threads, bt->reports, bt->live_reads, elf_opened, elf_shared);
	stackintern_free(bt->stacks);
	free(bt);
	elfcache_clear(); /* modules still open elsewhere keep their files */
}

bool backtrace_wants_exit(const struct backtrace *bt, int kind, const uint64_t args[6])
{
	if (!bt)
		return false;
	if (bt->mode == BACKTRACE_ALL)
		return kind == SYSCALL_MMAP || kind == SYSCALL_MREMAP || kind == SYSCALL_BRK ||
		       kind == SYSCALL_MADVISE;
	if (kind == SYSCALL_MMAP)
		return (args[3] & MAP_ANONYMOUS) && args[1] >= BACKTRACE_YOUNG_MIN_BYTES;
	return kind == SYSCALL_MREMAP && args[2] >= BACKTRACE_YOUNG_MIN_BYTES;
}

/* unwind_keep_fn: the unwinder read the layout (never empty); it goes on
 * borrowing it. */
static void unwinder_read(void *ctx, char *text)
{
	struct backtrace_mm *b = ctx;

	free(b->layout);
	b->layout = text;
}

void backtrace_mm_set_layout(struct backtrace_mm *b, char *text)
{
	if (!b || !*text) {
		free(text); /* an empty one is a zombie's: the layout it had is worth more */
		return;
	}
	free(b->layout);
	b->layout = text;
	if (b->uw)
		unwind_set_saved(b->uw, text);
}

void backtrace_mm_save_layout(struct backtrace_mm *b)
{
	char *text;
	size_t len;

	if (b && procfs_read(b->pid, "maps", UNWIND_MAPS_MAX, &text, &len) == 0)
		backtrace_mm_set_layout(b, text);
}

struct backtrace_mm *backtrace_mm_new(struct backtrace *bt, pid_t pid, const struct memmap *map,
				      const struct backtrace_mm *parent)
{
	struct backtrace_mm *b;

	if (!bt)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->bt = bt;
	b->pid = pid;
	b->map = map;
	b->origins_limit = ORIGINS_PRUNE;
	b->origins = parent ? tagmap_clone(parent->origins) : tagmap_new();
	if (!b->origins) {
		free(b);
		return NULL;
	}
	if (parent) {
		/* A fork: the same code at the same addresses. */
		b->image = parent->image;
		b->brk_end = parent->brk_end;
		b->layout = parent->layout ? strdup(parent->layout) : NULL;
	} else {
		b->image = ++bt->next_image;
	}
	return b;
}

void backtrace_mm_free(struct backtrace_mm *b)
{
	if (!b)
		return;
	if (b->uw) {
		b->bt->reports += unwind_reports(b->uw);
		b->bt->live_reads += unwind_live_reads(b->uw);
	}
	unwind_free(b->uw);
	free(b->layout);
	tagmap_free(b->origins);
	for (size_t i = 0; i < NTHREADS; i++) {
		for (struct thread_name *t = b->threads[i], *next; t; t = next) {
			next = t->next;
			free(t);
		}
	}
	free(b);
}

/* ---- stacks ---- */

/* The module and symbol ids of frame depth at pc (0 when unknown). */
static void resolve(struct backtrace_mm *b, uint64_t pc, unsigned depth, uint32_t *mod,
		    uint32_t *sym)
{
	struct stackintern *st = b->bt->stacks;
	const char *name;
	uint64_t offset, vaddr;
	void **slot;
	char func[256];
	bool want_source;

	*mod = 0;
	*sym = 0;
	if (!unwind_module(b->uw, pc, depth, &name, &offset, &vaddr, &slot))
		return;
	*mod = (uint32_t)(uintptr_t)*slot;
	if (!*mod) {
		*mod = stackintern_module(st, name, b->image);
		*slot = (void *)(uintptr_t)*mod;
		if (!*mod)
			return;
	}
	*sym = stackintern_sym_find(st, *mod, offset, depth > 0);
	if (*sym)
		return;
	/* A file's symbols are looked up in the background (srcline.h); the
	 * vdso or a deleted file can only be read here, from memory. */
	want_source = name[0] == '/' && vaddr && !strstr(name, " (deleted)");
	func[0] = '\0';
	if (!want_source)
		unwind_symbolize(b->uw, pc, depth, func, sizeof(func), NULL, 0);
	*sym = stackintern_sym_add(st, *mod, offset, depth > 0, func, "", want_source);
	if (!*sym || !want_source)
		return;
	b->bt->src_lookups++;
	if (srcline_request(b->bt->src, name, vaddr, depth > 0, *sym))
		stackintern_sym_resolved(st, *sym, "", "", b->bt->out); /* no waiters yet */
}

/* Unwinds thread tid (from snap when not NULL, else in its ptrace stop) and
 * interns its stack, emitting it when new. Returns its id, or 0 when there
 * is none. */
static uint32_t capture(struct backtrace_mm *b, pid_t tid, const struct unwind_snapshot *snap)
{
	struct backtrace *bt = b->bt;
	uint64_t pcs[MEVI_STACK_MAX_FRAMES], t0, t1;
	uint32_t mods[MEVI_STACK_MAX_FRAMES], syms[MEVI_STACK_MAX_FRAMES], id;
	int n;

	bt->unwinds++;
	t0 = mono_ns();
	if (!b->uw && !b->uw_failed) {
		int err = unwind_open(b->pid, b->layout, unwinder_read, b, &b->uw);

		if (err) {
			log_debug("pid %d: no backtraces: %s", (int)b->pid, strerror(-err));
			b->uw_failed = true;
		}
		bt->opens++;
		t1 = mono_ns();
		bt->open_ns += t1 - t0;
		t0 = t1;
	}
	if (!b->uw)
		n = -ESRCH;
	else if (snap)
		n = unwind_snapshot(b->uw, tid, snap, pcs, bt->depth);
	else
		n = unwind_thread(b->uw, tid, pcs, bt->depth);
	t1 = mono_ns();
	bt->unwind_ns += t1 - t0;
	if (n <= 0) {
		bt->failures++;
		return 0;
	}
	id = stackintern_find(bt->stacks, b->image, pcs, (unsigned)n);
	if (id)
		return id;
	for (int i = 0; i < n; i++)
		resolve(b, pcs[i], (unsigned)i, &mods[i], &syms[i]);
	id = stackintern_add(bt->stacks, b->pid, b->image, pcs, mods, syms, (unsigned)n);
	if (id) {
		stackintern_emit(bt->stacks, bt->out, id);
		bt->new_stacks++;
	}
	bt->symbolize_ns += mono_ns() - t1;
	return id;
}

/* Keeps the origins of a long-running process with much address churn from
 * growing: only those of mapped ranges are worth a snapshot. */
struct prune_ctx {
	struct tagmap *keep;
	uint32_t value;
};

static int prune_map_cb(const struct memmap_range *r, void *arg)
{
	struct prune_ctx *pc = arg;

	tagmap_set(pc->keep, r->start, r->end, pc->value);
	return 0;
}

static int prune_origin_cb(const struct tagmap_range *r, void *arg)
{
	struct backtrace_mm *b = ((void **)arg)[0];
	struct prune_ctx pc = {((void **)arg)[1], r->value};

	memmap_walk_range(b->map, r->start, r->end, prune_map_cb, &pc);
	return 0;
}

static void prune_origins(struct backtrace_mm *b)
{
	struct tagmap *keep = tagmap_new();
	void *arg[2] = {b, keep};

	if (!keep)
		return;
	tagmap_walk(b->origins, prune_origin_cb, arg);
	tagmap_free(b->origins);
	b->origins = keep;
	if (tagmap_count(keep) * 2 > b->origins_limit)
		b->origins_limit *= 2;
}

static void emit_origin(struct backtrace_mm *b, uint64_t start, uint64_t end, uint32_t id)
{
	struct mevi_event ev = {.type = MEVI_EV_ORIGIN, .pid = b->pid};

	ev.origin.range.start = start;
	ev.origin.range.end = end;
	ev.origin.stack_id = id;
	outbox_emit(b->bt->out, &ev);
	b->bt->origins++;
	tagmap_set(b->origins, start, end, id);
	if (tagmap_count(b->origins) > b->origins_limit)
		prune_origins(b);
}

void backtrace_syscall_exit(struct backtrace_mm *b, pid_t tid, int kind, const uint64_t args[6],
			    int64_t rval, bool is_error, const struct unwind_snapshot *snap)
{
	uint64_t start = 0, end = 0;
	uint32_t id;

	if (!b)
		return;
	switch (kind) {
	case SYSCALL_MMAP:
		if (is_error)
			return;
		start = (uint64_t)rval;
		end = start + PAGE_UP(args[1]);
		break;
	case SYSCALL_MREMAP: {
		uint64_t old_len = PAGE_UP(args[1]), new_len = PAGE_UP(args[2]);

		if (is_error)
			return;
		start = (uint64_t)rval;
		end = start + new_len;
		if (start == args[0]) /* in place: only a grown tail is new */
			start += old_len;
		break;
	}
	case SYSCALL_BRK: {
		/* brk returns the break, also when it refuses to move it. */
		uint64_t now = PAGE_UP((uint64_t)rval), before = b->brk_end;

		b->brk_end = now;
		if (!before)
			return; /* the first brk seen: normally brk(0) */
		start = before;
		end = now;
		break;
	}
	case SYSCALL_MADVISE:
		/* Mode all: the stack is interned and sent; an origin is about
		 * who mapped memory, so none is emitted. */
		if (b->bt->mode == BACKTRACE_ALL && !is_error)
			capture(b, tid, snap);
		return;
	default:
		return;
	}
	if (start >= end || end > MEVI_ADDR_LIMIT || start % PAGE)
		return;
	id = capture(b, tid, snap);
	if (id)
		emit_origin(b, start, end, id);
}

/* ---- touches ---- */

/* Reads the thread's name into buf (16 bytes). Returns false if it is gone. */
static bool read_comm(pid_t pid, pid_t tid, char *buf)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		/* A thread of a vfork or CLONE_VM child sharing this space. */
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return false;
	n = read(fd, buf, 15);
	close(fd);
	if (n <= 0)
		return false;
	if (buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return true;
}

static void emit_thread(struct backtrace_mm *b, struct thread_name *t)
{
	struct mevi_event ev = {.type = MEVI_EV_THREAD, .pid = b->pid};

	ev.thread.tid = t->tid;
	ev.thread.name.ptr = t->name;
	ev.thread.name.len = (uint32_t)strlen(t->name);
	outbox_emit(b->bt->out, &ev);
	t->sent = true;
	b->bt->threads++;
}

/* Sends the thread's name if it was not sent yet or may have changed. */
static void check_thread(struct backtrace_mm *b, pid_t tid, const char *comm)
{
	struct thread_name *t = b->last;
	uint64_t now;
	char name[16];

	if (!t || t->tid != tid) {
		for (t = b->threads[tid % NTHREADS]; t && t->tid != tid; t = t->next)
			;
		if (!t) {
			t = calloc(1, sizeof(*t));
			if (!t)
				return;
			t->tid = tid;
			t->next = b->threads[tid % NTHREADS];
			b->threads[tid % NTHREADS] = t;
		}
		b->last = t;
	}
	if (comm) {
		/* Named at the fault itself: the thread may be gone by now. */
		snprintf(name, sizeof(name), "%.15s", comm);
		if (t->sent && !strcmp(name, t->name))
			return;
		memcpy(t->name, name, sizeof(name));
		emit_thread(b, t);
		return;
	}
	now = mono_ns();
	if (t->sent && now - t->checked_ns < BACKTRACE_NAME_CHECK_NS)
		return;
	t->checked_ns = now;
	if (!read_comm(b->pid, tid, name)) {
		if (!t->sent) {
			/* Exited already: a name that says so, once. */
			snprintf(t->name, sizeof(t->name), "%d", (int)tid);
			emit_thread(b, t);
		}
		return;
	}
	if (t->sent && !strcmp(name, t->name))
		return;
	memcpy(t->name, name, sizeof(name));
	emit_thread(b, t);
}

void backtrace_brk_seen(struct backtrace_mm *b, uint64_t brk)
{
	if (b)
		b->brk_end = PAGE_UP(brk);
}

void backtrace_fault(struct backtrace_mm *b, pid_t tid, uint64_t page, const char *comm)
{
	if (tid <= 0) {
		outbox_state(b->bt->out, b->pid, page, page + PAGE, MEVI_STATE_RESIDENT);
		return;
	}
	check_thread(b, tid, comm);
	outbox_state_touch(b->bt->out, b->pid, page, page + PAGE, MEVI_STATE_RESIDENT, tid);
}

/* ---- snapshots ---- */

void backtrace_finish(struct backtrace *bt)
{
	if (bt)
		srcline_drain(bt->src, 2000);
}

void backtrace_snapshot(struct backtrace *bt)
{
	if (bt)
		stackintern_emit_all(bt->stacks, bt->out);
}

struct snap_ctx {
	struct backtrace_mm *b;
	pid_t pid;
	uint32_t value;
};

static int snap_map_cb(const struct memmap_range *r, void *arg)
{
	struct snap_ctx *sc = arg;
	struct mevi_event ev = {.type = MEVI_EV_ORIGIN, .pid = sc->pid};

	ev.origin.range.start = r->start;
	ev.origin.range.end = r->end;
	ev.origin.stack_id = sc->value;
	outbox_emit(sc->b->bt->out, &ev);
	return 0;
}

static int snap_origin_cb(const struct tagmap_range *r, void *arg)
{
	struct snap_ctx *sc = arg;

	sc->value = r->value;
	memmap_walk_range(sc->b->map, r->start, r->end, snap_map_cb, sc);
	return 0;
}

void backtrace_mm_snapshot(struct backtrace_mm *b, const struct memmap *map, pid_t pid)
{
	struct snap_ctx sc = {.b = b, .pid = pid};

	if (!b)
		return;
	b->map = map;
	tagmap_walk(b->origins, snap_origin_cb, &sc);
	for (size_t i = 0; i < NTHREADS; i++)
		for (struct thread_name *t = b->threads[i]; t; t = t->next)
			t->sent = false;
}
