/*
 * options — mevi-run's command line and the environment it reads.
 *
 *   mevi-run [--socket PATH] [--no-spawn] [--listen HOST:PORT] [--record FILE]
 *            [--backtraces off|mmap|all] [--backtrace-depth N]
 *            [--sample[=MS] [--layout=stops|scan]] [--engine=auto|ebpf|ptrace]
 *            [--summary[=FILE]] [--summary-format=text|json] [--heat[=MS]]
 *            [--] PROGRAM [ARGS...]
 *   mevi-run [--socket PATH] [--no-spawn] [--listen HOST:PORT] [--record FILE]
 *            --pid PID [--exact] [--detach-after S] [--summary[=FILE]]
 *            [--heat[=MS]]
 *   mevi-run --help | --version
 *
 * Environment: MEVI_SOCKET (the socket, when --socket is not given),
 * MEVI_ENGINE (the default of --engine), MEVI_LOG (read by proto/log.h).
 */
#ifndef MEVI_LAUNCHER_OPTIONS_H
#define MEVI_LAUNCHER_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* getopt ids of the long options without a short form; above every
 * character, so an unknown short option is told apart (optopt < OPT_LONG). */
enum launcher_opt {
	OPT_LONG = 0x100,
	OPT_LISTEN = OPT_LONG,
	OPT_BACKTRACES,
	OPT_BACKTRACE_DEPTH,
	OPT_SAMPLE,
	OPT_EXACT,
	OPT_LAYOUT,
	OPT_PID,
	OPT_DETACH_AFTER,
	OPT_SUMMARY,
	OPT_SUMMARY_FORMAT,
	OPT_ENGINE,
	OPT_HEAT,
};

/* Which engine observes memory (--engine, MEVI_ENGINE). */
enum launcher_engine {
	ENGINE_AUTO = 0, /* the default: ebpf when it loads and can do the run, else ptrace */
	ENGINE_PTRACE,
	ENGINE_EBPF, /* ebpf or nothing */
};

/* Every choice the command line makes, resolved. Strings point into argv. */
struct launcher_options {
	char socket_path[108];	  /* --socket, else $MEVI_SOCKET, else the default */
	bool may_spawn;		  /* start mevid when none runs (not --no-spawn, --record) */
	const char *listen;	  /* --listen for a mevid this starts, or NULL */
	const char *record;	  /* --record FILE, or NULL */
	int bt_mode;		  /* --backtraces: BACKTRACE_* (backtrace.h) */
	bool bt_given;		  /* --backtraces was given */
	unsigned bt_depth;	  /* --backtrace-depth */
	unsigned sample_ms;	  /* --sample (attaching: 50 unless --exact); 0: exact mode */
	bool scan_layout;	  /* --layout=scan */
	pid_t attach_pid;	  /* --pid, or 0 */
	bool exact;		  /* --exact (with --pid) */
	unsigned detach_after;	  /* --detach-after S, or 0 */
	unsigned heat_ms;	  /* --heat: the interval; 0 when off */
	bool summary;		  /* --summary was given */
	const char *summary_path; /* --summary=FILE, or NULL for stderr */
	int summary_fmt;	  /* SUMMARY_TEXT or SUMMARY_JSON (proto/summary.h) */
	enum launcher_engine engine;
	char **argv; /* PROGRAM ARGS... (NULL-terminated), or an empty list with --pid */
};

/*
 * Parses argv and the environment into o. Returns 0 to run, 1 when --help or
 * --version was printed to out (exit 0), or -EINVAL after printing one line
 * about the mistake and a "try 'mevi-run --help'" hint to err (exit 2).
 * Owns nothing: o needs no release.
 */
int launcher_options_parse(struct launcher_options *o, int argc, char **argv, FILE *out, FILE *err);

#endif /* MEVI_LAUNCHER_OPTIONS_H */
