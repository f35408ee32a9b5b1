/*
 * The kernel behaviour the unwinder's memory reads rely on (launcher/unwind.h):
 *  - pread of /proc/PID/mem on a userfaultfd-registered page that is not
 *    present fails with EIO at once: it does not wait for the fault to be
 *    served (process_vm_readv would, forever, when the reader is the one
 *    thread that serves it), queues no userfaultfd message and populates
 *    nothing;
 *  - the same read of a missing page that is NOT registered succeeds and
 *    maps the zero page, which pagemap then shows present: hence the
 *    unwinder asks pagemap first and reads only present pages;
 *  - a present page reads back its contents.
 * Needs permission to create a userfaultfd (root, or the sysctl): skipped
 * otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#define PAGE 4096u

static bool present(int pagemap, const void *addr)
{
	uint64_t entry = 0;

	assert_int_equal(pread(pagemap, &entry, sizeof(entry), (off_t)((uintptr_t)addr / PAGE * 8)),
			 sizeof(entry));
	return entry >> 63;
}

/* Four pages: [0] registered and missing, [1] registered and present
 * (filled with UFFDIO_COPY), [2] unregistered and missing, [3] present. */
static void test_reads(void **state)
{
	struct uffdio_api api = {.api = UFFD_API};
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint8_t *p =
	    mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static uint8_t src[PAGE] __attribute__((aligned(4096)));
	struct uffd_msg msg;
	uint8_t buf[PAGE];

	if (uffd < 0)
		skip(); /* not permitted here */
	assert_true(mem >= 0 && pagemap >= 0 && p != MAP_FAILED);
	madvise(p, 4 * PAGE, MADV_NOHUGEPAGE);
	assert_int_equal(ioctl(uffd, UFFDIO_API, &api), 0);
	struct uffdio_register reg = {.range = {.start = (uintptr_t)p, .len = 2 * PAGE},
				      .mode = UFFDIO_REGISTER_MODE_MISSING};
	assert_int_equal(ioctl(uffd, UFFDIO_REGISTER, &reg), 0);
	memset(src, 7, sizeof(src));
	struct uffdio_copy copy = {.dst = (uintptr_t)p + PAGE, .src = (uintptr_t)src, .len = PAGE};
	assert_int_equal(ioctl(uffd, UFFDIO_COPY, &copy), 0);
	p[3 * PAGE] = 9;

	/* [0] registered, missing: EIO, no message, still missing. */
	errno = 0;
	assert_int_equal(pread(mem, buf, PAGE, (off_t)(uintptr_t)p), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(read(uffd, &msg, sizeof(msg)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_false(present(pagemap, p));

	/* [1] registered, present: its contents. */
	assert_true(present(pagemap, p + PAGE));
	assert_int_equal(pread(mem, buf, PAGE, (off_t)(uintptr_t)(p + PAGE)), PAGE);
	assert_int_equal(buf[0], 7);

	/* [2] unregistered, missing: the read succeeds (zeros) and the page is
	 * then present: reading blindly would change what mevi reports. */
	assert_false(present(pagemap, p + 2 * PAGE));
	assert_int_equal(pread(mem, buf, PAGE, (off_t)(uintptr_t)(p + 2 * PAGE)), PAGE);
	assert_int_equal(buf[0], 0);
	assert_true(present(pagemap, p + 2 * PAGE));

	/* [3] present. */
	assert_int_equal(pread(mem, buf, PAGE, (off_t)(uintptr_t)(p + 3 * PAGE)), PAGE);
	assert_int_equal(buf[0], 9);

	close(uffd);
	close(mem);
	close(pagemap);
	munmap(p, 4 * PAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
