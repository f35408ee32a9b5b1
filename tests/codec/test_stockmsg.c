/*
 * test_stockmsg — the engine stock socket's two messages (proto/stockmsg.h):
 * round trips of edge values, the exact bytes of a request, every way a
 * message can be incomplete or not one, and reasons cut to their bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "codec_test.h"
#include "stockmsg.h"

static void test_request_roundtrip(void **state)
{
	const uint64_t ids[] = {
	    0, 1, 127, 128, UINT32_MAX, UINT64_MAX, UINT64_C(0x0123456789abcdef)};
	char buf[MEVI_STOCK_MSG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct mevi_stock_request in = {.version = MEVI_STOCK_VERSION, .id = ids[i]}, out;
		int n = mevi_stock_request_encode(&in, buf, sizeof(buf));

		assert_true(n > 0);
		assert_int_equal(mevi_stock_request_decode(buf, (size_t)n, &out), n);
		assert_int_equal(out.version, in.version);
		assert_true(out.id == in.id);
		/* Every proper prefix asks for more. */
		for (int k = 0; k < n; k++)
			assert_int_equal(mevi_stock_request_decode(buf, (size_t)k, &out), 0);
	}
}

static void test_request_bytes(void **state)
{
	static const unsigned char want[] = {0x93, 0xaa, 'm', 'e', 'v', 'i',  '-',
					     's',  't',	 'o', 'c', 'k', 0x01, 0x2a};
	struct mevi_stock_request in = {.version = 1, .id = 42};
	char buf[MEVI_STOCK_MSG_MAX];

	(void)state;
	assert_int_equal(mevi_stock_request_encode(&in, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(mevi_stock_request_encode(&in, buf, sizeof(want) - 1), -ENOSPC);
}

static void test_reply_roundtrip(void **state)
{
	char buf[MEVI_STOCK_MSG_MAX];
	struct mevi_stock_reply in = {.version = MEVI_STOCK_VERSION,
				      .granted = true,
				      .mask = UINT64_C(0x7ff)},
				out;
	int n;

	(void)state;
	n = mevi_stock_reply_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(mevi_stock_reply_decode(buf, (size_t)n, &out), n);
	assert_true(out.granted && out.mask == in.mask && out.why[0] == '\0');

	/* A grant of mask 0 is still a grant (not nil). */
	in.mask = 0;
	n = mevi_stock_reply_encode(&in, buf, sizeof(buf));
	assert_int_equal(mevi_stock_reply_decode(buf, (size_t)n, &out), n);
	assert_true(out.granted && out.mask == 0);

	in = (struct mevi_stock_reply){.version = MEVI_STOCK_VERSION};
	snprintf(in.why, sizeof(in.why), "none is loaded yet");
	n = mevi_stock_reply_encode(&in, buf, sizeof(buf));
	assert_int_equal(mevi_stock_reply_decode(buf, (size_t)n, &out), n);
	assert_false(out.granted);
	assert_string_equal(out.why, "none is loaded yet");
	for (int k = 0; k < n; k++)
		assert_int_equal(mevi_stock_reply_decode(buf, (size_t)k, &out), 0);
}

/* A reason longer than the bound is cut, not refused. */
static void test_reply_long_why(void **state)
{
	struct mevi_stock_reply out;
	msgpack_sbuffer sb;
	char text[400];

	(void)state;
	snprintf(text, sizeof(text), "[\"mevi-stock\", 1, nil, \"%0200d\"]", 7);
	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, text);
	assert_int_equal(mevi_stock_reply_decode(sb.data, sb.size, &out), (int)sb.size);
	assert_int_equal(strlen(out.why), MEVI_STOCK_WHY_MAX - 1);
	msgpack_sbuffer_destroy(&sb);
}

static int decode_text_request(const char *text)
{
	struct mevi_stock_request r;
	msgpack_sbuffer sb;
	int n;

	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, text);
	n = mevi_stock_request_decode(sb.data, sb.size, &r);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static int decode_text_reply(const char *text)
{
	struct mevi_stock_reply r;
	msgpack_sbuffer sb;
	int n;

	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, text);
	n = mevi_stock_reply_decode(sb.data, sb.size, &r);
	msgpack_sbuffer_destroy(&sb);
	return n;
}

static void test_not_messages(void **state)
{
	struct mevi_stock_request r;
	char junk[MEVI_STOCK_MSG_MAX + 8];

	(void)state;
	assert_true(decode_text_request("[\"mevi-stock\", 1, 5]") > 0);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 1]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 1, 5, 6]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevid\", 1, 5]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stocks\", 1, 5]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", -1, 5]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 4294967296, 5]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 1, -5]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 1, \"5\"]"), -EPROTO);
	assert_int_equal(decode_text_request("{\"mevi-stock\": 1}"), -EPROTO);
	assert_int_equal(decode_text_request("5"), -EPROTO);
	assert_true(decode_text_reply("[\"mevi-stock\", 1, nil, \"\"]") > 0);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 1, true, \"\"]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 1, 3, nil]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 1, 3]"), -EPROTO);
	/* Never valid msgpack. */
	junk[0] = (char)0xc1;
	assert_int_equal(mevi_stock_request_decode(junk, 1, &r), -EPROTO);
	/* A message that would go on past the bound is refused at the bound. */
	memset(junk, 0, sizeof(junk));
	junk[0] = (char)0xdb; /* str32 of 4 GiB */
	junk[1] = junk[2] = junk[3] = junk[4] = (char)0xff;
	assert_int_equal(mevi_stock_request_decode(junk, 5, &r), 0);
	assert_int_equal(mevi_stock_request_decode(junk, sizeof(junk), &r), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_request_bytes),
	    cmocka_unit_test(test_reply_roundtrip),   cmocka_unit_test(test_reply_long_why),
	    cmocka_unit_test(test_not_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
