/* options — parsing mevi-run's command line into struct launcher_options. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "backtrace.h"
#include "event.h"
#include "link.h"
#include "log.h"
#include "parse.h"
#include "summary.h"
#include "version.h"

/* The --help text. */
static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: mevi-run [--socket PATH] [--no-spawn] [--record FILE] [--backtraces MODE]\n"
	    "                [--backtrace-depth N] [--sample[=MS] [--layout=scan]]\n"
	    "                [--engine=auto|ebpf|ptrace] [--] PROGRAM [ARGS...]\n"
	    "       mevi-run [--socket PATH] [--no-spawn] [--record FILE] --pid PID [--exact]\n"
	    "                [--detach-after S]\n"
	    "       (both forms also take --heat[=MS])\n"
	    "\n"
	    "Runs PROGRAM and shows how it and every process it spawns use memory,\n"
	    "live, in the browser (mevid serves http://127.0.0.1:5001/ by default).\n"
	    "\n"
	    "  --socket PATH  mevid's socket (default: $MEVI_SOCKET, else\n"
	    "                 $XDG_RUNTIME_DIR/mevi/mevid.sock, else /tmp/mevi-$UID/mevid.sock)\n"
	    "  --no-spawn     do not start mevid when none is running\n"
	    "  --listen HOST:PORT\n"
	    "                 where a mevid this starts serves HTTP (default 127.0.0.1:5001,\n"
	    "                 or the next free port when that one is taken)\n"
	    "  --record FILE  also write the session to FILE, a .mevi recording that\n"
	    "                 `mevid --load FILE` or the browser opens (implies --no-spawn)\n"
	    "  --backtraces MODE\n"
	    "                 who mapped memory, and which thread first touched it:\n"
	    "                 mmap (default): the call stack of every anonymous mmap,\n"
	    "                 mremap and heap growth (brk) is recorded as the origin of\n"
	    "                 the new range (except in the first 2 ms of a freshly exec'd\n"
	    "                 program: its loader), and each page is tagged with the\n"
	    "                 thread that first touched it; all: as mmap, also in those\n"
	    "                 2 ms (a stop per mapping call of every program), and the call\n"
	    "                 stacks of madvise calls that drop pages (stacks only:\n"
	    "                 origins stay those of the mapping calls); off: neither,\n"
	    "                 at no cost\n"
	    "  --backtrace-depth N\n"
	    "                 frames kept per call stack, 1..256 (default 32)\n"
	    "  --sample[=MS]  sampled mode: no userfaultfd; every kind of memory (files,\n"
	    "                 shared memory, stacks) is shown, and residency is read\n"
	    "                 every MS milliseconds (default 50; backs off when a scan\n"
	    "                 costs more than 2%% of a core) instead of at each first touch\n"
	    "  --layout=scan  with --sample: no syscall stops at all (no seccomp filter);\n"
	    "                 layouts are re-read at each scan instead of at mmap/munmap\n"
	    "                 (the default, --layout=stops, keeps them event-exact); no\n"
	    "                 backtraces then: there are no stops to unwind at\n"
	    "  --pid PID      attach to the running process PID (sampled mode) instead of\n"
	    "                 starting PROGRAM; Ctrl-C detaches and leaves it running\n"
	    "  --exact        with --pid: exact mode instead: a userfaultfd is injected\n"
	    "                 into the process (first touches are seen), but layout changes\n"
	    "                 are found by re-reading it every 50 ms, not at syscalls\n"
	    "  --detach-after S\n"
	    "                 with --pid: detach after S seconds\n"
	    "  --engine=auto|ebpf|ptrace\n"
	    "                 how memory is observed. ebpf: kernel tracepoints (root, or\n"
	    "                 CAP_BPF + CAP_PERFMON; no ptrace, near native speed; no\n"
	    "                 --heat yet); ptrace: ptrace + userfaultfd (works\n"
	    "                 unprivileged); auto (default): ebpf when it loads and the\n"
	    "                 run asks for nothing it lacks (--heat; and --record and\n"
	    "                 --summary=FILE, whose file ebpf cannot hold PROGRAM's end\n"
	    "                 for), else ptrace, saying which and why\n"
	    "  --summary[=FILE]\n"
	    "                 at the end, print a summary (peak RSS, top call sites,\n"
	    "                 what was still resident) to stderr, or to FILE\n"
	    "  --summary-format=text|json\n"
	    "                 the summary's format (default text)\n"
	    "  --heat[=MS]    hot and cold memory: every MS milliseconds (default 1000)\n"
	    "                 the pages written since the previous scan are found\n"
	    "                 (asynchronous userfaultfd write-protect + PAGEMAP_SCAN,\n"
	    "                 Linux 6.7+; a written page costs one in-kernel fault per\n"
	    "                 interval); backs off when a scan costs more than 2%% of a core\n"
	    "  --help         this text\n"
	    "  --version      print the version\n"
	    "\n"
	    "Environment: MEVI_LOG=error|warn|info|debug|trace (default info);\n"
	    "MEVI_ENGINE=auto|ebpf|ptrace (the default of --engine).\n"
	    "mevi-run becomes PROGRAM (same pid, same parent, same signals and exit status,\n"
	    "a signal death included; 127 if not found, 126 if not executable); a hidden\n"
	    "tracer process in a session of its own does the tracking (both engines).\n");
}

/* One line saying what is wrong with the command line, and where to look. */
static int __attribute__((format(printf, 2, 3))) bad(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("mevi-run: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputs("\ntry 'mevi-run --help' for more information\n", err);
	return -EINVAL;
}

/* "auto", "ebpf" or "ptrace" into *e. Returns 0 or -EINVAL. */
static int parse_engine(const char *s, enum launcher_engine *e)
{
	if (!strcmp(s, "ptrace"))
		*e = ENGINE_PTRACE;
	else if (!strcmp(s, "auto"))
		*e = ENGINE_AUTO;
	else if (!strcmp(s, "ebpf"))
		*e = ENGINE_EBPF;
	else
		return -EINVAL;
	return 0;
}

/* An interval in ms: def without a value, else [min, 3600000]. */
static int parse_interval(const char *arg, unsigned min, unsigned def, unsigned *out)
{
	unsigned long long v;

	if (!arg) {
		*out = def;
		return 0;
	}
	if (parse_uint(arg, min, 3600 * 1000, &v))
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* Applies one option (id from getopt_long, its argument). Returns 0, 1 after
 * --help or --version, or -EINVAL after saying why. */
static int apply(struct launcher_options *o, int id, const char *arg, FILE *out, FILE *err)
{
	unsigned long long v;

	switch (id) {
	case 's':
		snprintf(o->socket_path, sizeof(o->socket_path), "%s", arg);
		return 0;
	case 'n':
		o->may_spawn = false;
		return 0;
	case 'r':
		o->record = arg;
		o->may_spawn = false;
		return 0;
	case 'h':
		usage(out);
		return 1;
	case 'V':
		fprintf(out, "mevi-run %s (protocol %d)\n", mevi_version, MEVI_PROTO_VERSION);
		return 1;
	case OPT_LISTEN:
		o->listen = arg;
		return 0;
	case OPT_BACKTRACES:
		o->bt_mode = backtrace_mode_parse(arg);
		o->bt_given = true;
		if (o->bt_mode < 0)
			return bad(err, "--backtraces: %s is not off, mmap or all", arg);
		return 0;
	case OPT_BACKTRACE_DEPTH:
		if (parse_uint(arg, 1, MEVI_STACK_MAX_FRAMES, &v))
			return bad(err, "--backtrace-depth: %s is not 1..%d", arg,
				   MEVI_STACK_MAX_FRAMES);
		o->bt_depth = (unsigned)v;
		return 0;
	case OPT_SAMPLE:
		if (parse_interval(arg, 1, 50, &o->sample_ms))
			return bad(err, "--sample=%s: not 1..3600000 ms", arg);
		return 0;
	case OPT_LAYOUT:
		if (strcmp(arg, "scan") && strcmp(arg, "stops"))
			return bad(err, "--layout: %s is not stops or scan", arg);
		o->scan_layout = !strcmp(arg, "scan");
		return 0;
	case OPT_HEAT:
		if (parse_interval(arg, 10, 1000, &o->heat_ms))
			return bad(err, "--heat=%s: not 10..3600000 ms", arg);
		return 0;
	case OPT_EXACT:
		o->exact = true;
		return 0;
	case OPT_PID:
		if (parse_uint(arg, 1, INT32_MAX, &v))
			return bad(err, "--pid %s: not a process id", arg);
		o->attach_pid = (pid_t)v;
		return 0;
	case OPT_DETACH_AFTER:
		if (parse_uint(arg, 1, 365 * 86400, &v))
			return bad(err, "--detach-after %s: not 1..31536000 s", arg);
		o->detach_after = (unsigned)v;
		return 0;
	case OPT_SUMMARY:
		o->summary = true;
		o->summary_path = arg;
		return 0;
	case OPT_SUMMARY_FORMAT:
		o->summary_fmt = summary_format_parse(arg);
		if (o->summary_fmt < 0)
			return bad(err, "--summary-format: %s is not text or json", arg);
		return 0;
	case OPT_ENGINE:
		if (parse_engine(arg, &o->engine))
			return bad(err, "--engine: %s is not auto, ebpf or ptrace", arg);
		return 0;
	}
	MEVI_ASSERT(!"an option without a case");
	return -EINVAL;
}

/* The combinations that make no sense, after every option is read. */
static int check(struct launcher_options *o, bool has_program, FILE *err)
{
	if (o->attach_pid && has_program)
		return bad(err, "--pid attaches to a running process; no PROGRAM");
	if (!has_program && !o->attach_pid)
		return bad(err, "no PROGRAM to run (usage: mevi-run [OPTIONS] [--] PROGRAM "
				"[ARGS...], or mevi-run [OPTIONS] --pid PID)");
	if (o->detach_after && !o->attach_pid)
		return bad(err, "--detach-after needs --pid");
	if (o->scan_layout && !o->sample_ms)
		return bad(err, "--layout=scan needs --sample");
	if (o->exact && o->sample_ms)
		return bad(err, "--exact and --sample exclude each other");
	if (o->exact && !o->attach_pid) /* a program mevi-run starts is exact already */
		return bad(err, "--exact needs --pid");
	if (o->attach_pid && !o->sample_ms && !o->exact)
		o->sample_ms = 50; /* attaching is sampled unless --exact */
	return 0;
}

int launcher_options_parse(struct launcher_options *o, int argc, char **argv, FILE *out, FILE *err)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"no-spawn", no_argument, NULL, 'n'},
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"record", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"backtraces", required_argument, NULL, OPT_BACKTRACES},
	    {"backtrace-depth", required_argument, NULL, OPT_BACKTRACE_DEPTH},
	    {"sample", optional_argument, NULL, OPT_SAMPLE},
	    {"exact", no_argument, NULL, OPT_EXACT},
	    {"layout", required_argument, NULL, OPT_LAYOUT},
	    {"pid", required_argument, NULL, OPT_PID},
	    {"detach-after", required_argument, NULL, OPT_DETACH_AFTER},
	    {"summary", optional_argument, NULL, OPT_SUMMARY},
	    {"summary-format", required_argument, NULL, OPT_SUMMARY_FORMAT},
	    {"engine", required_argument, NULL, OPT_ENGINE},
	    {"heat", optional_argument, NULL, OPT_HEAT},
	    {NULL, 0, NULL, 0},
	};
	const char *engine = getenv("MEVI_ENGINE");
	int id, ret;

	memset(o, 0, sizeof(*o));
	o->may_spawn = true;
	o->bt_mode = BACKTRACE_MMAP;
	o->bt_depth = BACKTRACE_DEFAULT_DEPTH;
	o->summary_fmt = SUMMARY_TEXT;
	if (engine && *engine && parse_engine(engine, &o->engine))
		return bad(err, "MEVI_ENGINE=%s is not auto, ebpf or ptrace", engine);
	optind = 0; /* a fresh scan, also when called again */
	opterr = 0; /* our own one-line messages */
	while ((id = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (id == ':')
			return bad(err, "%s needs a value", argv[optind - 1]);
		if (id == '?') {
			if (strncmp(argv[optind - 1], "--", 2) && optopt && optopt < OPT_LONG)
				return bad(err, "unknown option '-%c'", optopt);
			return bad(err, "unknown option '%s'", argv[optind - 1]);
		}
		ret = apply(o, id, optarg, out, err);
		if (ret)
			return ret;
	}
	ret = check(o, optind < argc, err);
	if (ret)
		return ret;
	if (!o->socket_path[0] && link_default_socket(o->socket_path, sizeof(o->socket_path)))
		return bad(err, "socket path too long");
	o->argv = argv + optind;
	return 0;
}
