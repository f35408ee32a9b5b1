/*
 * Overhead workload (b): mmap 1 GiB of anonymous memory and write one byte to each
 * of its 262,144 pages, then munmap it.
 *
 * Every write is a first-touch page fault: under mevi each one is served through
 * userfaultfd, so (mevi - native) / 262144 is mevi's cost per fault (target:
 * <= 5x of native). argv[1] overrides the size in MiB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	size_t len = mib << 20, off;
	volatile char *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("touch_1g: mmap");
		return 1;
	}
	for (off = 0; off < len; off += 4096)
		p[off] = 1;
	if (munmap((void *)p, len) < 0) {
		perror("touch_1g: munmap");
		return 1;
	}
	return 0;
}
