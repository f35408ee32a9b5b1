/*
 * harness — what the daemon's integration tests and benchmark share: start
 * and stop a mevid, a fake launcher speaking the proto encoder, a tiny HTTP
 * client and a tiny websocket client. Everything is blocking and has
 * timeouts; nothing here is production code.
 */
#ifndef MEVI_TESTS_DAEMON_HARNESS_H
#define MEVI_TESTS_DAEMON_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"

/* Path of the mevid binary under test (set by CMake). */
#ifndef MEVID_PATH
#define MEVID_PATH "mevid"
#endif

/* The binary mevid_spawn() and mevid_run() start; MEVID_PATH by default. */
extern const char *harness_mevid;

struct mevid_proc {
	pid_t pid;
	int port;
	char dir[64];	/* private temporary directory (0700) */
	char sock[128]; /* dir/mevid.sock */
	char log[128];	/* dir/mevid.log: the daemon's stderr */
};

/* Makes a fresh 0700 directory for m (m->dir, m->sock, m->log). */
int harness_tmpdir(struct mevid_proc *m);

/*
 * Starts `mevid --foreground --socket m->sock --listen 127.0.0.1:0 ARGS...`
 * (args NULL-terminated, may be NULL) with stderr to m->log, and waits (5 s)
 * until it greets on its socket; m->port is taken from the greeting. The
 * directory is created if m->dir is empty. Returns 0 or -1. With
 * MEVID_TEST_WRAPPER set (e.g. "valgrind --error-exitcode=99"), the daemon
 * runs under that command.
 */
int mevid_spawn(struct mevid_proc *m, const char *const *args);

/* Sends SIGTERM and waits. Returns the wait status, or -1. */
int mevid_stop(struct mevid_proc *m);

/* True while the process still runs. */
bool mevid_alive(struct mevid_proc *m);

/* Runs mevid with args (NULL-terminated) to completion, capturing stderr
 * into err (errlen bytes). Returns the exit status, or -1. */
int mevid_run(const char *const *args, char *err, size_t errlen, int timeout_ms);

/* Resident set size of pid in KiB (from /proc/PID/status), or -1. */
long proc_rss_kib(pid_t pid);

/* --- fake launcher ------------------------------------------------------ */

/* Connects to sock and reads the greeting (url may be NULL). Returns the fd
 * or -1. */
int fl_connect(const char *sock, char *url, size_t urllen);

/* Encodes events as one batch and writes it all. Returns 0 or -1. */
int fl_send(int fd, const struct mevi_event *events, size_t n);

/* Writes raw bytes. Returns 0 or -1. */
int fl_send_raw(int fd, const void *buf, size_t len);

/* Waits until the peer closes fd (read returns 0 or an error) within
 * timeout_ms. Returns true if it did. */
bool fl_closed_by_peer(int fd, int timeout_ms);

/* Event builders (strings must outlive the event's use). */
struct mevi_event ev_session_start(int32_t launcher_pid, uint64_t started_at, bool resume,
				   struct mevi_strv argv);
struct mevi_event ev_proc_start(int32_t pid, int32_t ppid, uint32_t flags, struct mevi_strv cmd);
struct mevi_event ev_simple(uint8_t type, int32_t pid, int32_t status);
struct mevi_event ev_range(uint8_t type, int32_t pid, uint64_t start, uint64_t end, uint8_t state);

/* --- HTTP ----------------------------------------------------------------- */

struct http_reply {
	int status;
	char *headers; /* raw header block, lower-cased names */
	char *body;    /* NUL-terminated */
	size_t body_len;
};

/*
 * One request on a fresh connection (Connection: close). extra_headers is
 * "Name: value\r\n..." or NULL. Returns 0 or -1. Free with http_reply_free.
 */
int http_request(int port, const char *method, const char *path, const char *extra_headers,
		 struct http_reply *r);
void http_reply_free(struct http_reply *r);

/* Like http_request, with a request body (Content-Length is added). */
int http_request_body(int port, const char *method, const char *path, const char *extra_headers,
		      const void *body, size_t len, struct http_reply *r);

/* The value of header name (lower case) in r, copied to buf; NULL if absent. */
const char *http_header(const struct http_reply *r, const char *name, char *buf, size_t len);

/* --- websocket client ------------------------------------------------------- */

/*
 * Opens a websocket to path. origin may be NULL (no Origin header). Returns
 * the fd once upgraded (101), or -1 with *status set to the HTTP status
 * received (0 if none). rcvbuf > 0 sets SO_RCVBUF first (slow-tab tests).
 */
int ws_connect(int port, const char *path, const char *origin, int *status, int rcvbuf);

/* Reads one whole message (fragments reassembled, control frames skipped).
 * Returns the opcode (2 binary, 1 text, 8 close) with *data (malloc'd) and
 * *len, or -1 on timeout / error. */
int ws_read_message(int fd, char **data, size_t *len, int timeout_ms);

/* Sends one masked frame with opcode op. Returns 0 or -1. */
int ws_send(int fd, int op, const void *data, size_t len);

#endif /* MEVI_TESTS_DAEMON_HARNESS_H */
