/*
 * parse — the one parser of unsigned decimal numbers on command lines and in
 * environment variables, shared by mevid and mevi-run.
 */
#ifndef MEVI_PROTO_PARSE_H
#define MEVI_PROTO_PARSE_H

#include <errno.h>
#include <stdlib.h>

/*
 * Parses s, an unsigned decimal number in [min, max] with nothing after it
 * (no sign: "-1" and "+1" are refused, as is an empty string). Returns 0 with
 * the value in *out, or -EINVAL with *out untouched.
 */
static inline int parse_uint(const char *s, unsigned long long min, unsigned long long max,
			     unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

#endif /* MEVI_PROTO_PARSE_H */
