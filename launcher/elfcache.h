/*
 * elfcache — the ELF files the unwinders read, opened once for all of them.
 *
 * Every address space has its own unwinder (unwind.h) and, through libdwfl,
 * its own module list; left to libdwfl, each one opens and maps every
 * library it unwinds through: a browser's dozen processes each mapped the
 * 300 MB browser binary and libc again, faulted in the headers, symbol
 * tables and unwind tables they read, and unmapped them when the process
 * ended. Here a file is opened and mapped once (libelf, read-only private
 * mapping) and each module gets a reference to the same descriptor (libelf
 * counts them: elf_begin with a reference, elf_end), so the pages read for
 * one process serve the next.
 *
 * A file is known by its device, inode, size and modification time, looked
 * up by path with one stat; only a regular file is opened (without
 * blocking, and checked to be the file stat saw): a library replaced on disk (an upgrade) is a
 * new entry; processes still mapping the old one keep the old descriptor
 * through their references. Files that are not ELF (fonts, data files a
 * process maps) are remembered as such. At most ELFCACHE_MAX files are
 * kept; the least recently used one is let go (modules holding it keep it
 * alive). Used from one thread only (the tracker's, where every unwind is
 * made).
 */
#ifndef MEVI_LAUNCHER_ELFCACHE_H
#define MEVI_LAUNCHER_ELFCACHE_H

#include <elfutils/libdwfl.h>

#define ELFCACHE_MAX 256

/*
 * A Dwfl_Callbacks.find_elf for modules reported from /proc/PID/maps: a
 * path (starting with '/') gets a new reference to the cached descriptor
 * in *elfp, returns -1 (no descriptor to close) and sets *file_name to a
 * copy of the path; anything else (the vdso, a deleted file) is left to
 * libdwfl's dwfl_linux_proc_find_elf. Returns -1 with *elfp NULL when the
 * file cannot be read as ELF.
 */
int elfcache_find_elf(Dwfl_Module *mod, void **userdata, const char *module_name, Dwarf_Addr base,
		      char **file_name, Elf **elfp);

/* Lets every cached file go (their memory lives on while modules hold
 * them). */
void elfcache_clear(void);

/* Files opened and mapped, and lookups served without opening (for the
 * statistics line). */
void elfcache_counts(unsigned *opened, unsigned *hits);

#endif /* MEVI_LAUNCHER_ELFCACHE_H */
