/*
 * The event schema (proto/events.def) against its documentation: every row
 * of PROTOCOL.md's event table names the type, the name and the arity the
 * generated tables have, for every type, and the generated struct and
 * encoder agree with the arity (one packed event has that many elements).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec_test.h"

/* Reads PROTOCOL.md's "| type | name | `[...]` | elements |" rows. */
static void test_protocol_table(void **state)
{
	bool seen[MEVI_EV_TYPE_COUNT] = {false};
	char line[512];
	FILE *f = fopen(MEVI_PROTOCOL_MD, "r");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned type, arity;
		char name[32], *cells[6] = {NULL}, *save = NULL;
		int n = 0;

		if (strncmp(line, "| ", 2) != 0 || !strstr(line, "| `["))
			continue;
		for (char *c = strtok_r(line, "|", &save); c && n < 6;
		     c = strtok_r(NULL, "|", &save))
			cells[n++] = c;
		if (n < 4 || sscanf(cells[0], " %u", &type) != 1 ||
		    sscanf(cells[1], " %31[a-z_]", name) != 1 ||
		    sscanf(cells[3], " %u", &arity) != 1)
			continue;
		if (type >= MEVI_EV_TYPE_COUNT)
			fail_msg("PROTOCOL.md documents type %u, events.def stops at %d", type,
				 MEVI_EV_TYPE_COUNT - 1);
		assert_string_equal(mevi_event_type_name(type), name);
		assert_int_equal(mevi_event_arity(type), arity);
		seen[type] = true;
	}
	fclose(f);
	for (unsigned t = 0; t < MEVI_EV_TYPE_COUNT; t++)
		if (!seen[t])
			fail_msg("type %u (%s) is not in PROTOCOL.md's table", t,
				 mevi_event_type_name(t));
	assert_null(mevi_event_type_name(MEVI_EV_TYPE_COUNT));
	assert_int_equal(mevi_event_arity(MEVI_EV_TYPE_COUNT), 0);
}

/* Each type packs to an array of its arity. */
static void test_arity_packed(void **state)
{
	struct strv_arena arena = {0};
	uint64_t rng = 3;
	unsigned done = 0;

	(void)state;
	for (int i = 0; i < 2000 && done != (1u << MEVI_EV_TYPE_COUNT) - 1; i++) {
		struct mevi_event ev;
		msgpack_sbuffer sb;
		msgpack_packer pk;
		msgpack_unpacked up;

		random_event(&rng, &arena, &ev);
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		assert_int_equal(mevi_event_pack(&pk, &ev), 0);
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
				 MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
		assert_int_equal(up.data.via.array.size, mevi_event_arity(ev.type));
		done |= 1u << ev.type;
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
		free_arena(&arena);
	}
	assert_int_equal(done, (1u << MEVI_EV_TYPE_COUNT) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_protocol_table),
	    cmocka_unit_test(test_arity_packed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
