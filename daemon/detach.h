/*
 * detach — turning mevid into a background daemon, with a readiness
 * handshake.
 *
 * detach_start() forks twice (setsid in between). The invoking process waits
 * on a pipe and exits only when the daemon reports: 0 once the daemon is
 * ready (socket and HTTP port listening), 1 after printing the one-line
 * reason to its stderr when the daemon failed to start. A launcher can thus
 * spawn `mevid --socket PATH` and connect as soon as it returns.
 *
 * The daemon's stdin and stdout are /dev/null and its stderr (where every log
 * line goes) is the log file $XDG_STATE_HOME/mevi/mevid.log, else
 * ~/.local/state/mevi/mevid.log (directories created 0700), or /dev/null if
 * that cannot be opened.
 */
#ifndef MEVI_DAEMON_DETACH_H
#define MEVI_DAEMON_DETACH_H

#include <stddef.h>

struct detach {
	int ready_fd; /* write end of the readiness pipe, or -1 */
	char log_path[4096];
};

/*
 * Detaches. Returns 0 in the daemon (d->ready_fd set); never returns in the
 * invoking process. Returns -errno if the first fork or the pipe fails (still
 * in the invoking process).
 */
int detach_start(struct detach *d);

/* Reports readiness: the invoking process prints notice (may be NULL; whole
 * lines, each ending with a newline) to its stderr and exits 0. */
void detach_ready(struct detach *d, const char *notice);

/* Reports a start-up failure: the invoking process prints "mevid: msg" and
 * exits 1. */
void detach_fail(struct detach *d, const char *msg);

#endif /* MEVI_DAEMON_DETACH_H */
