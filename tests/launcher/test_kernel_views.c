/*
 * The launcher's two views of the kernel, each with a fast path and a
 * fallback: present pages (PAGEMAP_SCAN vs reading pagemap entries) and
 * private anonymous mappings (PROCMAP_QUERY vs parsing /proc/PID/maps).
 * On a known layout of this very process, every path must give the same,
 * expected answer — including the PAGEMAP_SCAN walk_end quirk (regions
 * reported twice if resumed naively), provoked with more present runs than
 * the scan vector holds — and the address space's size (vma_total) must be
 * what a whole walk adds up to. A whole walk's text is the file as read
 * (vma_copy_text), newlines and all; a narrower walk leaves none to copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "event.h"
#include "memmap.h"
#include "pagemap.h"
#include "procfs.h"
#include "vma.h"

#define PAGE	 4096u
#define MAX_RUNS 4096

struct runs {
	uint64_t v[2 * MAX_RUNS];
	size_t n;
};

static int collect(uint64_t s, uint64_t e, void *arg)
{
	struct runs *r = arg;

	if (r->n + 2 > 2 * MAX_RUNS)
		return -ENOSPC;
	r->v[r->n++] = s;
	r->v[r->n++] = e;
	return 0;
}

static void present_runs(bool use_scan, uint64_t start, uint64_t end, struct runs *out)
{
	struct pagemap pm;

	assert_int_equal(pagemap_open(&pm, getpid()), 0);
	if (use_scan && !pm.use_scan)
		skip(); /* kernel older than 6.7 */
	pm.use_scan = use_scan;
	out->n = 0;
	assert_int_equal(pagemap_present(&pm, start, end, collect, out), 0);
	pagemap_close(&pm);
}

/* 1024 pages, every third one touched: 342 separate present runs, more than
 * the 256-entry scan vector, so the walk resumes many times. */
static void test_present_sparse(void **state)
{
	size_t npages = 1024;
	uint8_t *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	static struct runs a, b;

	assert_ptr_not_equal(p, MAP_FAILED);
	madvise(p, npages * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < npages; i += 3)
		p[i * PAGE] = 1;
	present_runs(true, (uintptr_t)p, (uintptr_t)p + npages * PAGE, &a);
	present_runs(false, (uintptr_t)p, (uintptr_t)p + npages * PAGE, &b);
	assert_int_equal(a.n, 2 * 342);
	assert_int_equal(b.n, a.n);
	assert_memory_equal(a.v, b.v, a.n * sizeof(a.v[0]));
	for (size_t i = 0; i < a.n; i += 2) {
		assert_int_equal(a.v[i], (uintptr_t)p + (i / 2) * 3 * PAGE);
		assert_int_equal(a.v[i + 1] - a.v[i], PAGE);
	}
	munmap(p, npages * PAGE);
}

/* Adjacent present pages come back as one run; a sub-range clips them. */
static void test_present_merged_and_clipped(void **state)
{
	uint8_t *p =
	    mmap(NULL, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static struct runs a, b;

	assert_ptr_not_equal(p, MAP_FAILED);
	memset(p + 8 * PAGE, 1, 16 * PAGE);
	for (int scan = 0; scan < 2; scan++) {
		struct runs *r = scan ? &a : &b;

		present_runs(scan, (uintptr_t)p + 12 * PAGE, (uintptr_t)p + 64 * PAGE, r);
		assert_int_equal(r->n, 2);
		assert_int_equal(r->v[0], (uintptr_t)p + 12 * PAGE);
		assert_int_equal(r->v[1], (uintptr_t)p + 24 * PAGE);
	}
	munmap(p, 64 * PAGE);
}

static bool runs_cover(const struct runs *r, uint64_t addr)
{
	for (size_t i = 0; i < r->n; i += 2)
		if (r->v[i] <= addr && addr < r->v[i + 1])
			return true;
	return false;
}

/*
 * A walk of mevi's whole address space, [0, 2^56): most kernels refuse a
 * PAGEMAP_SCAN that ends above their own top of user space (2^47 - 4 KiB with
 * 4-level page tables), so the walk is clipped there. It still reports every
 * present page: a touched mapping, and this thread's stack near the top.
 */
static void test_present_whole_space(void **state)
{
	uint8_t *p =
	    mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint8_t on_stack = 1;
	static struct runs a;

	assert_ptr_not_equal(p, MAP_FAILED);
	p[2 * PAGE] = 1;
	for (int pass = 0; pass < 2; pass++) { /* learning the top, then known */
		present_runs(true, 0, MEVI_ADDR_LIMIT, &a);
		assert_true(runs_cover(&a, (uintptr_t)p + 2 * PAGE));
		assert_false(runs_cover(&a, (uintptr_t)p + 3 * PAGE));
		assert_true(runs_cover(&a, (uintptr_t)&on_stack));
	}
	munmap(p, 8 * PAGE);
}

struct pieces {
	uint64_t v[64];
	size_t n;
};

static int piece(uint64_t s, uint64_t e, void *arg)
{
	struct pieces *pc = arg;

	if (pc->n + 2 > 64)
		return -ENOSPC;
	pc->v[pc->n++] = s;
	pc->v[pc->n++] = e;
	return 0;
}

static void anon_pieces(bool use_query, uint64_t start, uint64_t end, struct pieces *out)
{
	struct vma_source src;

	assert_int_equal(vma_source_open(&src, getpid()), 0);
	if (use_query && !src.use_query)
		skip(); /* kernel older than 6.11 */
	src.use_query = use_query;
	out->n = 0;
	assert_int_equal(vma_private_anon(&src, start, end, piece, out), 0);
	vma_source_close(&src);
}

/* Anonymous, shared-anonymous, file and PROT_NONE mappings side by side:
 * only the private anonymous ones count, PROT_NONE included; adjacent
 * private anonymous VMAs of different protection form one piece. */
static void test_private_anon_pieces(void **state)
{
	uint8_t *base = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static struct pieces a, b;

	assert_ptr_not_equal(base, MAP_FAILED);
	/* [0,4) rw anon, [4,6) PROT_NONE anon, [6,8) shared anon, [8,10) file,
	 * [10,16) rw anon. */
	assert_int_equal(mprotect(base, 4 * PAGE, PROT_READ | PROT_WRITE), 0);
	assert_ptr_equal(mmap(base + 6 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 base + 6 * PAGE);
	assert_ptr_equal(mmap(base + 8 * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED,
			      open("/proc/self/exe", O_RDONLY), 0),
			 base + 8 * PAGE);
	assert_int_equal(mprotect(base + 10 * PAGE, 6 * PAGE, PROT_READ | PROT_WRITE), 0);
	for (int q = 0; q < 2; q++) {
		struct pieces *r = q ? &a : &b;

		anon_pieces(q, (uintptr_t)base, (uintptr_t)base + 16 * PAGE, r);
		assert_int_equal(r->n, 4);
		assert_int_equal(r->v[0], (uintptr_t)base);
		assert_int_equal(r->v[1], (uintptr_t)base + 6 * PAGE);
		assert_int_equal(r->v[2], (uintptr_t)base + 10 * PAGE);
		assert_int_equal(r->v[3], (uintptr_t)base + 16 * PAGE);
	}
	munmap(base, 16 * PAGE);
}

struct kinds {
	struct {
		uint64_t start, end;
		uint8_t kind;
		char name[PATH_MAX]; /* a mapped file's path: the build dir can be deep */
	} v[32];
	size_t n;
};

static int kind_cb(const struct vma_desc *d, void *arg)
{
	struct kinds *k = arg;
	size_t max = sizeof(k->v[0].name) - 1;
	size_t len = d->name_len < max ? d->name_len : max;

	if (k->n == 32)
		return -ENOSPC;
	k->v[k->n].start = d->start;
	k->v[k->n].end = d->end;
	k->v[k->n].kind = d->kind;
	memcpy(k->v[k->n].name, d->name, len);
	k->v[k->n].name[len] = '\0';
	k->n++;
	return 0;
}

/* Every kind of mapping, side by side, classified the same by PROCMAP_QUERY
 * and by /proc/PID/maps: anonymous, shared anonymous, a file, a memfd, and
 * the heap and stack of this process. */
static void test_vma_kinds(void **state)
{
	uint8_t *base = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int mfd = memfd_create("kinds-test", MFD_CLOEXEC);
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	static struct kinds a, b;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int local;

	assert_ptr_not_equal(base, MAP_FAILED);
	assert_true(mfd >= 0 && self >= 0 && n > 0);
	exe[n] = '\0';
	assert_int_equal(ftruncate(mfd, 2 * PAGE), 0);
	/* [0,2) anon, [2,4) shared anon, [4,6) the executable, [6,8) memfd. */
	assert_ptr_equal(mmap(base + 2 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 base + 2 * PAGE);
	assert_ptr_equal(
	    mmap(base + 4 * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, self, 0),
	    base + 4 * PAGE);
	assert_ptr_equal(mmap(base + 6 * PAGE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, mfd, 0),
			 base + 6 * PAGE);
	for (int q = 0; q < 2; q++) {
		struct kinds *r = q ? &a : &b;
		struct vma_source src;

		assert_int_equal(vma_source_open(&src, getpid()), 0);
		if (q && !src.use_query)
			skip(); /* kernel older than 6.11 */
		src.use_query = q;
		r->n = 0;
		assert_int_equal(
		    vma_each(&src, (uintptr_t)base, (uintptr_t)base + 8 * PAGE, kind_cb, r), 0);
		assert_int_equal(r->n, 4);
		assert_int_equal(r->v[0].kind, MEVI_KIND_ANON);
		assert_string_equal(r->v[0].name, "");
		assert_int_equal(r->v[1].kind, MEVI_KIND_SHMEM);
		assert_int_equal(r->v[2].kind, MEVI_KIND_FILE);
		assert_string_equal(r->v[2].name, exe);
		assert_int_equal(r->v[3].kind, MEVI_KIND_SHMEM);
		assert_true(strncmp(r->v[3].name, "/memfd:kinds-test", 17) == 0);
		for (size_t i = 0; i < 4; i++) {
			assert_int_equal(r->v[i].start, (uintptr_t)base + 2 * i * PAGE);
			assert_int_equal(r->v[i].end, (uintptr_t)base + 2 * (i + 1) * PAGE);
		}
		/* The stack this function runs on is [stack]. */
		r->n = 0;
		assert_int_equal(
		    vma_each(&src, (uintptr_t)&local, (uintptr_t)&local + 1, kind_cb, r), 0);
		assert_int_equal(r->n, 1);
		assert_int_equal(r->v[0].kind, MEVI_KIND_STACK);
		vma_source_close(&src);
	}
	munmap(base, 8 * PAGE);
	close(mfd);
	close(self);
}

/* Every mapping of a process, as vma_each() gives them. */
#define ALL_MAX 2048
struct all_vmas {
	struct vma_desc v[ALL_MAX];
	char names[ALL_MAX][PATH_MAX];
	size_t n;
};

static int all_cb(const struct vma_desc *d, void *arg)
{
	struct all_vmas *a = arg;

	if (a->n == ALL_MAX)
		return -ENOSPC;
	a->v[a->n] = *d;
	a->v[a->n].name = NULL;
	memcpy(a->names[a->n], d->name, d->name_len < PATH_MAX ? d->name_len : PATH_MAX - 1);
	a->n++;
	return 0;
}

/* A walk of the whole address space reads the text (vma.c), a narrower one
 * queries: both give every mapping alike, names and kinds included, with
 * hundreds of mappings of every kind around. */
static void test_whole_walk(void **state)
{
	/* Made before the walks, not on the heap: the walks must not change
	 * what they read. */
	struct all_vmas *text = mmap(NULL, 2 * sizeof(*text), PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
			*query = text + 1;
	struct vma_source src;
	int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	uint8_t *maps[300];

	assert_true(self >= 0);
	for (int i = 0; i < 300; i++) {
		maps[i] = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE | (i % 3 ? MAP_ANONYMOUS : 0),
			       i % 3 ? -1 : self, 0);
		assert_ptr_not_equal(maps[i], MAP_FAILED);
		assert_int_equal(mprotect(maps[i], PAGE, PROT_NONE), 0); /* no merging */
	}
	assert_int_equal(vma_source_open(&src, getpid()), 0);
	if (!src.use_query)
		skip(); /* kernel older than 6.11: the text either way */
	assert_ptr_not_equal(text, MAP_FAILED);
	/* Once first, so that the text's buffer has grown already. */
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT, all_cb, text), 0);
	text->n = 0;
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT, all_cb, text), 0);
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT - 1, all_cb, query), 0);
	assert_true(text->n > 600);
	assert_int_equal(text->n, query->n);
	for (size_t i = 0; i < text->n; i++) {
		assert_int_equal(text->v[i].start, query->v[i].start);
		assert_int_equal(text->v[i].end, query->v[i].end);
		assert_int_equal(text->v[i].kind, query->v[i].kind);
		assert_int_equal(text->v[i].private_anon, query->v[i].private_anon);
		assert_string_equal(text->names[i], query->names[i]);
	}
	vma_source_close(&src);
	munmap(text, 2 * sizeof(*text));
	for (int i = 0; i < 300; i++)
		munmap(maps[i], 2 * PAGE);
	close(self);
}

/* The VMAs a walk reported, as maps lines begin ("start-end "). */
struct starts {
	char line[1024][40];
	size_t n;
	size_t stop_after; /* 0: never */
};

static int starts_cb(const struct vma_desc *d, void *arg)
{
	struct starts *st = arg;

	if (st->n < 1024)
		snprintf(st->line[st->n], sizeof(st->line[0]), "%" PRIx64 "-%" PRIx64 " ", d->start,
			 d->end);
	st->n++;
	return st->stop_after && st->n == st->stop_after ? 1 : 0;
}

/* copy is a text of maps lines, each ending with a newline, nothing after
 * the last, the first st->n of which begin as the walk behind st reported.
 * Returns how many begin below MEVI_ADDR_LIMIT (the walks' end: not
 * [vsyscall]). */
static size_t assert_text_of(const char *copy, const struct starts *st)
{
	const char *line = copy;
	size_t i = 0, below = 0;

	assert_non_null(copy);
	for (; *line; i++) {
		const char *nl = strchr(line, '\n');

		assert_non_null(nl);
		if (i < st->n && i < 1024)
			assert_memory_equal(line, st->line[i], strlen(st->line[i]));
		below += strtoull(line, NULL, 16) < MEVI_ADDR_LIMIT;
		line = nl + 1;
	}
	return below;
}

static void test_copy_text(void **state)
{
	struct vma_source src;
	struct starts *all = calloc(2, sizeof(*all)), *part = all + 1;
	uint8_t *m = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *copy;

	(void)state;
	assert_non_null(all);
	assert_ptr_not_equal(m, MAP_FAILED);
	assert_int_equal(mprotect(m + PAGE, PAGE, PROT_NONE), 0); /* three VMAs */
	assert_int_equal(vma_source_open(&src, getpid()), 0);
	assert_null(vma_copy_text(&src)); /* no walk yet */
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT, starts_cb, all), 0);
	assert_true(all->n >= 3);
	copy = vma_copy_text(&src);
	assert_int_equal(assert_text_of(copy, all), all->n); /* every line, as walked */
	free(copy);
	/* A walk that stops early read the whole file all the same: the lines
	 * it parsed and those it did not are all there. (Not compared with
	 * the count above: a sanitizer's allocator maps memory of its own for
	 * the copy, so the number of VMAs can change in between.) */
	part->stop_after = 2;
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT, starts_cb, part), 1);
	assert_int_equal(part->n, 2);
	copy = vma_copy_text(&src);
	assert_true(assert_text_of(copy, part) >= 3); /* the three VMAs of m at least */
	free(copy);
	/* A narrower walk (a query where the kernel has it) has none to give. */
	if (src.use_query) {
		part->n = part->stop_after = 0;
		assert_int_equal(vma_each(&src, (uint64_t)(uintptr_t)m,
					  (uint64_t)(uintptr_t)m + 3 * PAGE, starts_cb, part),
				 0);
		assert_int_equal(part->n, 3);
		assert_null(vma_copy_text(&src));
	}
	vma_source_close(&src);
	assert_null(vma_copy_text(&src));
	munmap(m, 3 * PAGE);
	free(all);
}

/* Whether a walk reported a VMA of [start, end) exactly. */
struct find_vma {
	uint64_t start, end;
	size_t n;
	bool found;
};

static int find_cb(const struct vma_desc *d, void *arg)
{
	struct find_vma *f = arg;

	f->n++;
	f->found |= d->start == f->start && d->end == f->end;
	return 0;
}

/* vma_hold_text, then vma_each_held: the walk gives the layout as it was
 * when the text was held, after the process has unmapped the mapping and
 * ended (the exit stop's last read, mm_read_final); once, and only right
 * after the hold. */
static void test_held_text(void **state)
{
	struct vma_source src;
	struct find_vma f = {0}, again = {0};
	int go[2], ready[2];
	char line[64], *copy;
	uint64_t addr;
	pid_t child;
	int status;

	(void)state;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		char c;
		uint8_t *m = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t a = (uint64_t)(uintptr_t)m;

		if (m == MAP_FAILED || write(ready[1], &a, sizeof(a)) != sizeof(a) ||
		    read(go[0], &c, 1) != 1)
			_exit(1);
		munmap(m, 3 * PAGE);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &addr, sizeof(addr)), sizeof(addr));
	vma_source_defer(&src, child);
	assert_int_equal(vma_each_held(&src, find_cb, &f), -EINVAL); /* nothing held */
	assert_int_equal(vma_hold_text(&src), 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	f.start = addr;
	f.end = addr + 3 * PAGE;
	assert_int_equal(vma_each_held(&src, find_cb, &f), 0);
	assert_true(f.found);
	assert_true(f.n >= 4);	    /* the program, the loader, the stack, m */
	copy = vma_copy_text(&src); /* the held text is the whole space's */
	snprintf(line, sizeof(line), "%" PRIx64 "-%" PRIx64 " ", f.start, f.end);
	assert_non_null(copy);
	assert_non_null(strstr(copy, line));
	free(copy);
	assert_int_equal(vma_each_held(&src, find_cb, &again), -EINVAL); /* once */
	assert_int_equal(again.n, 0);
	/* Gone: the hold says so, and holds nothing. */
	assert_int_equal(vma_hold_text(&src), -ESRCH);
	assert_int_equal(vma_each_held(&src, find_cb, &again), -EINVAL);
	vma_source_close(&src);
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
}

struct state_runs {
	uint64_t v[3 * MAX_RUNS];
	size_t n;
};

static int collect_state(uint64_t s, uint64_t e, uint8_t state, void *arg)
{
	struct state_runs *r = arg;

	if (r->n + 3 > 3 * MAX_RUNS)
		return -ENOSPC;
	r->v[r->n++] = s;
	r->v[r->n++] = e;
	r->v[r->n++] = state;
	return 0;
}

static void state_runs(bool use_scan, uint64_t start, uint64_t end, struct state_runs *out)
{
	struct pagemap pm;

	assert_int_equal(pagemap_open(&pm, getpid()), 0);
	if (use_scan && !pm.use_scan)
		skip();
	pm.use_scan = use_scan;
	out->n = 0;
	assert_int_equal(pagemap_states(&pm, start, end, collect_state, out), 0);
	pagemap_close(&pm);
}

static bool swap_active(void)
{
	char line[256];
	int lines = 0;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	return lines > 1;
}

/* Whether the page at addr is in swap (pagemap entries, as state_runs). */
static bool page_swapped(const void *addr)
{
	static struct state_runs r;

	state_runs(false, (uintptr_t)addr, (uintptr_t)addr + PAGE, &r);
	return r.n == 3 && r.v[2] == MEVI_STATE_SWAPPED;
}

/*
 * Pages the page at addr out. MADV_PAGEOUT skips a page still in a CPU's
 * batch of pages not yet on the LRU lists, and drains only its own CPU's:
 * a thread that moved to the other CPU after its write left the page
 * there (CI saw a page stay present). So the thread stays on one
 * CPU, and the call is repeated until pagemap says the page is in swap.
 */
static void page_out(void *addr)
{
	for (int i = 0; i < 20 && !page_swapped(addr); i++)
		madvise(addr, PAGE, 21 /* MADV_PAGEOUT */);
}

/* Sampled mode's view: present and swapped runs, more of them than the
 * scan vector holds (the walk_end clipping again), the same through
 * PAGEMAP_SCAN and through pagemap entries. Every third page is present; with
 * swap, every third page from the second on is paged out first. */
static void test_states_sparse(void **state)
{
	size_t npages = 1024;
	uint8_t *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	static struct state_runs a, b;
	bool swap = swap_active();
	size_t swapped = 0, present = 0;

	cpu_set_t was, one;
	int cpu = sched_getcpu();

	assert_ptr_not_equal(p, MAP_FAILED);
	assert_int_equal(sched_getaffinity(0, sizeof(was), &was), 0);
	CPU_ZERO(&one);
	CPU_SET(cpu >= 0 ? cpu : 0, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	madvise(p, npages * PAGE, MADV_NOHUGEPAGE);
	for (size_t i = 1; swap && i < npages; i += 3) {
		p[i * PAGE] = 1;
		page_out(p + i * PAGE);
	}
	assert_int_equal(sched_setaffinity(0, sizeof(was), &was), 0);
	for (size_t i = 0; i < npages; i += 3)
		p[i * PAGE] = 1;
	state_runs(true, (uintptr_t)p, (uintptr_t)p + npages * PAGE, &a);
	state_runs(false, (uintptr_t)p, (uintptr_t)p + npages * PAGE, &b);
	assert_int_equal(b.n, a.n);
	assert_memory_equal(a.v, b.v, a.n * sizeof(a.v[0]));
	for (size_t i = 0; i < a.n; i += 3) {
		uint64_t page = (a.v[i] - (uintptr_t)p) / PAGE;

		assert_int_equal(a.v[i + 1] - a.v[i], PAGE);
		if (a.v[i + 2] == MEVI_STATE_RESIDENT) {
			assert_int_equal(page % 3, 0);
			present++;
		} else {
			assert_int_equal(a.v[i + 2], MEVI_STATE_SWAPPED);
			assert_int_equal(page % 3, 1);
			swapped++;
		}
	}
	assert_int_equal(present, 342);
	if (swap)
		assert_true(swapped > 300); /* the kernel may keep a few */
	else
		assert_int_equal(swapped, 0);
	munmap(p, npages * PAGE);
}

static void test_vdso_found(void **state)
{
	struct vma_source src;
	uint64_t s = 0, e = 0;

	assert_int_equal(vma_source_open(&src, getpid()), 0);
	assert_int_equal(vma_find_vdso(&src, getpid(), &s, &e), 0);
	assert_true(s < e);
	assert_int_equal(s % PAGE, 0);
	vma_source_close(&src);
}

static int add_size(const struct vma_desc *d, void *ctx)
{
	*(uint64_t *)ctx += d->end - d->start;
	return 0;
}

/*
 * vma_total (statm's size) is the sum of the mappings a whole walk reports,
 * which sampled mode's tick relies on to notice the mmaps it lets run without
 * a stop: it grows by a new mapping and shrinks back at its munmap, and a
 * file mapping with MAP_DENYWRITE placed inside it (the dynamic loader's
 * segments) leaves it as it was.
 */
static void test_vma_total(void **state)
{
	struct vma_source src;
	uint64_t walked = 0, total = 0, now = 0;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(vma_source_open(&src, getpid()), 0);
	/* A first walk allocates what the second needs: nothing maps between. */
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT, add_size, &walked), 0);
	walked = 0;
	assert_int_equal(vma_total(&src, &total), 0);
	assert_int_equal(vma_each(&src, 0, MEVI_ADDR_LIMIT, add_size, &walked), 0);
	assert_int_equal(walked, total);

	uint8_t *base = mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_ptr_not_equal(base, MAP_FAILED);
	assert_int_equal(vma_total(&src, &now), 0);
	assert_int_equal(now, total + 64 * PAGE);
	assert_ptr_equal(mmap(base + 8 * PAGE, 4 * PAGE, PROT_READ,
			      MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, fd, 0),
			 base + 8 * PAGE);
	assert_int_equal(vma_total(&src, &now), 0);
	assert_int_equal(now, total + 64 * PAGE);
	assert_int_equal(munmap(base, 64 * PAGE), 0);
	assert_int_equal(vma_total(&src, &now), 0);
	assert_int_equal(now, total);
	vma_source_close(&src);
	close(fd);
}

static void test_gone_process(void **state)
{
	struct pagemap pm;

	/* pid 0 is never a process: a clear error, no crash. */
	assert_true(pagemap_open(&pm, 0) < 0);
}

struct blocked {
	int fd;
	pid_t tid;
	int ready[2];
};

static void *block_in_read(void *arg)
{
	struct blocked *b = arg;
	char c;

	b->tid = (pid_t)syscall(SYS_gettid);
	if (write(b->ready[1], "r", 1) != 1)
		return NULL;
	if (read(b->fd, &c, 1) < 0)
		return NULL;
	return NULL;
}

/* procfs_task_sp: a thread blocked in read(), on a stack we gave it, has its
 * stack pointer inside that stack; an unknown thread gives 0. */
static void test_task_sp(void **state)
{
	const size_t size = 256 << 10;
	char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct blocked b = {0};
	pthread_attr_t attr;
	pthread_t th;
	int p[2];
	char c;
	uint64_t sp = 0;

	assert_true(stack != MAP_FAILED);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(b.ready), 0);
	b.fd = p[0];
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstack(&attr, stack, size), 0);
	assert_int_equal(pthread_create(&th, &attr, block_in_read, &b), 0);
	assert_int_equal(read(b.ready[0], &c, 1), 1);
	/* It reaches read() a moment after saying it is ready. */
	for (int i = 0; i < 1000 && !sp; i++) {
		sp = procfs_task_sp(getpid(), b.tid);
		if (!sp)
			usleep(1000);
	}
	assert_true(sp >= (uint64_t)(uintptr_t)stack && sp < (uint64_t)(uintptr_t)stack + size);
	assert_int_equal(procfs_task_sp(getpid(), 0), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_attr_destroy(&attr);
	close(p[0]);
	close(p[1]);
	close(b.ready[0]);
	close(b.ready[1]);
	munmap(stack, size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_present_sparse),
	    cmocka_unit_test(test_present_merged_and_clipped),
	    cmocka_unit_test(test_present_whole_space),
	    cmocka_unit_test(test_private_anon_pieces),
	    cmocka_unit_test(test_vma_kinds),
	    cmocka_unit_test(test_whole_walk),
	    cmocka_unit_test(test_copy_text),
	    cmocka_unit_test(test_held_text),
	    cmocka_unit_test(test_states_sparse),
	    cmocka_unit_test(test_vdso_found),
	    cmocka_unit_test(test_vma_total),
	    cmocka_unit_test(test_gone_process),
	    cmocka_unit_test(test_task_sp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
