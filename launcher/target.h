/*
 * target — what mevi-run is asked to watch, checked before anything starts,
 * so that a launch that cannot work says why in the shell's own words and
 * creates no session.
 *
 * A PROGRAM is resolved as execvp(3) would: a name with a slash is that
 * path, any other is searched in $PATH (glibc's default "/bin:/usr/bin" when
 * unset). A --pid PID must be a user process: a kernel thread has no user
 * memory to watch, and mevi-run cannot watch itself.
 */
#ifndef MEVI_LAUNCHER_TARGET_H
#define MEVI_LAUNCHER_TARGET_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Resolves name. Returns 0 when execvp would find an executable file,
 * -ENOENT when there is none, -EISDIR when the path names a directory,
 * -EACCES when a file was found that may not be executed (execvp's EACCES).
 */
int target_resolve(const char *name);

/*
 * Writes the line a shell would print for a program that cannot run:
 * "mevi-run: NAME: command not found" (ENOENT, no slash), "... No such file
 * or directory" (ENOENT with a slash), "... Is a directory", "... Permission
 * denied". Returns the exit status a shell would give: 127 for ENOENT, else
 * 126.
 */
int target_report(const char *name, int err);

/*
 * Checks that pid can be attached to. Returns 0; -ENOENT (no such process);
 * -EPERM with why (a sentence without the pid) filled: a kernel thread
 * ("kthreadd is a kernel thread: it has no user memory to watch") or
 * mevi-run itself; or another -errno.
 */
int target_check_pid(pid_t pid, pid_t self, char *why, size_t len);

/*
 * The pid of pid's tracer (TracerPid of /proc/PID/status), 0 when it is not
 * traced or that cannot be read. name (len bytes) gets the tracer's comm, or
 * "".
 */
pid_t target_tracer(pid_t pid, char *name, size_t len);

#endif /* MEVI_LAUNCHER_TARGET_H */
