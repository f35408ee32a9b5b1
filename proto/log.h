/*
 * log — the one logging family of mevi.
 *
 * Levels error < warn < info < debug < trace; the threshold comes from the
 * MEVI_LOG environment variable (default info) via log_init(). Messages go to
 * stderr as "mevid[1234] warn session.c: launcher 3: bad batch: ...".
 * The level is checked before the arguments are formatted, so a disabled
 * trace line costs one comparison.
 * The file name of the caller is part of every line.
 */
#ifndef MEVI_PROTO_LOG_H
#define MEVI_PROTO_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
	LOG_LEVEL_TRACE = 4,
};

/* The current threshold. Read-only outside log.c; set through log_init(). */
extern int log_threshold;

/*
 * Sets the program name used as prefix and reads MEVI_LOG. An unknown MEVI_LOG
 * value is reported once and the default (info) is kept. Returns 0.
 */
int log_init(const char *progname);

/* Sets the threshold explicitly (tests, --verbose). */
void log_set_level(enum log_level level);

/* Parses "error", "warn", ... Returns the level or -1. */
int log_level_parse(const char *name);

void log_write(enum log_level level, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_AT(level, ...)                                                                         \
	do {                                                                                       \
		if ((int)(level) <= log_threshold)                                                 \
			log_write((level), __FILE__, __VA_ARGS__);                                 \
	} while (0)

#define log_error(...) LOG_AT(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...) LOG_AT(LOG_LEVEL_TRACE, __VA_ARGS__)

/*
 * Aborts with a message when an internal invariant is broken. Never used for
 * input that comes from outside the process.
 */
#define MEVI_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			log_assert_fail(__FILE__, __LINE__, #cond);                                \
	} while (0)

void log_assert_fail(const char *file, int line, const char *expr) __attribute__((noreturn));

#endif /* MEVI_PROTO_LOG_H */
