/*
 * Support code shared by the accuracy scenarios: the checkpoint protocol and
 * dying wrappers around the memory syscalls. See scenario.h for the contract.
 */
#include "scenario.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

extern char *program_invocation_short_name;

/* Returns the checkpoint fd from the environment, or -1 when standalone. */
static int checkpoint_fd(void)
{
	const char *s = getenv("MEVI_CHECKPOINT_FD");
	char *end;
	long fd;

	if (!s || !*s)
		return -1;
	errno = 0;
	fd = strtol(s, &end, 10);
	if (errno || *end || fd < 0 || fd > INT32_MAX)
		sc_die(0, "MEVI_CHECKPOINT_FD=%s is not a file descriptor number", s);
	return (int)fd;
}

int sc_harnessed(void)
{
	return checkpoint_fd() >= 0;
}

/* Writes all of buf with one write(2) so that lines from several processes never interleave. */
static void write_line(int fd, const char *buf, size_t len)
{
	ssize_t n;

	do {
		n = write(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		sc_die(1, "write to MEVI_CHECKPOINT_FD %d", fd);
	if ((size_t)n != len)
		sc_die(0, "short write to MEVI_CHECKPOINT_FD %d (%zd of %zu bytes)", fd, n, len);
}

void sc_checkpoint_expect(const char *name, const struct sc_expect *e, size_t n)
{
	/* Stays below PIPE_BUF (4096) so that the write is atomic. */
	char line[4000];
	int fd = checkpoint_fd();
	int len;
	size_t i;

	if (fd < 0)
		return;
	len = snprintf(line, sizeof(line), "MEVI_CHECKPOINT %d %s", (int)getpid(), name);
	for (i = 0; i < n; i++) {
		uintptr_t start = (uintptr_t)e[i].start;

		if (len < 0 || (size_t)len >= sizeof(line))
			break;
		if (e[i].lo == e[i].hi)
			len += snprintf(line + len, sizeof(line) - (size_t)len, " %#lx-%#lx=%ld",
					(unsigned long)start, (unsigned long)(start + e[i].len),
					e[i].lo);
		else
			len += snprintf(line + len, sizeof(line) - (size_t)len,
					" %#lx-%#lx=%ld..%ld", (unsigned long)start,
					(unsigned long)(start + e[i].len), e[i].lo, e[i].hi);
	}
	if (len < 0 || (size_t)len + 1 >= sizeof(line))
		sc_die(0, "checkpoint line for '%s' too long", name);
	line[len++] = '\n';
	write_line(fd, line, (size_t)len);
	if (kill(getpid(), SIGSTOP) < 0)
		sc_die(1, "kill(SIGSTOP)");
}

void sc_checkpoint(const char *name)
{
	sc_checkpoint_expect(name, NULL, 0);
}

int sc_announce_running(void)
{
	char line[64];
	int fd = checkpoint_fd();
	int len;

	if (fd < 0)
		return 0;
	len = snprintf(line, sizeof(line), "MEVI_RUNNING %d\n", (int)getpid());
	write_line(fd, line, (size_t)len);
	return 1;
}

void sc_die(int errno_too, const char *fmt, ...)
{
	int err = errno;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errno_too)
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, msg, strerror(err));
	else
		fprintf(stderr, "%s: %s\n", program_invocation_short_name, msg);
	exit(2);
}

void *sc_map(size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		sc_die(1, "mmap(%zu bytes, prot %#x, flags %#x)", len, prot, flags);
	return p;
}

void *sc_map_at(void *addr, size_t len, int prot, int flags)
{
	void *p = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | flags, -1, 0);

	if (p == MAP_FAILED)
		sc_die(1, "mmap(%p, %zu bytes, MAP_FIXED)", addr, len);
	if (p != addr)
		sc_die(0, "mmap(MAP_FIXED) returned %p instead of %p", p, addr);
	return p;
}

void *sc_reserve_aligned(size_t len, size_t align)
{
	char *p = sc_map(len + align, PROT_NONE, MAP_NORESERVE);
	uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	size_t head = start - (uintptr_t)p;
	size_t tail = align - head;

	if (head)
		sc_unmap(p, head);
	if (tail)
		sc_unmap((char *)start + len, tail);
	return (void *)start;
}

void sc_unmap(void *p, size_t len)
{
	if (munmap(p, len) < 0)
		sc_die(1, "munmap(%p, %zu)", p, len);
}

void sc_madvise(void *p, size_t len, int advice)
{
	if (madvise(p, len, advice) < 0)
		sc_die(1, "madvise(%p, %zu, %d)", p, len, advice);
}

void sc_protect(void *p, size_t len, int prot)
{
	if (mprotect(p, len, prot) < 0)
		sc_die(1, "mprotect(%p, %zu, %#x)", p, len, prot);
}

void sc_touch(void *p, size_t len, size_t stride)
{
	volatile char *c = p;
	size_t off;

	for (off = 0; off < len; off += stride)
		c[off] = (char)(off / stride + 1);
}

void sc_read(const void *p, size_t len, size_t stride)
{
	const volatile char *c = p;
	size_t off;
	char sink = 0;

	for (off = 0; off < len; off += stride)
		sink ^= c[off];
	(void)sink;
}

void sc_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
