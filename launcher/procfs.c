/* procfs — mevi-run's reader of /proc/PID/cmdline, status and stat, and command lines in cmdline's form. */
#include "procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"

/* Reads /proc/PID/what into buf, NUL-terminated. Returns the length, or
 * -errno (-ENOENT when it reads empty). */
static ssize_t read_small(pid_t pid, const char *what, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return err == ESRCH ? -ENOENT : -err;
	if (n == 0)
		return -ENOENT; /* a thread between exit and reaping reads empty */
	buf[n] = '\0';
	return n;
}

int procfs_open(pid_t pid, const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

/* /proc/PID/NAME opened for reading: the fd, or -errno. */
static int open_file(pid_t pid, const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The rest of fd, after the len bytes of head read from it already, as
 * procfs_read() says. */
static int read_rest(int fd, const char *head, size_t len, size_t max, char **out, size_t *outlen)
{
	size_t cap = len > 65536 ? len : 65536;
	char *buf = malloc(cap + 1);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (len)
		memcpy(buf, head, len);
	while (len < max) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536 + 1);

			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap += 65536;
		}
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

int procfs_read(pid_t pid, const char *name, size_t max, char **out, size_t *outlen)
{
	int fd = open_file(pid, name), err;

	*out = NULL;
	*outlen = 0;
	if (fd < 0)
		return fd;
	err = read_rest(fd, NULL, 0, max, out, outlen);
	close(fd);
	return err;
}

/*
 * The kernel copies a command line from the process's memory until its end
 * or the reader's buffer's: a read shorter than asked is all of it. One read
 * into a page covers nearly every command line, with no second read and no
 * 64 KiB buffer (a fork + exec of /bin/true reads one).
 */
int procfs_cmdline(pid_t pid, char **out, size_t *outlen)
{
	char head[4096];
	int fd = open_file(pid, "cmdline"), err = 0;
	ssize_t n;

	*out = NULL;
	*outlen = 0;
	if (fd < 0)
		return fd;
	n = read(fd, head, sizeof(head));
	if (n < 0) {
		err = -errno;
	} else if ((size_t)n < sizeof(head)) {
		*out = malloc((size_t)n + 1);
		if (*out) {
			memcpy(*out, head, (size_t)n);
			(*out)[n] = '\0';
			*outlen = (size_t)n;
		} else {
			err = -ENOMEM;
		}
	} else {
		err = read_rest(fd, head, (size_t)n, PROCFS_CMDLINE_MAX, out, outlen);
	}
	close(fd);
	return err;
}

int procfs_cmdline_refresh(pid_t pid, char **buf, size_t *len)
{
	char *nb;
	size_t nlen;
	int err = procfs_cmdline(pid, &nb, &nlen);

	if (err)
		return err;
	if (nlen == 0) {
		free(nb);
		return -ENOENT;
	}
	free(*buf);
	*buf = nb;
	*len = nlen;
	return 0;
}

char *procfs_cmdline_join(char *const argv[], size_t *len)
{
	size_t n = 0;
	char *buf;

	for (size_t i = 0; argv[i]; i++)
		n += strlen(argv[i]) + 1;
	buf = malloc(n ? n : 1);
	if (!buf)
		return NULL;
	n = 0;
	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;

		memcpy(buf + n, argv[i], l);
		n += l;
	}
	*len = n;
	return buf;
}

struct mevi_str *procfs_cmdline_split(const char *buf, size_t len, uint32_t *count)
{
	uint32_t n = 0, max = 0;
	struct mevi_str *items;

	for (size_t i = 0; i < len; i++)
		max += buf[i] == '\0';
	if (len && buf[len - 1] != '\0')
		max++; /* the last argument lost its NUL */
	items = calloc(max ? max : 1, sizeof(*items));
	if (!items)
		return NULL;
	for (size_t i = 0; i < len && n < max;) {
		size_t l = strnlen(buf + i, len - i);

		items[n].ptr = buf + i;
		items[n++].len = (uint32_t)l;
		i += l + 1;
	}
	*count = n;
	return items;
}

char **procfs_cmdline_argv(char *buf, size_t len)
{
	uint32_t n;
	struct mevi_str *items = procfs_cmdline_split(buf, len, &n);
	char **argv = items ? calloc(n + 2, sizeof(*argv)) : NULL;

	if (argv) {
		/* Each argument is NUL-terminated: by its separator, or the last
		 * one by the NUL procfs_cmdline adds after the buffer. */
		for (uint32_t i = 0; i < n; i++)
			argv[i] = (char *)items[i].ptr;
		if (n == 0) /* a kernel thread or a zombie: nameless */
			argv[0] = "?";
	}
	free(items);
	return argv;
}

int procfs_status_read(pid_t tid, char *buf, size_t len)
{
	ssize_t n = read_small(tid, "status", buf, len);

	return n < 0 ? (int)n : 0;
}

bool procfs_status_field(const char *buf, const char *name, long *value)
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

int procfs_stat_field(pid_t pid, int field, unsigned long long *value, char *comm, size_t commlen)
{
	char buf[2048];
	ssize_t n = read_small(pid, "stat", buf, sizeof(buf));
	char *open_paren, *p;

	if (n < 0)
		return (int)n;
	open_paren = strchr(buf, '(');
	p = strrchr(buf, ')'); /* the comm may hold ')': fields resume after the last */
	if (!open_paren || !p || field < 3)
		return -EIO;
	if (comm)
		snprintf(comm, commlen, "%.*s", (int)(p - open_paren - 1), open_paren + 1);
	/* p is at field 2's end; each space starts the next field. */
	for (int f = 2; f < field && p; f++)
		p = strchr(p + 1, ' ');
	if (!p || !p[1])
		return -EIO;
	if (field == 3) {
		*value = (unsigned char)p[1];
		return 0;
	}
	*value = strtoull(p + 1, NULL, 10);
	return 0;
}

/* The stack pointer of a thread that is not stopped, from
 * /proc/PID/task/TID/syscall ("nr args... sp pc", or "-1 sp pc" in user
 * mode, or "running"). Returns 0 when unknown. */
uint64_t procfs_task_sp(pid_t pid, pid_t tid)
{
	char path[96], buf[512];
	unsigned long long v[9];
	int fd, n;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	n = sscanf(buf, "%lld %llx %llx %llx %llx %llx %llx %llx %llx", (long long *)&v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]);
	if (n == 9)
		return v[7];
	if (n == 3) /* "-1 sp pc" */
		return v[1];
	return 0;
}

int procfs_tids(pid_t pid, size_t max, pid_t **out, size_t *n)
{
	char path[64];
	struct dirent *de;
	pid_t *v = NULL;
	size_t cap = 0, len = 0;
	int err = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (len < max && (de = readdir(d))) {
		pid_t tid = (pid_t)atoi(de->d_name);

		if (tid <= 0)
			continue;
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			pid_t *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[len++] = tid;
	}
	closedir(d);
	if (err) {
		free(v);
		return err;
	}
	*out = v;
	*n = len;
	return 0;
}
