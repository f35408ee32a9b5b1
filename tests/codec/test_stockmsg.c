/*
 * test_stockmsg — the engine stock socket's two messages (proto/stockmsg.h):
 * round trips of edge values (the configuration a request carries too), the
 * exact bytes of a request, every way a message can be incomplete or not
 * one (a configuration of another shape or out of its types' range), reasons cut to their bound, the
 * tracepoint ids a reply carries, and another version's messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "codec_test.h"
#include "stockmsg.h"

/* A configuration as a request carries it (the default exact one). */
#define CONFIG "[true, false, true, false, 1048576, 4194304, 8192]"

static void test_request_roundtrip(void **state)
{
	const uint64_t ids[] = {
	    0, 1, 127, 128, UINT32_MAX, UINT64_MAX, UINT64_C(0x0123456789abcdef)};
	char buf[MEVI_STOCK_MSG_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		/* Each bool on its own in turn, and the uints' edges. */
		struct mevi_stock_request in = {.version = MEVI_STOCK_VERSION,
						.id = ids[i],
						.config = {.exact = i % 5 == 1,
							   .thp_always = i % 5 == 2,
							   .want_stacks = i % 5 == 3,
							   .stacks_all = i % 5 == 4,
							   .wake_mark = i % 2 ? UINT64_MAX : ids[i],
							   .ring_bytes = i % 2 ? UINT32_MAX : 0,
							   .tracked_max = (uint32_t)ids[i]}},
					  out;
		int n = mevi_stock_request_encode(&in, buf, sizeof(buf));

		assert_true(n > 0);
		assert_int_equal(mevi_stock_request_decode(buf, (size_t)n, &out), n);
		assert_int_equal(out.version, in.version);
		assert_true(out.id == in.id);
		assert_true(out.config.exact == in.config.exact &&
			    out.config.thp_always == in.config.thp_always &&
			    out.config.want_stacks == in.config.want_stacks &&
			    out.config.stacks_all == in.config.stacks_all);
		assert_true(out.config.wake_mark == in.config.wake_mark);
		assert_int_equal(out.config.ring_bytes, in.config.ring_bytes);
		assert_int_equal(out.config.tracked_max, in.config.tracked_max);
		/* Every proper prefix asks for more. */
		for (int k = 0; k < n; k++)
			assert_int_equal(mevi_stock_request_decode(buf, (size_t)k, &out), 0);
	}
}

static void test_request_bytes(void **state)
{
	static const unsigned char want[] = {0x94, 0xaa, 'm',  'e',  'v',  'i',	 '-',  's',
					     't',  'o',	 'c',  'k',  0x03, 0x2a, 0x97, 0xc3,
					     0xc2, 0xc3, 0xc2, 0xce, 0x00, 0x10, 0x00, 0x00,
					     0xce, 0x00, 0x40, 0x00, 0x00, 0xcd, 0x20, 0x00};
	struct mevi_stock_request in = {.version = 3,
					.id = 42,
					.config = {.exact = true,
						   .want_stacks = true,
						   .wake_mark = 1u << 20,
						   .ring_bytes = 4u << 20,
						   .tracked_max = 8192}};
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
	assert_int_equal(out.ntp, 0);
	for (int k = 0; k < n; k++)
		assert_int_equal(mevi_stock_reply_decode(buf, (size_t)k, &out), 0);
}

/* The tracepoint ids ride with a grant and with a refusal alike. */
static void test_reply_tracepoints(void **state)
{
	char buf[MEVI_STOCK_MSG_MAX];
	struct mevi_stock_reply in = {.version = MEVI_STOCK_VERSION,
				      .granted = true,
				      .mask = 5,
				      .ntp = 3,
				      .tp = {1, 173, MEVI_STOCK_TP_ID_MAX}},
				out;
	int n;

	(void)state;
	for (int granted = 0; granted < 2; granted++) {
		in.granted = granted;
		n = mevi_stock_reply_encode(&in, buf, sizeof(buf));
		assert_true(n > 0);
		assert_int_equal(mevi_stock_reply_decode(buf, (size_t)n, &out), n);
		assert_int_equal(out.granted, granted);
		assert_int_equal(out.ntp, 3);
		assert_memory_equal(out.tp, in.tp, 3 * sizeof(in.tp[0]));
		for (int k = 0; k < n; k++)
			assert_int_equal(mevi_stock_reply_decode(buf, (size_t)k, &out), 0);
	}
	/* The largest reply (every id, the longest reason, the widest mask)
	 * fits in a message. */
	in.ntp = MEVI_STOCK_TP_MAX;
	for (unsigned i = 0; i < MEVI_STOCK_TP_MAX; i++)
		in.tp[i] = MEVI_STOCK_TP_ID_MAX - i;
	in.mask = UINT64_MAX;
	memset(in.why, 'x', sizeof(in.why) - 1);
	in.why[sizeof(in.why) - 1] = '\0';
	n = mevi_stock_reply_encode(&in, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(mevi_stock_reply_decode(buf, (size_t)n, &out), n);
	assert_int_equal(out.ntp, MEVI_STOCK_TP_MAX);
	assert_int_equal(out.tp[MEVI_STOCK_TP_MAX - 1],
			 MEVI_STOCK_TP_ID_MAX - MEVI_STOCK_TP_MAX + 1);
	/* What the decoder would refuse is not encoded. */
	in.ntp = MEVI_STOCK_TP_MAX + 1;
	assert_int_equal(mevi_stock_reply_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.ntp = 1;
	in.tp[0] = 0;
	assert_int_equal(mevi_stock_reply_encode(&in, buf, sizeof(buf)), -EINVAL);
	in.tp[0] = MEVI_STOCK_TP_ID_MAX + 1;
	assert_int_equal(mevi_stock_reply_encode(&in, buf, sizeof(buf)), -EINVAL);
}

/* A reason longer than the bound is cut, not refused. */
static void test_reply_long_why(void **state)
{
	struct mevi_stock_reply out;
	msgpack_sbuffer sb;
	char text[400];

	(void)state;
	snprintf(text, sizeof(text), "[\"mevi-stock\", 3, nil, \"%0200d\", nil]", 7);
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
	assert_true(decode_text_request("[\"mevi-stock\", 3, 5, " CONFIG "]") > 0);
	assert_true(decode_text_request("[\"mevi-stock\", 3, 5, [false, true, false, true, "
					"18446744073709551615, 4294967295, 0]]") > 0);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, " CONFIG ", 6]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevid\", 3, 5, " CONFIG "]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stocks\", 3, 5, " CONFIG "]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", -1, 5, " CONFIG "]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 4294967296, 5, " CONFIG "]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, -5, " CONFIG "]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, \"5\", " CONFIG "]"), -EPROTO);
	/* The configuration: four bools, then three uints (two of 32 bits). */
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, nil]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, []]"), -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, false, "
					     "1048576, 4194304]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, false, "
					     "1048576, 4194304, 8192, 1]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [1, false, true, false, "
					     "1048576, 4194304, 8192]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, nil, "
					     "1048576, 4194304, 8192]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, false, "
					     "-1, 4194304, 8192]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, false, "
					     "1048576, 4294967296, 8192]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, false, "
					     "1048576, 4194304, 4294967296]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\", 3, 5, [true, false, true, false, "
					     "1048576, \"4194304\", 8192]]"),
			 -EPROTO);
	assert_int_equal(decode_text_request("[\"mevi-stock\"]"), -EPROTO);
	assert_int_equal(decode_text_request("{\"mevi-stock\": 1}"), -EPROTO);
	assert_int_equal(decode_text_request("5"), -EPROTO);
	assert_true(decode_text_reply("[\"mevi-stock\", 3, nil, \"\", nil]") > 0);
	assert_true(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", [7]]") > 0);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, true, \"\", nil]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, nil, nil]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\"]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3]"), -EPROTO);
	/* The tracepoint ids: an array of 1..16 ids in 1..2^24, or nil. */
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", []]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", [0]]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", [-7]]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", [16777217]]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", [\"7\"]]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", 7]"), -EPROTO);
	assert_int_equal(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", "
					   "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]]"),
			 -EPROTO);
	assert_true(decode_text_reply("[\"mevi-stock\", 3, 3, \"\", "
				      "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]]") > 0);
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

/* Another version's message decodes to its version alone, whatever its
 * shape, so that each side can say which version the other speaks. */
static void test_other_versions(void **state)
{
	struct mevi_stock_request q;
	struct mevi_stock_reply r;
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	mp_pack(&sb, "[\"mevi-stock\", 1, nil, \"old\"]");
	assert_int_equal(mevi_stock_reply_decode(sb.data, sb.size, &r), (int)sb.size);
	assert_int_equal(r.version, 1);
	assert_false(r.granted);
	assert_int_equal(r.ntp, 0);
	assert_string_equal(r.why, "");
	msgpack_sbuffer_clear(&sb);
	mp_pack(&sb, "[\"mevi-stock\", 4]");
	assert_int_equal(mevi_stock_request_decode(sb.data, sb.size, &q), (int)sb.size);
	assert_int_equal(q.version, 4);
	assert_true(q.id == 0);
	/* The version before this one: an id and no configuration. */
	msgpack_sbuffer_clear(&sb);
	mp_pack(&sb, "[\"mevi-stock\", 2, 42]");
	assert_int_equal(mevi_stock_request_decode(sb.data, sb.size, &q), (int)sb.size);
	assert_int_equal(q.version, 2);
	assert_true(q.id == 0 && !q.config.exact && q.config.ring_bytes == 0);
	msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_roundtrip), cmocka_unit_test(test_request_bytes),
	    cmocka_unit_test(test_reply_roundtrip),   cmocka_unit_test(test_reply_long_why),
	    cmocka_unit_test(test_not_messages),      cmocka_unit_test(test_reply_tracepoints),
	    cmocka_unit_test(test_other_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
