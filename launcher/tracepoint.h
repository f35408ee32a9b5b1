/*
 * tracepoint — classic kernel tracepoints (syscalls:sys_exit_mmap, ...), named
 * by the ids tracefs lists, and a BPF program attached to one of them.
 *
 * perf_event_open names a classic tracepoint by the number in
 * TRACEFS/events/GROUP/NAME/id. Where no tracefs is mounted (minimal VMs and
 * containers often have none) the ids are read in a short-lived child that
 * mounts tracefs in a mount namespace of its own: nothing on the machine
 * changes, and this process's mounts are untouched. That needs
 * CAP_SYS_ADMIN; without it the ids cannot be had and the caller falls back.
 */
#ifndef MEVI_LAUNCHER_TRACEPOINT_H
#define MEVI_LAUNCHER_TRACEPOINT_H

#include <stddef.h>

/* A tracepoint's name: its group and its event, both at most this long. */
#define TRACEPOINT_NAME_MAX 64

/*
 * The ids of the n tracepoints GROUP/names[i] into ids[i]. Returns 0, or
 * -errno (-ENOENT: no tracefs to read them from, or no such tracepoint)
 * with ids unspecified.
 */
int tracepoint_ids(const char *group, const char *const *names, size_t n, int *ids);

/*
 * Attaches the loaded BPF program prog_fd to the tracepoint with this id, on
 * every CPU. Returns the perf event's fd (close it to detach), or -errno.
 */
int tracepoint_attach(int id, int prog_fd);

/*
 * Detaches the n programs tracepoint_attach attached (fds < 0 are skipped)
 * and sets every fds[i] to -1. The kernel waits for a tracepoint grace
 * period when the last perf event of a tracepoint closes (25-56 ms on this
 * project's VM, syscall tracepoints being faultable; not at all while mevid
 * holds one of its own there, daemon/warm_syscalls.h). The first is closed
 * here: when that was quick (under 2 ms) the others are too; otherwise they
 * are closed concurrently, so that n of them wait about one grace period,
 * not n.
 */
void tracepoint_detach_all(int *fds, size_t n);

#endif
