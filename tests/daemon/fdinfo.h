/*
 * fdinfo — one field of /proc/self/fdinfo/FD, as the kernel states it: how
 * the daemon's unit tests read back what a descriptor of theirs is (a BPF
 * link's type and tracepoint, its program's id).
 */
#ifndef MEVI_TESTS_DAEMON_FDINFO_H
#define MEVI_TESTS_DAEMON_FDINFO_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The value after "key:" in /proc/self/fdinfo/FD, blanks before it skipped,
 * into out; false if fd is not open or has no such key. */
static inline bool fdinfo(int fd, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		snprintf(out, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
		out[strcspn(out, "\n")] = '\0';
		found = true;
	}
	fclose(f);
	return found;
}

#endif /* MEVI_TESTS_DAEMON_FDINFO_H */
