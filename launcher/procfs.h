/*
 * procfs — the one reader of /proc/PID files for mevi-run: a process's command
 * line, the fields of its status file and of its stat file. (The maps,
 * pagemap and mem files, read in bulk, belong to vma.c, pagemap.c and
 * unwind.c.)
 *
 * Every reader returns -ENOENT for a process or thread that is gone (also
 * one between its exit and its reaping, whose files read empty).
 */
#ifndef MEVI_LAUNCHER_PROCFS_H
#define MEVI_LAUNCHER_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The command line is cut at this many bytes (the protocol caps strings). */
#define PROCFS_CMDLINE_MAX (1u << 20)

/*
 * Reads /proc/PID/cmdline: its NUL-separated arguments into *buf (malloc'd,
 * the caller frees it; one NUL more than *len, so the last argument is a
 * string even when the process rewrote it), its length into *len (0 for a
 * kernel thread or a zombie). Returns 0, or -errno with *buf NULL.
 */
int procfs_cmdline(pid_t pid, char **buf, size_t *len);

/*
 * The arguments of a command line read by procfs_cmdline as a NULL-terminated
 * array whose strings point into buf: the caller frees the array (not the
 * strings) and keeps buf alive as long. An empty command line gives {"?"}.
 * NULL on out-of-memory.
 */
char **procfs_cmdline_argv(char *buf, size_t len);

/* Reads the status file of tid into buf (NUL-terminated, at most len - 1
 * bytes: the fields mevi-run uses are in its first kilobyte or two).
 * Returns 0, or -errno. */
int procfs_status_read(pid_t tid, char *buf, size_t len);

/* The number after "NAME:" in a status file read into buf, in *value.
 * Returns false when the field is missing. */
bool procfs_status_field(const char *buf, const char *name, long *value);

/*
 * Field number field (as numbered in proc(5): 3 is the state, 4 the ppid, 9
 * the flags, 52 the exit code) of /proc/PID/stat, in *value; the comm (field
 * 2, which may hold spaces and parentheses) into comm when it is not NULL.
 * Returns 0, -ENOENT, -EIO for a line without that field, or -errno.
 */
int procfs_stat_field(pid_t pid, int field, unsigned long long *value, char *comm, size_t commlen);

/* The stack pointer of thread tid of pid, which need not be stopped, from
 * /proc/PID/task/TID/syscall (in a syscall, or in user mode; not while it
 * runs on another CPU). Returns 0 when unknown. */
uint64_t procfs_task_sp(pid_t pid, pid_t tid);

#endif /* MEVI_LAUNCHER_PROCFS_H */
