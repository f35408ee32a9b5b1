/*
 * Scenario: every kind of memory sampled mode shows.
 *
 * A file mapping (a temporary file of 64 pages, half of it read), shared
 * anonymous memory, a memfd, a /dev/shm file, a SysV segment, an
 * anonymous mapping named with PR_SET_VMA_ANON_NAME, and two threads whose
 * stacks they touch. Exact mode sees only the private anonymous part of it
 * (and checks that); sampled mode checks every page and every kind.
 *
 * Checkpoints:
 *   mapped        everything mapped, nothing touched
 *   touched       file: 32 pages read; shmem, memfd, /dev/shm, SysV: 16
 *                 pages written each; named anon: 8 pages written; two
 *                 threads parked on their own stacks
 *   partly-gone   the file mapping's first half and the SysV segment
 *                 detached, the memfd dropped with MADV_REMOVE
 *   unmapped      everything unmapped, threads joined
 */
#include "scenario.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA	     0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

#define NPAGES 64

static pthread_barrier_t barrier;

static void *worker(void *arg)
{
	volatile char buf[32 * 1024];

	memset((char *)buf, (int)(intptr_t)arg, sizeof(buf)); /* touch its own stack */
	pthread_barrier_wait(&barrier);			      /* touched */
	pthread_barrier_wait(&barrier);			      /* released */
	return NULL;
}

static int temp_fd(const char *dir, const char *tag, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/mevi-kinds-%s-%d", dir, tag, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		sc_die(1, "open %s", path);
	if (ftruncate(fd, NPAGES * SC_PAGE) < 0)
		sc_die(1, "ftruncate %s", path);
	return fd;
}

int main(void)
{
	char fpath[256], spath[256];
	int ffd = temp_fd("/tmp", "file", fpath, sizeof(fpath));
	int sfd = temp_fd("/dev/shm", "shm", spath, sizeof(spath));
	int mfd = memfd_create("mevi-kinds", MFD_CLOEXEC);
	int shmid = shmget(IPC_PRIVATE, NPAGES * SC_PAGE, IPC_CREAT | 0600);
	pthread_t th[2];
	char *file, *shared, *memfd, *devshm, *sysv, *named;

	if (mfd < 0 || ftruncate(mfd, NPAGES * SC_PAGE) < 0)
		sc_die(1, "memfd");
	if (shmid < 0)
		sc_die(1, "shmget");
	/* The file has contents, so that reading it brings pages in. */
	for (int i = 0; i < NPAGES; i++) {
		char page[SC_PAGE];

		memset(page, 'a' + i % 26, sizeof(page));
		if (pwrite(ffd, page, sizeof(page), (off_t)i * SC_PAGE) != SC_PAGE)
			sc_die(1, "pwrite");
	}
	file = mmap(NULL, NPAGES * SC_PAGE, PROT_READ, MAP_PRIVATE, ffd, 0);
	shared =
	    mmap(NULL, NPAGES * SC_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memfd = mmap(NULL, NPAGES * SC_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	devshm = mmap(NULL, NPAGES * SC_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	sysv = shmat(shmid, NULL, 0);
	if (file == MAP_FAILED || shared == MAP_FAILED || memfd == MAP_FAILED ||
	    devshm == MAP_FAILED || sysv == (void *)-1)
		sc_die(1, "mmap");
	shmctl(shmid, IPC_RMID, NULL); /* gone once detached */
	named = sc_map(NPAGES * SC_PAGE, PROT_READ | PROT_WRITE, 0);
	/* Kernels without CONFIG_ANON_VMA_NAME refuse (EINVAL): unnamed then. */
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, named, NPAGES * SC_PAGE, "mevi-named") < 0 &&
	    errno != EINVAL)
		sc_die(1, "PR_SET_VMA_ANON_NAME");
	sc_checkpoint("mapped");

	sc_read(file, NPAGES / 2 * SC_PAGE, SC_PAGE);
	sc_touch(shared, 16 * SC_PAGE, SC_PAGE);
	sc_touch(memfd, 16 * SC_PAGE, SC_PAGE);
	sc_touch(devshm, 16 * SC_PAGE, SC_PAGE);
	sc_touch(sysv, 16 * SC_PAGE, SC_PAGE);
	sc_touch(named, 8 * SC_PAGE, SC_PAGE);
	pthread_barrier_init(&barrier, NULL, 3);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(i + 1)))
			sc_die(0, "pthread_create");
	pthread_barrier_wait(&barrier);
	sc_checkpoint("touched");

	sc_unmap(file, NPAGES / 2 * SC_PAGE);
	if (shmdt(sysv) < 0)
		sc_die(1, "shmdt");
	sc_madvise(memfd, NPAGES * SC_PAGE, MADV_REMOVE);
	sc_checkpoint("partly-gone");

	pthread_barrier_wait(&barrier);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	sc_unmap(file + NPAGES / 2 * SC_PAGE, NPAGES / 2 * SC_PAGE);
	sc_unmap(shared, NPAGES * SC_PAGE);
	sc_unmap(memfd, NPAGES * SC_PAGE);
	sc_unmap(devshm, NPAGES * SC_PAGE);
	sc_unmap(named, NPAGES * SC_PAGE);
	unlink(fpath);
	unlink(spath);
	close(ffd);
	close(sfd);
	close(mfd);
	sc_checkpoint("unmapped");
	return 0;
}
