/*
 * slotindex (daemon/slotindex.h): every key put is found again, also when
 * every hash collides and across the doublings; a key never put is not; the
 * index stays at most half full; clear forgets everything.
 */
#include "../../daemon/slotindex.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "fnv.h"

#define N 1000

struct table {
	char keys[N][16];
	uint32_t n;
	bool collide; /* every hash the same */
};

static uint32_t key_hash(const struct table *t, const char *key)
{
	return t->collide ? 7 : fnv1a32(FNV1A32_BASIS, key, strlen(key));
}

static uint32_t hash_cb(const void *table, uint32_t pos)
{
	const struct table *t = table;

	return key_hash(t, t->keys[pos]);
}

static bool match_cb(const void *table, uint32_t pos, const void *key)
{
	const struct table *t = table;

	return strcmp(t->keys[pos], key) == 0;
}

static void fill(struct slotindex *x, struct table *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(slotindex_reserve(x, t->n, hash_cb, t), 0);
		snprintf(t->keys[t->n], sizeof(t->keys[0]), "key-%u", i);
		slotindex_put(x, key_hash(t, t->keys[t->n]), t->n);
		t->n++;
		assert_true(x->cap >= 2 * t->n); /* never more than half full */
	}
}

static void check_all(const struct slotindex *x, const struct table *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		assert_int_equal(
		    slotindex_find(x, key_hash(t, t->keys[i]), match_cb, t, t->keys[i]), i + 1);
	assert_int_equal(slotindex_find(x, key_hash(t, "absent"), match_cb, t, "absent"), 0);
}

static void finds_what_was_put_across_growth(void **unused)
{
	static struct table t;
	struct slotindex x = {0};

	memset(&t, 0, sizeof(t));
	assert_int_equal(slotindex_find(&x, 1, match_cb, &t, "key-0"), 0); /* empty, no slots */
	fill(&x, &t, N);
	assert_true(x.cap >= 2048);
	check_all(&x, &t);
	slotindex_free(&x);
	assert_null(x.slot);
	assert_int_equal(x.cap, 0);
}

static void finds_everything_when_every_hash_collides(void **unused)
{
	static struct table t;
	struct slotindex x = {0};

	memset(&t, 0, sizeof(t));
	t.collide = true;
	fill(&x, &t, 200);
	check_all(&x, &t);
	slotindex_free(&x);
}

static void clear_forgets_and_keeps_the_slots(void **unused)
{
	static struct table t;
	struct slotindex x = {0};
	uint32_t cap;

	memset(&t, 0, sizeof(t));
	fill(&x, &t, 100);
	cap = x.cap;
	slotindex_clear(&x);
	assert_int_equal(x.cap, cap);
	for (uint32_t i = 0; i < t.n; i++)
		assert_int_equal(
		    slotindex_find(&x, key_hash(&t, t.keys[i]), match_cb, &t, t.keys[i]), 0);
	t.n = 0;
	fill(&x, &t, 10); /* reusable */
	check_all(&x, &t);
	slotindex_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(finds_what_was_put_across_growth),
	    cmocka_unit_test(finds_everything_when_every_hash_collides),
	    cmocka_unit_test(clear_forgets_and_keeps_the_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
