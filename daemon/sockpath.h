/*
 * sockpath — where the launcher socket lives, and whether it is safe and free
 * to listen there.
 *
 * The default is $XDG_RUNTIME_DIR/mevi/mevid.sock, else
 * /tmp/mevi-$UID/mevid.sock. The directory holding the socket is created
 * with mode 0700 when missing, and refused when it is not a directory owned
 * by us (or root) that only its owner can write: anyone else who can write
 * there could replace the socket and read what launchers send.
 *
 * One daemon per socket: the daemon holds an flock on "PATH.lock" for its
 * whole life, and a socket file nobody listens on (its daemon died) is
 * replaced.
 */
#ifndef MEVI_DAEMON_SOCKPATH_H
#define MEVI_DAEMON_SOCKPATH_H

#include <stddef.h>

/*
 * Writes the default socket path into buf (len bytes).
 * Returns 0 or -ENAMETOOLONG.
 */
int sockpath_default(char *buf, size_t len);

/*
 * Creates (mode 0700, with missing parents) or checks the directory of path.
 * On failure writes one sentence into err (errlen bytes) and returns
 * -ENAMETOOLONG (path too long for a Unix socket), -EPERM (the directory is
 * not safe), or another -errno.
 */
int sockpath_prepare_dir(const char *path, char *err, size_t errlen);

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

#endif /* MEVI_DAEMON_SOCKPATH_H */
