/* unwind — unwinding a stopped thread with libdwfl, reading its memory safely. */
#include "unwind.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "elfcache.h"
#include "log.h"
#include "monotime.h"
#include "procfs.h"

#define PAGE 4096u
/* Pages of tracee memory one unwind keeps: a deep stack spans a few. */
#define CACHE_PAGES 8
/* Without a count of code mappings (unwind_snapshot), the module list is
 * reported again at most this often when unknown code is met, after the first
 * REFRESH_FREE times (start-up maps libraries in a burst; a JIT's code never
 * belongs to a module: do not re-read maps for each of its frames). */
#define REFRESH_MIN_NS (50ull * 1000 * 1000)
#define REFRESH_FREE   16
/* How long the live pages read for one snapshot's unwind serve the next ones
 * (see walk_thread). */
#define SNAPSHOT_PAGES_NS (2ull * 1000 * 1000)

struct page_slot {
	uint64_t page; /* address */
	uint32_t gen;  /* valid when equal to unwind.gen */
	bool ok;       /* false: absent or unreadable */
	uint8_t data[PAGE];
};

struct unwind {
	Dwfl *dwfl;
	pid_t pid;
	int mem_fd;	/* /proc/PID/mem */
	int pagemap_fd; /* /proc/PID/pagemap */
	uint64_t reported_ns;
	unsigned reports;
	unsigned live_reads;  /* pages read from the process (get_page misses) */
	bool code_maps_known; /* code_maps: the snapshot's count at the last refresh tried */
	uint32_t code_maps;
	const char *saved;   /* the owner's text of /proc/PID/maps, or NULL */
	bool saved_reported; /* the module list is saved's */
	unwind_keep_fn keep; /* takes the text of each live read (unwind_open) */
	void *keep_ctx;
	uint32_t gen;	 /* the current unwind; page slots of older ones are stale */
	uint64_t gen_ns; /* when a snapshot's unwind began gen; 0: a stopped thread's */
	const struct unwind_snapshot *snap; /* during unwind_snapshot only */
	unsigned next_slot;
	struct page_slot slots[CACHE_PAGES];
};

/* The page at addr, read safely (see unwind.h), or NULL. */
static const uint8_t *get_page(struct unwind *u, uint64_t page)
{
	struct page_slot *s;
	uint64_t entry = 0;

	for (unsigned i = 0; i < CACHE_PAGES; i++) {
		s = &u->slots[i];
		if (s->gen == u->gen && s->page == page)
			return s->ok ? s->data : NULL;
	}
	s = &u->slots[u->next_slot];
	u->next_slot = (u->next_slot + 1) % CACHE_PAGES;
	s->page = page;
	s->gen = u->gen;
	s->ok = false;
	if (page >= (UINT64_C(1) << 56))
		return NULL;
	u->live_reads++;
	/* Bit 63: present. A swapped page (bit 62) would be swapped in by the
	 * read: leave it alone too. */
	if (pread(u->pagemap_fd, &entry, sizeof(entry), (off_t)(page / PAGE * sizeof(entry))) !=
		(ssize_t)sizeof(entry) ||
	    !(entry >> 63))
		return NULL;
	if (pread(u->mem_fd, s->data, PAGE, (off_t)page) != (ssize_t)PAGE)
		return NULL;
	s->ok = true;
	return s->data;
}

static bool cb_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	struct unwind *u = arg;
	uint8_t buf[sizeof(*result)];

	if (u->snap) {
		uint64_t sp = arch_regs_sp(&u->snap->regs);

		if (addr >= sp && addr - sp <= u->snap->len &&
		    u->snap->len - (addr - sp) >= sizeof(*result)) {
			memcpy(result, u->snap->stack + (addr - sp), sizeof(*result));
			return true;
		}
	}
	for (size_t done = 0; done < sizeof(buf);) {
		uint64_t at = addr + done, page = at & ~(uint64_t)(PAGE - 1);
		size_t off = (size_t)(at - page), n = PAGE - off;
		const uint8_t *p = get_page(u, page);

		if (!p)
			return false;
		if (n > sizeof(buf) - done)
			n = sizeof(buf) - done;
		memcpy(buf + done, p + off, n);
		done += n;
	}
	memcpy(result, buf, sizeof(buf));
	return true;
}

static pid_t cb_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	return 0; /* threads are only ever asked for by tid */
}

static bool cb_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg; /* the struct unwind */
	return true;
}

/* The thread is in a ptrace stop of ours (read its registers, no attach), or
 * was captured in a snapshot. */
static bool cb_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct unwind *u = arg;
	struct arch_regs regs;
	uint64_t dw[32];
	unsigned n;

	if (u->snap)
		regs = u->snap->regs;
	else if (arch_get_regs(dwfl_thread_tid(thread), &regs))
		return false;
	n = arch_dwarf_regs(&regs, dw, 32);
	return dwfl_thread_state_registers(thread, 0, n, (const Dwarf_Word *)dw);
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = cb_next_thread,
    .get_thread = cb_get_thread,
    .memory_read = cb_memory_read,
    .set_initial_registers = cb_set_initial_registers,
    /* No thread_detach / detach: nothing was attached. */
};

/* Separate debug files are left to srcline.h: unwinding uses .eh_frame, and
 * loading libc's debug file here costs milliseconds in every process. */
static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
			const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
			char **debuginfo_file_name)
{
	return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = elfcache_find_elf,
    .find_debuginfo = no_debuginfo,
};

/* The vdso's line of a maps text, as libdwfl names it when it reads a live
 * process: "[vdso: PID]", which its find_elf reads from /proc/PID/mem. */
static void report_vdso(struct unwind *u, const char *text)
{
	const char *at = strstr(text, " [vdso]"), *line = at;
	unsigned long long start, end;
	char name[32];

	if (!at)
		return;
	while (line > text && line[-1] != '\n')
		line--;
	if (sscanf(line, "%llx-%llx ", &start, &end) != 2)
		return;
	snprintf(name, sizeof(name), "[vdso: %d]", (int)u->pid);
	dwfl_report_module(u->dwfl, name, start, end);
}

/*
 * (Re)reads the module list from text, or from /proc/PID/maps when text is
 * NULL. Known modules are kept with their caches; vanished ones are dropped.
 * A live read is made here, whole, rather than by libdwfl (which reads it a
 * line at a time): its text then goes to the owner (keep) and is the saved
 * text from then on, so that the one read serves both. Returns 0 or -errno
 * (-ESRCH: gone, or a zombie, whose maps read empty).
 */
static int report(struct unwind *u, const char *text)
{
	char *live = NULL;
	size_t len = 0;
	int ret;

	if (!text) {
		ret = procfs_read(u->pid, "maps", UNWIND_MAPS_MAX, &live, &len);
		if (ret)
			return ret;
		if (!len) {
			free(live);
			return -ESRCH;
		}
		text = live;
	}
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	dwfl_report_begin(u->dwfl);
	ret = f ? dwfl_linux_proc_maps_report(u->dwfl, f) : errno;
	if (f)
		fclose(f);
	if (live && ret == 0)
		report_vdso(u, text);
	if (dwfl_report_end(u->dwfl, NULL, NULL) != 0 && ret == 0)
		ret = -1;
	u->reported_ns = mono_ns();
	u->reports++;
	if (live) {
		/* The list is the kept text's now, or no saved text's. */
		u->saved_reported = ret == 0 && u->keep;
		if (u->saved_reported) {
			u->keep(u->keep_ctx, live);
			u->saved = live;
		} else {
			free(live);
		}
	}
	/* dwfl_linux_proc_maps_report returns an errno value, or -1 for a
	 * libdwfl error. */
	return ret > 0 ? -ret : ret < 0 ? -EIO : 0;
}

static int count_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
			void *arg)
{
	return DWARF_CB_ABORT; /* one is enough: dwfl_getmodules returns non-zero */
}

/* Whether the process still has an address space: a read of its pagemap
 * (at addr, code it ran) gives end-of-file once it has none. Not its memory:
 * that read could map a page the program never touched (unwind.h). */
static bool has_mm(struct unwind *u, uint64_t addr)
{
	uint64_t entry;

	return u->pagemap_fd >= 0 && pread(u->pagemap_fd, &entry, sizeof(entry),
					   (off_t)(addr / PAGE * sizeof(entry))) != 0;
}

/*
 * Reports the module list again: the live one while the process has an
 * address space (at open, or when has_mm at addr). Once it has none (gone,
 * or a zombie, whose maps read empty: reporting those would drop every
 * module), the owner's saved text, unless that is what is reported already.
 * Returns 0, or -errno with the list unchanged (-ESRCH: nothing newer).
 */
static int refresh(struct unwind *u, bool opening, uint64_t addr)
{
	int err = -ESRCH;

	if (u->mem_fd >= 0 && (opening || has_mm(u, addr))) {
		err = report(u, NULL);
		if (!err && dwfl_getmodules(u->dwfl, count_module, NULL, 0) != 0)
			return 0;
		/* It ended in between, or it has no module at all. */
	}
	if (!u->saved || u->saved_reported)
		return err;
	err = report(u, u->saved);
	u->saved_reported = err == 0;
	return err;
}

static int open_proc(pid_t pid, const char *what)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int unwind_open(pid_t pid, const char *saved, unwind_keep_fn keep, void *keep_ctx,
		struct unwind **out)
{
	struct unwind *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	/* libdwfl's standard debuginfo lookup asks debuginfod servers when
	 * this is set: a network wait inside the event loop. mevi-run's own
	 * environment only (the tracee was given its environment already). */
	if (getenv("DEBUGINFOD_URLS"))
		unsetenv("DEBUGINFOD_URLS");
	u->pid = pid;
	u->gen = 1;
	u->mem_fd = open_proc(pid, "mem");
	u->pagemap_fd = open_proc(pid, "pagemap");
	if ((u->mem_fd < 0 || u->pagemap_fd < 0) && !saved) {
		err = -errno;
		goto err_fds;
	}
	u->dwfl = dwfl_begin(&callbacks);
	if (!u->dwfl) {
		err = -ENOMEM;
		goto err_fds;
	}
	u->saved = saved;
	u->keep = keep;
	u->keep_ctx = keep_ctx;
	err = refresh(u, true, 0);
	if (err)
		goto err_dwfl;
	if (!dwfl_attach_state(u->dwfl, NULL, pid, &thread_callbacks, u)) {
		log_debug("pid %d: dwfl_attach_state: %s", (int)pid, dwfl_errmsg(-1));
		err = -ESRCH;
		goto err_dwfl;
	}
	*out = u;
	return 0;

err_dwfl:
	dwfl_end(u->dwfl);
err_fds:
	if (u->pagemap_fd >= 0)
		close(u->pagemap_fd);
	if (u->mem_fd >= 0)
		close(u->mem_fd);
	free(u);
	return err;
}

void unwind_set_saved(struct unwind *u, const char *saved)
{
	u->saved = saved;
	u->saved_reported = false;
}

void unwind_free(struct unwind *u)
{
	if (!u)
		return;
	dwfl_end(u->dwfl);
	if (u->pagemap_fd >= 0)
		close(u->pagemap_fd);
	if (u->mem_fd >= 0)
		close(u->mem_fd);
	free(u);
}

unsigned unwind_live_reads(const struct unwind *u)
{
	return u->live_reads;
}

unsigned unwind_reports(const struct unwind *u)
{
	return u->reports;
}

struct walk {
	uint64_t *pcs;
	unsigned n, max;
};

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	/* The outermost frame of a thread has a zero return address. */
	if (pc == 0)
		return DWARF_CB_ABORT;
	w->pcs[w->n++] = pc;
	return w->n < w->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

/* True when some pc lies outside the sections of every known module (libdwfl
 * rounds a module's range up past its last mapping, where the loader may
 * since have put another library). */
static bool unknown_pc(struct unwind *u, const uint64_t *pcs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		Dwarf_Addr at = i ? pcs[i] - 1 : pcs[i], bias;
		Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, at);

		if (!mod || !dwfl_module_address_section(mod, &at, &bias))
			return true;
	}
	return false;
}

static void walk_thread(struct unwind *u, pid_t tid, struct walk *w)
{
	uint64_t now = u->snap ? mono_ns() : 0;

	w->n = 0;
	/* A stopped thread's memory may have changed since the last unwind:
	 * its pages are read again. A snapshot's memory outside the copy is
	 * read from the running process, some time after the copy was made
	 * (the drain's delay): pages read up to SNAPSHOT_PAGES_NS ago are as
	 * good. A heap that grows in small steps had every brk's stack read
	 * the same page past the copy (the program's start-up frames), a
	 * pagemap and a mem read per unwind, each taking the program's mmap
	 * lock. */
	if (!now || !u->gen_ns || now - u->gen_ns >= SNAPSHOT_PAGES_NS) {
		u->gen++;
		u->gen_ns = now;
	}
	if (u->gen == 0) {
		for (unsigned i = 0; i < CACHE_PAGES; i++)
			u->slots[i].gen = 0;
		u->gen = 1;
	}
	/* An error after some frames is the normal end of most stacks (no CFI
	 * for _start, a frame pointer chain that stops, an absent page). */
	dwfl_getthread_frames(u->dwfl, tid, frame_cb, w);
}

int unwind_snapshot(struct unwind *u, pid_t tid, const struct unwind_snapshot *snap, uint64_t *pcs,
		    unsigned max)
{
	int n;

	u->snap = snap;
	n = unwind_thread(u, tid, pcs, max);
	u->snap = NULL;
	return n;
}

/* Whether unknown code met now may be newly mapped code worth a refresh. */
static bool may_refresh(struct unwind *u)
{
	const struct unwind_snapshot *s = u->snap;

	if (s && s->code_maps_known) {
		if (u->code_maps_known && u->code_maps == s->code_maps)
			return false; /* no library mapped since the last look */
		u->code_maps_known = true;
		u->code_maps = s->code_maps;
		return true;
	}
	return u->reports <= REFRESH_FREE || mono_ns() - u->reported_ns >= REFRESH_MIN_NS;
}

int unwind_thread(struct unwind *u, pid_t tid, uint64_t *pcs, unsigned max)
{
	struct walk w = {pcs, 0, max};

	if (max == 0)
		return -EINVAL;
	walk_thread(u, tid, &w);
	if (w.n > 0 && unknown_pc(u, pcs, w.n) && may_refresh(u) &&
	    refresh(u, false, pcs[0]) == 0) {
		/* New code was mapped (dlopen): unwind again through it. */
		walk_thread(u, tid, &w);
	}
	if (w.n == 0) {
		log_debug("tid %d: no stack: %s", (int)tid, dwfl_errmsg(-1));
		return -ESRCH;
	}
	return (int)w.n;
}

bool unwind_module(struct unwind *u, uint64_t pc, unsigned depth, const char **name,
		   uint64_t *offset, uint64_t *vaddr, void ***slot)
{
	Dwarf_Addr at = depth ? pc - 1 : pc, start = 0, bias = 0;
	Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, at);
	const char *mname;

	if (!mod)
		return false;
	mname = dwfl_module_info(mod, slot, &start, NULL, NULL, NULL, NULL, NULL);
	if (!mname)
		return false;
	*name = strncmp(mname, "[vdso", 5) == 0 ? "[vdso]" : mname;
	*offset = pc - start;
	*vaddr = dwfl_module_getelf(mod, &bias) ? at - bias : 0;
	return true;
}

void unwind_symbolize(struct unwind *u, uint64_t pc, unsigned depth, char *func, size_t func_len,
		      char *source, size_t source_len)
{
	Dwarf_Addr at = depth ? pc - 1 : pc;
	Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, at);
	GElf_Off off = 0;
	GElf_Sym sym;
	const char *name;
	Dwfl_Line *line;
	const char *src = NULL;
	int lineno = 0;

	func[0] = '\0';
	if (source)
		source[0] = '\0';
	if (!mod)
		return;
	name = dwfl_module_addrinfo(mod, at, &off, &sym, NULL, NULL, NULL);
	if (name)
		snprintf(func, func_len, "%s+0x%" PRIx64, name, (uint64_t)off + (pc - at));
	if (!source)
		return;
	line = dwfl_module_getsrc(mod, at);
	if (line)
		src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	if (src && lineno > 0) {
		const char *slash = strrchr(src, '/');

		snprintf(source, source_len, "%s:%d", slash ? slash + 1 : src, lineno);
	}
}
