/*
 * bpfskel — the eBPF engine's kernel programs (bpf/mevi.bpf.c, built into a
 * light skeleton) as a value: configured the same way wherever they are
 * loaded, and carried from one process to another as descriptors.
 *
 * mevi-run loads them itself (launcher/ebpf.h), or takes a set that mevid
 * loaded ahead of time (daemon/engine_stock.h, launcher/stock.h): a loaded
 * set is only usable by a launcher whose configuration is the one it was
 * loaded with, which bpfskel_id() names. Nothing here attaches anything:
 * a loaded but unattached set runs no program and costs the machine nothing
 * but its memory.
 *
 * Built only with the engine (MEVI_HAVE_EBPF); both binaries compile it.
 */
#ifndef MEVI_LAUNCHER_BPFSKEL_H
#define MEVI_LAUNCHER_BPFSKEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stockmsg.h"

struct mevi_bpf;

/* The ring buffer's and the tracked set's sizes mevi-run uses when
 * MEVI_BPF_RINGBUF and MEVI_BPF_TRACKED are unset. */
#define BPFSKEL_RINGBUF_BYTES (4u << 20)
#define BPFSKEL_TRACKED_MAX   8192u

/* Everything a set of programs is loaded with is a struct mevi_stock_config
 * (proto/stockmsg.h): the engine stock's request carries it as it is. */

/* The configuration of `mevi-run PROGRAM` with no option and no MEVI_BPF_*
 * variable set (exact mode, backtraces of mappings), or with --sample (or
 * --pid) only: the two mevid loads ahead of time. Reads whether THP is
 * "always" on this machine. */
void bpfskel_config_default(struct mevi_stock_config *c, bool sampled);

/* Whether THP is "always" (globally, or for a size a 4 KiB fault could be
 * filled with): every VMA may be filled more than a page at a time. */
bool bpfskel_thp_always(void);

/* Opens the skeleton (nothing is in the kernel yet) with c written into its
 * read-only data and map sizes; load it with mevi_bpf__load(). NULL with
 * errno set on failure. */
struct mevi_bpf *bpfskel_open(const struct mevi_stock_config *c);

/* Names an opened skeleton's programs and configuration: two skeletons with
 * the same id were built from the same programs and configured alike, so
 * either's loaded descriptors serve the other. */
uint64_t bpfskel_id(const struct mevi_bpf *s);

/*
 * Has the kernel write to every page of a loaded set's ring buffer once (a
 * discarded record each) and marks them read, so that the ring is empty again
 * and its pages cost nothing when the programs' records first reach them
 * (~10-15 us a page on this project's VM, 4 MiB of ring). Before anything is
 * attached: 5-15 ms of the caller's time, so mevid does it for its stock,
 * off every program's start-up. Returns 0 or a negative errno; the ring is
 * empty either way, and the set works as well unprimed.
 */
int bpfskel_prime_ring(struct mevi_bpf *s);

/*
 * The classic tracepoints (group "syscalls", launcher/tracepoint.h) the
 * layout program, sys_exit_layout, runs on: the exits of the syscalls that
 * change a layout or fill pages without a fault. mevid reads their ids once
 * and hands them to each launcher with its stock's answer (proto/stockmsg.h),
 * in this order.
 */
#define BPFSKEL_NSYS_EXITS 10
extern const char *const bpfskel_sys_exit_names[BPFSKEL_NSYS_EXITS];

/* The most descriptors bpfskel_slots() reports, extra ones included. */
#define BPFSKEL_FDS_MAX 64

/*
 * Every descriptor slot of s, in one fixed order: its maps, its programs,
 * its links, then the nextra slots at extra (a caller's own descriptors).
 * Fills slot[] (BPFSKEL_FDS_MAX entries) and returns how many. A slot
 * holds a descriptor when it is > 0 (the skeleton's unused slots are 0).
 */
size_t bpfskel_slots(struct mevi_bpf *s, int *extra, size_t nextra, int **slot);

/* The loaded descriptors of s and a mask of the slots they fill (bit i:
 * slot i), into fds (BPFSKEL_FDS_MAX entries); returns how many. */
size_t bpfskel_fds(struct mevi_bpf *s, int *extra, size_t nextra, uint64_t *mask, int *fds);

/*
 * The other side of bpfskel_fds(): puts nfds descriptors into the slots
 * mask names, in order, and maps the programs' data where a load would have
 * (s->rodata, s->bss), so that s is as if loaded here. The descriptors are
 * s's from then on, even on failure (mevi_bpf__destroy() closes them).
 * Returns 0, -EPROTO when mask and nfds disagree, or -errno of the mapping.
 */
int bpfskel_adopt(struct mevi_bpf *s, int *extra, size_t nextra, uint64_t mask, const int *fds,
		  size_t nfds);

#endif /* MEVI_LAUNCHER_BPFSKEL_H */
