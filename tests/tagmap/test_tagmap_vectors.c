/*
 * Runs the shared annotation-map vectors (tests/vectors/tagmap/<topic>.json,
 * written by tests/tagmap/gen_vectors.py, also run by the TypeScript model
 * frontend/src/tagmap.ts) against proto/tagmap.c, one cmocka test per file.
 *
 * Usage: tagmap_vectors [DIR]   (default: MEVI_TAGMAP_VECTOR_DIR, set by CMake)
 *
 * The runner is strict about the format so that a typo in a vector fails
 * here instead of silently testing less: unknown keys, missing fields,
 * addresses that are not integers in [0, 2^53), values outside uint32 are
 * errors. For each vector: `initial` is applied as tagmap_set calls in
 * order, then every op (each must return 0), then the map must equal
 * `expected` and satisfy the invariants (sorted, disjoint, merged).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vector_runner.h"

#include "tagmap.h"

#ifndef MEVI_TAGMAP_VECTOR_DIR
#define MEVI_TAGMAP_VECTOR_DIR "tests/vectors/tagmap"
#endif

#define ADDR_LIMIT (UINT64_C(1) << 53)

/* An integer in [0, limit), or fails v. */
static uint64_t number(struct verdict *v, struct json_object *val, uint64_t limit, const char *what)
{
	int64_t x;

	if (!val || !json_object_is_type(val, json_type_int)) {
		fail_with(v, "%s: not an integer", what);
		return 0;
	}
	errno = 0;
	x = json_object_get_int64(val);
	if (errno || x < 0 || (uint64_t)x >= limit) {
		fail_with(v, "%s: %s out of range", what, json_object_to_json_string(val));
		return 0;
	}
	return (uint64_t)x;
}

static uint64_t num_field(struct verdict *v, struct json_object *obj, const char *key,
			  const char *what)
{
	return number(v, field(v, obj, key, json_type_int, what), ADDR_LIMIT, what);
}

/* Parses [[start, end, value], ...] into a new array (*n entries). */
static struct tagmap_range *parse_ranges(struct verdict *v, struct json_object *arr,
					 const char *what, size_t *n)
{
	struct tagmap_range *out;

	*n = json_object_array_length(arr);
	out = calloc(*n + 1, sizeof(*out));
	assert_non_null(out);
	for (size_t i = 0; i < *n; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(r, json_type_array) || json_object_array_length(r) != 3) {
			fail_with(v, "%s[%zu]: not [start, end, value]", what, i);
			return out;
		}
		out[i].start = number(v, json_object_array_get_idx(r, 0), ADDR_LIMIT, what);
		out[i].end = number(v, json_object_array_get_idx(r, 1), ADDR_LIMIT, what);
		out[i].value =
		    (uint32_t)number(v, json_object_array_get_idx(r, 2), UINT64_C(1) << 32, what);
	}
	return out;
}

struct range_buf {
	struct tagmap_range r[4096];
	size_t n;
};

static int collect(const struct tagmap_range *r, void *ctx)
{
	struct range_buf *b = ctx;

	if (b->n == sizeof(b->r) / sizeof(b->r[0]))
		return -ENOSPC;
	b->r[b->n++] = *r;
	return 0;
}

static void describe(char *buf, size_t size, const struct tagmap_range *r, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		int k = snprintf(buf + used, size - used, "%s[%llu, %llu, %u]", i ? " " : "",
				 (unsigned long long)r[i].start, (unsigned long long)r[i].end,
				 r[i].value);

		if (k < 0)
			break;
		used += (size_t)k;
	}
}

static int apply_op(struct verdict *v, struct tagmap *m, struct json_object *op, const char *what)
{
	static const char *const set_keys[] = {"op", "start", "end", "value", NULL};
	static const char *const rm_keys[] = {"op", "start", "end", NULL};
	static const char *const remap_keys[] = {"op",	     "from_start", "from_end",
						 "to_start", "to_end",	   NULL};
	static const char *const clear_keys[] = {"op", NULL};
	struct json_object *jop = field(v, op, "op", json_type_string, what);
	const char *kind = jop ? json_object_get_string(jop) : "";

	if (strcmp(kind, "set") == 0) {
		only_keys(v, op, what, set_keys);
		return tagmap_set(m, num_field(v, op, "start", what), num_field(v, op, "end", what),
				  (uint32_t)number(v, field(v, op, "value", json_type_int, what),
						   UINT64_C(1) << 32, what));
	}
	if (strcmp(kind, "remove") == 0) {
		only_keys(v, op, what, rm_keys);
		return tagmap_remove(m, num_field(v, op, "start", what),
				     num_field(v, op, "end", what));
	}
	if (strcmp(kind, "remap") == 0) {
		only_keys(v, op, what, remap_keys);
		return tagmap_remap(
		    m, num_field(v, op, "from_start", what), num_field(v, op, "from_end", what),
		    num_field(v, op, "to_start", what), num_field(v, op, "to_end", what));
	}
	if (strcmp(kind, "clear") == 0) {
		only_keys(v, op, what, clear_keys);
		tagmap_clear(m);
		return 0;
	}
	fail_with(v, "%s: unknown op \"%s\"", what, kind);
	return 0;
}

static void run_vector(struct verdict *v, struct json_object *vec, const char *name)
{
	static const char *const keys[] = {"name", "description", "initial",
					   "ops",  "expected",	  NULL};
	struct json_object *initial, *ops, *expected;
	struct tagmap_range *init = NULL, *exp = NULL;
	size_t ninit = 0, nexp = 0;
	struct range_buf *got = calloc(1, sizeof(*got));
	struct tagmap *m = tagmap_new();

	assert_non_null(got);
	assert_non_null(m);
	only_keys(v, vec, name, keys);
	field(v, vec, "description", json_type_string, name);
	initial = field(v, vec, "initial", json_type_array, name);
	ops = field(v, vec, "ops", json_type_array, name);
	expected = field(v, vec, "expected", json_type_array, name);
	if (failed(v))
		goto out;
	init = parse_ranges(v, initial, "initial", &ninit);
	exp = parse_ranges(v, expected, "expected", &nexp);
	for (size_t i = 0; i < ninit && !failed(v); i++) {
		int err = tagmap_set(m, init[i].start, init[i].end, init[i].value);

		if (err)
			fail_with(v, "initial[%zu]: tagmap_set returned %d", i, err);
	}
	for (size_t i = 0; i < json_object_array_length(ops) && !failed(v); i++) {
		char what[32];
		int err;

		snprintf(what, sizeof(what), "ops[%zu]", i);
		err = apply_op(v, m, json_object_array_get_idx(ops, i), what);
		if (err)
			fail_with(v, "%s returned %d", what, err);
	}
	if (failed(v))
		goto out;
	if (tagmap_walk(m, collect, got))
		fail_with(v, "more than %zu ranges", sizeof(got->r) / sizeof(got->r[0]));
	if (tagmap_count(m) != got->n)
		fail_with(v, "tagmap_count %zu, walk saw %zu", tagmap_count(m), got->n);
	for (size_t i = 0; i < got->n; i++) {
		if (got->r[i].start >= got->r[i].end)
			fail_with(v, "range %zu is empty", i);
		if (i && got->r[i - 1].end > got->r[i].start)
			fail_with(v, "ranges %zu and %zu overlap", i - 1, i);
		if (i && got->r[i - 1].end == got->r[i].start &&
		    got->r[i - 1].value == got->r[i].value)
			fail_with(v, "ranges %zu and %zu are not merged", i - 1, i);
	}
	{
		/* Field by field: the structs have padding. */
		bool same = got->n == nexp;

		for (size_t i = 0; same && i < nexp; i++)
			same = got->r[i].start == exp[i].start && got->r[i].end == exp[i].end &&
			       got->r[i].value == exp[i].value;
		if (!same) {
			char a[200], b[200];

			describe(a, sizeof(a), exp, nexp);
			describe(b, sizeof(b), got->r, got->n);
			fail_with(v, "expected %s, got %s", a, b);
		}
	}
out:
	free(init);
	free(exp);
	free(got);
	tagmap_free(m);
}

int main(int argc, char **argv)
{
	return vector_runner_main("tagmap_vectors", argc > 1 ? argv[1] : MEVI_TAGMAP_VECTOR_DIR,
				  run_vector);
}
