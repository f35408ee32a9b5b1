/*
 * mkdirp — `mkdir -p`: a directory and its missing parents, each created
 * with the mode given (0700 for everything mevi keeps per user).
 */
#ifndef MEVI_PROTO_MKDIRP_H
#define MEVI_PROTO_MKDIRP_H

#include <sys/types.h>

/*
 * Creates path and every missing directory above it with mode (as umask
 * allows); existing ones are left as they are. Returns 0, -ENAMETOOLONG for a
 * path of PATH_MAX bytes or more, or the -errno of the mkdir that failed.
 */
int mkdirp(const char *path, mode_t mode);

#endif /* MEVI_PROTO_MKDIRP_H */
