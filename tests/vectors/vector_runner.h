/*
 * vector_runner — what the C runners of the shared JSON vectors have in
 * common (tests/memmap/test_vectors.c for the memory map,
 * tests/tagmap/test_tagmap_vectors.c for the annotation map; the TypeScript
 * models run the same files).
 *
 * A vector file is {"vectors": [{"name": ..., ...}, ...]}. A runner supplies
 * one function that checks one vector and records the first problem in a
 * struct verdict; this header walks the files of a directory (one cmocka test
 * per *.json, in name order), the vectors of each file, reports every failing
 * vector of a file before failing its test, and offers the strict field
 * readers both runners use (unknown keys and wrong types are errors, so that
 * a typo in a vector fails instead of silently testing less).
 *
 * Header-only, static functions: include it in exactly one file per runner.
 */
#ifndef MEVI_TESTS_VECTOR_RUNNER_H
#define MEVI_TESTS_VECTOR_RUNNER_H

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

/* One vector's verdict: the first problem found, or "" when it passed. */
struct verdict {
	char msg[512];
};

static inline bool failed(const struct verdict *v)
{
	return v->msg[0] != '\0';
}

static void __attribute__((format(printf, 2, 3))) fail_with(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (failed(v))
		return;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
}

/* Every key of obj must be one of the NULL-terminated allowed names. */
static void only_keys(struct verdict *v, struct json_object *obj, const char *what,
		      const char *const *allowed)
{
	json_object_object_foreach(obj, key, val)
	{
		const char *const *a;

		(void)val;
		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (!*a)
			fail_with(v, "%s: unknown key \"%s\"", what, key);
	}
}

/* The member key of obj, of the given type, or NULL (and v fails). */
static struct json_object *field(struct verdict *v, struct json_object *obj, const char *key,
				 enum json_type type, const char *what)
{
	struct json_object *val;

	if (!json_object_object_get_ex(obj, key, &val) || !json_object_is_type(val, type)) {
		fail_with(v, "%s: \"%s\" missing or not a %s", what, key, json_type_to_name(type));
		return NULL;
	}
	return val;
}

/* Checks one vector, recording the first problem in v. */
typedef void (*vector_fn)(struct verdict *v, struct json_object *vec, const char *name);

static vector_fn vector_runner_fn;

/* The cmocka test of one file; *state is its path. */
static void vector_runner_file(void **state)
{
	const char *path = *state;
	struct json_object *root = json_object_from_file(path), *vectors;
	size_t n, bad = 0;

	if (!root)
		fail_msg("%s: not valid JSON", path);
	if (!json_object_object_get_ex(root, "vectors", &vectors) ||
	    !json_object_is_type(vectors, json_type_array))
		fail_msg("%s: no \"vectors\" array", path);
	n = json_object_array_length(vectors);
	for (size_t i = 0; i < n; i++) {
		struct json_object *vec = json_object_array_get_idx(vectors, i), *nm;
		const char *name = "?";
		struct verdict v = {{0}};

		if (json_object_object_get_ex(vec, "name", &nm) &&
		    json_object_is_type(nm, json_type_string))
			name = json_object_get_string(nm);
		else
			fail_with(&v, "vector has no name");
		if (!failed(&v))
			vector_runner_fn(&v, vec, name);
		if (failed(&v)) {
			print_error("%s: %s: %s\n", path, name, v.msg);
			bad++;
		}
	}
	print_message("%s: %zu vectors, %zu failed\n", path, n, bad);
	json_object_put(root);
	if (n == 0)
		fail_msg("%s: no vectors", path);
	if (bad)
		fail_msg("%zu of %zu vectors failed", bad, n);
}

static int vector_runner_by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Runs fn on every vector of every *.json directly in dir (subdirectories
 * belong to other tests), one cmocka test per file named after it, as the
 * group `group`. Returns the exit status for main().
 */
static int vector_runner_main(const char *group, const char *dir, vector_fn fn)
{
	struct CMUnitTest *tests = NULL;
	char **paths = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int ret = 1;

	if (!d) {
		fprintf(stderr, "%s: cannot open %s: %s\n", group, dir, strerror(errno));
		return 1;
	}
	vector_runner_fn = fn;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (n == cap) {
			char **p = realloc(paths, (cap = cap ? 2 * cap : 16) * sizeof(*paths));

			if (!p)
				goto out;
			paths = p;
		}
		if (asprintf(&paths[n], "%s/%s", dir, de->d_name) < 0)
			goto out;
		n++;
	}
	if (n == 0) {
		fprintf(stderr, "%s: no *.json in %s\n", group, dir);
		goto out;
	}
	qsort(paths, n, sizeof(*paths), vector_runner_by_name);
	tests = calloc(n, sizeof(*tests));
	if (!tests)
		goto out;
	for (size_t i = 0; i < n; i++)
		tests[i] = (struct CMUnitTest){strrchr(paths[i], '/') + 1, vector_runner_file, NULL,
					       NULL, paths[i]};
	ret = _cmocka_run_group_tests(group, tests, n, NULL, NULL);

out:
	closedir(d);
	free(tests);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return ret;
}

#endif /* MEVI_TESTS_VECTOR_RUNNER_H */
