/*
 * options — mevid's command line and environment.
 *
 *   mevid [--socket PATH] [--listen HOST:PORT] [--foreground] [--no-engine-stock]
 *         [--max-ended-sessions N] [--allow-origin ORIGIN]... [--web-root DIR]
 *         [--tab-queue-limit BYTES] [--tab-stall-timeout MS]
 *         [--history-budget BYTES] [--load FILE]... [--max-upload SIZE]
 *         [--help] [--version]
 *   mevid --summary FILE.mevi [--summary-format text|json]
 *
 * Environment: MEVI_SOCKET (socket path, overridden by --socket),
 * MEVI_INTERVAL (websocket flush interval in ms, default 32), MEVI_LOG (log
 * level, read by proto/log.h).
 */
#ifndef MEVI_DAEMON_OPTIONS_H
#define MEVI_DAEMON_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MEVID_DEFAULT_HOST "127.0.0.1"
#define MEVID_DEFAULT_PORT 5001
/* Without --listen, the ports after the default tried when it is taken. */
#define MEVID_PORT_TRIES		32
#define MEVID_DEFAULT_MAX_UPLOAD	((size_t)256 << 20)
#define MEVID_DEFAULT_INTERVAL_MS	32
#define MEVID_DEFAULT_MAX_ENDED		64
#define MEVID_DEFAULT_TAB_QUEUE_LIMIT	(8u << 20)
#define MEVID_DEFAULT_TAB_STALL_TIMEOUT 10000

struct mevid_options {
	char socket_path[108]; /* resolved: --socket, MEVI_SOCKET or the default */
	char listen_host[64];  /* without brackets: "127.0.0.1", "::1", "0.0.0.0" */
	int listen_port;       /* 0: any free port */
	bool listen_given;     /* --listen was given: no other port is tried */
	size_t max_upload;     /* --max-upload: largest POST /api/recordings body */
	bool foreground;
	bool no_engine_stock; /* --no-engine-stock (daemon/engine_stock.h) */
	unsigned interval_ms;
	uint32_t max_ended_sessions;
	const char *web_root;	    /* points into argv, or NULL */
	const char **allow_origins; /* owned array; strings point into argv */
	size_t n_allow_origins;
	size_t tab_queue_limit;	    /* bytes a tab may have queued beyond what it is sending */
	unsigned tab_stall_timeout; /* ms a tab may make no progress */
	size_t history_budget;	    /* bytes of session history kept in memory */
	const char **loads;	    /* owned array; strings point into argv */
	size_t n_loads;
	const char *summary; /* --summary FILE: summarise the recording and exit */
	bool summary_json;   /* --summary-format json */
};

/*
 * Parses argv and the environment into o. Returns 0 to run, 1 when --help or
 * --version was printed to out (exit 0), or -EINVAL after printing one line
 * about the mistake to err (exit 2). On 0, free o with options_destroy().
 */
int options_parse(struct mevid_options *o, int argc, char **argv, FILE *out, FILE *err);

void options_destroy(struct mevid_options *o);

/* True when host (as in listen_host) is a loopback address or "localhost". */
bool options_host_is_loopback(const char *host);

#endif /* MEVI_DAEMON_OPTIONS_H */
