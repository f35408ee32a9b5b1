/*
 * recorder — writes a session to a .mevi recording file as it happens
 * (`mevi-run --record FILE`), with or without a daemon.
 *
 * The format is proto/PROTOCOL.md's "Recordings" (header in
 * proto/recording.h), then the launcher's batches exactly as they go to
 * mevid. The file is created 0600: it holds memory layouts and command
 * lines. A write error (disk full)
 * stops the recording with one log line; the program is never affected.
 */
#ifndef MEVI_LAUNCHER_RECORDER_H
#define MEVI_LAUNCHER_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct recorder {
	FILE *f; /* NULL when not recording (or after a write error) */
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
