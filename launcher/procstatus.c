#include "procstatus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procstatus_read(pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT; /* a thread between exit and reaping reads empty */
	buf[n] = '\0';
	return 0;
}

bool procstatus_field(const char *buf, const char *name, long *value)
{
	size_t nlen = strlen(name);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
			*value = strtol(p + nlen + 1, NULL, 10);
			return true;
		}
	}
	return false;
}
