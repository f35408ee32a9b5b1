/*
 * unwind — the user call stack of a ptrace-stopped thread, through elfutils
 * libdwfl (DWARF CFI, with libdwfl's frame-pointer fallback on x86-64), and
 * the symbols of its program counters.
 *
 * One struct unwind serves one address space. It keeps libdwfl's module list
 * (/proc/PID/maps, the ELF files, their CFI and symbol tables) so that an
 * unwind costs microseconds, not the milliseconds of re-reading every
 * library. Modules mapped after the last report (dlopen; mevi-run does not
 * stop at file mmaps) are picked up when an unwind meets a program counter
 * outside the sections of every known module (libdwfl rounds a module's
 * range up past its last mapping, where a new library can land): the list
 * is reported again (rate-limited) and the thread unwound once more - from
 * the saved text of its maps once the process has no address space left,
 * never from a zombie's empty maps. Its owner frees it when the address
 * space goes away; exec gives a new address space, hence a new struct
 * unwind.
 *
 * Reading the tracee's memory (kernel 6.18, checked by
 * tests/launcher/test_unwind_read.c):
 *  - process_vm_readv of a userfaultfd-registered page that is not present
 *    blocks until the fault is served, and the fault is served by the very
 *    thread that would be reading: a deadlock. libdwfl's own
 *    dwfl_linux_proc_attach reads that way, so it is not used: mevi supplies
 *    the thread callbacks.
 *  - pread of /proc/PID/mem goes through GUP without FAULT_FLAG_ALLOW_RETRY:
 *    on a registered missing page handle_userfault gives up with SIGBUS and
 *    the read fails with EIO, queueing no message and populating nothing.
 *  - but pread of /proc/PID/mem of a missing page that is NOT registered (an
 *    address space still pending, see mm.h) maps the zero page, which mevi
 *    would then report resident although the program never touched it.
 * So every read first asks /proc/PID/pagemap whether the page is present and
 * then reads the whole page with pread on /proc/PID/mem (cached for the rest
 * of that unwind). A page that is absent or unreadable ends the unwind there:
 * the stack is truncated, nothing waits. (A page dropped by another thread
 * between the two reads gives EIO when registered; unregistered, the zero
 * page is mapped, a window of microseconds in the 2 ms an address space
 * stays pending.) The vdso and deleted files are read by libdwfl through
 * /proc/PID/mem as well, and libdwfl never attaches: the thread must already
 * be in a ptrace stop of ours. DEBUGINFOD_URLS is removed from mevi-run's own
 * environment on first use, so that symbolisation never waits for a network.
 *
 * Failures never reach the tracee: every one just means "no stack" or a
 * shorter one.
 */
#ifndef MEVI_LAUNCHER_UNWIND_H
#define MEVI_LAUNCHER_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"

struct unwind;

/* A thread's state captured without a ptrace stop (the eBPF engine, at a
 * syscall's exit): its registers (those the unwinder starts from; the others
 * zero) and a copy of the top of its stack, [sp, sp + len). */
struct unwind_snapshot {
	struct arch_regs regs;
	const uint8_t *stack;
	size_t len;
	/* With code_maps_known, the kernel's count of the process's executable
	 * file mappings when the snapshot was taken: unknown code (a JIT's,
	 * which never belongs to a module) then makes the module list be read
	 * again only when that count changed since the last read. Without, at
	 * most every 50 ms after the first 16 times. */
	bool code_maps_known;
	uint32_t code_maps;
};

/*
 * Where the text of each live read of /proc/PID/maps goes (unwind_open):
 * keep(ctx, text) takes text (malloc'd, NUL-terminated) for its own, and the
 * unwinder goes on using it as its saved text (unwind_set_saved) until the
 * owner passes another. The owner then has a layout as recent as the
 * unwinder's without a read of its own.
 */
typedef void (*unwind_keep_fn)(void *ctx, char *text);

/* How much of /proc/PID/maps is read for a module list (a browser's run to
 * 150 KiB; a JIT with tens of thousands of mappings, whose libraries come
 * last, to megabytes). */
#define UNWIND_MAPS_MAX (64u << 20)

/* Opens the unwinder of the address space of process pid (reads its module
 * list). saved: NULL, or the text of its /proc/PID/maps read earlier, used
 * when the process is gone (a snapshot taken before it exited can still be
 * unwound; only the copied stack is readable then). saved is borrowed: the
 * caller keeps it valid until it passes another (unwind_set_saved), keep
 * is given one, or u is freed. keep: NULL, or where each live read's text
 * goes (above). Returns 0 and *out (the caller frees it with unwind_free),
 * or -errno. */
int unwind_open(pid_t pid, const char *saved, unwind_keep_fn keep, void *keep_ctx,
		struct unwind **out);

/* A newer saved text (as in unwind_open; NULL allowed): once the process
 * has no address space left, an unwind that meets unknown code reports its
 * modules from this text, once. */
void unwind_set_saved(struct unwind *u, const char *saved);

/* Frees u. NULL is allowed. */
void unwind_free(struct unwind *u);

/*
 * Unwinds thread tid (of u's address space, stopped in a ptrace stop of
 * ours): writes at most max program counters, innermost first, into pcs.
 * Returns the number of frames (>= 1), or -errno when not even the first one
 * could be read (-ESRCH: the thread is gone).
 */
int unwind_thread(struct unwind *u, pid_t tid, uint64_t *pcs, unsigned max);

/*
 * The same from a snapshot: the thread may be running on. Memory inside the
 * snapshot is read from it; memory outside it (a stack deeper than the copy)
 * as above, from the live process, so the outer frames of a deep stack may
 * be missing or, rarely, wrong (the thread has moved on) - as with perf's
 * --call-graph dwarf. Such a page, read some time after the copy was made,
 * serves the unwinds of the next 2 ms as well (the snapshots of a drain):
 * a thread's start-up frames past the copy are read once, not once per
 * stack. A stopped thread's unwind (unwind_thread) always reads afresh.
 */
int unwind_snapshot(struct unwind *u, pid_t tid, const struct unwind_snapshot *snap, uint64_t *pcs,
		    unsigned max);

/*
 * The module that holds pc, the program counter of frame number depth (0 =
 * innermost; above 0 it is a return address, looked up one byte earlier so
 * that a call at the end of a function names that function). On success
 * returns true and sets *name (the module's name: its file's path, or
 * "[vdso]"; valid until the next call into u), *offset (pc minus the module's
 * load address), *vaddr (the looked-up address in the ELF file's own
 * addresses, for srcline.h; 0 when the file cannot be read) and *slot, a
 * pointer-sized slot that belongs to the caller and
 * stays with the module for the life of u (initially NULL), where a caller
 * caches what it learnt about the module. Returns false when pc is in no
 * known module.
 */
bool unwind_module(struct unwind *u, uint64_t pc, unsigned depth, const char **name,
		   uint64_t *offset, uint64_t *vaddr, void ***slot);

/*
 * Symbolises pc (as in unwind_module): writes "function+0xoff" into func
 * (empty when unknown) and, unless source is NULL, "file.c:42" into source
 * (empty when there is no debug information), each NUL-terminated and
 * truncated to its length. Sources can cost tens of milliseconds the first
 * time (see srcline.h, which the launcher uses instead).
 */
void unwind_symbolize(struct unwind *u, uint64_t pc, unsigned depth, char *func, size_t func_len,
		      char *source, size_t source_len);

/* Module list reports since open, and pages read from the process (for the
 * statistics line). */
unsigned unwind_reports(const struct unwind *u);
unsigned unwind_live_reads(const struct unwind *u);

#endif /* MEVI_LAUNCHER_UNWIND_H */
