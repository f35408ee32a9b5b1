/*
 * Support code shared by the accuracy scenarios (the scenarios in tests/scenarios).
 *
 * Checkpoint protocol (see tests/accuracy/README.md): when the environment
 * variable MEVI_CHECKPOINT_FD names an open file descriptor, sc_checkpoint()
 * writes one line
 *
 *     MEVI_CHECKPOINT <pid> <name>[ <start>-<end>=<lo>[..<hi>]]...\n
 *
 * to it with a single write(2), then stops the whole process with
 * kill(getpid(), SIGSTOP). The harness compares mevi's view with the kernel's
 * while the process is stopped and resumes it with SIGCONT. The optional
 * trailing tokens are self-checks of the scenario: in [start, end) (hex
 * addresses) the kernel must report between lo and hi present pages. When the
 * variable is unset, checkpoints do nothing, so every scenario also runs
 * standalone.
 *
 * Every helper here reports a failure on stderr and exits with status 2 (never
 * abort(), whose SIGABRT would look like a signal-exit scenario).
 */
#ifndef MEVI_SCENARIO_H
#define MEVI_SCENARIO_H

#include <stddef.h>

#define SC_PAGE 4096UL

/* A self-check for a checkpoint: [start, start + len) holds lo..hi present pages. */
struct sc_expect {
	const void *start;
	size_t len;
	long lo;
	long hi;
};

/* An exact self-check: n present pages in [p, p + len). */
#define SC_EXPECT(p, len, n) ((struct sc_expect){(p), (len), (n), (n)})
/* A bounded self-check: between lo and hi present pages in [p, p + len). */
#define SC_EXPECT_RANGE(p, len, lo, hi) ((struct sc_expect){(p), (len), (lo), (hi)})

/* Writes the checkpoint line and stops the process (nothing when standalone). */
void sc_checkpoint(const char *name);

/* Like sc_checkpoint() with n self-checks appended to the line. */
void sc_checkpoint_expect(const char *name, const struct sc_expect *e, size_t n);

/* A checkpoint with one or more self-checks: SC_CHECKPOINT("x", SC_EXPECT(p, len, 3), ...). */
#define SC_CHECKPOINT(name, ...)                                                                   \
	do {                                                                                       \
		const struct sc_expect sc_e_[] = {__VA_ARGS__};                                    \
		sc_checkpoint_expect((name), sc_e_, sizeof(sc_e_) / sizeof(sc_e_[0]));             \
	} while (0)

/*
 * Tells the harness that the process now runs freely and may be stopped from
 * outside: writes "MEVI_RUNNING <pid>\n". Returns 1 when a harness listens, 0 when
 * the scenario runs standalone.
 */
int sc_announce_running(void);

/* Returns 1 when a harness listens on MEVI_CHECKPOINT_FD, else 0. */
int sc_harnessed(void);

/* Prints "<program>: <message>" (plus strerror(errno) when errno_too) and exits 2. */
void sc_die(int errno_too, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* Dies with the failing expression and errno unless cond holds. */
#define SC_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			sc_die(1, "%s:%d: check failed: %s", __FILE__, __LINE__, #cond);           \
	} while (0)

/* mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags), dying on failure. */
void *sc_map(size_t len, int prot, int flags);

/* mmap at exactly addr (MAP_FIXED), dying on failure or if the kernel picks another address. */
void *sc_map_at(void *addr, size_t len, int prot, int flags);

/*
 * Reserves len bytes of address space aligned to align (a power of two) and
 * returns the aligned start; the reservation is PROT_NONE and has nothing
 * mapped around it that the scenario did not ask for.
 */
void *sc_reserve_aligned(size_t len, size_t align);

/* munmap / madvise / mprotect, dying on failure. */
void sc_unmap(void *p, size_t len);
void sc_madvise(void *p, size_t len, int advice);
void sc_protect(void *p, size_t len, int prot);

/* Writes one byte into every stride-th byte of [p, p + len), starting at p. */
void sc_touch(void *p, size_t len, size_t stride);

/* Reads one byte of every stride-th byte of [p, p + len) (maps the zero page). */
void sc_read(const void *p, size_t len, size_t stride);

/* Sleeps for ms milliseconds (restarting after signals). */
void sc_sleep_ms(long ms);

/* Page n of p: (char *)p + n * SC_PAGE. */
static inline char *sc_pg(void *p, size_t n)
{
	return (char *)p + n * SC_PAGE;
}

#endif /* MEVI_SCENARIO_H */
