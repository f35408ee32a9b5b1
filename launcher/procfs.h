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

struct mevi_str;

/*
 * A command line is kept in /proc/PID/cmdline's form: each argument followed
 * by a NUL, except that the last NUL may be missing when the process rewrote
 * its argument area. These functions read, make and split that form; every
 * command line mevi-run reports goes through them.
 */

/* The command line is cut at this many bytes (the protocol caps strings). */
#define PROCFS_CMDLINE_MAX (1u << 20)

/* Opens /proc/PID/NAME read-only (close-on-exec) for reads to come. Returns
 * the fd, -ESRCH when the process is gone, or -errno. */
int procfs_open(pid_t pid, const char *name);

/*
 * Reads /proc/PID/NAME whole, or its first max bytes (and then a few KiB
 * more), into *buf (malloc'd, the caller frees it, NUL-terminated) and its
 * length into *len. Returns 0, or -errno with *buf NULL.
 */
int procfs_read(pid_t pid, const char *name, size_t max, char **buf, size_t *len);

/*
 * Reads /proc/PID/cmdline: its NUL-separated arguments into *buf (malloc'd,
 * the caller frees it; one NUL more than *len, so the last argument is a
 * string even when the process rewrote it), its length into *len (0 for a
 * kernel thread or a zombie). Returns 0, or -errno with *buf NULL.
 */
int procfs_cmdline(pid_t pid, char **buf, size_t *len);

/*
 * Replaces *buf (freed) and *len with pid's command line read anew, and keeps
 * them when it cannot be read or reads empty (a zombie keeps the command line
 * it had). Returns 0, or -errno (-ENOENT: read empty, or gone).
 */
int procfs_cmdline_refresh(pid_t pid, char **buf, size_t *len);

/*
 * The command line of argv (NULL-terminated) in the same form, in a malloc'd
 * buffer the caller frees (never NULL: one byte for an empty argv), its
 * length in *len. NULL on out-of-memory.
 */
char *procfs_cmdline_join(char *const argv[], size_t *len);

/*
 * Splits the command line buf[0..len) into its arguments: a malloc'd array
 * (the caller frees it; never NULL) of strings pointing into buf, without
 * their NULs, their number in *count (0 for an empty command line). An
 * argument may be empty ("a\0\0b\0" is "a", "", "b"). NULL on out-of-memory.
 */
struct mevi_str *procfs_cmdline_split(const char *buf, size_t len, uint32_t *count);

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

/*
 * The threads of pid as /proc/PID/task lists them now, at most max of them,
 * into *tids (malloc'd, the caller frees it) and their count into *n. One
 * quick pass: a process that keeps creating threads cannot keep a caller
 * who works on each thread inside the directory walk (new tids sort after
 * the walk's position, so such a walk chases them). Returns 0 or -errno.
 */
int procfs_tids(pid_t pid, size_t max, pid_t **tids, size_t *n);

#endif /* MEVI_LAUNCHER_PROCFS_H */
