/* uffd — injecting a userfaultfd into a tracee, and serving its faults. */
#include "uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "arch.h"
#include "backtrace.h"
#include "compat.h"
#include "heat.h"
#include "inject.h"
#include "log.h"
#include "memmap.h"
#include "mm.h"
#include "monotime.h"
#include "outbox.h"
#include "sandbox.h"

#define PAGE	     MEVI_PAGE_SIZE
#define PAGE_DOWN(x) ((x) & ~(PAGE - 1))

/* The source of UFFDIO_COPY: a write fault gets a zeroed page of its own. */
static uint8_t zero_page[4096] __attribute__((aligned(4096)));

static bool permission_hint_given; /* once per session, not per process */

/* ---- injection ---- */

static void permission_hint(void)
{
	if (permission_hint_given)
		return;
	permission_hint_given = true;
	log_error(
	    "userfaultfd is not permitted for this program, so its pages are shown as "
	    "untracked: run mevi-run as root, or `sudo sysctl vm.unprivileged_userfaultfd=1`, "
	    "or give your user access to /dev/userfaultfd");
}

/*
 * The /dev/userfaultfd way (Linux 6.1+), for users who may open that device
 * but not call userfaultfd() (vm.unprivileged_userfaultfd=0): the tracee
 * opens the device and asks it for a userfaultfd. The path is written below
 * the tracee's stack pointer, past the red zone, and the bytes it covered are
 * put back. Returns 0 with the tracee's fd in *remote_fd (negative errno if
 * the tracee could not), -ESRCH if the thread died, or another -errno.
 */
static int remote_uffd_via_dev(struct mm *mm, pid_t pid, pid_t tid, uint64_t insn, long *remote_fd,
			       int *death_status)
{
	static const char path[] = "/dev/userfaultfd";
	struct arch_regs regs;
	char saved[sizeof(path)];
	uint64_t args[6] = {0};
	long devfd = -1, ret;
	int err;

	err = arch_get_regs(tid, &regs);
	if (err)
		return err;
	uint64_t where = (arch_regs_sp(&regs) - 512) & ~UINT64_C(15);
	struct iovec local = {saved, sizeof(saved)};
	struct iovec remote = {(void *)(uintptr_t)where, sizeof(path)};

	if (process_vm_readv(mm->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(path))
		return -errno;
	local = (struct iovec){(void *)path, sizeof(path)};
	if (process_vm_writev(mm->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(path))
		return -errno;
	args[0] = (uint64_t)AT_FDCWD;
	args[1] = where;
	args[2] = O_RDWR | O_CLOEXEC;
	err = inject_syscall(pid, tid, insn, SYS_openat, args, &devfd, death_status);
	local = (struct iovec){saved, sizeof(saved)};
	if (err != -ESRCH)
		process_vm_writev(mm->pid, &local, 1, &remote, 1, 0);
	if (err)
		return err;
	if (devfd < 0) {
		*remote_fd = devfd;
		return 0;
	}
	args[0] = (uint64_t)devfd;
	args[1] = USERFAULTFD_IOC_NEW;
	args[2] = O_CLOEXEC | O_NONBLOCK;
	err = inject_syscall(pid, tid, insn, SYS_ioctl, args, remote_fd, death_status);
	if (err)
		return err;
	args[0] = (uint64_t)devfd;
	return inject_syscall(pid, tid, insn, SYS_close, args, &ret, death_status);
}

/*
 * Whether thread tid's own seccomp filters let it run syscall nr(args) (and
 * the close() of the descriptor that follows) at insn: injecting a syscall
 * the program forbids itself would kill, signal or fail it (sandbox.h). The
 * first refusal of a session is logged with its reason.
 */
static bool injection_allowed(struct mm *mm, pid_t tid, uint64_t insn, long nr,
			      const uint64_t *args)
{
	static bool said;
	struct sandbox_call calls[2] = {{.nr = (int)nr}, {.nr = SYS_close}};
	const char *why = "";

	memcpy(calls[0].args, args, sizeof(calls[0].args));
	if (sandbox_check(tid, mm->own_filters, insn, calls, 2, &why) == 0)
		return true;
	if (!said)
		log_warn("pid %d: not tracked, because %s; its pages are shown as untracked",
			 mm->pid, why);
	else
		log_debug("pid %d: not tracked, because %s", mm->pid, why);
	said = true;
	return false;
}

int uffd_inject(struct mm *mm, pid_t pid, pid_t tid, uint64_t insn, uint64_t extra_features,
		int *death_status)
{
	uint64_t args[6] = {O_CLOEXEC | O_NONBLOCK};
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EVENT_UNMAP |
					     extra_features};
	long remote_fd = -1, ret;
	int pidfd, fd = -1, err;

	if (!injection_allowed(mm, tid, insn, SYS_userfaultfd, args))
		return -ECANCELED;
	err = inject_syscall(pid, tid, insn, SYS_userfaultfd, args, &remote_fd, death_status);
	if (err == -ESRCH)
		return err;
	if (err) {
		log_warn("pid %d: injecting userfaultfd(): %s", mm->pid, strerror(-err));
		return err;
	}
	if ((remote_fd == -EPERM || remote_fd == -EACCES) &&
	    injection_allowed(mm, tid, insn, SYS_openat, (uint64_t[6]){(uint64_t)AT_FDCWD}) &&
	    injection_allowed(mm, tid, insn, SYS_ioctl, (uint64_t[6]){0, USERFAULTFD_IOC_NEW})) {
		/* Not allowed to call userfaultfd(): try the device. */
		err = remote_uffd_via_dev(mm, pid, tid, insn, &remote_fd, death_status);
		if (err == -ESRCH)
			return err;
		if (err)
			remote_fd = err;
	}
	if (remote_fd < 0) {
		if (remote_fd == -EPERM || remote_fd == -EACCES || remote_fd == -ENOENT)
			permission_hint();
		else
			log_warn("pid %d: userfaultfd(): %s", mm->pid, strerror((int)-remote_fd));
		return remote_fd == -ESRCH || remote_fd == -ECANCELED ? -EPERM : (int)remote_fd;
	}
	pidfd = compat_pidfd_open(pid, 0);
	if (pidfd >= 0)
		fd = compat_pidfd_getfd(pidfd, (int)remote_fd, 0);
	if (pidfd < 0 || fd < 0) {
		err = errno && errno != ESRCH && errno != ECANCELED ? -errno : -EBADF;
		log_warn("pid %d: taking the userfaultfd: %s", mm->pid, strerror(-err));
	}
	if (pidfd >= 0)
		close(pidfd);
	args[0] = (uint64_t)remote_fd;
	if (inject_syscall(pid, tid, insn, SYS_close, args, &ret, death_status) == -ESRCH) {
		if (fd >= 0)
			close(fd);
		return -ESRCH;
	}
	if (fd < 0)
		return err;
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		err = -errno;
		log_warn("pid %d: UFFDIO_API: %s", mm->pid, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/* ---- faults ---- */

static int next_cb(const struct memmap_range *r, void *arg)
{
	*(uint64_t *)arg = r->start;
	return 1;
}

/* A fault outside the known map: the stack grew, or a mapping we have not
 * seen yet. Re-read the area from the kernel up to the next known range. */
static void resync_unknown(struct mm *mm, uint64_t page)
{
	uint64_t next = MEVI_ADDR_LIMIT;

	memmap_walk_range(mm->map, page, MEVI_ADDR_LIMIT, next_cb, &next);
	if (next > page + (UINT64_C(128) << 20))
		next = page + (UINT64_C(128) << 20);
	mm_resync(mm, page, next);
}

/*
 * Serves one missing-page fault of thread tid (0: unknown, a retried fault).
 * Returns -EAGAIN when the kernel refused because a layout change (an UNMAP
 * event) is in flight: the caller retries after reading the pending events.
 * Any other outcome is final.
 */
static int serve_fault(struct mm *mm, uint64_t page, bool write, pid_t tid)
{
	struct memmap_range r;
	int ret;

	if (write) {
		/* COPY, not ZEROPAGE: a zero page would make the write fault a
		 * second time (copy-on-write of the zero page). */
		struct uffdio_copy c = {
		    .dst = page, .src = (uint64_t)(uintptr_t)zero_page, .len = PAGE};

		ret = ioctl(mm->uffd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = {.range = {.start = page, .len = PAGE}};

		ret = ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z);
	}
	if (ret < 0) {
		int err = errno;
		struct uffdio_range wake = {.start = page, .len = PAGE};

		switch (err) {
		case EAGAIN: /* mmap_changing: an event must be read first */
			return -EAGAIN;
		case EEXIST: /* already populated: wake the faulting thread */
			ioctl(mm->uffd, UFFDIO_WAKE, &wake);
			break;
		case ENOENT: /* the VMA went away: let the thread retry (and fail) */
			ioctl(mm->uffd, UFFDIO_WAKE, &wake);
			return 0;
		case ESRCH:
		case ENOSPC: /* the process is exiting */
			return 0;
		default:
			log_warn("pid %d: serving fault at %#lx: %s", mm->pid, (unsigned long)page,
				 strerror(err));
			ioctl(mm->uffd, UFFDIO_WAKE, &wake);
			return 0;
		}
	}
	mm->stats->faults++;
	if (!memmap_lookup(mm->map, page, &r)) {
		resync_unknown(mm, page);
		return 0;
	}
	if (r.state == MEVI_STATE_RESIDENT)
		return 0;
	mm_touched(mm, tid, page, NULL);
	return 0;
}

/* Faults refused with EAGAIN wait here; bit 0 of an entry is "write". */
static void retry_push(struct mm *mm, uint64_t page, bool write)
{
	if (mm->nretry == mm->retry_cap) {
		size_t cap = mm->retry_cap ? mm->retry_cap * 2 : 16;
		uint64_t *nr = realloc(mm->retry, cap * sizeof(*nr));

		MEVI_ASSERT(nr);
		mm->retry = nr;
		mm->retry_cap = cap;
	}
	mm->retry[mm->nretry++] = page | (write ? 1 : 0);
}

static void retry_faults(struct mm *mm)
{
	size_t kept = 0;

	for (size_t i = 0; i < mm->nretry; i++) {
		uint64_t e = mm->retry[i];

		if (mm->uffd >= 0 && serve_fault(mm, e & ~UINT64_C(1), e & 1, 0) == -EAGAIN)
			mm->retry[kept++] = e;
	}
	mm->nretry = kept;
	if (kept) {
		struct timeval tv = {0, 1000};

		evtimer_add(mm->retry_ev, &tv);
	}
}

void uffd_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	retry_faults(arg);
}

static void handle_msg(struct mm *mm, const struct uffd_msg *msg)
{
	switch (msg->event) {
	case UFFD_EVENT_PAGEFAULT: {
		uint64_t page = PAGE_DOWN(msg->arg.pagefault.address);
		bool write = msg->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;

		if (serve_fault(mm, page, write, (pid_t)msg->arg.pagefault.feat.ptid) == -EAGAIN)
			retry_push(mm, page, write);
		break;
	}
	case UFFD_EVENT_UNMAP:
		/* munmap, or a mapping placed over registered memory: whatever
		 * is there now is the truth (another thread may have mapped the
		 * range again already). */
		heat_mm_gone(mm->heat, msg->arg.remove.start, msg->arg.remove.end); /* heat hook */
		mm_resync(mm, msg->arg.remove.start, msg->arg.remove.end);
		break;
	default:
		log_debug("pid %d: unexpected userfaultfd event %u", mm->pid, msg->event);
		break;
	}
}

/*
 * How long to keep polling the userfaultfd after the last fault before going
 * back to sleep in the event loop. A program touching fresh memory faults
 * again a few microseconds after its previous fault was served; catching that
 * fault while still awake saves the cross-CPU wake-up of the handler, which
 * costs tens of microseconds on a VM whose idle CPUs halt. Bounded, and only
 * while faults keep coming, so an idle tracee costs nothing.
 */
#define FAULT_SPIN_NS (30 * 1000)

void uffd_serve_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mm *mm = arg;
	struct uffd_msg msgs[64];
	uint64_t spin_until = 0;

	for (;;) {
		ssize_t n = read(mm->uffd, msgs, sizeof(msgs));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				log_debug("pid %d: userfaultfd read: %s", mm->pid, strerror(errno));
				mm_close_uffd(mm);
				break;
			}
			if (!spin_until || mono_ns() >= spin_until)
				break;
			sched_yield(); /* let a tracee sharing this CPU run */
			continue;
		}
		if (n == 0) {
			mm_close_uffd(mm);
			break;
		}
		for (size_t i = 0; i < (size_t)n / sizeof(msgs[0]) && mm->uffd >= 0; i++)
			handle_msg(mm, &msgs[i]);
		if (mm->uffd < 0)
			break;
		spin_until = mono_ns() + FAULT_SPIN_NS;
	}
	if (mm->nretry)
		retry_faults(mm);
}
