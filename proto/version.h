/*
 * The version of mevi this binary was built from, e.g. "0.1.0" or
 * "0.1.0+g1234abcdef-dirty": set by the build (cmake/MeviVersion.cmake, from
 * `git describe` when it can) in one generated file, version.c.
 */
#ifndef MEVI_PROTO_VERSION_H
#define MEVI_PROTO_VERSION_H

extern const char mevi_version[];

#endif
