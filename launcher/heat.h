/*
 * heat — which resident pages are still being written (`mevi-run --heat`).
 *
 * Mechanism (Linux 6.7+): the private anonymous VMAs of an address space are
 * registered with a userfaultfd in write-protect mode with
 * UFFD_FEATURE_WP_ASYNC (the kernel adds WP_UNPOPULATED, which it needs for
 * anonymous memory). A write to a protected page then costs one in-kernel
 * fault that clears the protection, with no message to user space. Every
 * interval one PAGEMAP_SCAN per watched span (PM_SCAN_WP_MATCHING |
 * PM_SCAN_CHECK_WPASYNC, category PAGE_IS_WRITTEN) returns the pages written
 * since the previous scan and protects them again in the same walk. mevi-run
 * keeps, per page, when it was last seen written (a tagmap of ms since the
 * session began) and sends the pages of each scan as coalesced `written`
 * events (proto/PROTOCOL.md).
 *
 * Exact mode borrows the address space's userfaultfd (mm.c asks for the
 * features and registers with MISSING|WP in one call, since a second
 * registration replaces the mode). Sampled mode, and --pid, get a
 * userfaultfd of their own (UFFD_USER_MODE_ONLY: allowed without the
 * userfaultfd sysctl, and write-protect faults are resolved in the kernel
 * whatever mode caused them) injected at a ptrace stop asked for like exact
 * mode's attach. Closing it (detach, exec, exit) unregisters every range and
 * clears the protection.
 *
 * What is never reported: pages not populated (the scan reports present or
 * swapped pages without the protection bit; an empty PTE is not one), pages
 * mapped to the shared zero page by a read (PAGE_IS_PFNZERO), and pages of a
 * range when it first becomes watched (a new mapping, an attach, the target
 * of an mremap): those are protected silently, so MAP_POPULATE is not a write.
 * No PTE markers are installed (those would read as swap entries).
 *
 * Cost control: a tick that costs more than 2 % of a core doubles the
 * interval (up to 60 s), one under a quarter of the budget halves it back to
 * the base; each change is logged once.
 *
 * Ownership: heat_mm_new() allocates the per-address-space state, which
 * struct mm owns (mm_put frees it with heat_mm_free()). Every hook accepts
 * NULL (heat off) and does nothing then.
 */
#ifndef MEVI_LAUNCHER_HEAT_H
#define MEVI_LAUNCHER_HEAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct outbox;
struct mm;
struct vma_desc;
struct heat_mm;

/*
 * Probes the kernel: a userfaultfd with UFFD_FEATURE_WP_ASYNC and
 * PAGEMAP_SCAN. Returns 0, or -EOPNOTSUPP / -errno with a sentence for the
 * user in why[] (NUL-terminated).
 */
int heat_probe(char *why, size_t len);

/*
 * Turns heat on for every address space created from now on: a scan every
 * ms milliseconds on base, events into out. sampled: the address spaces have
 * no userfaultfd of their own (sampled mode, --pid without --exact).
 * Returns 0 or -ENOMEM.
 */
int heat_start(struct event_base *base, struct outbox *out, unsigned ms, bool sampled);

/* Stops the timer and logs the cost (at exit). */
void heat_stop(void);

/* The current interval (after backoff), 0 when heat is off. */
unsigned heat_interval_ms(void);

/* ---- hooks for mm.c ---- */

/* The state of mm, or NULL when heat is off. */
struct heat_mm *heat_mm_new(struct mm *mm);

/* Closes our userfaultfd (if any), which clears every protection. */
void heat_mm_free(struct heat_mm *hm);

/* Exact mode: features to add to UFFDIO_API, and the mode bits to add to
 * UFFDIO_REGISTER (0 when heat is off). */
uint64_t heat_uffd_features(const struct heat_mm *hm);
uint64_t heat_register_mode(const struct heat_mm *hm);

/* The VMA d holds [s, e), just (re-)registered by mm.c: watch it if it is
 * private anonymous (protected silently the first time), else forget it. */
void heat_mm_vma(struct heat_mm *hm, const struct vma_desc *d, uint64_t s, uint64_t e);

/* [s, e) is no longer mapped. */
void heat_mm_gone(struct heat_mm *hm, uint64_t s, uint64_t e);

/* mremap: last-write times move with the pages; the new range is watched
 * anew (the kernel drops the registration and the protection of moved pages
 * when the userfaultfd has no UFFD_FEATURE_EVENT_REMAP). */
void heat_mm_remap(struct heat_mm *hm, uint64_t old_s, uint64_t old_e, uint64_t new_s,
		   uint64_t new_e);

/* Detach: closes our userfaultfd and stops scanning (exact mode: mm.c closes
 * its own). */
void heat_mm_release(struct heat_mm *hm);

/* Emits the last-write map as written events (reconnect snapshot). */
void heat_mm_snapshot(struct heat_mm *hm, pid_t pid);

/* ---- hooks for tracee.c ---- */

/* The program is about to create a userfaultfd of its own (the seccomp stop
 * of userfaultfd(), sampled mode): heat steps aside for good in this address
 * space (our userfaultfd is closed, which unregisters everything), so that
 * the program's own registrations do not fail with EBUSY. Said once. */
void heat_mm_program_uffd(struct heat_mm *hm);

/*
 * Sampled mode: thread tid of process pid (mm->pid, or a child sharing the
 * address space: vfork) is in a ptrace stop at a user-mode boundary: inject
 * our userfaultfd if it has none yet. insn: a syscall instruction (0: the
 * vdso's). Returns 0, or -ESRCH when the thread
 * died (*death_status as inject_syscall() says).
 */
int heat_mm_attach(struct heat_mm *hm, pid_t pid, pid_t tid, uint64_t insn, int *death_status);

#endif /* MEVI_LAUNCHER_HEAT_H */
