/* elfcache — the ELF files the unwinders read, opened once (elfcache.h). */
#include "elfcache.h"

#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int fd;	  /* kept open: libelf reads through it if it could not map */
	Elf *elf; /* the cache's reference; NULL: not an ELF file */
	uint64_t used;
};

static struct entry entries[ELFCACHE_MAX];
static unsigned nentries;
static uint64_t clock_;
static unsigned opened, hits;

static bool same_file(const struct entry *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino && e->size == st->st_size &&
	       e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static bool same_file_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static void let_go(struct entry *e)
{
	if (e->elf) {
		/* Modules holding it read from its mapping, not the fd. */
		elf_cntl(e->elf, ELF_C_FDDONE);
		elf_end(e->elf);
	}
	if (e->fd >= 0)
		close(e->fd);
	memset(e, 0, sizeof(*e));
	e->fd = -1;
}

/* A slot for a new file: a free one, or the least recently used let go. */
static struct entry *slot(void)
{
	struct entry *lru;

	if (nentries < ELFCACHE_MAX)
		return &entries[nentries++];
	lru = &entries[0];
	for (unsigned i = 1; i < nentries; i++)
		if (entries[i].used < lru->used)
			lru = &entries[i];
	let_go(lru);
	return lru;
}

/* The entry of the file st describes, opened at path now if it is new;
 * NULL when it cannot be opened. */
static struct entry *lookup(const char *path, const struct stat *st)
{
	struct entry *e;
	struct stat now;
	int fd;

	for (unsigned i = 0; i < nentries; i++)
		if (same_file(&entries[i], st)) {
			hits++;
			return &entries[i];
		}
	/* Not blocking, and the file stat named: a path swapped for a FIFO or
	 * a device in between is neither waited on nor read. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || !same_file_stat(&now, st)) {
		close(fd);
		return NULL;
	}
	elf_version(EV_CURRENT); /* libdwfl's dwfl_begin has, but not necessarily first */
	e = slot();
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->size = st->st_size;
	e->mtime = st->st_mtim;
	e->fd = fd;
	e->elf = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL);
	if (e->elf && elf_kind(e->elf) != ELF_K_ELF) {
		elf_end(e->elf);
		e->elf = NULL;
	}
	if (!e->elf) {
		close(fd); /* remembered as not ELF: never opened again */
		e->fd = -1;
	}
	e->used = ++clock_;
	opened++;
	return e;
}

int elfcache_find_elf(Dwfl_Module *mod, void **userdata, const char *module_name, Dwarf_Addr base,
		      char **file_name, Elf **elfp)
{
	size_t len = strlen(module_name);
	struct entry *e;
	struct stat st;

	if (module_name[0] != '/' ||
	    (len > 10 && strcmp(module_name + len - 10, " (deleted)") == 0))
		return dwfl_linux_proc_find_elf(mod, userdata, module_name, base, file_name, elfp);
	/* Only regular files: a mapped device might hang an open or a read. */
	if (stat(module_name, &st) < 0 || !S_ISREG(st.st_mode) || !(e = lookup(module_name, &st)) ||
	    !e->elf)
		return -1;
	*file_name = strdup(module_name);
	if (!*file_name) {
		errno = ENOMEM;
		return -1;
	}
	/* A new reference to the same descriptor (libelf counts them). */
	*elfp = elf_begin(-1, ELF_C_READ_MMAP_PRIVATE, e->elf);
	if (!*elfp) {
		free(*file_name);
		*file_name = NULL;
		return -1;
	}
	e->used = ++clock_;
	return -1;
}

void elfcache_clear(void)
{
	for (unsigned i = 0; i < nentries; i++)
		let_go(&entries[i]);
	nentries = 0;
}

void elfcache_counts(unsigned *o, unsigned *h)
{
	*o = opened;
	*h = hits;
}
