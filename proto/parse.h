/*
 * parse — the one parser of unsigned decimal numbers on command lines, in
 * environment variables and in URLs, shared by mevid and mevi-run.
 */
#ifndef MEVI_PROTO_PARSE_H
#define MEVI_PROTO_PARSE_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Parses s, an unsigned decimal number in [min, max] with nothing before or
 * after it (no sign or space: "-1", "+1" and " 1" are refused, as is an empty
 * string). Returns 0 with the value in *out, or -EINVAL with *out untouched.
 */
static inline int parse_uint(const char *s, unsigned long long min, unsigned long long max,
			     unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* parse_uint of any uint64_t: an id, a time or a size in a URL. */
static inline int parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	int err = parse_uint(s, 0, UINT64_MAX, &v);

	if (!err)
		*out = v;
	return err;
}

#endif /* MEVI_PROTO_PARSE_H */
