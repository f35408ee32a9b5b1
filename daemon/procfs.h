/*
 * procfs — what the kernel says about a process mevid was told about: is it
 * still the same running process, and what is its pid in mevid's own pid
 * namespace.
 *
 * A pid alone is not an identity: pids are recycled. A process is named by
 * (pid, start time), the start time being field 22 of /proc/PID/stat (clock
 * ticks since boot), read when mevid first hears of the process. A later
 * check that finds another start time under that pid knows the process is
 * gone, whatever now runs there.
 *
 * Pid namespaces: a launcher inside a container reports the pids it sees
 * there. mevid learns the launcher's own pid in its namespace from
 * SO_PEERCRED; when that differs from what the launcher says, the pids of
 * its processes are found among the launcher's descendants by the last
 * entry of the NSpid line of /proc/PID/status (Linux 4.1+).
 *
 * Everything here reads /proc synchronously; each call is a few small file
 * reads. No state.
 */
#ifndef MEVI_DAEMON_PROCFS_H
#define MEVI_DAEMON_PROCFS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Reads pid's state letter (field 3) and start time (field 22) from
 * /proc/PID/stat. Returns 0, -ENOENT when there is no such process, or
 * another -errno (including -EINVAL for a line it cannot parse).
 */
int procfs_stat(int32_t pid, char *state, uint64_t *start_time);

/*
 * Is the process (pid, start_time) still running? Returns 1 yes, 0 no (no
 * such pid, a zombie, or another process under a recycled pid), or -errno
 * when it cannot tell.
 */
int procfs_running(int32_t pid, uint64_t start_time);

/*
 * The pid, in mevid's namespace, of the process that the descendants of root
 * (a pid in mevid's namespace, root included), or the processes root traces,
 * call ns_pid in their own innermost namespace. Visits at most 4096 processes
 * each way. Returns the pid, or 0 when none was found.
 */
int32_t procfs_host_pid(int32_t root, int32_t ns_pid);

/* True when process pid lives in mevid's own pid namespace (its pids are
 * mevid's). False when it does not, or cannot be told. */
bool procfs_same_pidns(int32_t pid);

#endif /* MEVI_DAEMON_PROCFS_H */
