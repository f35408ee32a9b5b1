/*
 * stackintern — the session's interned call stacks (each distinct one gets an id;
 * the daemon's stacktab only stores what arrives by id), and the symbol cache they
 * are built from.
 *
 * A stack is the list of program counters of a thread at the moment it
 * mapped memory, in one process image. Each distinct stack (image, pcs) gets
 * an id, unique in the session (1, 2, ...), and is sent once as a stack
 * event before the first origin naming it; after a reconnect every stack is
 * sent again (stackintern_emit_all) before any origin.
 *
 * Symbols are cached per module file and offset, not per address space: the
 * second process that runs the same libc (or the same program, at another
 * load address) symbolises its frames from the cache, without loading
 * symbol tables or line tables again. A module file is identified by what
 * stat says (device, inode, size, mtime), so a program rebuilt during the
 * session is not named with its old symbols.
 *
 * The table lives as long as the session and never shrinks; past its limits
 * new stacks get no id (their ranges get no origin) and are counted.
 * Ownership: stackintern_new allocates, stackintern_free frees everything.
 */
#ifndef MEVI_LAUNCHER_STACKINTERN_H
#define MEVI_LAUNCHER_STACKINTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct outbox;
struct stackintern;

/* Allocates an empty table. NULL on out-of-memory. */
struct stackintern *stackintern_new(void);
void stackintern_free(struct stackintern *st);

/*
 * The id of the module file name (a path, or "[vdso]"-like) as mapped in
 * process image image: >= 1, or 0 on out-of-memory. Files that stat cannot
 * see (deleted, memfd) are distinguished by image.
 */
uint32_t stackintern_module(struct stackintern *st, const char *name, uint32_t image);

/*
 * The cached symbol of (module, offset, ret) — ret: the pc is a return
 * address — as an id >= 1, or 0 when not cached yet.
 */
uint32_t stackintern_sym_find(struct stackintern *st, uint32_t module, uint64_t offset, bool ret);

/* Caches func ("function+0xoff" or "") and source ("file.c:42" or "": none)
 * for (module, offset, ret) and returns its id, or 0 on out-of-memory.
 * pending: they are still being looked up (stackintern_sym_resolved). */
uint32_t stackintern_sym_add(struct stackintern *st, uint32_t module, uint64_t offset, bool ret,
			     const char *func, const char *source, bool pending);

/*
 * The function and source of pending symbol sym are known ("" when not):
 * every stack that was waiting for it and waits for nothing else now is
 * emitted again, complete, into out (it replaces the one sent without).
 */
void stackintern_sym_resolved(struct stackintern *st, uint32_t sym, const char *func,
			      const char *source, struct outbox *out);

/* The id of the stack (image, pcs[0..n)), or 0 when it was never added. */
uint32_t stackintern_find(struct stackintern *st, uint32_t image, const uint64_t *pcs, unsigned n);

/*
 * Adds the stack (image, pcs[0..n)) unwound in process pid, whose frames'
 * modules and symbols are mods[i] and syms[i] (0: unknown). Returns its new
 * id, or 0 when the table is full or out of memory. A stack with pending
 * symbols is emitted again when the last of them is resolved.
 */
uint32_t stackintern_add(struct stackintern *st, pid_t pid, uint32_t image, const uint64_t *pcs,
			 const uint32_t *mods, const uint32_t *syms, unsigned n);

/* Emits the stack event of id into out. Returns 0 or -errno. */
int stackintern_emit(struct stackintern *st, struct outbox *out, uint32_t id);

/* Emits every stack, in id order (after a reconnect). */
void stackintern_emit_all(struct stackintern *st, struct outbox *out);

/* Stacks and cached symbols held, and stacks refused because full. */
struct stackintern_counts {
	uint64_t stacks, syms, modules, refused;
};
void stackintern_counts(const struct stackintern *st, struct stackintern_counts *c);

#endif /* MEVI_LAUNCHER_STACKINTERN_H */
