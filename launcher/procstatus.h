/*
 * procstatus — fields of /proc/PID/status (or /proc/PID/task/TID/status),
 * read in one go: Tgid, PPid, TracerPid, Seccomp, Seccomp_filters, ...
 */
#ifndef MEVI_LAUNCHER_PROCSTATUS_H
#define MEVI_LAUNCHER_PROCSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads the status file of tid into buf (NUL-terminated, at most len - 1
 * bytes: the fields mevi-run uses are in its first kilobyte or two).
 * Returns 0, or -errno (-ENOENT: the thread is gone). */
int procstatus_read(pid_t tid, char *buf, size_t len);

/* The number after "NAME:" in buf, in *value. Returns false when the field
 * is missing. */
bool procstatus_field(const char *buf, const char *name, long *value);

#endif /* MEVI_LAUNCHER_PROCSTATUS_H */
