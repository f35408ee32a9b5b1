/*
 * recorder — writes a session to a .mevi recording file as it happens
 * (`mevi-run --record FILE`), with or without a daemon.
 *
 * The format is proto/PROTOCOL.md's "Recordings" (header in
 * proto/recording.h), then the launcher's batches exactly as they go to
 * mevid. The file is created 0600: it holds memory layouts and command
 * lines. A write error (disk full)
 * stops the recording with one log line; the program is never affected.
 *
 * Durability: every batch goes to the file with write(2) as soon as the
 * outbox cuts it (every few milliseconds while events come, at most 64 ms
 * after one: FLUSH_MS and FLUSH_IDLE_MS of launcher/run.c), with
 * no buffering in the launcher. A mevi-run killed by SIGKILL therefore loses
 * only what its outbox had not yet flushed, and at most the one batch being
 * written is left partial; `mevid --load` keeps every complete batch before
 * it. The file is fsync'd at the end only (a crash of the whole machine may
 * lose what the page cache held).
 */
#ifndef MEVI_LAUNCHER_RECORDER_H
#define MEVI_LAUNCHER_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct recorder {
	FILE *f; /* non-NULL while recording (a handle on fd; never written through) */
	int fd;
	char path[4096];
	uint64_t bytes;
	bool failed;
};

/* Creates (truncates) path, mode 0600, and writes the header. 0 or -errno. */
int recorder_open(struct recorder *r, const char *path, uint64_t created_at_ns);

/* Appends one batch. Never fails loudly more than once. */
void recorder_write(struct recorder *r, const void *batch, size_t len);

/* Flushes and closes. Returns 0, or -errno if anything was lost. */
int recorder_close(struct recorder *r);

#endif /* MEVI_LAUNCHER_RECORDER_H */
