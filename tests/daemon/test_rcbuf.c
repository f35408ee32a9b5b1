/*
 * rcbuf (daemon/rcbuf.h): it takes over the sbuffer's bytes (the sbuffer is
 * left empty and reusable), every holder's reference keeps it, and only the
 * last unref frees it (checked by the sanitizer builds; here by counts).
 */
#include "../../daemon/rcbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void takes_over_the_bytes(void **unused)
{
	msgpack_sbuffer sb;
	struct rcbuf *b;

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_write(&sb, "hello", 5);
	b = rcbuf_from_sbuffer(&sb);
	assert_non_null(b);
	assert_int_equal(b->refs, 1);
	assert_int_equal(b->len, 5);
	assert_memory_equal(b->data, "hello", 5);
	assert_int_equal(sb.size, 0);
	assert_null(sb.data);
	/* The sbuffer is reusable, and the buffer does not see what follows. */
	msgpack_sbuffer_write(&sb, "other", 5);
	assert_memory_equal(b->data, "hello", 5);
	msgpack_sbuffer_destroy(&sb);
	rcbuf_unref(b);
}

static void lives_until_the_last_reference(void **unused)
{
	msgpack_sbuffer sb;
	struct rcbuf *b, *tabs[3];

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_write(&sb, "xyz", 3);
	b = rcbuf_from_sbuffer(&sb);
	for (int i = 0; i < 3; i++)
		tabs[i] = rcbuf_ref(b); /* queued to three tabs */
	assert_ptr_equal(tabs[0], b);
	assert_int_equal(b->refs, 4);
	rcbuf_unref(b); /* the encoder lets go */
	rcbuf_unref(tabs[0]);
	rcbuf_unref(tabs[1]);
	assert_int_equal(b->refs, 1);
	assert_memory_equal(tabs[2]->data, "xyz", 3); /* still there for the last tab */
	rcbuf_unref(tabs[2]);
	rcbuf_unref(NULL); /* allowed */
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(takes_over_the_bytes),
	    cmocka_unit_test(lives_until_the_last_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
