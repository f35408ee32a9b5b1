/*
 * heat_own_uffd — a program that uses userfaultfd itself (asynchronous
 * write-protect, like a GetWriteWatch emulation would). It creates its
 * userfaultfd first, later maps and registers buffers, and exits 0 only if
 * every registration of its own worked: mevi-run --heat must leave its
 * memory alone (and say so).
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

static int reg(int u, size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register r = {.range = {(uint64_t)(uintptr_t)p, len},
				    .mode = UFFDIO_REGISTER_MODE_WP};

	if (p == MAP_FAILED)
		return -1;
	memset(p, 1, len);
	if (ioctl(u, UFFDIO_REGISTER, &r)) {
		perror("heat_own_uffd: UFFDIO_REGISTER");
		return -1;
	}
	memset(p, 2, len);
	return 0;
}

int main(void)
{
	int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	struct timespec ts = {0, 300 * 1000 * 1000};

	if (u < 0 || ioctl(u, UFFDIO_API, &api)) {
		perror("heat_own_uffd: userfaultfd");
		return 77;
	}
	for (int i = 0; i < 4; i++) {
		if (reg(u, 64 * 4096))
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}
