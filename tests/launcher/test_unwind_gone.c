/*
 * The unwinder of a process that has exited (launcher/unwind.h): the eBPF
 * engine unwinds stacks it copied a few ms earlier, and a short-lived
 * program is often a zombie by then, with empty maps.
 *  - Code it mapped after the unwinder was opened (a library its loader
 *    mapped) is found through the saved layout text the owner passed with
 *    unwind_set_saved: a library mapped far from the others, and one where
 *    dlopen put it, which can be inside the range libdwfl rounded a known
 *    module's up to.
 *  - Without a newer text, the modules it had stay known: a zombie's empty
 *    maps never empty the module list.
 *  - Of a live process, given the kernel's count of its code mappings with
 *    each snapshot (the eBPF engine's), unknown code (a JIT's) re-reads the
 *    module list only when that count changed: once per library mapped,
 *    not once per unwind.
 *  - Pages read from the running process past a snapshot's copy serve the
 *    unwinds of the next 2 ms, then are read again.
 *  - The unwinders of two processes open an ELF file once between them
 *    (elfcache.h), and a file changed on disk is opened again.
 *  - Each live read of the module list goes to the owner (keep) and is the
 *    saved text from then on: the owner reads nothing itself, and a zombie
 *    is unwound through a library that read found. The vdso is reported
 *    from a live read, as libdwfl's own reader does.
 * Runs as any user (its own child).
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <libelf.h>
#include <setjmp.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "elfcache.h"
#include "procfs.h"
#include "unwind.h"

static const char *lib_path;

struct child {
	pid_t pid;
	int to, from; /* pipes: commands to it, answers from it */
};

/*
 * Loads the library and returns the address of its function, or 0. With far,
 * the library is then mapped again, far from every other module: dlopen
 * learns the function's offset, dlclose unmaps it, and the file is mapped
 * whole at a fixed address (its read-only segments are at their file
 * offsets). Where dlopen puts it, it may be just past another module's last
 * mapping, inside the range libdwfl rounds that module up to.
 */
static uint64_t map_library(bool far)
{
	static const uint64_t hints[] = {0x500000000000ull, 0x540000000000ull, 0x580000000000ull};
	void *h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
	void *fn = h ? dlsym(h, "unwind_gone_fn") : NULL;
	Dl_info info;
	uint64_t offset;
	struct stat st;
	int fd;

	if (!fn || !far)
		return (uint64_t)(uintptr_t)fn;
	if (!dladdr(fn, &info))
		return 0;
	offset = (uint64_t)((uintptr_t)fn - (uintptr_t)info.dli_fbase);
	dlclose(h);
	fd = open(lib_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || (uint64_t)st.st_size <= offset)
		return 0;
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		void *at = mmap((void *)(uintptr_t)hints[i], (size_t)st.st_size,
				PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);

		if (at != MAP_FAILED)
			return (uint64_t)(uintptr_t)at + offset;
	}
	return 0;
}

/* A frame in the child's memory, past a snapshot's copy (test_live_pages):
 * its first word is a return address. At the same address in the test and
 * its child (a fork). */
static uint64_t frame_page[512] __attribute__((aligned(4096)));

/* The child: on 'l' (dlopen) or 'f' (far) maps the library and answers its
 * function's address, on 'r' takes a return address into frame_page, on 'x'
 * exits. */
static void child_main(int in, int out)
{
	char cmd;

	while (read(in, &cmd, 1) == 1) {
		if (cmd == 'r') {
			uint64_t ra;

			if (read(in, &ra, sizeof(ra)) != sizeof(ra))
				_exit(2);
			frame_page[0] = ra;
			if (write(out, &ra, sizeof(ra)) != sizeof(ra))
				_exit(2);
		} else if (cmd == 'l' || cmd == 'f') {
			uint64_t addr = map_library(cmd == 'f');

			if (write(out, &addr, sizeof(addr)) != sizeof(addr))
				_exit(2);
		} else {
			_exit(0);
		}
	}
	_exit(1);
}

static void child_start(struct child *c)
{
	int to[2], from[2];

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(to[1]);
		close(from[0]);
		child_main(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	c->to = to[1];
	c->from = from[0];
}

static uint64_t child_load(struct child *c, bool far)
{
	uint64_t addr = 0;

	assert_int_equal(write(c->to, far ? "f" : "l", 1), 1);
	assert_int_equal(read(c->from, &addr, sizeof(addr)), sizeof(addr));
	assert_true(addr != 0);
	return addr;
}

/* Lets the child exit and waits until it is a zombie (not reaped). */
static void child_exit(struct child *c)
{
	siginfo_t si;

	assert_int_equal(write(c->to, "x", 1), 1);
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(si.si_pid, c->pid);
}

static void child_reap(struct child *c)
{
	int status;

	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(c->to);
	close(c->from);
}

/* One frame at pc (an empty stack copy ends the unwind there); code_maps:
 * the snapshot's count of code mappings, or -1 for none. */
static int unwind_counted(struct unwind *u, pid_t pid, uint64_t pc, uint64_t *pcs,
			  int64_t code_maps)
{
	static const uint8_t stack[64];
	struct unwind_snapshot snap = {.stack = stack, .len = sizeof(stack)};

	snap.regs.r.rip = pc;
	snap.regs.r.rsp = 0x1000;
	snap.code_maps_known = code_maps >= 0;
	snap.code_maps = code_maps >= 0 ? (uint32_t)code_maps : 0;
	return unwind_snapshot(u, pid, &snap, pcs, 8);
}

static int unwind_at(struct unwind *u, pid_t pid, uint64_t pc, uint64_t *pcs)
{
	return unwind_counted(u, pid, pc, pcs, -1);
}

static bool module_named(struct unwind *u, uint64_t pc, const char *suffix)
{
	const char *name;
	uint64_t offset, vaddr;
	void **slot;
	size_t n, m = strlen(suffix);

	if (!unwind_module(u, pc, 0, &name, &offset, &vaddr, &slot))
		return false;
	n = strlen(name);
	return n >= m && strcmp(name + n - m, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The library is found through the saved layout once the child is a
 * zombie. */
static void saved_layout_after_exit(bool far)
{
	struct child c;
	struct unwind *u = NULL;
	char *text = NULL;
	size_t len;
	uint64_t fn, pcs[8];

	child_start(&c);
	assert_int_equal(unwind_open(c.pid, NULL, NULL, NULL, &u), 0);
	fn = child_load(&c, far);
	assert_int_equal(procfs_read(c.pid, "maps", 4u << 20, &text, &len), 0);
	assert_non_null(strstr(text, base_name(lib_path)));
	unwind_set_saved(u, text);
	child_exit(&c);

	assert_true(unwind_at(u, c.pid, fn, pcs) >= 1);
	assert_true(pcs[0] == fn);
	assert_true(module_named(u, fn, base_name(lib_path)));

	unwind_free(u);
	free(text);
	child_reap(&c);
}

static void test_saved_layout_far(void **state)
{
	(void)state;
	saved_layout_after_exit(true);
}

static void test_saved_layout_dlopen(void **state)
{
	(void)state;
	saved_layout_after_exit(false);
}

static void test_zombie_keeps_modules(void **state)
{
	struct child c;
	struct unwind *u = NULL;
	uint64_t fn, pcs[8], own = (uint64_t)(uintptr_t)child_main;

	(void)state;
	child_start(&c);
	assert_int_equal(unwind_open(c.pid, NULL, NULL, NULL, &u), 0);
	assert_true(module_named(u, own, "test_unwind_gone"));
	fn = child_load(&c, true);
	child_exit(&c);

	/* Unknown code, nothing newer to read: the list is not emptied. */
	assert_true(unwind_at(u, c.pid, fn, pcs) >= 1);
	assert_false(module_named(u, fn, base_name(lib_path)));
	assert_true(module_named(u, own, "test_unwind_gone"));

	unwind_free(u);
	child_reap(&c);
}

static void test_code_maps_gate_refresh(void **state)
{
	struct child c;
	struct unwind *u = NULL;
	uint64_t fn, pcs[8], jit;
	unsigned reports;

	(void)state;
	child_start(&c);
	jit = 0x100000; /* code in no module, as a JIT's: below every mapping */
	assert_int_equal(unwind_open(c.pid, NULL, NULL, NULL, &u), 0);
	reports = unwind_reports(u);

	/* The first unknown code with a count reads the list once... */
	assert_true(unwind_counted(u, c.pid, jit, pcs, 0) >= 1);
	assert_int_equal(unwind_reports(u), reports + 1);
	/* ...and not again while the count stays (the old rule: 16 times). */
	for (int i = 0; i < 20; i++)
		assert_true(unwind_counted(u, c.pid, jit, pcs, 0) >= 1);
	assert_int_equal(unwind_reports(u), reports + 1);

	/* A library mapped: the next count differs, the list is read, and
	 * its code is known. */
	fn = child_load(&c, true);
	assert_true(unwind_counted(u, c.pid, fn, pcs, 1) >= 1);
	assert_int_equal(unwind_reports(u), reports + 2);
	assert_true(module_named(u, fn, base_name(lib_path)));
	for (int i = 0; i < 20; i++)
		assert_true(unwind_counted(u, c.pid, jit, pcs, 1) >= 1);
	assert_int_equal(unwind_reports(u), reports + 2);

	/* Without a count (the ptrace engine): the time-based rule, which
	 * reads freely at first. */
	assert_true(unwind_at(u, c.pid, jit, pcs) >= 1);
	assert_int_equal(unwind_reports(u), reports + 3);

	unwind_free(u);
	child_exit(&c);
	child_reap(&c);
}

/* Makes the child's frame_page return to ra. */
static void child_return_to(struct child *c, uint64_t ra)
{
	uint64_t echo = 0;

	assert_int_equal(write(c->to, "r", 1), 1);
	assert_int_equal(write(c->to, &ra, sizeof(ra)), sizeof(ra));
	assert_int_equal(read(c->from, &echo, sizeof(echo)), sizeof(echo));
	assert_int_equal(echo, ra);
}

/* A snapshot stopped at the entry of child_main (its return address at the
 * stack pointer) with nothing copied: the unwinder reads the frame from the
 * running child. Returns the number of frames; pcs[1] is the return
 * address read. */
static int unwind_past_copy(struct unwind *u, pid_t pid, uint64_t *pcs)
{
	struct unwind_snapshot snap = {.stack = (const uint8_t *)"", .len = 0};

	snap.regs.r.rip = (uint64_t)(uintptr_t)child_main;
	snap.regs.r.rsp = (uint64_t)(uintptr_t)frame_page;
	return unwind_snapshot(u, pid, &snap, pcs, 8);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Pages read from a running process past a snapshot's copy serve the
 * snapshots unwound in the next 2 ms, and are read again after. */
static void test_live_pages(void **state)
{
	const uint64_t ra1 = (uint64_t)(uintptr_t)map_library + 1;
	const uint64_t ra2 = (uint64_t)(uintptr_t)child_start + 1;
	struct child c;
	struct unwind *u = NULL;
	uint64_t pcs[8], t0;
	unsigned reads;
	bool shared = false;

	(void)state;
	child_start(&c);
	child_return_to(&c, ra1);
	assert_int_equal(unwind_open(c.pid, NULL, NULL, NULL, &u), 0);

	/* Back to back (retried: a loaded machine may stretch the pair past
	 * the window), the second unwind reads nothing. */
	for (int attempt = 0; attempt < 20 && !shared; attempt++) {
		usleep(3000);
		reads = unwind_live_reads(u);
		t0 = now_ns();
		assert_true(unwind_past_copy(u, c.pid, pcs) >= 2);
		assert_true(pcs[1] == ra1);
		assert_true(unwind_live_reads(u) > reads);
		reads = unwind_live_reads(u);
		assert_true(unwind_past_copy(u, c.pid, pcs) >= 2);
		assert_true(pcs[1] == ra1);
		if (now_ns() - t0 < 1000000) {
			assert_int_equal(unwind_live_reads(u), reads);
			shared = true;
		}
	}
	assert_true(shared);

	/* Past the window the frame is read again: the new return address. */
	child_return_to(&c, ra2);
	usleep(3000);
	reads = unwind_live_reads(u);
	assert_true(unwind_past_copy(u, c.pid, pcs) >= 2);
	assert_true(pcs[1] == ra2);
	assert_true(unwind_live_reads(u) > reads);

	unwind_free(u);
	child_exit(&c);
	child_reap(&c);
}

/* What an owner keeps (unwind_keep_fn): the texts it was given. */
struct kept {
	char *text; /* the last one, owned */
	unsigned n;
};

static void keep_text(void *ctx, char *text)
{
	struct kept *k = ctx;

	free(k->text);
	k->text = text;
	k->n++;
}

static void test_live_reads_kept(void **state)
{
	struct child c;
	struct kept k = {0};
	struct unwind *u = NULL;
	char *now = NULL;
	size_t len;
	uint64_t fn, pcs[8], vdso = (uint64_t)getauxval(AT_SYSINFO_EHDR);

	(void)state;
	/* The cache maps what earlier tests' unwinders read, in this process,
	 * and the child would inherit the library's mapping. */
	elfcache_clear();
	child_start(&c);
	assert_int_equal(unwind_open(c.pid, NULL, keep_text, &k, &u), 0);
	/* The open read the list: the owner has that text, the vdso is a
	 * module (a fork child's is where ours is). */
	assert_int_equal(k.n, 1);
	assert_non_null(strstr(k.text, "[vdso]"));
	assert_null(strstr(k.text, base_name(lib_path)));
	assert_true(vdso != 0);
	assert_true(module_named(u, vdso, "[vdso]"));

	/* A library mapped, the count says so: one read, kept, holding it. */
	fn = child_load(&c, true);
	assert_true(unwind_counted(u, c.pid, fn, pcs, 1) >= 1);
	assert_int_equal(k.n, 2);
	assert_non_null(strstr(k.text, base_name(lib_path)));
	assert_true(module_named(u, fn, base_name(lib_path)));
	assert_int_equal(procfs_read(c.pid, "maps", 4u << 20, &now, &len), 0);
	assert_string_equal(k.text, now);
	free(now);

	/* Gone: a new unwinder opened on what the owner kept finds it. */
	child_exit(&c);
	unwind_free(u);
	u = NULL;
	assert_int_equal(unwind_open(c.pid, k.text, keep_text, &k, &u), 0);
	assert_int_equal(k.n, 2); /* a zombie's empty maps are not kept */
	assert_true(unwind_at(u, c.pid, fn, pcs) >= 1);
	assert_true(module_named(u, fn, base_name(lib_path)));

	unwind_free(u);
	free(k.text);
	child_reap(&c);
}

/* The unwinders of two processes (a fork: the same files) open the test
 * program's file once between them; the same path changed on disk is a new
 * file. */
static void test_elf_shared(void **state)
{
	const uint64_t own = (uint64_t)(uintptr_t)child_main;
	struct child a, b;
	struct unwind *ua = NULL, *ub = NULL;
	unsigned opened, hits, opened2, hits2;
	uint64_t pcs[8];

	(void)state;
	elfcache_clear();
	child_start(&a);
	child_start(&b);
	assert_int_equal(unwind_open(a.pid, NULL, NULL, NULL, &ua), 0);
	assert_true(unwind_at(ua, a.pid, own, pcs) >= 1);
	assert_true(module_named(ua, own, "test_unwind_gone"));
	elfcache_counts(&opened, &hits);
	assert_true(opened > 0);
	/* (libdwfl reads the executable's file at the open already.) */
	assert_int_equal(unwind_open(b.pid, NULL, NULL, NULL, &ub), 0);
	assert_true(unwind_at(ub, b.pid, own, pcs) >= 1);
	assert_true(module_named(ub, own, "test_unwind_gone"));
	elfcache_counts(&opened2, &hits2);
	assert_int_equal(opened2, opened); /* b's module got a's file */
	assert_true(hits2 > hits);

	/* Freeing a's unwinder leaves b's module readable (libelf counts the
	 * references). */
	unwind_free(ua);
	ua = NULL;
	assert_true(unwind_at(ub, b.pid, own, pcs) >= 1);
	assert_true(module_named(ub, own, "test_unwind_gone"));
	unwind_free(ub);
	child_exit(&a);
	child_exit(&b);
	child_reap(&a);
	child_reap(&b);
	elfcache_clear();
}

/* Copies the file at from to a new temporary path (written to path). */
static void copy_file(const char *from, char *path)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = mkstemp(path);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* elfcache_find_elf on files: one open per file, the same descriptor for
 * every module, a new one once the file changed, and a file that is not
 * ELF remembered as such. */
static void test_elfcache_files(void **state)
{
	char elf_path[] = "/tmp/mevi-elfcache-XXXXXX", text_path[] = "/tmp/mevi-elfcache-XXXXXX";
	struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 0}};
	unsigned opened, hits, opened2, hits2;
	char *name = NULL;
	Elf *e1 = NULL, *e2 = NULL, *e3 = NULL;
	int fd;

	(void)state;
	elfcache_clear();
	copy_file(lib_path, elf_path);
	fd = mkstemp(text_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	elfcache_counts(&opened, &hits);

	assert_int_equal(elfcache_find_elf(NULL, NULL, elf_path, 0, &name, &e1), -1);
	assert_non_null(e1);
	assert_string_equal(name, elf_path);
	free(name);
	assert_int_equal(elfcache_find_elf(NULL, NULL, elf_path, 0, &name, &e2), -1);
	free(name);
	assert_ptr_equal(e1, e2); /* a reference to the same descriptor */
	elfcache_counts(&opened2, &hits2);
	assert_int_equal(opened2, opened + 1);
	assert_int_equal(hits2, hits + 1);

	/* Changed on disk (here its time): a new file. */
	assert_int_equal(utimensat(AT_FDCWD, elf_path, times, 0), 0);
	assert_int_equal(elfcache_find_elf(NULL, NULL, elf_path, 0, &name, &e3), -1);
	free(name);
	assert_non_null(e3);
	assert_ptr_not_equal(e3, e1);
	elfcache_counts(&opened2, &hits2);
	assert_int_equal(opened2, opened + 2);

	/* Not ELF: no descriptor, and not opened a second time. */
	name = NULL;
	e2 = NULL;
	assert_int_equal(elfcache_find_elf(NULL, NULL, text_path, 0, &name, &e2), -1);
	assert_null(e2);
	assert_int_equal(elfcache_find_elf(NULL, NULL, text_path, 0, &name, &e2), -1);
	assert_null(e2);
	assert_null(name);
	elfcache_counts(&opened2, &hits2);
	assert_int_equal(opened2, opened + 3);

	/* A FIFO (a device alike) is neither opened nor waited on. */
	{
		char fifo[] = "/tmp/mevi-elfcache-fifo-XXXXXX";

		fd = mkstemp(fifo);
		assert_true(fd >= 0);
		close(fd);
		unlink(fifo);
		assert_int_equal(mkfifo(fifo, 0600), 0);
		assert_int_equal(elfcache_find_elf(NULL, NULL, fifo, 0, &name, &e2), -1);
		assert_null(e2);
		elfcache_counts(&opened2, &hits2);
		assert_int_equal(opened2, opened + 3);
		unlink(fifo);
	}

	/* Each reference is the caller's to end; the cache's go with clear. */
	elf_end(e1);
	elf_end(e1);
	elf_end(e3);
	elfcache_clear();
	unlink(elf_path);
	unlink(text_path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_saved_layout_far),
	    cmocka_unit_test(test_saved_layout_dlopen),
	    cmocka_unit_test(test_zombie_keeps_modules),
	    cmocka_unit_test(test_code_maps_gate_refresh),
	    cmocka_unit_test(test_live_pages),
	    cmocka_unit_test(test_live_reads_kept),
	    cmocka_unit_test(test_elf_shared),
	    cmocka_unit_test(test_elfcache_files),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s LIBRARY\n", argv[0]);
		return 2;
	}
	lib_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
