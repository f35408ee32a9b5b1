/* vma — the VMAs of a range with their kind and name. */
#include "vma.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"
#include "event.h"
#include "log.h"
#include "procfs.h"
#include "runs.h"

struct vma_info {
	uint64_t start;
	uint64_t end;
	bool private_anon;
	bool vdso;
	bool shared;
	bool has_inode;	  /* file-backed (or shmem) */
	const char *name; /* the kernel's name, NUL-terminated; NULL if not read */
	size_t name_len;
};

static bool name_is_anon(const char *name, size_t len)
{
	if (len == 0)
		return true;
	if (len >= 6 && (memcmp(name, "[heap]", 6) == 0 || memcmp(name, "[stack", 6) == 0))
		return true;
	return len >= 6 && memcmp(name, "[anon:", 6) == 0;
}

/* Whether the kernel has PROCMAP_QUERY: 0 not known yet, 1 yes, -1 no. */
static int query_known;

void vma_source_defer(struct vma_source *src, pid_t pid)
{
	memset(src, 0, sizeof(*src));
	src->maps_fd = -1;
	src->statm_fd = -1;
	src->pid = pid;
	src->use_query = query_known > 0;
}

/* Opens src's /proc/PID/maps. Returns 0, -ESRCH when the process is gone,
 * or -errno. */
static int open_maps(struct vma_source *src)
{
	struct procmap_query q = {.size = sizeof(q)};
	int fd = procfs_open(src->pid, "maps");

	if (fd < 0)
		return fd;
	src->maps_fd = fd;
	/* Probe PROCMAP_QUERY: an address-0 "covering or next" query either
	 * finds a VMA or says ENOENT; old kernels say ENOTTY. The kernel's
	 * answer is the same for every process: asked once (a process forked
	 * and exec'd makes three address spaces). */
	if (!query_known) {
		q.query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
		if (ioctl(src->maps_fd, PROCMAP_QUERY, &q) == 0 || errno == ENOENT)
			query_known = 1;
		else if (errno == ENOTTY || errno == EINVAL)
			query_known = -1;
		else
			return 0; /* no answer (the process went): text this time */
	}
	src->use_query = query_known > 0;
	return 0;
}

int vma_source_open(struct vma_source *src, pid_t pid)
{
	vma_source_defer(src, pid);
	return open_maps(src);
}

void vma_source_close(struct vma_source *src)
{
	if (src->maps_fd >= 0)
		close(src->maps_fd);
	src->maps_fd = -1;
	if (src->statm_fd >= 0)
		close(src->statm_fd);
	src->statm_fd = -1;
	free(src->buf);
	src->buf = NULL;
}

/*
 * Iterates VMAs intersecting [start, end) with PROCMAP_QUERY, one query per
 * VMA, name included. (Asking for names in a second query, only for private
 * VMAs without an inode, spared the kernel a path per file VMA but cost
 * anonymous memory a second syscall each: 2.4 us a VMA against 1.3 us on a
 * process of 2,000 anonymous VMAs and 300 files, where Chromium's processes
 * are, and 1.35 against 1.45 us on one of 1,000 files.)
 */
static int iter_query(struct vma_source *src, uint64_t start, uint64_t end,
		      int (*fn)(const struct vma_info *, void *), void *ctx)
{
	uint64_t addr = start;

	while (addr < end) {
		struct procmap_query q = {
		    .size = sizeof(q),
		    .query_flags = PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
		    .query_addr = addr,
		    .vma_name_addr = (uint64_t)(uintptr_t)src->name,
		    .vma_name_size = sizeof(src->name),
		};
		struct vma_info vi;
		size_t nlen = 0;
		int err;

		if (ioctl(src->maps_fd, PROCMAP_QUERY, &q) < 0) {
			if (errno == ENOENT)
				return 0;
			return -errno;
		}
		if (q.vma_start >= end)
			return 0;
		bool candidate = !(q.vma_flags & PROCMAP_QUERY_VMA_SHARED) && q.inode == 0 &&
				 q.dev_major == 0 && q.dev_minor == 0;
		bool has_inode = q.inode != 0;
		bool shared = q.vma_flags & PROCMAP_QUERY_VMA_SHARED;

		/* vma_name_size includes the NUL; 0 means no name. */
		nlen = q.vma_name_size ? q.vma_name_size - 1 : 0;
		src->name[nlen < sizeof(src->name) ? nlen : sizeof(src->name) - 1] = '\0';
		vi.start = q.vma_start;
		vi.end = q.vma_end;
		vi.private_anon = candidate && name_is_anon(src->name, nlen);
		vi.vdso = candidate && nlen == 6 && memcmp(src->name, "[vdso]", 6) == 0;
		vi.shared = shared;
		vi.has_inode = has_inode;
		vi.name = src->name;
		vi.name_len = nlen;
		err = fn(&vi, ctx);
		if (err)
			return err;
		addr = q.vma_end;
	}
	return 0;
}

int vma_total(struct vma_source *src, uint64_t *bytes)
{
	char buf[128], *end;
	ssize_t n;

	if (src->statm_fd < 0) {
		int fd = procfs_open(src->pid, "statm");

		if (fd < 0)
			return fd;
		src->statm_fd = fd;
	}
	do
		n = pread(src->statm_fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ESRCH; /* its address space has gone */
	buf[n] = '\0';
	unsigned long long pages = strtoull(buf, &end, 10);

	if (end == buf)
		return -EIO;
	*bytes = (uint64_t)pages * MEVI_PAGE_SIZE;
	return 0;
}

/* Reads the whole maps file into src->buf. Returns its length or -errno. */
static ssize_t read_maps(struct vma_source *src)
{
	size_t len = 0;

	for (;;) {
		ssize_t n;

		if (src->buf_cap - len < 4096) {
			size_t cap = src->buf_cap ? src->buf_cap * 2 : 65536;
			char *nb = realloc(src->buf, cap);

			if (!nb)
				return -ENOMEM;
			src->buf = nb;
			src->buf_cap = cap;
		}
		n = pread(src->maps_fd, src->buf + len, src->buf_cap - len - 1, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	src->buf[len] = '\0';
	/* Every address space has mappings (its stack, at least): an empty
	 * file is one that has gone (the process exited after the open). */
	return len ? (ssize_t)len : -ESRCH;
}

/* Parses a hexadecimal (base 16) or decimal (base 10) number at *p, up to
 * the first character that is not a digit; false when there is none. */
static bool parse_num(const char **p, unsigned base, uint64_t *out)
{
	const char *c = *p;
	uint64_t v = 0;

	for (;; c++) {
		unsigned d;

		if (*c >= '0' && *c <= '9')
			d = (unsigned)(*c - '0');
		else if (base == 16 && *c >= 'a' && *c <= 'f')
			d = (unsigned)(*c - 'a' + 10);
		else
			break;
		v = v * base + d;
	}
	if (c == *p)
		return false;
	*p = c;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/*
 * One line of /proc/PID/maps ("start-end perms offset maj:min inode   name"),
 * NUL-terminated: the fields mevi uses, and where the name starts. False for
 * a line of another shape (skipped, as the kernel never writes one).
 */
static bool parse_line(const char *line, uint64_t *s, uint64_t *e, char perms[4], uint64_t *maj,
		       uint64_t *min, uint64_t *inode, const char **name)
{
	const char *p = line;
	uint64_t off;

	if (!parse_num(&p, 16, s) || !expect(&p, '-') || !parse_num(&p, 16, e) || !expect(&p, ' '))
		return false;
	for (int i = 0; i < 4; i++)
		if (!(perms[i] = *p++))
			return false;
	if (!expect(&p, ' ') || !parse_num(&p, 16, &off) || !expect(&p, ' ') ||
	    !parse_num(&p, 16, maj) || !expect(&p, ':') || !parse_num(&p, 16, min) ||
	    !expect(&p, ' ') || !parse_num(&p, 10, inode))
		return false;
	while (*p == ' ')
		p++;
	*name = p;
	return true;
}

/* Calls fn for each VMA of the text read_maps() left in src->buf that
 * intersects [start, end). Cuts the lines at their newlines. */
static int parse_text(struct vma_source *src, uint64_t start, uint64_t end,
		      int (*fn)(const struct vma_info *, void *), void *ctx)
{
	char *line, *next;

	for (line = src->buf; line && *line; line = next) {
		uint64_t s, e, maj, min, inode;
		char perms[4];
		const char *name;
		struct vma_info vi;
		int err;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!parse_line(line, &s, &e, perms, &maj, &min, &inode, &name))
			continue;
		if (e <= start)
			continue;
		if (s >= end)
			break;
		size_t nlen = strlen(name);
		vi.start = s;
		vi.end = e;
		vi.private_anon = perms[3] == 'p' && inode == 0 && maj == 0 && min == 0 &&
				  name_is_anon(name, nlen);
		vi.vdso = strcmp(name, "[vdso]") == 0;
		vi.shared = perms[3] == 's';
		vi.has_inode = inode != 0;
		vi.name = name;
		vi.name_len = nlen;
		err = fn(&vi, ctx);
		if (err)
			return err;
	}
	return 0;
}

/* Iterates VMAs intersecting [start, end) by parsing /proc/PID/maps; with
 * no fn, only reads it (vma_hold_text). */
static int iter_text(struct vma_source *src, uint64_t start, uint64_t end,
		     int (*fn)(const struct vma_info *, void *), void *ctx)
{
	ssize_t len = read_maps(src);

	if (len < 0)
		return (int)len;
	src->text_len = (size_t)len;
	src->text_whole = start == 0 && end >= MEVI_ADDR_LIMIT;
	return fn ? parse_text(src, start, end, fn, ctx) : 0;
}

char *vma_copy_text(const struct vma_source *src)
{
	char *text;

	if (!src->text_whole || !src->buf)
		return NULL;
	text = malloc(src->text_len + 1);
	if (!text)
		return NULL;
	memcpy(text, src->buf, src->text_len);
	text[src->text_len] = '\0';
	/* iter_text cut the lines it parsed at their newlines. */
	for (char *p = text, *end = text + src->text_len; (p = memchr(p, '\0', (size_t)(end - p)));)
		*p++ = '\n';
	return text;
}

/*
 * A walk of the whole address space reads the text, a narrower one asks
 * PROCMAP_QUERY for the mappings in its range. Formatting a line costs the
 * kernel far less than a query's round trip: here 0.35-0.5 us a mapping,
 * parsing included, against 1.4-1.6 us (4,000 anonymous mappings; 1,400
 * with 500 files; 60), so the text wins for a whole process and the queries
 * for a range that holds a few of its mappings.
 */
static int iter(struct vma_source *src, uint64_t start, uint64_t end,
		int (*fn)(const struct vma_info *, void *), void *ctx)
{
	bool whole = start == 0 && end >= MEVI_ADDR_LIMIT;
	int err = src->maps_fd < 0 ? open_maps(src) : 0;

	if (err)
		return err;
	src->text_whole = src->text_held = false;
	err = src->use_query && !whole ? iter_query(src, start, end, fn, ctx)
				       : iter_text(src, start, end, fn, ctx);

	/* A process that is gone fails with ESRCH, EIO, or reads as empty
	 * (read_maps). */
	return err == -EIO ? -ESRCH : err;
}

struct piece_ctx {
	uint64_t start, end;
	struct run_merger merger;
};

static int piece_cb(const struct vma_info *vi, void *arg)
{
	struct piece_ctx *pc = arg;
	uint64_t s = vi->start > pc->start ? vi->start : pc->start;
	uint64_t e = vi->end < pc->end ? vi->end : pc->end;

	if (!vi->private_anon || s >= e)
		return 0;
	return run_merger_add(&pc->merger, s, e);
}

int vma_private_anon(struct vma_source *src, uint64_t start, uint64_t end, vma_piece_fn fn,
		     void *ctx)
{
	struct piece_ctx pc = {.start = start, .end = end, .merger = {.fn = fn, .ctx = ctx}};
	int err = iter(src, start, end, piece_cb, &pc);

	if (err)
		return err;
	return run_merger_finish(&pc.merger);
}

static bool starts(const char *name, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(name, prefix, n) == 0;
}

/* The kind and name of a VMA, from what the kernel says of it. */
static void classify(const struct vma_info *vi, struct vma_desc *d)
{
	const char *n = vi->name ? vi->name : "";
	size_t len = vi->name ? vi->name_len : 0;

	d->name = "";
	d->name_len = 0;
	if (starts(n, len, "[heap]")) {
		d->kind = MEVI_KIND_HEAP;
	} else if (starts(n, len, "[stack]")) {
		d->kind = MEVI_KIND_STACK;
	} else if (starts(n, len, "[anon:") || starts(n, len, "[anon_shmem:")) {
		/* [anon:NAME] / [anon_shmem:NAME]: the name a program gave. */
		size_t skip = n[5] == ':' ? 6 : 12;

		d->kind = skip == 6 && !vi->shared ? MEVI_KIND_ANON : MEVI_KIND_SHMEM;
		d->name = n + skip;
		d->name_len = len > skip && n[len - 1] == ']' ? len - skip - 1 : len - skip;
	} else if (len > 0 && n[0] == '[') {
		d->kind = MEVI_KIND_SPECIAL;
		d->name = n;
		d->name_len = len;
	} else if (!vi->has_inode) {
		d->kind = vi->shared ? MEVI_KIND_SHMEM : MEVI_KIND_ANON;
	} else if (vi->shared && !vi->private_anon &&
		   (starts(n, len, "/dev/zero") || starts(n, len, "/SYSV"))) {
		/* MAP_SHARED|MAP_ANONYMOUS and SysV segments are shmem files. */
		d->kind = MEVI_KIND_SHMEM;
		d->name = n;
		d->name_len = len;
	} else if (starts(n, len, "/memfd:") || starts(n, len, "/dev/shm/") ||
		   starts(n, len, "/SYSV")) {
		d->kind = MEVI_KIND_SHMEM;
		d->name = n;
		d->name_len = len;
	} else {
		d->kind = MEVI_KIND_FILE;
		d->name = n;
		d->name_len = len;
	}
}

struct each_ctx {
	vma_each_fn fn;
	void *ctx;
};

static int each_cb(const struct vma_info *vi, void *arg)
{
	struct each_ctx *ec = arg;
	struct vma_desc d = {.start = vi->start, .end = vi->end, .private_anon = vi->private_anon};

	classify(vi, &d);
	return ec->fn(&d, ec->ctx);
}

int vma_each(struct vma_source *src, uint64_t start, uint64_t end, vma_each_fn fn, void *ctx)
{
	struct each_ctx ec = {fn, ctx};

	return iter(src, start, end, each_cb, &ec);
}

int vma_hold_text(struct vma_source *src)
{
	int err = iter(src, 0, MEVI_ADDR_LIMIT, NULL, NULL); /* the whole space: the text */

	src->text_held = err == 0;
	return err;
}

int vma_each_held(struct vma_source *src, vma_each_fn fn, void *ctx)
{
	struct each_ctx ec = {fn, ctx};

	if (!src->text_held)
		return -EINVAL;
	src->text_held = false;
	return parse_text(src, 0, MEVI_ADDR_LIMIT, each_cb, &ec);
}

/* The vdso's address from the auxiliary vector (AT_SYSINFO_EHDR). */
static int vdso_from_auxv(pid_t pid, uint64_t *start)
{
	char path[64];
	uint64_t auxv[2 * 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, auxv, sizeof(auxv));
	close(fd);
	for (ssize_t i = 0; i + 1 < n / 8; i += 2) {
		if (auxv[i] == AT_SYSINFO_EHDR && auxv[i + 1]) {
			*start = auxv[i + 1];
			return 0;
		}
		if (auxv[i] == AT_NULL)
			break;
	}
	return -ENOENT;
}

struct vdso_ctx {
	uint64_t start, end;
	bool found;
};

static int vdso_cb(const struct vma_info *vi, void *arg)
{
	struct vdso_ctx *vc = arg;

	if (!vi->vdso)
		return 0;
	vc->start = vi->start;
	vc->end = vi->end;
	vc->found = true;
	return 1; /* stop */
}

int vma_find_vdso(struct vma_source *src, pid_t pid, uint64_t *start, uint64_t *end)
{
	struct vdso_ctx vc = {0};
	uint64_t base;
	int err;

	/* The auxiliary vector says where; one query says how long. */
	if (vdso_from_auxv(pid, &base) == 0) {
		err = iter(src, base, base + 1, vdso_cb, &vc);
		if (err < 0)
			return err;
	}
	if (!vc.found) {
		err = iter(src, 0, UINT64_MAX, vdso_cb, &vc);
		if (err < 0)
			return err;
	}

	if (err < 0)
		return err;
	if (!vc.found)
		return -ENOENT;
	*start = vc.start;
	*end = vc.end;
	return 0;
}
