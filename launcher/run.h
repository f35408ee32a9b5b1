/*
 * run — mevi-run after its command line is parsed: runs PROGRAM (or attaches
 * to --pid) under the chosen engine, streams the session to mevid and the
 * recording, and returns the exit status mevi-run ends with.
 */
#ifndef MEVI_LAUNCHER_RUN_H
#define MEVI_LAUNCHER_RUN_H

struct launcher_options;

/*
 * Runs what o says. Launched (not --pid), the calling process
 * becomes PROGRAM (spawn.h) and never returns; the hidden tracer returns
 * here. Returns the exit status: PROGRAM's, 0 after a detach, 1 when the
 * process cannot be attached to, 2 for an unusable --record file, 125 when
 * mevi-run itself fails, 126/127 when PROGRAM cannot be executed.
 */
int launcher_run(const struct launcher_options *o);

#endif /* MEVI_LAUNCHER_RUN_H */
