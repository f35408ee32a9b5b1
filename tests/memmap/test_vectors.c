/*
 * Runs the shared memory-map vectors (tests/vectors/<topic>.json, also run by
 * the TypeScript model in frontend/tests/memmap.test.ts) against
 * proto/memmap.c, one cmocka test per file.
 *
 * Usage: memmap_vectors [DIR]   (default: MEVI_VECTOR_DIR, set by CMake)
 *
 * Every *.json directly in DIR is a vector file; subdirectories (wire/) belong
 * to other tests. The runner is strict about the format, so that a typo in a
 * vector fails here instead of silently testing less: unknown keys, missing
 * fields, addresses that are not page aligned or not below 2^53 are errors.
 * For each vector it applies `initial` with memmap_set, then every op: an op
 * with "error": "EINVAL" must return -EINVAL and leave the map unchanged, any
 * other op must return 0. Then the range list, rss, vsz and count must match.
 * All failures of a file are reported before the test fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vector_runner.h"

#include "memmap.h"

#ifndef MEVI_VECTOR_DIR
#define MEVI_VECTOR_DIR "tests/vectors"
#endif

#define PAGE	   UINT64_C(4096)
#define ADDR_LIMIT (UINT64_C(1) << 53)
#define BAD_STATE  0xff

/* A page-aligned address below 2^53, or fails v and returns 0. */
static uint64_t address(struct verdict *v, struct json_object *val, const char *what)
{
	int64_t x;

	if (!val || !json_object_is_type(val, json_type_int)) {
		fail_with(v, "%s: address is not an integer", what);
		return 0;
	}
	errno = 0;
	x = json_object_get_int64(val);
	if (errno || x < 0 || (uint64_t)x >= ADDR_LIMIT || (uint64_t)x % PAGE) {
		fail_with(v, "%s: address %s is not page aligned in [0, 2^53)", what,
			  json_object_to_json_string(val));
		return 0;
	}
	return (uint64_t)x;
}

static uint64_t address_field(struct verdict *v, struct json_object *obj, const char *key,
			      const char *what)
{
	struct json_object *val = field(v, obj, key, json_type_int, what);

	return val ? address(v, val, what) : 0;
}

/* The state named by val, or BAD_STATE when it names none. */
static uint8_t state_of(struct json_object *val)
{
	const char *name = json_object_get_string(val);

	for (unsigned s = 0; s < MEVI_STATE_COUNT; s++)
		if (name && strcmp(name, mevi_state_name(s)) == 0)
			return (uint8_t)s;
	return BAD_STATE;
}

/* Parses [[start, end, "state"], ...] into out (room for the array's length). */
static size_t parse_ranges(struct verdict *v, struct json_object *arr, const char *what,
			   struct memmap_range *out)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(r, json_type_array) || json_object_array_length(r) != 3) {
			fail_with(v, "%s[%zu]: not [start, end, state]", what, i);
			return 0;
		}
		out[i].start = address(v, json_object_array_get_idx(r, 0), what);
		out[i].end = address(v, json_object_array_get_idx(r, 1), what);
		out[i].state = state_of(json_object_array_get_idx(r, 2));
		if (out[i].state == BAD_STATE)
			fail_with(v, "%s[%zu]: unknown state", what, i);
	}
	return n;
}

struct range_buf {
	struct memmap_range *r;
	size_t n, cap;
};

static int collect(const struct memmap_range *r, void *ctx)
{
	struct range_buf *b = ctx;

	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 16;
		b->r = realloc(b->r, b->cap * sizeof(*b->r));
		if (!b->r)
			return -ENOMEM;
	}
	b->r[b->n++] = *r;
	return 0;
}

static bool same_ranges(const struct range_buf *a, const struct memmap_range *b, size_t n)
{
	if (a->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (a->r[i].start != b[i].start || a->r[i].end != b[i].end ||
		    a->r[i].state != b[i].state)
			return false;
	return true;
}

static void describe_ranges(char *buf, size_t size, const struct memmap_range *r, size_t n)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		int k = snprintf(buf + used, size - used, "%s[%llu, %llu, %s]", i ? " " : "",
				 (unsigned long long)r[i].start, (unsigned long long)r[i].end,
				 mevi_state_name(r[i].state));

		if (k < 0)
			break;
		used += (size_t)k;
	}
}

/* Applies one op. Returns what the memmap function returned, or fails v on a
 * malformed op (and returns 0). */
static int apply_op(struct verdict *v, struct memmap *m, struct json_object *op, const char *what,
		    bool expect_error)
{
	static const char *const range_keys[] = {"op", "start", "end", "state", "error", NULL};
	static const char *const remove_keys[] = {"op", "start", "end", "error", NULL};
	static const char *const remap_keys[] = {"op",	   "from_start", "from_end", "to_start",
						 "to_end", "error",	 NULL};
	static const char *const clear_keys[] = {"op", NULL};
	struct json_object *kind = field(v, op, "op", json_type_string, what);
	const char *name = kind ? json_object_get_string(kind) : "";

	if (strcmp(name, "set") == 0 || strcmp(name, "update") == 0) {
		struct json_object *st = field(v, op, "state", json_type_string, what);
		uint8_t state = st ? state_of(st) : BAD_STATE;
		uint64_t s = address_field(v, op, "start", what);
		uint64_t e = address_field(v, op, "end", what);

		only_keys(v, op, what, range_keys);
		if (state == BAD_STATE && !expect_error)
			fail_with(v, "%s: unknown state", what);
		if (failed(v))
			return 0;
		return name[0] == 's' ? memmap_set(m, s, e, state) : memmap_update(m, s, e, state);
	}
	if (strcmp(name, "remove") == 0) {
		uint64_t s = address_field(v, op, "start", what);
		uint64_t e = address_field(v, op, "end", what);

		only_keys(v, op, what, remove_keys);
		return failed(v) ? 0 : memmap_remove(m, s, e);
	}
	if (strcmp(name, "remap") == 0) {
		uint64_t fs = address_field(v, op, "from_start", what);
		uint64_t fe = address_field(v, op, "from_end", what);
		uint64_t ts = address_field(v, op, "to_start", what);
		uint64_t te = address_field(v, op, "to_end", what);

		only_keys(v, op, what, remap_keys);
		return failed(v) ? 0 : memmap_remap(m, fs, fe, ts, te);
	}
	if (strcmp(name, "clear") == 0) {
		only_keys(v, op, what, clear_keys);
		if (!failed(v))
			memmap_clear(m);
		return 0;
	}
	fail_with(v, "%s: unknown op \"%s\"", what, name);
	return 0;
}

/* Runs one vector; the verdict says why it failed, if it did. */
static void run_vector(struct verdict *v, struct json_object *vec, const char *name)
{
	static const char *const vec_keys[] = {"name",	   "description", "initial", "ops",
					       "expected", "rss",	  "vsz",     NULL};
	struct json_object *initial, *ops, *expected, *rss, *vsz;
	struct memmap_range *want = NULL, *init = NULL;
	struct range_buf got = {0}, before = {0};
	struct memmap *m = memmap_new();
	size_t nwant = 0, ninit = 0, i;
	uint64_t want_rss = 0, want_vsz = 0;
	char what[160];

	if (!m) {
		fail_with(v, "out of memory");
		goto out;
	}
	only_keys(v, vec, name, vec_keys);
	field(v, vec, "description", json_type_string, name);
	initial = field(v, vec, "initial", json_type_array, name);
	ops = field(v, vec, "ops", json_type_array, name);
	expected = field(v, vec, "expected", json_type_array, name);
	rss = field(v, vec, "rss", json_type_int, name);
	vsz = field(v, vec, "vsz", json_type_int, name);
	if (failed(v))
		goto out;

	init = calloc(json_object_array_length(initial) + 1, sizeof(*init));
	want = calloc(json_object_array_length(expected) + 1, sizeof(*want));
	if (!init || !want) {
		fail_with(v, "out of memory");
		goto out;
	}
	ninit = parse_ranges(v, initial, "initial", init);
	nwant = parse_ranges(v, expected, "expected", want);
	if (failed(v))
		goto out;

	/* The expectation itself must be a valid map: sorted, merged. */
	for (i = 0; i < nwant; i++) {
		if (want[i].start >= want[i].end)
			fail_with(v, "expected[%zu] is empty or inverted", i);
		if (i > 0 && want[i].start < want[i - 1].end)
			fail_with(v, "expected[%zu] overlaps or is out of order", i);
		if (i > 0 && want[i].start == want[i - 1].end && want[i].state == want[i - 1].state)
			fail_with(v, "expected[%zu] should be merged with its predecessor", i);
		want_vsz += want[i].end - want[i].start;
		if (want[i].state == MEVI_STATE_RESIDENT)
			want_rss += want[i].end - want[i].start;
	}
	if ((uint64_t)json_object_get_int64(rss) != want_rss ||
	    (uint64_t)json_object_get_int64(vsz) != want_vsz)
		fail_with(v, "rss/vsz do not match the expected ranges (%llu/%llu)",
			  (unsigned long long)want_rss, (unsigned long long)want_vsz);
	if (failed(v))
		goto out;

	for (i = 0; i < ninit; i++) {
		int ret = memmap_set(m, init[i].start, init[i].end, init[i].state);

		if (ret)
			fail_with(v, "initial[%zu]: memmap_set returned %d", i, ret);
	}

	for (i = 0; i < json_object_array_length(ops) && !failed(v); i++) {
		struct json_object *op = json_object_array_get_idx(ops, i), *err = NULL;
		bool expect_error = false;
		uint64_t rss0 = memmap_rss(m), vsz0 = memmap_vsz(m);
		int ret;

		snprintf(what, sizeof(what), "ops[%zu]", i);
		if (!json_object_is_type(op, json_type_object)) {
			fail_with(v, "%s: not an object", what);
			break;
		}
		if (json_object_object_get_ex(op, "error", &err)) {
			if (!json_object_is_type(err, json_type_string) ||
			    strcmp(json_object_get_string(err), "EINVAL") != 0) {
				fail_with(v, "%s: \"error\" must be \"EINVAL\"", what);
				break;
			}
			expect_error = true;
			before.n = 0;
			if (memmap_walk(m, collect, &before)) {
				fail_with(v, "out of memory");
				break;
			}
		}
		ret = apply_op(v, m, op, what, expect_error);
		if (failed(v))
			break;
		if (expect_error) {
			got.n = 0;
			if (ret != -EINVAL)
				fail_with(v, "%s: returned %d, expected -EINVAL", what, ret);
			else if (memmap_walk(m, collect, &got))
				fail_with(v, "out of memory");
			else if (!same_ranges(&got, before.r, before.n) || memmap_rss(m) != rss0 ||
				 memmap_vsz(m) != vsz0)
				fail_with(v, "%s: rejected op changed the map", what);
		} else if (ret != 0) {
			fail_with(v, "%s: returned %d, expected 0", what, ret);
		}
	}
	if (failed(v))
		goto out;

	got.n = 0;
	if (memmap_walk(m, collect, &got)) {
		fail_with(v, "out of memory");
		goto out;
	}
	if (!same_ranges(&got, want, nwant)) {
		char g[200], w[200];

		describe_ranges(g, sizeof(g), got.r, got.n);
		describe_ranges(w, sizeof(w), want, nwant);
		fail_with(v, "ranges differ: got %s; expected %s", g, w);
	} else if (memmap_rss(m) != want_rss || memmap_vsz(m) != want_vsz) {
		fail_with(v, "rss/vsz %llu/%llu, expected %llu/%llu",
			  (unsigned long long)memmap_rss(m), (unsigned long long)memmap_vsz(m),
			  (unsigned long long)want_rss, (unsigned long long)want_vsz);
	} else if (memmap_count(m) != nwant) {
		fail_with(v, "count %zu, expected %zu", memmap_count(m), nwant);
	}

out:
	free(got.r);
	free(before.r);
	free(init);
	free(want);
	memmap_free(m);
}

/* The test of one file: every vector in it must pass. */
int main(int argc, char **argv)
{
	return vector_runner_main("memmap_vectors", argc > 1 ? argv[1] : MEVI_VECTOR_DIR,
				  run_vector);
}
