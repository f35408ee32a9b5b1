/*
 * A resync whose mapping changes under it (launcher/mm.c, track_piece and
 * confirm): between the walk's read of a private anonymous VMA and its
 * UFFDIO_REGISTER, another thread of the process unmaps part of it, or maps
 * something else over it. The registration still succeeds and no
 * UFFD_EVENT_UNMAP comes for what went before it, so the map must come from
 * a second read of the layout: only what the kernel still maps, nothing
 * left registered that is not tracked.
 *
 * The "other thread" is a child process that owns the region and the
 * userfaultfd (taken with pidfd_getfd); this test's own ioctl() stands in
 * for the C library's and, when armed, has the child change its layout just
 * before the registration that covers the region.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "event.h"
#include "memmap.h"
#include "mm.h"
#include "outbox.h"

#define PAGE	4096u
#define PAGES	64u /* the region; its first and last QUARTER pages are the head and tail */
#define QUARTER (PAGES / 4)

/* What the child is asked to do to its region. */
enum change {
	CHANGE_NONE,
	CHANGE_HEAD_TAIL, /* munmap the head and the tail, as glibc's new_heap() does */
	CHANGE_SHARED,	  /* map shared anonymous memory over all of it (MAP_FIXED) */
};

struct child {
	pid_t pid;
	int sock;      /* our end of the command socket */
	int uffd;      /* the child's userfaultfd, as our fd */
	uint64_t base; /* the region */
};

static struct child kid = {.pid = -1, .sock = -1, .uffd = -1};
static enum change armed; /* done at the next UFFDIO_REGISTER that covers the region */
static unsigned changes_done;

static void child_main(int sock)
{
	char *r =
	    mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_api api = {.api = UFFD_API};
	uint64_t msg[2];
	int uffd;

	if (r == MAP_FAILED)
		_exit(2);
	for (unsigned i = 0; i < PAGES; i++)
		r[i * PAGE] = 1;
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || syscall(SYS_ioctl, uffd, UFFDIO_API, &api) < 0)
		_exit(3);
	msg[0] = (uint64_t)(uintptr_t)r;
	msg[1] = (uint64_t)uffd;
	if (write(sock, msg, sizeof(msg)) != sizeof(msg))
		_exit(4);
	/* Only raw syscalls from here: every private anonymous page this
	 * process has may be registered, and nobody serves its faults. */
	for (;;) {
		char c;
		long rc = 0;

		if (syscall(SYS_read, sock, &c, 1) != 1)
			syscall(SYS_exit_group, 0);
		if (c == CHANGE_HEAD_TAIL)
			rc = syscall(SYS_munmap, r, QUARTER * PAGE) |
			     syscall(SYS_munmap, r + (PAGES - QUARTER) * PAGE, QUARTER * PAGE);
		else if (c == CHANGE_SHARED)
			rc = syscall(SYS_mmap, r, PAGES * PAGE, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == (long)r
				 ? 0
				 : -1;
		c = rc == 0;
		syscall(SYS_write, sock, &c, 1);
	}
}

/* This test's ioctl(): mm.c's calls come here. */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request == UFFDIO_REGISTER && armed != CHANGE_NONE) {
		const struct uffdio_register *reg = arg;

		if (reg->range.start <= kid.base && kid.base < reg->range.start + reg->range.len) {
			struct pollfd p = {.fd = kid.sock, .events = POLLIN};
			char c = (char)armed;

			armed = CHANGE_NONE;
			if (write(kid.sock, &c, 1) == 1 && poll(&p, 1, 5000) == 1 &&
			    read(kid.sock, &c, 1) == 1 && c == 1)
				changes_done++;
		}
	}
	return (int)syscall(SYS_ioctl, fd, request, arg);
}

static int setup(void **state)
{
	int sv[2];
	uint64_t msg[2];
	int pidfd;

	(void)state;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	kid.pid = fork();
	if (kid.pid < 0)
		return -1;
	if (kid.pid == 0) {
		close(sv[0]);
		child_main(sv[1]);
	}
	close(sv[1]);
	kid.sock = sv[0];
	if (read(kid.sock, msg, sizeof(msg)) != sizeof(msg))
		return -1;
	kid.base = msg[0];
	pidfd = (int)syscall(SYS_pidfd_open, kid.pid, 0);
	if (pidfd < 0)
		return -1;
	kid.uffd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)msg[1], 0);
	close(pidfd);
	armed = CHANGE_NONE;
	changes_done = 0;
	return kid.uffd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	if (kid.pid > 0) {
		kill(kid.pid, SIGKILL);
		waitpid(kid.pid, NULL, 0);
	}
	if (kid.sock >= 0)
		close(kid.sock);
	kid = (struct child){.pid = -1, .sock = -1, .uffd = -1};
	return 0;
}

static void sink(const void *batch, size_t len, void *ctx)
{
	(void)batch;
	(void)len;
	(void)ctx;
}

struct tracked {
	struct event_base *base;
	struct outbox out;
	struct mm_stats stats;
	struct mm *mm;
};

/* An attached mm of the child's, with the child's userfaultfd. */
static void track_child(struct tracked *t)
{
	memset(t, 0, sizeof(*t));
	t->base = event_base_new();
	assert_non_null(t->base);
	outbox_init(&t->out, sink, NULL);
	assert_int_equal(mm_new(kid.pid, NULL, t->base, &t->out, &t->stats, 0, &t->mm), 0);
	t->mm->uffd = kid.uffd; /* the mm's now: mm_put closes it */
	kid.uffd = -1;
	t->mm->state = MM_ATTACHED;
}

static void untrack(struct tracked *t)
{
	mm_put(t->mm);
	outbox_destroy(&t->out);
	event_base_free(t->base);
}

struct ranges {
	uint64_t v[3 * 16];
	size_t n;
};

static int range_cb(const struct memmap_range *r, void *arg)
{
	struct ranges *rs = arg;

	if (rs->n == 3 * 16)
		return 1;
	rs->v[rs->n++] = r->start;
	rs->v[rs->n++] = r->end;
	rs->v[rs->n++] = r->state;
	return 0;
}

/* The map's ranges over the region. */
static void map_of_region(const struct mm *mm, struct ranges *rs)
{
	rs->n = 0;
	memmap_walk_range(mm->map, kid.base, kid.base + PAGES * PAGE, range_cb, rs);
}

/* Whether any VMA of the child's in the region is registered with a
 * userfaultfd (smaps' VmFlags "um": missing mode). */
static bool region_registered(void)
{
	char path[64], line[512];
	bool in = false, um = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)kid.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = s < kid.base + PAGES * PAGE && e > kid.base;
		else if (in && strncmp(line, "VmFlags:", 8) == 0 && strstr(line, " um"))
			um = true;
	}
	fclose(f);
	return um;
}

/* The whole region, untouched by the child: resident, registered, no second read. */
static void test_unchanged(void **state)
{
	struct tracked t;
	struct ranges rs;

	(void)state;
	track_child(&t);
	assert_int_equal(mm_resync(t.mm, kid.base, kid.base + PAGES * PAGE), 0);
	map_of_region(t.mm, &rs);
	assert_int_equal(rs.n, 3);
	assert_int_equal(rs.v[0], kid.base);
	assert_int_equal(rs.v[1], kid.base + PAGES * PAGE);
	assert_int_equal(rs.v[2], MEVI_STATE_RESIDENT);
	assert_int_equal(t.stats.raced, 0);
	assert_true(region_registered());
	untrack(&t);
}

/* The head and tail go between the walk's read and the registration: the
 * map holds the middle only, and it was read again once. */
static void check_head_tail_gone(uint64_t start, uint64_t end)
{
	struct tracked t;
	struct ranges rs;

	track_child(&t);
	armed = CHANGE_HEAD_TAIL;
	assert_int_equal(mm_resync(t.mm, start, end), 0);
	assert_int_equal(changes_done, 1);
	map_of_region(t.mm, &rs);
	assert_int_equal(rs.n, 3);
	assert_int_equal(rs.v[0], kid.base + QUARTER * PAGE);
	assert_int_equal(rs.v[1], kid.base + (PAGES - QUARTER) * PAGE);
	assert_int_equal(rs.v[2], MEVI_STATE_RESIDENT);
	assert_int_equal(t.stats.raced, 1);
	assert_true(region_registered());
	untrack(&t);
}

/* A narrow resync (PROCMAP_QUERY reads the layout). */
static void test_head_tail_gone(void **state)
{
	(void)state;
	check_head_tail_gone(kid.base, kid.base + PAGES * PAGE);
}

/* A resync of the whole space, as at an attach (the maps' text). */
static void test_head_tail_gone_whole(void **state)
{
	(void)state;
	check_head_tail_gone(0, MEVI_ADDR_LIMIT);
}

/* Shared memory mapped over the region before its registration: not
 * tracked, and not left registered either. */
static void test_replaced_by_shared(void **state)
{
	struct tracked t;
	struct ranges rs;

	(void)state;
	track_child(&t);
	armed = CHANGE_SHARED;
	assert_int_equal(mm_resync(t.mm, kid.base, kid.base + PAGES * PAGE), 0);
	assert_int_equal(changes_done, 1);
	map_of_region(t.mm, &rs);
	assert_int_equal(rs.n, 0);
	assert_int_equal(t.stats.raced, 1);
	assert_false(region_registered());
	untrack(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_unchanged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_tail_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_head_tail_gone_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replaced_by_shared, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
