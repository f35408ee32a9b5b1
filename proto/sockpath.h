/*
 * sockpath — where the launcher socket lives, and whether the directory
 * holding it and the process listening on it can be trusted. The one rule,
 * shared by mevid (which listens) and mevi-run (which connects).
 *
 * The path is --socket PATH, else $MEVI_SOCKET, else
 * $XDG_RUNTIME_DIR/mevi/mevid.sock when XDG_RUNTIME_DIR is an absolute path,
 * else /tmp/mevi-$UID/mevid.sock (a relative XDG_RUNTIME_DIR is ignored, as
 * the XDG base directory specification says, by both binaries alike).
 *
 * Trust: the directory holding the socket must be a directory owned by us or
 * by root that group and others can neither write nor list (no r or w bit
 * for them): anyone else who could write there could replace the socket and
 * read what launchers send. mevid creates it (mode 0700, with parents) when
 * missing and refuses to start in an untrusted one; mevi-run refuses to talk
 * through an untrusted one. On the connected socket, the peer
 * (SO_PEERCRED) must run as our uid or as root.
 *
 * One daemon per socket: the daemon holds an flock on "PATH.lock" for its
 * whole life, and a socket file nobody listens on (its daemon died) is
 * replaced.
 */
#ifndef MEVI_PROTO_SOCKPATH_H
#define MEVI_PROTO_SOCKPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Writes the default socket path into buf (len bytes).
 * Returns 0 or -ENAMETOOLONG.
 */
int sockpath_default(char *buf, size_t len);

/*
 * Resolves the socket path: explicit (may be NULL or empty), else
 * $MEVI_SOCKET, else sockpath_default(). Returns 0 or -ENAMETOOLONG.
 */
int sockpath_resolve(const char *explicit_path, char *buf, size_t len);

/*
 * Writes the directory holding path into dir (dirlen bytes): "." for a bare
 * name. Returns 0 or -ENAMETOOLONG.
 */
int sockpath_dir(const char *path, char *dir, size_t dirlen);

/*
 * Writes the path of the engine stock socket that goes with the launcher
 * socket path (proto/stockmsg.h): "PATH.stock", in the same directory and under
 * the same rule. Returns 0 or -ENAMETOOLONG (a Unix socket's path is at most
 * 107 bytes).
 */
int sockpath_stock(const char *path, char *buf, size_t len);

/*
 * Checks the directory of path against the trust rule above, without
 * creating anything. Returns 0, -ENOENT (missing: no sentence), -EPERM (not
 * trusted) or another -errno, with one sentence in err (errlen bytes) naming
 * what was found and what to do.
 */
int sockpath_check_dir(const char *path, char *err, size_t errlen);

/*
 * Creates (mode 0700, with missing parents) or checks the directory of path.
 * On failure writes one sentence into err (errlen bytes) and returns
 * -ENAMETOOLONG (path too long for a Unix socket), -EPERM (the directory is
 * not safe), or another -errno.
 */
int sockpath_prepare_dir(const char *path, char *err, size_t errlen);

/*
 * Reads the credentials of the peer of the connected Unix socket fd
 * (SO_PEERCRED) into *uid and *pid (either may be NULL). Returns 0 when the
 * peer runs as our real uid or as root, -EPERM when it runs as anyone else,
 * or -errno.
 */
int sockpath_check_peer(int fd, uid_t *uid, pid_t *pid);

/*
 * Takes the daemon lock "PATH.lock" without blocking. Returns the lock's file
 * descriptor (close-on-exec; the caller keeps it open while it runs and closes
 * it to release), -EADDRINUSE if another process holds it, or -errno.
 */
int sockpath_lock(const char *path);

/*
 * Looks at what is at path: returns 0 if nothing is there or a stale socket
 * (nobody accepts connections on it) was removed, -EADDRINUSE if something
 * listens there, -EEXIST if path is not a socket (left alone), or -errno.
 */
int sockpath_probe(const char *path);

#endif /* MEVI_PROTO_SOCKPATH_H */
