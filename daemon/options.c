/* options — parses mevid's command line and environment (contract: options.h). */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"
#include "eventlog.h"
#include "log.h"
#include "parse.h"
#include "sockpath.h"
#include "version.h"

enum {
	OPT_SOCKET = 's',
	OPT_LISTEN = 'l',
	OPT_FOREGROUND = 'f',
	OPT_HELP = 'h',
	OPT_VERSION = 'V',
	OPT_MAX_ENDED = 256,
	OPT_ALLOW_ORIGIN,
	OPT_WEB_ROOT,
	OPT_TAB_QUEUE_LIMIT,
	OPT_TAB_STALL_TIMEOUT,
	OPT_HISTORY_BUDGET,
	OPT_LOAD,
	OPT_MAX_UPLOAD,
	OPT_SUMMARY,
	OPT_SUMMARY_FORMAT,
	OPT_NO_ENGINE_STOCK,
};

static const struct option long_options[] = {
    {"socket", required_argument, NULL, OPT_SOCKET},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    {"no-engine-stock", no_argument, NULL, OPT_NO_ENGINE_STOCK},
    {"max-ended-sessions", required_argument, NULL, OPT_MAX_ENDED},
    {"allow-origin", required_argument, NULL, OPT_ALLOW_ORIGIN},
    {"web-root", required_argument, NULL, OPT_WEB_ROOT},
    {"tab-queue-limit", required_argument, NULL, OPT_TAB_QUEUE_LIMIT},
    {"tab-stall-timeout", required_argument, NULL, OPT_TAB_STALL_TIMEOUT},
    {"history-budget", required_argument, NULL, OPT_HISTORY_BUDGET},
    {"load", required_argument, NULL, OPT_LOAD},
    {"max-upload", required_argument, NULL, OPT_MAX_UPLOAD},
    {"summary", required_argument, NULL, OPT_SUMMARY},
    {"summary-format", required_argument, NULL, OPT_SUMMARY_FORMAT},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void print_help(FILE *out)
{
	fprintf(out,
		"Usage: mevid [OPTIONS]\n"
		"\n"
		"The mevi daemon: receives what mevi-run launchers observe, keeps the state of\n"
		"every session, and serves it live to browsers at http://HOST:PORT/.\n"
		"Without --foreground it detaches and returns once it is ready.\n"
		"\n"
		"Options:\n"
		"  --socket PATH            launcher socket (env MEVI_SOCKET; default\n"
		"                           $XDG_RUNTIME_DIR/mevi/mevid.sock, else\n"
		"                           /tmp/mevi-$UID/mevid.sock)\n"
		"  --listen HOST:PORT       HTTP and websocket address (default %s:%d, or\n"
		"                           the next free port when it is taken; port 0\n"
		"                           picks any free port); a non-loopback HOST\n"
		"                           admits only clients with the token\n"
		"  --foreground             stay in the foreground and log to stderr\n"
		"  --no-engine-stock        keep no eBPF programs loaded ahead of time for\n"
		"                           launchers (they load their own, 6-7 ms later)\n"
		"  --max-ended-sessions N   ended sessions kept for viewing (default %d)\n"
		"  --allow-origin ORIGIN    also accept websockets from this Origin, e.g.\n"
		"                           http://localhost:8080 (repeatable)\n"
		"  --web-root DIR           serve the frontend from DIR instead of the copy\n"
		"                           built into mevid (frontend development)\n"
		"  --tab-queue-limit BYTES  data a browser tab may fall behind by before it\n"
		"                           is resynchronised (default %u)\n"
		"  --tab-stall-timeout MS   a tab that accepts nothing for this long is\n"
		"                           disconnected (default %d)\n"
		"  --history-budget BYTES   memory for the history of sessions (scrubbing,\n"
		"                           recordings), K/M/G suffixes (default 512M);\n"
		"                           beyond it ended sessions lose their history\n"
		"                           first, running ones spill it to\n"
		"                           $XDG_STATE_HOME/mevi (else ~/.local/state/mevi)\n"
		"  --load FILE              load a .mevi recording as an ended session\n"
		"  --summary FILE           print the end-of-run summary of the recording\n"
		"                           FILE to stdout and exit (no daemon)\n"
		"  --summary-format text|json  the summary's format (default text)\n"
		"                           (repeatable)\n"
		"  --max-upload SIZE        largest recording POST /api/recordings takes,\n"
		"                           K/M suffixes (default and at most 256M)\n"
		"  --help                   show this help\n"
		"  --version                show the version\n"
		"\n"
		"Environment: MEVI_SOCKET, MEVI_INTERVAL (websocket flush interval in ms,\n"
		"default %d), MEVI_LOG (error|warn|info|debug|trace, default info).\n"
		"A detached mevid logs to $XDG_STATE_HOME/mevi/mevid.log\n"
		"(else ~/.local/state/mevi/mevid.log).\n",
		MEVID_DEFAULT_HOST, MEVID_DEFAULT_PORT, MEVID_DEFAULT_MAX_ENDED,
		MEVID_DEFAULT_TAB_QUEUE_LIMIT, MEVID_DEFAULT_TAB_STALL_TIMEOUT,
		MEVID_DEFAULT_INTERVAL_MS);
}

/* "HOST:PORT", "[V6]:PORT" or ":PORT". */
static int parse_listen(struct mevid_options *o, const char *arg)
{
	const char *colon;
	size_t hlen;
	unsigned long long port;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - arg - 1);
		if (hlen == 0 || hlen >= sizeof(o->listen_host))
			return -EINVAL;
		memcpy(o->listen_host, arg + 1, hlen);
		o->listen_host[hlen] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - arg);
		if (hlen >= sizeof(o->listen_host))
			return -EINVAL;
		if (hlen == 0) {
			strcpy(o->listen_host, MEVID_DEFAULT_HOST);
		} else {
			memcpy(o->listen_host, arg, hlen);
			o->listen_host[hlen] = '\0';
		}
		if (strchr(o->listen_host, ':'))
			return -EINVAL; /* a bare IPv6 address needs brackets */
	}
	if (parse_uint(colon + 1, 0, 65535, &port))
		return -EINVAL;
	o->listen_port = (int)port;
	return 0;
}

/* An Origin is scheme://host[:port] with nothing after it. */
static bool origin_valid(const char *s)
{
	const char *rest;

	if (strncmp(s, "http://", 7) == 0)
		rest = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		rest = s + 8;
	else
		return false;
	return *rest && !strchr(rest, '/') && strlen(s) < 256;
}

bool options_host_is_loopback(const char *host)
{
	return strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	       strcmp(host, "::1") == 0;
}

static void set_defaults(struct mevid_options *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->listen_host, MEVID_DEFAULT_HOST);
	o->listen_port = MEVID_DEFAULT_PORT;
	o->interval_ms = MEVID_DEFAULT_INTERVAL_MS;
	o->max_ended_sessions = MEVID_DEFAULT_MAX_ENDED;
	o->tab_queue_limit = MEVID_DEFAULT_TAB_QUEUE_LIMIT;
	o->tab_stall_timeout = MEVID_DEFAULT_TAB_STALL_TIMEOUT;
	o->history_budget = EVENTLOG_DEFAULT_BUDGET;
	o->max_upload = MEVID_DEFAULT_MAX_UPLOAD;
}

/* Appends arg (not copied: it points into argv) to the owned array *list. */
static int append_arg(const char ***list, size_t *n, const char *arg, FILE *err)
{
	const char **a = realloc(*list, (*n + 1) * sizeof(*a));

	if (!a) {
		fprintf(err, "mevid: out of memory\n");
		return -EINVAL;
	}
	a[(*n)++] = arg;
	*list = a;
	return 0;
}

/*
 * The options that take a number or a size: checks arg's range and stores
 * it. Returns 0, or -EINVAL after printing the one line about the mistake.
 */
static int parse_quantity(struct mevid_options *o, int c, const char *arg, FILE *err)
{
	unsigned long long v;

	switch (c) {
	case OPT_MAX_ENDED:
		if (parse_uint(arg, 0, 1000000, &v)) {
			fprintf(
			    err,
			    "mevid: --max-ended-sessions %s: expected a number from 0 to 1000000\n",
			    arg);
			return -EINVAL;
		}
		o->max_ended_sessions = (uint32_t)v;
		return 0;
	case OPT_TAB_QUEUE_LIMIT:
		if (parse_uint(arg, 4096, SIZE_MAX / 4, &v)) {
			fprintf(err,
				"mevid: --tab-queue-limit %s: expected a number of bytes >= 4096\n",
				arg);
			return -EINVAL;
		}
		o->tab_queue_limit = (size_t)v;
		return 0;
	case OPT_TAB_STALL_TIMEOUT:
		if (parse_uint(arg, 10, 86400000, &v)) {
			fprintf(err, "mevid: --tab-stall-timeout %s: expected milliseconds >= 10\n",
				arg);
			return -EINVAL;
		}
		o->tab_stall_timeout = (unsigned)v;
		return 0;
	case OPT_HISTORY_BUDGET:
		if (eventlog_parse_size(arg, &o->history_budget)) {
			fprintf(err,
				"mevid: --history-budget %s: expected a size such as 512M, "
				"1G or 65536\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MAX_UPLOAD:
		if (eventlog_parse_size(arg, &o->max_upload) || o->max_upload == 0 ||
		    o->max_upload > MEVID_DEFAULT_MAX_UPLOAD) {
			fprintf(err,
				"mevid: --max-upload %s: expected a size from 1 to 256M (the "
				"largest recording mevid loads), such as 64M\n",
				arg);
			return -EINVAL;
		}
		return 0;
	default:
		MEVI_ASSERT(!"a quantity option without a case");
		return -EINVAL;
	}
}

/*
 * Applies one option getopt_long() returned (c, with optarg and optind as it
 * left them). Returns 0 to go on, 1 after --help or --version was printed to
 * out, or -EINVAL after printing the one line about the mistake to err.
 * *socket_arg receives --socket's argument.
 */
static int apply_option(struct mevid_options *o, int c, char **argv, const char **socket_arg,
			FILE *out, FILE *err)
{
	switch (c) {
	case OPT_SOCKET:
		*socket_arg = optarg;
		return 0;
	case OPT_LISTEN:
		if (parse_listen(o, optarg)) {
			fprintf(
			    err,
			    "mevid: --listen %s: expected HOST:PORT, e.g. 127.0.0.1:5001 or [::1]:5001\n",
			    optarg);
			return -EINVAL;
		}
		o->listen_given = true;
		return 0;
	case OPT_FOREGROUND:
		o->foreground = true;
		return 0;
	case OPT_NO_ENGINE_STOCK:
		o->no_engine_stock = true;
		return 0;
	case OPT_MAX_ENDED:
	case OPT_TAB_QUEUE_LIMIT:
	case OPT_TAB_STALL_TIMEOUT:
	case OPT_HISTORY_BUDGET:
	case OPT_MAX_UPLOAD:
		return parse_quantity(o, c, optarg, err);
	case OPT_ALLOW_ORIGIN:
		if (!origin_valid(optarg)) {
			fprintf(
			    err,
			    "mevid: --allow-origin %s: expected an origin such as http://localhost:8080\n",
			    optarg);
			return -EINVAL;
		}
		return append_arg(&o->allow_origins, &o->n_allow_origins, optarg, err);
	case OPT_WEB_ROOT:
		o->web_root = optarg;
		return 0;
	case OPT_LOAD:
		return append_arg(&o->loads, &o->n_loads, optarg, err);
	case OPT_SUMMARY:
		o->summary = optarg;
		return 0;
	case OPT_SUMMARY_FORMAT:
		if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
			fprintf(err, "mevid: --summary-format %s: expected text or json\n", optarg);
			return -EINVAL;
		}
		o->summary_json = strcmp(optarg, "json") == 0;
		return 0;
	case OPT_HELP:
		print_help(out);
		return 1;
	case OPT_VERSION:
		fprintf(out, "mevid %s (mevi protocol %d)\n", mevi_version, MEVI_PROTO_VERSION);
		return 1;
	default:
		if (optopt)
			fprintf(err, "mevid: option --%s needs an argument; see mevid --help\n",
				argv[optind - 1] + 2);
		else
			fprintf(err, "mevid: unknown option %s; see mevid --help\n",
				argv[optind - 1]);
		return -EINVAL;
	}
}

/* MEVI_INTERVAL, then the socket path (--socket, MEVI_SOCKET or the default). */
static int apply_environment(struct mevid_options *o, const char *socket_arg, FILE *err)
{
	const char *env = getenv("MEVI_INTERVAL");
	unsigned long long v;

	if (env && *env) {
		if (parse_uint(env, 1, 60000, &v)) {
			fprintf(err,
				"mevid: MEVI_INTERVAL=%s: expected milliseconds from 1 to 60000\n",
				env);
			return -EINVAL;
		}
		o->interval_ms = (unsigned)v;
	}
	if (sockpath_resolve(socket_arg, o->socket_path, sizeof(o->socket_path))) {
		fprintf(
		    err,
		    "mevid: the socket path is too long (at most %zu bytes); use --socket PATH\n",
		    sizeof(o->socket_path) - 1);
		return -EINVAL;
	}
	return 0;
}

int options_parse(struct mevid_options *o, int argc, char **argv, FILE *out, FILE *err)
{
	const char *socket_arg = NULL;
	int c, r = 0;

	set_defaults(o);
	optind = 1;
	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "", long_options, NULL)) != -1)
		r = apply_option(o, c, argv, &socket_arg, out, err);
	if (r == 0 && optind < argc) {
		fprintf(err, "mevid: unexpected argument %s; see mevid --help\n", argv[optind]);
		r = -EINVAL;
	}
	if (r == 0)
		r = apply_environment(o, socket_arg, err);
	if (r)
		options_destroy(o);
	return r;
}

void options_destroy(struct mevid_options *o)
{
	free(o->allow_origins);
	o->allow_origins = NULL;
	free(o->loads);
	o->loads = NULL;
	o->n_loads = 0;
	o->n_allow_origins = 0;
}
