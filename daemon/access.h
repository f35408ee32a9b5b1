/*
 * access — who may look at and change what mevid holds over HTTP and the
 * websocket (README.md, "Security").
 *
 * Admitted, on every route that reveals or changes state (/stream, /api/...
 * but /api/health, recordings, uploads, deletes):
 *   - anyone presenting the daemon's token: ?token=T in the URL, the cookie
 *     mevi_token_PORT=T (set by POST /api/access), or
 *     "Authorization: Bearer T";
 *   - without a token, a client the kernel says runs as mevid's uid or as
 *     root: over loopback TCP, the owner of the peer's socket, found with
 *     sock_diag (NETLINK_SOCK_DIAG, inet_diag) by the connection's exact
 *     4-tuple, IPv4 or IPv6; over a Unix socket, SO_PEERCRED. Never when
 *     mevid listens on a non-loopback address (exposed): there everyone needs
 *     the token.
 * Anyone else gets 401 (no token) or 403 (a wrong token), each with one
 * sentence saying how to get in.
 *
 * The token: 256 random bits from getrandom(2), 64 hex digits, made at
 * start-up and written to "SOCKET.token" (mode 0600, beside the launcher
 * socket, in the directory proto/sockpath.h keeps private); the file is
 * removed at exit. Tokens are compared in constant time.
 *
 * Ownership: struct access is the caller's; access_destroy() removes the file.
 */
#ifndef MEVI_DAEMON_ACCESS_H
#define MEVI_DAEMON_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct lws;

#define ACCESS_TOKEN_BYTES 32
#define ACCESS_TOKEN_LEN   (2 * ACCESS_TOKEN_BYTES)

struct access {
	char token[ACCESS_TOKEN_LEN + 1];
	char path[128 + 8]; /* the token file, or "" */
	char cookie[32];    /* "mevi_token_5001" */
	uid_t uid;	    /* mevid's own */
	bool exposed;	    /* non-loopback listen: the token from everyone */
	int diag_fd;	    /* NETLINK_SOCK_DIAG socket, opened on first use, or -1 */
	uint64_t lookups;   /* peer uid lookups done (statistics) */
	uint64_t lookup_ns; /* and their total time */
};

/* Why a request is admitted or not. */
enum access_verdict {
	ACCESS_BY_TOKEN,  /* a valid token was presented */
	ACCESS_BY_UID,	  /* the peer runs as our uid or root */
	ACCESS_NO_TOKEN,  /* refused: 401 */
	ACCESS_BAD_TOKEN, /* refused: 403 */
};

/* What a connection remembers of its peer (the 4-tuple never changes):
 * zero-initialised by its owner. */
struct access_peer {
	bool known;
	int err; /* lookup failure (-errno), 0 when uid is valid */
	uid_t uid;
};

/*
 * Makes the token and writes it beside socket_path (mode 0600, replacing an
 * old file). exposed: mevid listens on a non-loopback address. Returns 0, or
 * -errno with one sentence in err.
 */
int access_init(struct access *a, const char *socket_path, bool exposed, char *err, size_t errlen);

/* Names the cookie after the HTTP port (browsers share cookies between ports
 * of one host: two users' mevids must not overwrite each other's). */
void access_set_port(struct access *a, int port);

/* Removes the token file and closes the netlink socket. */
void access_destroy(struct access *a);

/*
 * Decides on the request wsi carries: the token from ?token=, Authorization
 * or the cookie, else (not exposed) the uid of the peer, looked up once per
 * connection and kept in *peer: a wrong token does not stand in the way of
 * the uid rule (a stale cookie from an earlier mevid). On a refusal writes
 * one sentence into msg (msglen bytes).
 */
enum access_verdict access_check(struct access *a, struct lws *wsi, struct access_peer *peer,
				 char *msg, size_t msglen);

/* The HTTP status of a refusal: 401 or 403. */
unsigned access_status(enum access_verdict v);

/*
 * Writes "mevi_token_PORT=T; Path=/; HttpOnly; SameSite=Strict" into buf.
 * Returns 0 or -ENAMETOOLONG.
 */
int access_cookie(const struct access *a, char *buf, size_t len);

/* True when s[0..len) is the token (constant time in the token's length). */
bool access_token_equal(const struct access *a, const char *s, size_t len);

/*
 * Finds the value of cookie name in a Cookie header ("a=1; b=2"). Returns a
 * pointer into header and its length in *len, or NULL.
 */
const char *access_cookie_value(const char *header, const char *name, size_t *len);

/*
 * The uid owning the socket at the other end of the connected socket fd:
 * SO_PEERCRED for a Unix socket, sock_diag by the exact 4-tuple for TCP over
 * IPv4 or IPv6 (diag_fd: a NETLINK_SOCK_DIAG socket). Returns 0, -ENOENT when
 * the peer socket is not on this host, or no process holds it any more (a
 * closed peer, whose timewait mini-socket the kernel reports as uid 0), or
 * -errno.
 */
int access_peer_uid(int diag_fd, int fd, uid_t *uid);

#endif /* MEVI_DAEMON_ACCESS_H */
