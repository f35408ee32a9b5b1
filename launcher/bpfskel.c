/* bpfskel — the kernel programs' skeleton, configured and carried (bpfskel.h). */
#include "bpfskel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "backtrace.h"
#include "fnv.h"
#include "mevi.lskel.h"
#include "mevi_bpf_id.h"
#include "mm.h"

const char *const bpfskel_sys_exit_names[BPFSKEL_NSYS_EXITS] = {
    "sys_exit_mmap",  "sys_exit_munmap", "sys_exit_brk",   "sys_exit_mremap",	"sys_exit_madvise",
    "sys_exit_shmat", "sys_exit_shmdt",	 "sys_exit_mlock", "sys_exit_mlockall", "sys_exit_mlock2",
};

bool bpfskel_thp_always(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[always]") != NULL;
}

void bpfskel_config_default(struct mevi_stock_config *c, bool sampled)
{
	*c = (struct mevi_stock_config){
	    .exact = !sampled,
	    .thp_always = bpfskel_thp_always(),
	    .want_stacks = true,
	    .stacks_all = false,
	    .wake_mark = BPFSKEL_RINGBUF_BYTES / 4,
	    .ring_bytes = BPFSKEL_RINGBUF_BYTES,
	    .tracked_max = BPFSKEL_TRACKED_MAX,
	};
}

struct mevi_bpf *bpfskel_open(const struct mevi_stock_config *c)
{
	struct mevi_bpf *s = mevi_bpf__open();

	if (!s)
		return NULL;
	s->rodata->exact_mode = c->exact;
	s->rodata->thp_always = c->thp_always;
	s->rodata->wake_mark = c->wake_mark;
	s->rodata->want_stacks = c->want_stacks;
	s->rodata->stacks_all = c->stacks_all;
	s->rodata->young_ns = MM_ATTACH_DELAY_NS;
	s->rodata->young_min = BACKTRACE_YOUNG_MIN_BYTES;
	s->maps.events.max_entries = c->ring_bytes;
	s->maps.tracked.max_entries = c->tracked_max;
	return s;
}

uint64_t bpfskel_id(const struct mevi_bpf *s)
{
	static const char build[] = MEVI_BPF_BUILD_ID;
	uint64_t h = fnv1a64(FNV1A64_BASIS, build, sizeof(build));

	h = fnv1a64(h, s->rodata, sizeof(*s->rodata));
	h = fnv1a64(h, &s->maps.events.max_entries, sizeof(s->maps.events.max_entries));
	return fnv1a64(h, &s->maps.tracked.max_entries, sizeof(s->maps.tracked.max_entries));
}

int bpfskel_prime_ring(struct mevi_bpf *s)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = s->maps.events.map_fd, err = 0;
	union bpf_attr a;
	unsigned long *cons, *prod;

	/* Both pages first: the records are written only when the consumer
	 * can then be moved past them (a full ring would drop every record). */
	cons = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return -errno;
	prod = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, page);
	if (prod == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	memset(&a, 0, sizeof(a));
	a.test.prog_fd = (uint32_t)s->progs.prime_ring.prog_fd;
	if (syscall(SYS_bpf, BPF_PROG_TEST_RUN, &a, sizeof(a)) < 0)
		err = -errno;
	/* Nothing reads these records: the consumer moves past them. */
	__atomic_store_n(cons, __atomic_load_n(prod, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
	munmap(prod, (size_t)page);
out:
	munmap(cons, (size_t)page);
	return err;
}

size_t bpfskel_slots(struct mevi_bpf *s, int *extra, size_t nextra, int **slot)
{
	struct bpf_map_desc *maps = (struct bpf_map_desc *)&s->maps;
	struct bpf_prog_desc *progs = (struct bpf_prog_desc *)&s->progs;
	int *links = (int *)&s->links;
	const size_t nmaps = sizeof(s->maps) / sizeof(*maps);
	const size_t nprogs = sizeof(s->progs) / sizeof(*progs);
	const size_t nlinks = sizeof(s->links) / sizeof(*links);
	size_t n = 0;

	_Static_assert(sizeof(s->maps) % sizeof(*maps) == 0, "maps: one type");
	_Static_assert(sizeof(s->progs) % sizeof(*progs) == 0, "programs: one type");
	for (size_t i = 0; i < nmaps; i++)
		slot[n++] = &maps[i].map_fd;
	for (size_t i = 0; i < nprogs; i++)
		slot[n++] = &progs[i].prog_fd;
	for (size_t i = 0; i < nlinks; i++)
		slot[n++] = &links[i];
	for (size_t i = 0; i < nextra && n < BPFSKEL_FDS_MAX; i++)
		slot[n++] = &extra[i];
	return n;
}

size_t bpfskel_fds(struct mevi_bpf *s, int *extra, size_t nextra, uint64_t *mask, int *fds)
{
	int *slot[BPFSKEL_FDS_MAX];
	size_t n = bpfskel_slots(s, extra, nextra, slot), k = 0;

	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		if (*slot[i] <= 0)
			continue;
		*mask |= UINT64_C(1) << i;
		fds[k++] = *slot[i];
	}
	return k;
}

/* Maps a global-data map where the skeleton's load would have (its own
 * skel_finalize_map_data, over the data prepared at open). */
static void *map_data(struct bpf_map_desc *m, size_t size, int prot)
{
	size_t len = (size + 4095) & ~(size_t)4095;
	void *p = mmap((void *)(uintptr_t)m->initial_value, len, prot, MAP_SHARED | MAP_FIXED,
		       m->map_fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The size of the map behind fd, from the kernel; 0 if it cannot say. */
static uint32_t map_size(int fd)
{
	struct bpf_map_info info = {0};
	union bpf_attr attr = {0};

	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	if (syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) < 0)
		return 0;
	return info.max_entries;
}

int bpfskel_adopt(struct mevi_bpf *s, int *extra, size_t nextra, uint64_t mask, const int *fds,
		  size_t nfds)
{
	struct mevi_bpf__rodata want = *s->rodata;
	int *slot[BPFSKEL_FDS_MAX];
	size_t n = bpfskel_slots(s, extra, nextra, slot), k = 0;

	for (size_t i = 0; i < n; i++)
		if (mask & (UINT64_C(1) << i))
			k++;
	if (k != nfds || (n < 64 && mask >> n))
		return -EPROTO;
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (mask & (UINT64_C(1) << i))
			*slot[i] = fds[k++];
	/* Mapped over the data prepared at open, at the same address. */
	if (!map_data(&s->maps.rodata, sizeof(*s->rodata), PROT_READ) ||
	    !map_data(&s->maps.bss, sizeof(*s->bss), PROT_READ | PROT_WRITE))
		return -errno;
	if (memcmp(&want, s->rodata, sizeof(want)) != 0 ||
	    map_size(s->maps.events.map_fd) != s->maps.events.max_entries ||
	    map_size(s->maps.tracked.map_fd) != s->maps.tracked.max_entries)
		return -ESTALE;
	return 0;
}
