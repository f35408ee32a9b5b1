/*
 * log — the level threshold from MEVI_LOG and the one line format of every
 * log message and failed assertion (contract: log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

int log_threshold = LOG_LEVEL_INFO;

static const char *log_progname = "mevi";

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void log_set_level(enum log_level level)
{
	log_threshold = (int)level;
}

int log_init(const char *progname)
{
	const char *env = getenv("MEVI_LOG");

	if (progname)
		log_progname = progname;
	if (env && *env) {
		int level = log_level_parse(env);

		if (level < 0)
			log_warn(
			    "MEVI_LOG=%s is not one of error|warn|info|debug|trace; using info",
			    env);
		else
			log_threshold = level;
	}
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

void log_write(enum log_level level, const char *file, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	n = snprintf(line, sizeof(line), "%s[%d] %s %s: ", log_progname, (int)getpid(),
		     level_names[level], basename_of(file));
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several processes do not interleave. */
	fprintf(stderr, "%s\n", line);
}

void log_assert_fail(const char *file, int line, const char *expr)
{
	fprintf(stderr, "%s[%d] error %s:%d: assertion failed: %s\n", log_progname, (int)getpid(),
		basename_of(file), line, expr);
	abort();
}
